"""Campaigns from draft to done: the options checked (rules), the states and who moved them
(lifecycle), each run's audience frozen set-based (launching), the clockwork of runs (completion),
and where its messages stand (records)."""

from engage.engine.campaigns.completion import complete_finished
from engage.engine.campaigns.records import CampaignError, counts, create, launch, summary

__all__ = ["CampaignError", "complete_finished", "counts", "create", "launch", "summary"]

"""campaign_results: the effectiveness figures of every campaign (campaign_results, with the
campaign_results_state row saying when and under which settings they were computed), as the events
worker's refresh left them. A few hundred rows per campaign whatever its size, so each run reads them
all and replaces a partition only when its content changed (like campaigns). Partitioned by the day the
campaign was first launched: a campaign's rows stay in one partition while its windows are open and
its figures are recomputed. The uplift is two sums away (UPLIFT_SQL, in the dataset's doc)."""

from __future__ import annotations

import pyarrow as pa

from engage.engine.analytics.exports.registry import register
from engage.engine.analytics.exports.spec import MONEY, STATUS, TIMESTAMP, Column, Dataset, json_text, ts

# What an analyst runs in DuckDB (docs/exports.md shows it; tests/test_export_campaign_results.py runs it):
# conversion of those sent the message against the control group held out, per campaign and run, with
# a 95 % interval (Wald's: fine for the groups campaigns have; the report uses Newcombe's, which also
# holds for small counts). Every recipient counts, delivered or not (intention to treat).
UPLIFT_SQL = """\
SELECT campaign_id, run_id,
       sum(converted) FILTER (WHERE NOT control) / sum(recipients) FILTER (WHERE NOT control) AS treated,
       sum(converted) FILTER (WHERE control) / sum(recipients) FILTER (WHERE control) AS held_out,
       treated - held_out AS uplift,
       1.96 * sqrt(treated * (1 - treated) / sum(recipients) FILTER (WHERE NOT control)
                   + held_out * (1 - held_out) / sum(recipients) FILTER (WHERE control)) AS margin,
       uplift - margin AS low, uplift + margin AS high
FROM read_parquet('exports/campaign_results/**/*.parquet', hive_partitioning = true)
WHERE dimension = ''
GROUP BY campaign_id, run_id
ORDER BY campaign_id, run_id;"""

DOC = f"""The effectiveness figures of every campaign whose results were computed, as the Analytics report \
shows them: per run, figure set (`dimension`), group, A/B arm and control group. Read whole each run; a \
partition is replaced when a campaign's figures in it were recomputed.

- `dimension = ''`: everyone (one row per run, arm and control flag); sum them for a campaign's totals.
- `dimension` a customer group (region, contract_type, age_band...: the campaign's settings): `grp` is the \
member's value, '' unknown.
- `dimension = 'day'`: the conversion curve: `converted` is those converted by the end of day `grp` (0, 1, ...) \
since delivery, cumulative; `recipients` is the whole base.
- `dimension = 'currency'`: only when a campaign's messages were priced in several currencies: the cost in \
each (`cost` of the other rows is in the main currency only).

Conversion uplift against the control group, per campaign and run, with a 95 % interval:

```sql
{UPLIFT_SQL}
```

Per customer group, the same with `WHERE dimension = 'region'` and `grp` in the GROUP BY; per A/B arm, \
`treated` on `arm = 'A'` (and so on) against the whole control group. Responses: `responded` in place of \
`converted`."""


def _state_json(path: str, integer: bool = False) -> dict[str, str]:
    """One setting the figures were judged under (campaign_results_state.settings)."""
    keys = path.split(".")
    pg = "s.settings" + "".join(f"->'{k}'" for k in keys[:-1]) + f"->>'{keys[-1]}'"
    return {"postgresql": f"({pg})::int" if integer else pg, "sqlite": f"json_extract(s.settings, '$.{path}')"}


DATASET = register(Dataset(
    name="campaign_results", version=1, mode="small",
    doc=DOC,
    columns=(
        Column("campaign_id", pa.int32(), "The campaign (campaigns.campaign_id).", "r.campaign_id"),
        Column("run_id", pa.int32(), "Its run (messages.run_id); 0: not of a run.", "r.run_id"),
        Column("dimension", STATUS, "The figure set: '' everyone, a customer group's name (region, age_band...), "
               "'day' the conversion curve, 'currency' the cost per currency.", "r.dimension"),
        Column("grp", pa.string(), "The group within the dimension: its value ('' unknown or everyone), the day "
               "since delivery ('0', '1', ...) or the currency.", "r.grp"),
        Column("arm", STATUS, "The A/B arm; '' without arms.", "r.arm"),
        Column("control", pa.bool_(), "True: the control group, held out and never sent; false: those sent it.",
               "r.control"),
        Column("recipients", pa.int64(), "Recipients (the group's members), delivered or not.", "r.recipients"),
        Column("delivered", pa.int64(), "Of them, delivered.", "r.delivered"),
        Column("responded", pa.int64(), "Of them, answered (MO, keyword, USSD session) within the response window "
               "after delivery (control and undelivered: after the run started).", "r.responded"),
        Column("converted", pa.int64(), "Of them, did the conversion usage (conversion_kind) within "
               "conversion_days after delivery; on 'day' rows, by the end of that day, cumulative.", "r.converted"),
        Column("cost", MONEY, "What their messages cost, in `currency`.", "r.cost"),
        Column("currency", STATUS, "ISO 4217 currency of `cost`; '' unpriced.", "r.currency"),
        Column("seconds", pa.float64(), "Delivered ones: submit to receipt, summed (divide by delivered for the "
               "mean time to deliver).", "r.seconds"),
        Column("conversion_kind", STATUS, "The usage event kind that counted as converting (recharge, data...).",
               _state_json("conversion.kind")),
        Column("conversion_days", pa.int16(), "Days after delivery a conversion counted.",
               _state_json("conversion.days", integer=True)),
        Column("response_hours", pa.int32(), "Hours after delivery an answer counted.",
               _state_json("response_hours", integer=True)),
        Column("settings", pa.string(), "Every setting the figures were judged under, customer groups included "
               "(JSON text).", json_text("s.settings")),
        Column("computed_at", TIMESTAMP, "When these figures were computed (UTC).", ts("s.computed_at")),
        Column("closes_at", TIMESTAMP, "When the last response or conversion window closes: the figures may still "
               "change until then; null while messages are still on their way.", ts("s.closes_at")),
        Column("launched_at", TIMESTAMP, "When the campaign was first launched (UTC; its results' computation time "
               "if it never was); its date is the partition.", ts("coalesce(c.launched_at, s.computed_at)")),
    ),
    source="campaign_results r JOIN campaign_results_state s ON s.campaign_id = r.campaign_id "
           "LEFT JOIN campaigns c ON c.id = r.campaign_id",
    key="r.campaign_id", key_column="campaign_id", partition="launched_at",
    time="coalesce(c.launched_at, s.computed_at)",
    order="r.campaign_id, r.run_id, r.dimension, r.grp, r.arm, r.control",
))

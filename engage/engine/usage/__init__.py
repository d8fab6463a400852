"""Subscribers' network usage (calls, data, SMS, recharges, purchases): imported as events, summed
into per-window totals that make usage criteria fast, read by segments and, later, loyalty."""

USAGE_KINDS = ("call_out", "call_in", "data", "sms_out", "recharge", "purchase")

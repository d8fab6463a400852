"""The ids each kind of table can hold, for checking an id from outside before it reaches a query
(an id past its column's range is an overflow error in PostgreSQL, not "no such row")."""

MAX_ID = 2**31 - 1  # Integer ids: campaigns, templates, segments, lists, imports, providers
MAX_BIG_ID = 2**63 - 1  # BigId: subscribers, messages, parts, events

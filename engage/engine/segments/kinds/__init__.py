"""Every criterion kind, one small module each (or a small family). Importing this package
registers them all with `criteria.criterion`; `criteria.compile_node` imports it before its
first lookup, so a new kind only needs its module and a line here."""

from engage.engine.segments.kinds import (  # noqa: F401 - imported to register their kinds
    attributes,
    consent,
    dates,
    everyone,
    fields,
    history,
    loyalty,
    membership,
    numbers,
    spans,
    tags,
    usage,
)

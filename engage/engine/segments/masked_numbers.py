"""What a requester who is shown numbers masked (+99890*****07) may ask of a segment, and see of one.

A count is an oracle: if "first_name N7 and number starts with +99890100000" answers 1 or 0, ten
such counts give the next hidden digit, and a dozen give the number. So for such a requester the
criteria over the number may test no more of it than the mask shows: a prefix of at most the '+'
and phones.VISIBLE_DIGITS digits (a country and network code: "all +99890 numbers", a legitimate
marketing need), or whether there is a number at all. Everything else is refused with a 400 naming
the criterion: eq, ne, in and not_in (a guess tested whole, or its complement), the ordered
comparisons (a range is a binary search), contains, and longer prefixes. The rule is checked by the
kinds that read the number (field msisdn, number_prefix) against CompileContext.masked, which the
audience sets from the asker's Scope, so a count, a live count, a save, an edit and a saved segment
included by in_segment are all held to it; a campaign's launch and estimate run as the system.

Static lists (in_list) stay open to masked requesters: only operators make them (`engage list
import`, from files), so a list is a fixed set no masked requester chose, and testing membership in
it, alone or by difference (count(A or L) - count(A)), tells who is on the list, not their digits.
A way for masked roles to upload lists would make one an oracle and must come with this rule.

A saved definition shown back to such a requester (the API, the builder) has the values of those
criteria masked the same way, so reading an admin's "msisdn eq ..." segment tells no more either."""

from __future__ import annotations

from typing import Any

from engage.engine.phones import MASK_HEAD, VISIBLE_DIGITS, mask
from engage.engine.segments.criteria import SegmentError

NUMBER_FIELD = "msisdn"
# the ops on the number that tell nothing beyond the mask (starts_with only with a short enough prefix)
MASKED_OPS = ("starts_with", "empty", "not_empty")


def refusal(path: str, what: str) -> SegmentError:
    return SegmentError(path, f"{what}: masked roles may not select by number beyond its first {VISIBLE_DIGITS} "
                              f"digits (the country and network code the mask shows, e.g. starts_with "
                              f"'+99890'); this role is shown numbers masked",
                        hint=f"you see phone numbers masked, so you may select by their first {VISIBLE_DIGITS} "
                             f"digits only (starts with +99890, say)")


def check_field(op: str, value: Any, path: str) -> None:
    """A criterion on the msisdn field, for a masked requester; ``value`` as parsed for starts_with."""
    if op not in MASKED_OPS:
        raise refusal(path, f"op {op!r} on msisdn")
    if op == "starts_with" and len(value) > MASK_HEAD:
        raise refusal(path, f"starts_with {len(value)} characters of msisdn")


def check_prefix(prefix: str, path: str) -> None:
    """One number_prefix prefix, with its '+', for a masked requester."""
    if len(prefix) > MASK_HEAD:
        raise refusal(path, f"number_prefix of {len(prefix) - 1} digits")


def offered(kinds: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The criterion kinds (criteria.describe_kinds) as offered to a masked requester: msisdn with only
    the operators it may use, so the builder does not offer what the count would refuse."""
    def field(entry: dict[str, Any]) -> dict[str, Any]:
        if entry.get("name") != NUMBER_FIELD:
            return entry
        return {**entry, "operators": [op for op in entry["operators"] if op in MASKED_OPS]}

    return [{**kind, "fields": [field(f) for f in kind["fields"]]} if "fields" in kind else kind for kind in kinds]


def shown(node: Any) -> Any:
    """A definition as a masked requester may read it: the values of criteria over the number cut
    to what the mask shows (a whole number masked, a long prefix cut to "+99890…")."""
    if isinstance(node, list):
        return [shown(child) for child in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("kind", "field")
    if kind == "field" and node.get("field") == NUMBER_FIELD and "value" in node:
        return {**node, "value": _field_value(node.get("op", "eq"), node["value"])}
    if kind == "number_prefix" and isinstance(node.get("prefixes"), list):
        return {**node, "prefixes": [_prefix(p) for p in node["prefixes"]]}
    return {key: shown(child) if key in ("and", "or", "not") else child for key, child in node.items()}


def _field_value(op: str, value: Any) -> Any:
    if isinstance(value, list):
        return [_field_value(op, v) for v in value]
    if value is None:
        return None
    text = str(value)
    if op == "starts_with":
        return _prefix(text)
    return mask(text)


def _prefix(prefix: Any) -> Any:
    if not isinstance(prefix, str):
        return "*"
    with_plus = prefix if prefix.startswith("+") else "+" + prefix
    return prefix if len(with_plus) <= MASK_HEAD else with_plus[:MASK_HEAD] + "…"

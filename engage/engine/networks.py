"""Networks by the names people know them by (Beeline, Ucell), not by the keys routing keeps.

A message's network is stored as the key its route was priced on: an MCC-MNC ("434-04") or the
prefix of the number's digits a price row matched ("99890"). Messages no price table covered have
no key; figures group those by the first NUMBER_DIGITS digits of their number. Figures group by
these keys in SQL (a few groups however many messages) and name the groups afterwards, here:

1. the name the price tables give the key (their ``network`` column: the operator's own table, and
   the place to correct a name; the row valid from the latest date wins), for a prefix also the
   longest table prefix that starts it;
2. else, for digits, phonenumbers' carrier data (the numbering plan's allocation, longest prefix
   first) with the country's region code, "Beeline (UZ)": one name may be several countries'
   networks. A number ported to another network keeps the name its prefix was allocated to;
3. else what is known: "+43405… (AT)" for a priced prefix, "MCC-MNC 434-04", and for an
   unpriced number "unknown network (UZ)", so that unnamed numbers of a country stay one group."""

from __future__ import annotations

from collections.abc import Iterable

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, region_code_for_country_code
from phonenumbers.carrierdata import CARRIER_DATA, CARRIER_LONGEST_PREFIX
from sqlalchemy import Connection, or_, select

from engage.engine.store.schema import RoutePrice

NUMBER_DIGITS = 6  # of an unpriced number, grouped by: carrier prefixes are mostly 5 to 7 digits
UNKNOWN = "unknown network"
LOOKED_UP = 1000  # keys per query of the price tables: well within any database's bound parameters


def is_mcc_mnc(key: str) -> bool:
    """Routing writes an MCC-MNC with its dash ("434-04"); a prefix is digits only."""
    return "-" in key


def names(conn: Connection, keys: Iterable[str], *, numbers: Iterable[str] = ()) -> dict[str, str]:
    """The name of each network key (an MCC-MNC or a priced prefix), and of each unpriced number's
    leading digits in ``numbers`` under "+" and those digits; the price tables' names read with a
    query per LOOKED_UP keys and prefixes, however many messages."""
    keys, numbers = set(keys), set(numbers)
    digits = {k for k in keys if not is_mcc_mnc(k)} | numbers
    wanted = {d[:n] for d in digits for n in range(1, len(d) + 1)}
    tabled = _tabled(conn, {k for k in keys if is_mcc_mnc(k)}, wanted)
    out = {}
    for key in keys:
        if is_mcc_mnc(key):
            out[key] = tabled.get(("mcc_mnc", key)) or f"MCC-MNC {key}"
        else:
            out[key] = _named(key, tabled) or f"+{key}… ({_region(key) or '?'})"
    for number in numbers:
        region = _region(number)
        out[f"+{number}"] = _named(number, tabled) or (f"{UNKNOWN} ({region})" if region else UNKNOWN)
    return out


def _tabled(conn: Connection, mcc_mncs: set[str], prefixes: set[str]) -> dict[tuple[str, str], str]:
    """("mcc_mnc" | "prefix", key) -> the name the price tables give it, the latest row's. The keys
    go in LOOKED_UP at a time: a campaign to the whole world has thousands of number groups."""
    wanted = [("mcc_mnc", k) for k in sorted(mcc_mncs)] + [("prefix", k) for k in sorted(prefixes)]
    rows = []
    for i in range(0, len(wanted), LOOKED_UP):
        chunk = wanted[i:i + LOOKED_UP]
        rows += conn.execute(select(RoutePrice.prefix, RoutePrice.mcc_mnc, RoutePrice.network, RoutePrice.valid_from,
                                    RoutePrice.id).where(
            RoutePrice.network.is_not(None), RoutePrice.network != "",
            or_(RoutePrice.mcc_mnc.in_([k for kind, k in chunk if kind == "mcc_mnc"]),
                RoutePrice.prefix.in_([k for kind, k in chunk if kind == "prefix"])))).all()
    out = {}
    for prefix, mcc_mnc, network, _, _ in sorted(rows, key=lambda r: (r.valid_from, r.id)):  # a later row's name wins
        if mcc_mnc in mcc_mncs:
            out["mcc_mnc", mcc_mnc] = network
        if prefix in prefixes:
            out["prefix", prefix] = network
    return out


def _named(digits: str, tabled: dict[tuple[str, str], str]) -> str | None:
    """The tables' name for the longest prefix of ``digits`` they name, else the carrier data's."""
    for n in range(len(digits), 0, -1):
        if ("prefix", digits[:n]) in tabled:
            return tabled["prefix", digits[:n]]
    for n in range(min(CARRIER_LONGEST_PREFIX, len(digits)), 0, -1):
        carrier = (CARRIER_DATA.get(digits[:n]) or {}).get("en")
        if carrier:
            region = _region(digits)
            return f"{carrier} ({region})" if region else carrier
    return None


def _region(digits: str) -> str | None:
    """The region code of the number's country calling code (its main region where several share
    one, "US" for +1); None when the digits start with no calling code."""
    for n in (1, 2, 3):
        if digits[:n].isdigit() and int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE:
            region = region_code_for_country_code(int(digits[:n]))
            return None if region in ("ZZ", "001") else region
    return None

"""Price tables from CSV: bad rows reported by line and field, good rows kept, re-import updates."""

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engage.engine.routes.price_tables import PriceTableError, currency_rates, import_csv, list_prices
from engage.engine.store.schema import AuditEntry, Provider, RoutePrice

CSV = """provider,prefix,mcc_mnc,network,price,currency,valid_from
alpha,998,,,0.030,usd,2026-01-01
alpha,+998 90,434-04,Beeline,0.020,USD,2026-01-01T00:00:00+05:00
beta,,434-05,Ucell,0.018,EUR,
nobody,998,,,0.01,USD,
alpha,99a,,,0.01,USD,
alpha,,,,0.01,USD,
alpha,998,,,-1,USD,
alpha,998,,,0.0000001,USD,
alpha,998,,,0.01,US,
alpha,998,,,0.01,USD,31/12/2026
alpha,,434-5,,0.01,USD,
"""


@pytest.fixture
def providers(engine):
    with engine.begin() as conn:
        for name in ("alpha", "beta"):
            conn.execute(insert(Provider.__table__).values(name=name, kind="smpp", config={}, tps=1, priority=1,
                                                           enabled=True))


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_rows_are_kept_and_bad_rows_reported_by_line_and_field(engine, providers, tmp_path):
    report = import_csv(engine, _write(tmp_path, CSV), actor="test")
    assert (report.rows, report.imported) == (11, 3)
    assert [(line, field) for line, field, _ in report.rejected] == [
        (5, "provider"), (6, "prefix"), (7, "prefix"), (8, "price"), (9, "price"), (10, "currency"),
        (11, "valid_from"), (12, "mcc_mnc")]
    reasons = {line: reason for line, _, reason in report.rejected}
    assert "no provider named 'nobody'" in reasons[5]
    assert "a prefix or an mcc_mnc is needed" in reasons[7]
    assert "more than 6 decimal places" in reasons[9]


def test_rows_are_stored_normalised(engine, providers, tmp_path):
    import_csv(engine, _write(tmp_path, CSV), actor="test")
    with engine.connect() as conn:
        rows = conn.execute(select(RoutePrice.prefix, RoutePrice.mcc_mnc, RoutePrice.price, RoutePrice.currency)
                            .order_by(RoutePrice.price)).all()
    assert rows == [("", "434-05", Decimal("0.018"), "EUR"), ("99890", "434-04", Decimal("0.02"), "USD"),
                    ("998", "", Decimal("0.03"), "USD")]


def test_reimporting_the_same_key_updates_the_price(engine, providers, tmp_path):
    header = "provider,prefix,price,currency,valid_from\n"
    import_csv(engine, _write(tmp_path, header + "alpha,998,0.03,USD,2026-01-01\n"), actor="test")
    report = import_csv(engine, _write(tmp_path, header + "alpha,998,0.025,USD,2026-01-01\n"
                                                          "alpha,998,0.024,USD,2026-01-01\n"), actor="test")
    assert report.imported == 2
    with engine.connect() as conn:
        assert conn.execute(select(RoutePrice.price)).scalars().all() == [Decimal("0.024")]


def test_a_later_valid_from_adds_a_version_and_list_shows_which_is_in_force(engine, providers, tmp_path):
    header = "provider,prefix,price,currency,valid_from\n"
    import_csv(engine, _write(tmp_path, header + "alpha,998,0.03,USD,2025-01-01\nalpha,998,0.02,USD,2025-06-01\n"
                                                 "alpha,998,0.01,USD,2999-01-01\nbeta,7,0.05,USD,2025-01-01\n"),
               actor="test")
    with engine.connect() as conn:
        listed = list_prices(conn, "alpha")
    assert [(r["price"], r["current"]) for r in listed] == [("0.030000", False), ("0.020000", True),
                                                           ("0.010000", False)]
    assert listed[1]["valid_from"] == "2025-06-01T00:00:00+00:00"


def test_the_import_is_in_the_audit_log(engine, providers, tmp_path):
    import_csv(engine, _write(tmp_path, CSV), actor="cli:ops")
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry.__table__)).one()
    assert (entry.actor, entry.action, entry.details["imported"], entry.details["rejected"]) == (
        "cli:ops", "routes.import", 3, 8)


def test_mixed_currencies_without_rates_are_warned_about(engine, providers, tmp_path, monkeypatch):
    monkeypatch.delenv("ENGAGE_CURRENCY_RATES", raising=False)
    report = import_csv(engine, _write(tmp_path, CSV), actor="test")
    assert "no rate for EUR, USD" in report.warnings[0]
    monkeypatch.setenv("ENGAGE_CURRENCY_RATES", "usd=1, EUR=1.08")
    assert import_csv(engine, _write(tmp_path, CSV), actor="test").warnings == []


def test_a_file_without_the_needed_columns_is_refused_whole(engine, providers, tmp_path):
    with pytest.raises(PriceTableError, match="lacks currency, prefix or mcc_mnc"):
        import_csv(engine, _write(tmp_path, "provider,price\nalpha,0.01\n"), actor="test")


def test_currency_rates_name_the_bad_item():
    assert currency_rates("USD=1,uzs=0.00008") == {"USD": Decimal(1), "UZS": Decimal("0.00008")}
    with pytest.raises(ValueError, match="'EUR=abc'"):
        currency_rates("USD=1,EUR=abc")

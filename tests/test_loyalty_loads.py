"""Bulk point loads: a CSV or Parquet file read into a load with each row's problem named by its line,
nothing posted until a second person approves, then posted once however often it is given (the same
file again, another load with the same external ids, a second approval)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select

from engage.engine.loyalty import ledger, load_posting, loads, members, programmes
from engage.engine.loyalty.loads import LoadError
from engage.engine.store.schema import AuditEntry, LoyaltyEntry, LoyaltyLoadRow, LoyaltyLot, LoyaltyMember, Subscriber

HEADER = "msisdn,points,reason,external_id\n"
ANA, BEN, CLO, DAN = "+998901000001", "+998901000002", "+998901000003", "+998901000004"


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A programme whose points live 365 days; Ana and Ben members, Clo a member who left, Dan no member."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": n} for n in (ANA, BEN, CLO, DAN)])
        made = programmes.create(conn, "club", "Club", points_valid_days=365)
        ids = dict(conn.execute(select(Subscriber.msisdn, Subscriber.id)).all())
        members.enrol(conn, made.id, [ids[ANA], ids[BEN], ids[CLO]], "api")
        members.set_status(conn, member_id(conn, made.id, CLO), "closed")
    return made


def member_id(conn, programme_id: int, msisdn: str) -> int:  # noqa: ANN001
    return conn.execute(select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
                        .where(LoyaltyMember.programme_id == programme_id, Subscriber.msisdn == msisdn)).scalar_one()


def available(engine, programme_id: int, msisdn: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        found = ledger.balance(conn, member_id(conn, programme_id, msisdn))
    return found.available if found else 0


def upload(engine, text: str | bytes, *, actor: str = "ana@example.com", filename: str = "load.csv",  # noqa: ANN001
           enrol: bool = False) -> dict:
    data = text.encode() if isinstance(text, str) else text
    with engine.begin() as conn:
        return loads.read(conn, "club", filename, data, actor=actor, enrol=enrol, region="UZ")


def problems(engine, load_id: int) -> dict[int, str]:  # noqa: ANN001
    with engine.connect() as conn:
        return {r["line"]: r["problem"] for r in loads.report(conn, load_id, 0, 1000)}


def test_a_csv_file_is_read_into_a_pending_load_and_posts_nothing(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Welcome gift,w-1\n{BEN},50,Welcome gift,w-2\n")
    assert (read["state"], read["rows"], read["good"], read["bad"], read["points"]) == ("pending", 2, 2, 0, 150)
    assert available(engine, club.id, ANA) == 0


def test_a_parquet_file_is_read_like_a_csv_file(engine, club) -> None:  # noqa: ANN001
    out = io.BytesIO()
    pq.write_table(pa.table({"MSISDN": [998901000001, 998901000002], "Points": [100, -5],
                             "Reason": ["Gift", "Gift"], "External ID": ["p-1", "p-2"]}), out)
    read = upload(engine, out.getvalue(), filename="gifts.bin")  # its magic bytes say Parquet, not its name
    assert (read["good"], read["bad"]) == (1, 1)
    assert problems(engine, read["load"]) == {2: "points: -5 is not positive (a load gives points; to take "
                                                 "points, make an adjustment)"}


def test_each_problem_is_named_with_its_line(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + "\n".join([
        f"{ANA},100,Gift,a-1",           # 2: good
        "12345,100,Gift,a-2",            # 3
        "+998907777777,100,Gift,a-3",    # 4
        f"{DAN},100,Gift,a-4",           # 5
        f"{ANA},1.5,Gift,a-5",           # 6
        f"{ANA},0,Gift,a-6",             # 7
        f"{ANA},100,,a-7",               # 8
        f"{ANA},100,{'x' * 201},a-8",    # 9
        f"{ANA},100,Gift,",              # 10
        f"{ANA},100,Gift,{'k' * 65}",    # 11
        f"{ANA},100,Gift,a-1",           # 12
        f"{CLO},100,Gift,a-12",          # 13
    ]) + "\n")
    found = problems(engine, read["load"])
    assert sorted(found) == list(range(3, 14))
    assert found[3].startswith("msisdn: not a valid phone number")
    assert found[4] == "msisdn: no such subscriber"
    assert found[5].startswith("msisdn: not a member of club")
    assert found[6] == "points: '1.5' is not a whole number"
    assert found[7].startswith("points: 0 is not positive")
    assert found[8].startswith("reason: missing")
    assert found[9] == "reason: 201 characters, more than 200"
    assert found[10].startswith("external_id: missing")
    assert found[11] == "external_id: 65 characters, more than 64"
    assert found[12] == "external_id: 'a-1' is on line 2 already"
    assert found[13] == "msisdn: the member is closed: a closed member earns no points"


def test_a_suspended_member_gets_no_points(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        members.set_status(conn, member_id(conn, club.id, BEN), "suspended")
    read = upload(engine, HEADER + f"{BEN},10,Gift,s-1\n")
    assert problems(engine, read["load"]) == {2: "msisdn: the member is suspended: a suspended member earns no points"}


def test_numbers_are_read_as_the_subscriber_import_reads_them(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + "998901000001,10,Gift,n-1\n"
                          "\"+998 90 100-00-02\",10,Gift,n-2\n901000003,1,Gift,n-3\n")
    assert (read["good"], read["bad"]) == (2, 1)
    assert problems(engine, read["load"]) == {4: "msisdn: the member is closed: a closed member earns no points"}


def test_a_missing_column_refuses_the_whole_file_naming_it_and_the_columns_found(engine, club) -> None:  # noqa: ANN001
    with pytest.raises(LoadError) as refused:
        upload(engine, "msisdn,points,note,id\n+998901000001,10,Gift,x\n")
    assert str(refused.value) == ("load.csv: the header has no column reason, external_id (it needs msisdn, "
                                  "points, reason, external_id; it has msisdn, points, note, id)")
    with engine.connect() as conn:
        assert loads.listed(conn, club.id) == []


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(engine, club) -> None:  # noqa: ANN001
    with pytest.raises(LoadError, match=r"line 2: byte 0xe9 is not UTF-8"):
        upload(engine, HEADER.encode() + b"+998901000001,10,Caf\xe9,x\n")


def test_a_byte_order_mark_is_no_part_of_the_first_column(engine, club) -> None:  # noqa: ANN001
    assert upload(engine, "\ufeff" + HEADER + f"{ANA},10,Gift,b-1\n")["good"] == 1


def test_the_same_file_again_is_refused_naming_the_earlier_load(engine, club) -> None:  # noqa: ANN001
    text = HEADER + f"{ANA},100,Gift,d-1\n"
    first = upload(engine, text)
    with pytest.raises(LoadError, match=rf"this file was uploaded as load {first['load']} on .* by ana@example.com"):
        upload(engine, text, filename="again.csv")


def test_the_uploader_cannot_approve_their_own_load(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Gift,u-1\n")
    with pytest.raises(LoadError, match="ana@example.com uploaded it; another person approves it"):
        load_posting.approve(engine, read["load"], actor="ana@example.com")
    assert available(engine, club.id, ANA) == 0


def test_approval_posts_the_balances_and_lots_with_the_programmes_expiry(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Welcome gift,w-1\n{BEN},50,Welcome gift,w-2\n{DAN},5,Gift,w-3\n")
    now = datetime(2027, 1, 5, 10, 0, tzinfo=UTC)
    done = load_posting.approve(engine, read["load"], actor="ben@example.com", now=now)
    assert (done["state"], done["posted"], done["points"], done["decided_by"]) == ("posted", 2, 150, "ben@example.com")
    assert (available(engine, club.id, ANA), available(engine, club.id, BEN)) == (100, 50)
    with engine.connect() as conn:
        entry = conn.execute(select(LoyaltyEntry).where(LoyaltyEntry.idem_key == "w-1")).one()
        lot = conn.execute(select(LoyaltyLot).where(LoyaltyLot.entry_id == entry.id)).one()
        rows = conn.execute(select(LoyaltyLoadRow.external_id, LoyaltyLoadRow.entry_id).where(
            LoyaltyLoadRow.entry_id.is_not(None))).all()
        actions = conn.execute(select(AuditEntry.action).where(AuditEntry.object_type == "loyalty_load")).scalars()
        assert (entry.kind, entry.cause, entry.cause_id, entry.source, entry.reason) == (
            "earn", "bulk", str(read["load"]), f"bulk:{club.id}", "Welcome gift")
        assert (lot.remaining, lot.expires_at.replace(tzinfo=UTC)) == (100, now + timedelta(days=365))
        assert len(rows) == 2 and entry.id in {e for _, e in rows}
        assert list(actions) == ["loyalty.load.upload", "loyalty.load.approve", "loyalty.load.posted"]


def test_approving_twice_posts_once(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Gift,t-1\n")
    load_posting.approve(engine, read["load"], actor="ben@example.com")
    with pytest.raises(LoadError, match="not pending: posted by ben@example.com"):
        load_posting.approve(engine, read["load"], actor="cleo@example.com")
    assert available(engine, club.id, ANA) == 100


def test_an_external_id_posted_by_an_earlier_load_is_counted_posted_before_and_posts_once(engine, club) -> None:  # noqa: ANN001
    first = upload(engine, HEADER + f"{ANA},100,Gift,o-1\n{BEN},50,Gift,o-2\n")
    load_posting.approve(engine, first["load"], actor="ben@example.com")
    second = upload(engine, HEADER + f"{ANA},100,Gift,o-1\n{BEN},70,Gift,o-3\n")
    assert (second["good"], second["posted_before"], second["points"]) == (2, 1, 70)
    done = load_posting.approve(engine, second["load"], actor="ben@example.com")
    assert (done["posted"], done["posted_before"]) == (1, 1)
    assert (available(engine, club.id, ANA), available(engine, club.id, BEN)) == (100, 120)


def test_two_pending_loads_with_the_same_external_ids_post_them_once(engine, club) -> None:  # noqa: ANN001
    first = upload(engine, HEADER + f"{ANA},100,Gift,o-1\n")
    second = upload(engine, HEADER + f"{ANA},100,Gift again,o-1\n")  # read before the first was posted
    load_posting.approve(engine, first["load"], actor="ben@example.com")
    done = load_posting.approve(engine, second["load"], actor="ben@example.com")
    assert (done["posted"], done["posted_before"]) == (0, 1)
    assert available(engine, club.id, ANA) == 100


def test_a_member_closed_after_the_file_was_read_gets_nothing(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Gift,c-1\n{BEN},50,Gift,c-2\n")
    with engine.begin() as conn:
        members.set_status(conn, member_id(conn, club.id, BEN), "closed")
    done = load_posting.approve(engine, read["load"], actor="ben@example.com")
    assert (done["posted"], done["bad"]) == (1, 1)
    assert problems(engine, read["load"]) == {3: "msisdn: the member is closed: a closed member earns no points"}


def test_with_enrol_existing_subscribers_are_enrolled_when_the_load_is_posted(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{DAN},30,Joined,e-1\n", enrol=True)
    assert (read["good"], read["bad"]) == (1, 0)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoyaltyMember)).scalar() == 3  # not yet
    load_posting.approve(engine, read["load"], actor="ben@example.com")
    assert available(engine, club.id, DAN) == 30
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyMember.enrolled_via).where(
            LoyaltyMember.id == member_id(conn, club.id, DAN))).scalar() == "bulk"


def test_a_rejected_load_posts_nothing_and_cannot_be_approved(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Gift,r-1\n")
    with engine.begin() as conn:
        done = load_posting.reject(conn, read["load"], actor="ben@example.com", reason="wrong campaign")
    assert (done["state"], done["decision_reason"]) == ("rejected", "wrong campaign")
    with pytest.raises(LoadError, match="not pending: rejected by ben@example.com"):
        load_posting.approve(engine, read["load"], actor="ben@example.com")
    assert available(engine, club.id, ANA) == 0


def test_a_rejection_needs_a_reason(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Gift,r-1\n")
    with engine.begin() as conn, pytest.raises(LoadError, match="reason: say why"):
        load_posting.reject(conn, read["load"], actor="ben@example.com", reason=" ")


def test_an_approval_that_stopped_half_way_is_finished_by_approving_again(engine, club, monkeypatch) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + "".join(f"{ANA},1,Gift,h-{n}\n" for n in range(10)))
    monkeypatch.setattr(load_posting, "BATCH", 4)
    calls = {"n": 0}
    real = load_posting._post

    def dies_on_the_second_batch(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("the process died")
        return real(*args, **kwargs)

    monkeypatch.setattr(load_posting, "_post", dies_on_the_second_batch)
    with pytest.raises(RuntimeError):
        load_posting.approve(engine, read["load"], actor="ben@example.com")
    assert available(engine, club.id, ANA) == 4
    done = load_posting.approve(engine, read["load"], actor="cleo@example.com")
    assert (done["state"], done["posted"], available(engine, club.id, ANA)) == ("posted", 10, 10)


def test_the_report_csv_lists_the_problem_rows_and_disarms_formulas(engine, club) -> None:  # noqa: ANN001
    read = upload(engine, HEADER + f"{ANA},100,Gift,f-1\n{DAN},1,=HYPERLINK(1),f-2\n")
    with engine.connect() as conn:
        text = loads.report_csv(conn, read["load"], masked=True)
    assert text.splitlines() == ["line,msisdn,points,reason,external_id,problem",
                                 "3,+99890*****04,1,'=HYPERLINK(1),f-2,msisdn: not a member of club (upload with "
                                 "enrol to enrol existing subscribers)"]


def test_a_load_of_20000_rows_goes_through_in_batches(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        first = conn.execute(select(func.max(Subscriber.id))).scalar()
        conn.execute(insert(Subscriber), [{"msisdn": f"+99893{n:07d}"} for n in range(20_000)])
        ids = conn.execute(select(Subscriber.id).where(Subscriber.id > first)).scalars().all()
        members.enrol(conn, club.id, ids, "api")
    text = HEADER + "".join(f"+99893{n:07d},{n % 50 + 1},Spring promotion,big-{n}\n" for n in range(20_000))
    read = upload(engine, text)
    assert (read["rows"], read["good"]) == (20_000, 20_000)
    done = load_posting.approve(engine, read["load"], actor="ben@example.com")
    assert (done["posted"], done["points"]) == (20_000, sum(n % 50 + 1 for n in range(20_000)))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoyaltyEntry).where(
            LoyaltyEntry.cause_id == str(read["load"]))).scalar() == 20_000

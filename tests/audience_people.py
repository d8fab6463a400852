"""A small population in two branches, shared by the audience tests."""

from sqlalchemy import insert

from engage.engine.store.schema import Subscriber

PEOPLE = [
    {"msisdn": "+998901000001", "first_name": "Aziz", "city": "Tashkent", "branch": "north", "language": "uz"},
    {"msisdn": "+998901000002", "first_name": "Anna", "city": "Tashkent", "branch": "north", "language": "ru"},
    {"msisdn": "+998901000003", "first_name": "Sam", "city": "Bukhara", "branch": "south", "language": "en"},
    {"msisdn": "+998901000004", "first_name": "Lola", "city": "Tashkent", "branch": "south", "language": "uz"},
    {"msisdn": "+998901000005", "first_name": "Timur", "city": "Tashkent", "branch": None, "language": "uz"},
]


def add_people(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{**p, "attributes": {}} for p in PEOPLE])

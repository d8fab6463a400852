"""A fault no screening foresees, made real: the database itself refuses to insert one value."""

from __future__ import annotations

from sqlalchemy import Engine, text


def refuse(engine: Engine, table: str, column: str, value: str) -> None:
    """From now on an insert into table whose column holds value fails (a check violation on
    PostgreSQL, an aborted constraint on SQLite); every other row goes in."""
    name = f"refuse_{table}"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(
                f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.{column} = '{value}' THEN "
                "RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END $$"))
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"))
        else:
            conn.execute(text(f"CREATE TRIGGER {name} BEFORE INSERT ON {table} WHEN NEW.{column} = '{value}' "
                              "BEGIN SELECT RAISE(ABORT, 'refused'); END"))


def allow(engine: Engine, table: str) -> None:
    """The database takes again what refuse() made it refuse in table (the fault is over)."""
    name = f"refuse_{table}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP TRIGGER {name}" + (f" ON {table}" if engine.dialect.name == "postgresql" else "")))
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"DROP FUNCTION {name}()"))

"""The command line answers bad arguments with one line naming what is wrong, never a traceback: an
@file that is not there, a definition nested past reason, an id no column can hold, a NUL."""

from __future__ import annotations

import pytest

from engage.cli import main


@pytest.fixture
def cli(database_url, engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)


def _refused(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    message = str(stopped.value.code) if not isinstance(stopped.value.code, int) else capsys.readouterr().err
    assert "Traceback" not in message and len(message.strip().splitlines()) == 1, message
    return message.strip()


def test_a_missing_at_file_is_one_line_naming_it(cli, capsys, tmp_path):
    message = _refused(capsys, ["segment", "count", "--definition", f"@{tmp_path}/nowhere.json"])
    assert message.startswith("error: ") and "nowhere.json" in message and "no such file" in message


def test_a_definition_nested_past_reason_is_one_line(cli, capsys):
    message = _refused(capsys, ["segment", "count", "--definition", "[" * 5000 + "]" * 5000])
    assert message.startswith("error: ") and "nested deeper than" in message


def test_an_id_no_column_can_hold_is_one_line_naming_the_argument(cli, capsys):
    message = _refused(capsys, ["campaign", "show", "99999999999999999999"])
    assert message.startswith("error: id: 99999999999999999999 is out of range")


def test_a_nul_in_an_argument_is_one_line_naming_it(cli, capsys):
    message = _refused(capsys, ["user", "disable", "a\x00b@example.com"])
    assert message.startswith("error: email: contains a NUL character")

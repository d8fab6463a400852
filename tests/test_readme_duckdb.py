"""The README shows an analyst loading an export into DuckDB with one command: that command, as the
README writes it, run in a folder holding an export of a campaign's messages, answers with their
counts by status."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from engage.engine.analytics import exports
from tests.effectiveness_data import Story

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_duckdb_command() -> str:
    found = re.search(r'```sh\n(python3 -c "import duckdb;[^\n]+)\n```', README.read_text(encoding="utf-8"))
    assert found, "the README's Exports for BI section shows no DuckDB command through Python"
    return found.group(1)


def test_the_readmes_duckdb_command_counts_an_exports_messages_by_status(engine, tmp_path):
    story = Story(engine)
    story.many(7, converted=0)
    story.many(3, converted=0, status="control")
    exports.run(engine, exports.ExportOptions(directory=tmp_path / "exports", settle=0), ["messages"])
    command = readme_duckdb_command().replace("python3 -c ", "", 1)
    code = command.strip('"').replace('\\"', '"')
    shown = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    counts = dict(re.findall(r"│\s*(delivered|control)\s*│\s*(\d+)\s*│", shown.stdout))
    assert counts == {"delivered": "7", "control": "3"}

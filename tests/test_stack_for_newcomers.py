"""The stack a newcomer starts runs every kind of worker the code has: docker-compose.yml and the
README's multi-process recipe both start each `engage worker <kind>`, every command they give is a
real `engage` command, and the README's test command is the one CI runs.

The worker kinds come from the code (the runner's registry and the CLI's choices), so a new kind
fails here until the stack starts it. docker-compose.yml is read, not run: tests cannot pull images.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from engage.cli import build_parser
from engage.simulators.smsc_cli import _parser as smsc_sim_parser
from engage.workers.runner import WORKERS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def worker_kinds_of_the_cli() -> set[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    worker = sub.choices["worker"]
    name = next(a for a in worker._actions if a.dest == "name")
    return set(name.choices) - {"all"}


def compose_services() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))["services"]


def engage_services() -> dict[str, list[str]]:
    """The services built from this repository, with their commands (arguments to `engage`)."""
    return {name: service["command"] for name, service in compose_services().items() if "build" in service}


def readme_section(title: str) -> str:
    start = README.index(f"\n### {title}\n")
    end = README.find("\n#", start + len(title) + 6)
    return README[start:end if end != -1 else None]


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def test_the_cli_offers_exactly_the_worker_kinds_the_runner_runs():
    assert worker_kinds_of_the_cli() == set(WORKERS)


def test_docker_compose_starts_every_kind_of_worker():
    started = {command[1] for command in engage_services().values() if command[:1] == ["worker"]}
    assert started >= set(WORKERS), f"docker-compose.yml starts no worker for {set(WORKERS) - started}"


def test_every_docker_compose_command_is_an_engage_command():
    parser = build_parser()
    for name, command in engage_services().items():
        if command[0] == "smsc-sim":  # the simulator parses its own options
            smsc_sim_parser().parse_args(command[1:])
        else:
            parser.parse_args(command)  # exits (failing the test) on an unknown command or option
        assert all(isinstance(arg, str) for arg in command), name


def test_the_image_runs_engage_with_the_services_commands():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^ENTRYPOINT \["engage"\]$', dockerfile, flags=re.M)


def test_the_readme_recipe_starts_every_kind_of_worker_each_in_its_own_terminal():
    recipe = readme_section("On PostgreSQL and RabbitMQ, across processes")
    commands = [line.split("#")[0].strip() for block in sh_blocks(recipe) for line in block.splitlines()]
    started = {m.group(1) for c in commands if (m := re.match(r"engage worker (\w+)", c))}
    assert started >= set(WORKERS), f"the README's recipe starts no worker for {set(WORKERS) - started}"
    assert not [c for c in commands if c.endswith("&")], "long-running commands go in terminals of their own"
    assert "runs until" in recipe and "Ctrl-C" in recipe


def test_the_readme_says_the_long_running_commands_run_until_stopped():
    for command in ("engage smsc-sim", "engage worker", "engage serve"):
        assert re.search(rf"`{command}`[^.]*run until stopped \(Ctrl-C\)", README), command


def test_the_readme_installs_into_a_virtualenv():
    for section in ("Try it", "Run the tests"):
        block = sh_blocks(README[README.index(f"## {section}\n"):])[0]
        assert block.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install -e "), block
        assert "python3 -m pip" not in block


def test_ci_runs_the_readmes_test_lines():
    block = sh_blocks(README[README.index("## Run the tests\n"):])[0]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    for line in block.splitlines():
        command = line.split("#")[0].strip()
        assert command in (c.strip() for c in ci), f".ci/run does not run the README's {command!r}"

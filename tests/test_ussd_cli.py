"""`engage ussd menu import / list` and `engage ussd try`, as an operator types them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.ussd_helpers import Phone

EXAMPLES = Path(__file__).parent.parent / "examples" / "ussd"
BROKEN = """name: Broken
screens:
  home:
    type: menu
    text: Hi
    options:
      - label: Go
        next: nowhere
  ask:
    type: input
    text: PIN?
    validate: pincode
    next: home
"""


def test_import_puts_a_menu_on_a_code(engage_cli):
    code, out, _ = engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*123#")
    assert code == 0
    assert out == [{"id": 1, "name": "Loyalty club", "code": "*123#", "screens": 46}]


def test_an_imported_menu_answers_its_code(engage_cli, engine):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*123#")
    assert Phone(engine).dial().text.startswith("Hello friend! Loyalty club:\n1. My profile")


def test_import_of_a_menu_with_errors_prints_each_with_its_line_and_exits_2(engage_cli, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    code, out, err = engage_cli("ussd", "menu", "import", str(path), "--code", "*123#")
    assert code == 2
    assert out == []
    assert err.splitlines() == [
        f"{path}:2: no screen ends the session: add an end screen (type: end)",
        f"{path}:8: screen 'home': option 1: unknown next screen 'nowhere'",
        f"{path}:9: screen 'ask': unreachable: no option, route or outcome leads here from the first screen 'home'",
        f"{path}:12: screen 'ask': validate: unknown validator 'pincode' (one of amount, date, digits, phone, pin, "
        "regex, text)",
        f"error: {path}: 4 errors; the menu was not saved"]
    assert engage_cli("ussd", "menu", "list")[1] == []


def test_import_of_a_missing_file_exits_2(engage_cli, tmp_path):
    code, _, err = engage_cli("ussd", "menu", "import", str(tmp_path / "none.yaml"), "--code", "*123#")
    assert (code, err.strip()) == (2, f"error: {tmp_path / 'none.yaml'}: no such file")


def test_import_of_a_code_that_is_not_one_exits_2(engage_cli):
    code, _, err = engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "123")
    assert code == 2
    assert "code '123': a USSD service code such as *123# or *123*5#" in err


def test_importing_again_replaces_the_menu_of_that_name(engage_cli, tmp_path):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "topup.json"), "--code", "*150#")
    changed = tmp_path / "topup.json"
    changed.write_text((EXAMPLES / "topup.json").read_text().replace("Top up a friend\"}", "Top up, friend\"}"))
    code, out, _ = engage_cli("ussd", "menu", "import", str(changed), "--code", "*151#")
    assert (code, out[0]["id"], out[0]["code"]) == (0, 1, "*151#")
    assert [(m["name"], m["code"]) for m in engage_cli("ussd", "menu", "list")[1]] == [("Top up a friend", "*151#")]


def test_a_code_served_by_another_menu_is_refused(engage_cli):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "topup.json"), "--code", "*150#")
    code, _, err = engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*150#")
    assert code == 2
    assert "code *150#: already served by menu 'Top up a friend' (id 1)" in err


def test_list_shows_each_menu(engage_cli):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*123#")
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "topup.json"), "--code", "*150#")
    menus = engage_cli("ussd", "menu", "list")[1]
    assert [(m["name"], m["code"], m["active"], m["languages"]) for m in menus] == [
        ("Loyalty club", "*123#", True, ["en", "ru"]), ("Top up a friend", "*150#", True, ["en", "ru"])]


def test_off_stops_serving_a_menu_and_on_serves_it_again(engage_cli, engine):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*123#")
    assert engage_cli("ussd", "menu", "off", "Loyalty club")[:2] == (
        0, [{"menu": "Loyalty club", "active": False, "changed": True}])
    assert Phone(engine).dial().ends
    assert engage_cli("ussd", "menu", "list")[1][0]["active"] is False
    assert engage_cli("ussd", "menu", "on", "Loyalty club")[0] == 0
    assert Phone(engine).dial().text.startswith("Hello friend!")


def test_switching_a_menu_no_one_has_exits_2_saying_so(engage_cli):
    code, _, err = engage_cli("ussd", "menu", "off", "Nobody")
    assert (code, err.strip()) == (2, "error: no USSD menu called 'Nobody' (engage ussd menu list names them)")


def test_try_walks_a_menu_with_answers_piped_in(engage_cli, database_url):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*123#")
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "ussd", "try", "--code", "*123#", "--msisdn",
                           "+998901234567"], input="9\n3\n", capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Hello friend! Loyalty club:"
    assert "> 9" in lines and "Invalid choice, please try again." in lines and "> 3" in lines
    assert lines[-2:] == ["Rewards open with our loyalty programme: soon you will collect points and exchange them "
                          "here.", "-- session ended --"]


def test_try_hangs_up_at_the_end_of_input(engage_cli, database_url):
    engage_cli("ussd", "menu", "import", str(EXAMPLES / "loyalty.yaml"), "--code", "*123#")
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "ussd", "try", "--code", "*123*1#", "--msisdn",
                           "+998901234567"], input="", capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "My profile"
    assert done.stdout.splitlines()[-1] == "-- hung up --"

"""An SMPP provider's config as an operator writes it: defaults filled, mistakes named."""

from __future__ import annotations

from typing import Any

import pytest

from engage.engine.providers import KINDS
from engage.engine.providers.smpp import SmppProvider
from tests.smpp_helpers import Sink, provider_settings, run


def test_smpp_kind_is_registered_with_its_config_check() -> None:
    assert KINDS["smpp"] is SmppProvider


def test_validate_config_fills_defaults_and_keeps_the_keys_add_smpp_writes() -> None:
    written = {"host": "smsc.example", "port": 2775, "system_id": "engage", "password": "secret", "binds": 2,
               "window": 32}
    config = SmppProvider.validate_config(written)
    assert {k: config[k] for k in written} == written
    assert (config["bind_mode"], config["long_messages"], config["data_coding"]) == ("transceiver", "udh8", 0)
    assert (config["enquire_link_interval"], config["max_attempts"]) == (30.0, 8)


BAD_CONFIGS = [
    ({"bind_mode": "trx"}, "bind_mode"),
    ({"long_messages": "udh"}, "long_messages"),
    ({"window": 0}, "window"),
    ({"port": 70000}, "port"),
    ({"port": "http"}, "port"),
    ({"binds": 0}, "binds"),
    ({"data_coding": 8}, "data_coding"),
    ({"enquire_link_interval": -1}, "enquire_link_interval"),
    ({"source_ton": 1}, "source_ton"),
    ({"hots": "typo"}, "hots"),
    ({"host": None}, "host"),
    ({"system_id": None}, "system_id"),
    ({"password": None}, "password"),
    ({"password": "far-too-long-secret"}, "password"),
]


@pytest.mark.parametrize(("change", "key"), BAD_CONFIGS, ids=[f"{k}-{i}" for i, (_, k) in enumerate(BAD_CONFIGS)])
def test_validate_config_refuses_a_bad_value_naming_its_key(change: dict[str, Any], key: str) -> None:
    config = {k: v for k, v in {**provider_settings(2775), **change}.items() if v is not None}
    with pytest.raises(ValueError, match=key) as refused:
        SmppProvider.validate_config(config)
    assert "far-too-long-secret" not in str(refused.value)


def test_numbers_typed_into_a_form_are_accepted_as_numbers() -> None:
    config = SmppProvider.validate_config(provider_settings("2776", window="16", data_coding="1"))
    assert (config["port"], config["window"], config["data_coding"]) == (2776, 16, 1)


def test_start_refuses_a_stored_config_with_a_typo() -> None:
    with pytest.raises(ValueError, match="long_messages"):
        run(SmppProvider(1, "x", provider_settings(2775, long_messages="sar16"), 100, Sink()).start())

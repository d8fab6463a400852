"""A Kannel provider's settings, checked when the provider is added or changed: a ValueError
naming the field, so that a typo never reaches a running sender.

    {"url": "http://kannel:13013/cgi-bin/sendsms", "username": "engage", "password": "...",
     "callback_base": "https://engage.example",
     "method": "GET",                 # or POST: the text as the body, the rest in X-Kannel-* headers
     "dlr_mask": 19,                  # delivered 1 + failed 2 + refused by the SMSC 16: final states only
     "validity": 2880,                # minutes, when the campaign has no deadline of its own
     "priority": 1, "mclass": 1, "alt_dcs": 1,
     "binfo": "engage-{campaign_id}",
     "meta_data": {"smpp": {"engage_campaign": "{campaign_id}"}},
     "status_url": "http://kannel:13000/status.xml", "status_password": "...", "status_interval": 2}

``binfo`` and ``meta_data`` values may name {campaign_id} and {message_id}. Kannel passes a
meta-data name on only when its kannel.conf declares it in a ``group = smpp-tlv``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from engage.engine.providers.http_base import COMMON_DEFAULTS, check_http_url, check_unknown_keys, common_config

KEYS = {"url", "username", "password", "smsc", "dlr_mask", "method", "callback_base", "callback_token",
        "validity", "priority", "mclass", "alt_dcs", "binfo", "meta_data",
        "status_url", "status_password", "status_interval", *COMMON_DEFAULTS}
# Kannel's report types (its dlr-mask bits): 1 delivered, 2 failed, 4 buffered, 8 taken by the SMSC,
# 16 refused by the SMSC. 8 and 4 settle nothing and double the callbacks; 16 ends a refused submit,
# which would otherwise never get a report.
DEFAULT_DLR_MASK = 1 | 2 | 16
METHODS = ("GET", "POST")
MAX_VALIDITY = 30 * 24 * 60  # minutes: a campaign deadline's own bound
DEFAULT_STATUS_INTERVAL = 2.0  # seconds between looks at Kannel's status page
PLACEHOLDERS = ("campaign_id", "message_id")
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_META_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_TEXT = 64  # binfo and a meta-data value: Kannel refuses a longer account, binfo alike


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """The config as stored (defaults filled, a callback token made), or ValueError naming the field."""
    out = common_config(config)
    check_unknown_keys(config, KEYS, "kannel")
    for key in ("username", "password"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise ValueError(f"{key}: required, the sendsms-user's {key}")
    smsc = config.get("smsc")
    if smsc is not None and (not isinstance(smsc, str) or not smsc.strip()):
        raise ValueError(f"smsc: the smsc-id to route through, a non-empty text, not {smsc!r}")
    out["dlr_mask"] = _whole(config, "dlr_mask", 0, 31, "a sum of Kannel report types 1, 2, 4, 8, 16",
                             DEFAULT_DLR_MASK)
    method = config.get("method", "GET")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise ValueError(f"method: GET (a query) or POST (Kannel's: the text as the body, X-Kannel-* headers), "
                         f"not {method!r}")
    out["method"] = method.upper()
    for key, low, high, what in (("validity", 1, MAX_VALIDITY, "minutes the SMSC keeps trying"),
                                 ("priority", 0, 3, "Kannel's priority"), ("mclass", 0, 3, "the message class"),
                                 ("alt_dcs", 0, 1, "Kannel's alt-dcs")):
        value = _whole(config, key, low, high, what, None)
        if value is not None:
            out[key] = value
    if "alt_dcs" in out and "mclass" not in out:
        raise ValueError("alt_dcs: only with mclass; without it Kannel 1.4.5 sends every message as class 1")
    if config.get("binfo") is not None:
        out["binfo"] = _template(config["binfo"], "binfo")
    if config.get("meta_data") is not None:
        out["meta_data"] = _meta_data(config["meta_data"])
    _status_page(config, out)
    return out


def _whole(config: dict[str, Any], key: str, low: int, high: int, what: str, default: int | None) -> int | None:
    value = config.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{key}: {what}, a whole number from {low} to {high}, not {value!r}")
    return value


def _template(value: Any, field: str) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ValueError(f"{field}: a non-empty text, not {value!r}")
    text = str(value)
    for name in _PLACEHOLDER.findall(text):
        if name not in PLACEHOLDERS:
            raise ValueError(f"{field}: {{{name}}} is not a placeholder (known: "
                             f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)})")
    if len(fill(text, 2**31, 2**63)) > MAX_TEXT:
        raise ValueError(f"{field}: longer than {MAX_TEXT} characters once filled in")
    return text


def _meta_data(value: Any) -> dict[str, dict[str, str]]:
    if not isinstance(value, dict) or not value:
        raise ValueError('meta_data: an object of groups, e.g. {"smpp": {"engage_campaign": "{campaign_id}"}}')
    out: dict[str, dict[str, str]] = {}
    for group, fields in value.items():
        if not isinstance(group, str) or not _META_NAME.match(group):
            raise ValueError(f"meta_data.{group}: a group name of letters, digits, - and _")
        if not isinstance(fields, dict) or not fields:
            raise ValueError(f"meta_data.{group}: an object of names and values")
        for name in fields:
            if not isinstance(name, str) or not _META_NAME.match(name):
                raise ValueError(f"meta_data.{group}.{name}: a name of letters, digits, - and _")
        out[group] = {name: _template(text, f"meta_data.{group}.{name}") for name, text in fields.items()}
    return out


def _status_page(config: dict[str, Any], out: dict[str, Any]) -> None:
    if config.get("status_url") is None:
        for key in ("status_password", "status_interval"):
            if config.get(key) is not None:
                raise ValueError(f"{key}: only with status_url, Kannel's status page (http://kannel:13000/status.xml)")
        return
    url = check_http_url(config["status_url"], "status_url")
    if any(name == "password" for name, _ in parse_qsl(urlsplit(url).query)):
        raise ValueError("status_url: give the password as status_password, where it is kept secret")
    out["status_url"] = url
    password = config.get("status_password")
    if password is not None and (not isinstance(password, str) or not password):
        raise ValueError("status_password: Kannel's status-password (or admin-password), a non-empty text")
    interval = config.get("status_interval", DEFAULT_STATUS_INTERVAL)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0.2 <= interval <= 60:
        raise ValueError(f"status_interval: seconds between looks at the status page, 0.2 to 60, not {interval!r}")
    out["status_interval"] = float(interval)


def fill(template: str, campaign_id: int | None, message_id: int) -> str:
    """A binfo or meta-data value with its placeholders filled in ({campaign_id} empty when none)."""
    return (template.replace("{campaign_id}", "" if campaign_id is None else str(campaign_id))
            .replace("{message_id}", str(message_id)))

"""Reading one environment variable, with the error that names it when its value is wrong.

An empty or blank value counts as unset everywhere: a deploy tool that writes
``NAME: ""`` means "not configured", never "the empty string".
"""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping, get_args


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


def text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = text(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, not {raw}")
    return value


def whole_number(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number within bounds ("80", not "80.5": a percent or a count is never cut silently)."""
    value = number(env, name, default, low, high)
    if value != int(value):
        raise ConfigError(f"{name} must be a whole number, not {text(env, name)}")
    return int(value)


def choice(env: Mapping[str, str], name: str, allowed: Any, default: str) -> Any:
    """One of the values of the ``Literal`` type ``allowed``, compared without case: the type
    is the one declaration of what the setting may be, here and where the value is used."""
    values = get_args(allowed)
    raw = (text(env, name) or default).lower()
    if raw not in values:
        raise ConfigError(f"{name} must be one of {', '.join(values)}, not {raw!r}")
    return raw


def api_url(env: Mapping[str, str], name: str, default: str) -> str:
    """A provider's API base URL without a trailing slash; only http(s)."""
    value = (text(env, name) or default).rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


def money(env: Mapping[str, str], name: str) -> Decimal | None:
    """A USD amount above zero, read exactly (``12.50``); unset = None."""
    raw = text(env, name)
    if raw is None:
        return None
    try:
        value = Decimal(raw.removeprefix("$"))
    except InvalidOperation:
        raise ConfigError(f"{name} must be an amount in USD such as 50 or 12.50, not {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ConfigError(f"{name} must be an amount in USD above 0 (unset it for no limit), not {raw!r}")
    return value


_SLACK_ID = re.compile(r"[A-Z][A-Z0-9]{2,}")


def slack_ids(env: Mapping[str, str], name: str, prefixes: str) -> frozenset[str] | None:
    """Slack IDs separated by commas or spaces (``U012ABC,U034DEF``); unset = None. Each must start with one
    of ``prefixes`` (users U/W, conversations C/G/D): a name or a mention is refused, not silently ignored."""
    raw = text(env, name)
    if raw is None:
        return None
    ids = [part for part in re.split(r"[\s,]+", raw) if part]
    for value in ids:
        if not _SLACK_ID.fullmatch(value) or value[0] not in prefixes:
            kinds = "/".join(prefixes)
            raise ConfigError(f"{name} must list Slack IDs ({kinds}…, separated by commas), not {value!r}. "
                              "Copy an ID from the profile or the channel details in Slack.")
    return frozenset(ids)

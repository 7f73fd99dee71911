"""Reading one environment variable, with the error that names it when its value is wrong.

An empty or blank value counts as unset everywhere: a deploy tool that writes
``NAME: ""`` means "not configured", never "the empty string".
"""
from __future__ import annotations

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

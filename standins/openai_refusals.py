"""How OpenAI words a refusal: HTTP 400 with ``{"error": {message, type, param, code}}``.

Every check in openai_checks and openai_checks_items raises ``Refused``; the
handler answers with its ``error`` object, as the real API does before any
token is generated. The sentences follow the ones OpenAI sends (seen in
client bug reports): "Missing required parameter: 'x'.", "Invalid type for
'x': expected …, but got … instead.", "Invalid value: 'v'. Supported values
are: 'a' and 'b'.", "Unknown parameter: 'x'." and so on.
Standard library only.
"""

from __future__ import annotations

from typing import Any, Iterable, Optional

#: The answer to a body that is not JSON at all.
NOT_JSON = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


class Refused(Exception):
    """The request is refused with HTTP 400 and this error object."""

    def __init__(self, message: str, param: Optional[str] = None, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}


def json_type(value: Any) -> str:
    """A JSON value's type, worded as OpenAI words it ("a string", "an integer"…)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def listing(values: Iterable[str]) -> str:
    """'a', 'b', and 'c' -- the way OpenAI lists supported values."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def missing(param: str) -> Refused:
    return Refused(f"Missing required parameter: '{param}'.", param, "missing_required_parameter")


def wrong_type(param: str, expected: str, value: Any) -> Refused:
    return Refused(f"Invalid type for '{param}': expected {expected}, but got {json_type(value)} instead.",
                   param, "invalid_type")


def wrong_value(param: str, value: Any, supported: Iterable[str]) -> Refused:
    return Refused(f"Invalid value: '{value}'. Supported values are: {listing(supported)}.", param,
                   "invalid_value")


def below_minimum(param: str, minimum: int, value: int) -> Refused:
    return Refused(f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
                   f"but got {value} instead.", param, "integer_below_min_value")


def empty_array(param: str) -> Refused:
    return Refused(f"Invalid '{param}': empty array. Expected an array with minimum length 1, "
                   "but got an empty array instead.", param, "empty_array")


def unknown_parameter(api: str, name: str) -> Refused:
    if api == "chat":  # Chat Completions keeps its older wording, without param or code
        return Refused(f"Unrecognized request argument supplied: {name}")
    return Refused(f"Unknown parameter: '{name}'.", name, "unknown_parameter")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def need_str(container: dict, key: str, where: str) -> str:
    """container[key] as a string, or the refusal OpenAI gives when it is missing or not one."""
    value = container.get(key)
    if value is None:
        raise missing(where)
    if not isinstance(value, str):
        raise wrong_type(where, "a string", value)
    return value


def need_choice(container: dict, key: str, where: str, allowed: tuple[str, ...]) -> str:
    """container[key], one of ``allowed``, or the refusal OpenAI gives when it is missing or another."""
    value = container.get(key)
    if value is None:
        raise missing(where)
    if value not in allowed:
        raise wrong_value(where, value, allowed)
    return value


def need_objects(values: list, where: str) -> list[tuple[str, dict]]:
    """(where[i], values[i]) for a list that must hold only JSON objects."""
    for i, value in enumerate(values):
        if not isinstance(value, dict):
            raise wrong_type(f"{where}[{i}]", "an object", value)
    return [(f"{where}[{i}]", value) for i, value in enumerate(values)]

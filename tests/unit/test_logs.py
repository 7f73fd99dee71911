"""Redaction and the JSON log line, in-process: what a line says and that no secret survives it."""
from __future__ import annotations

import json
import logging
import sys
import traceback
import urllib.parse

import pytest

from threadwise import logs
from threadwise.logs import JsonFormatter, Redactor

pytestmark = pytest.mark.in_process

NOISY = ("urllib3", "httpx", "httpx2", "httpcore", "httpcore2", "openai", "slack_sdk")


@pytest.fixture
def root_logging():
    """configure() rewires the root logger and the libraries' levels: put them back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {name: logging.getLogger(name).level for name in NOISY})
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


# --- Redactor --------------------------------------------------------------------

def test_known_secret_values_are_masked_wherever_they_appear():
    redact = Redactor(["s3cr3t-value", "another-one"])
    assert redact("a s3cr3t-value and another-one.") == "a [redacted] and [redacted]."
    assert redact("twice: s3cr3t-values3cr3t-value") == "twice: [redacted][redacted]"
    assert redact("nothing here") == "nothing here"


def test_the_longest_secret_is_masked_first():
    # One secret inside another: masking the short one first would leave the long one's tail.
    assert Redactor(["abcd", "abcdefgh"])("key abcdefgh") == "key [redacted]"
    assert Redactor(["abcdefgh", "abcd"])("key abcdefgh") == "key [redacted]"
    # Longest first, not merely in reverse alphabetical order.
    assert Redactor(["zzzz", "abzzzzcd"])("key abzzzzcd") == "key [redacted]"


def test_empty_and_very_short_secrets_are_ignored():
    # An unset setting ("" / None) or a 3-character value would mask half of every line.
    redact = Redactor(["", None, "abc", "abcd"])
    assert redact("abc abcd") == "abc [redacted]"


@pytest.mark.parametrize("secret", [
    "xoxb-1234-5678-abcdefABCDEF", "xoxp-1111-2222-3333-abcdef", "xoxa-2-abcdefgh", "xoxo-abcdefgh",
    "xoxs-abcdefgh", "xoxr-abcdefgh", "xapp-1-A0123-4567-abcdef", "sk-proj-abc_DEF-123456789", "sk-abcdefgh",
])
def test_secret_shapes_are_masked_without_knowing_the_value(secret):
    assert Redactor()(f"url=https://x/?t={secret}&n=1") == "url=https://x/?t=[redacted]&n=1"


@pytest.mark.parametrize("not_secret", ["xoxb-12345", "xapp-12345", "sk-1234567", "xoxz-abcdefgh"])
def test_look_alikes_are_left_alone(not_secret):
    assert Redactor()(not_secret) == not_secret


# --- the formatted line ---------------------------------------------------------

def _record(message="hello", level=logging.INFO, fields=None, exc_info=None, name="threadwise.test") -> logging.LogRecord:
    record = logging.LogRecord(name, level, __file__, 1, message, (), exc_info)
    if fields is not None:
        record.fields = fields
    return record


def test_a_line_is_one_json_object_with_severity_message_logger_and_fields():
    formatter = JsonFormatter(Redactor())
    record = _record("posted %s", fields={"channel": "C1", "ts": "1.2", "n": 3})
    record.created = 1796550703.2509  # 2026-12-06 09:51:43.2509 UTC
    line = formatter.format(record)
    assert "\n" not in line
    # (the message is getMessage(): no args here, so "%s" stays as written)
    entry = json.loads(line)
    assert entry.pop("time") == "2026-12-06T09:51:43.250Z"  # the record's own moment, as Cloud Logging reads it
    assert entry == {"severity": "INFO", "message": "posted %s", "logger": "threadwise.test",
                     "channel": "C1", "ts": "1.2", "n": 3}
    for level, name in ((logging.WARNING, "WARNING"), (logging.ERROR, "ERROR"), (logging.DEBUG, "DEBUG")):
        assert json.loads(formatter.format(_record(level=level)))["severity"] == name


def test_non_ascii_stays_readable():
    line = JsonFormatter(Redactor()).format(_record("高麗菜 😀"))
    assert "高麗菜 😀" in line


def test_secrets_in_the_message_fields_and_exception_are_masked():
    token = "xoxb-9999-8888-secretsecret"
    formatter = JsonFormatter(Redactor(["my-signing-secret"]))
    try:
        raise RuntimeError(f"call failed with {token} and my-signing-secret")
    except RuntimeError:
        exc_info = sys.exc_info()
    line = formatter.format(_record(f"token {token}", fields={"url": f"https://h/?token=my-signing-secret",
                                                             "nested": {"key": token}}, exc_info=exc_info))
    assert token not in line and "my-signing-secret" not in line
    entry = json.loads(line)
    assert entry["message"] == "token [redacted]"
    assert entry["url"] == "https://h/?token=[redacted]"
    assert entry["nested"] == {"key": "[redacted]"}
    expected = "".join(traceback.format_exception(*exc_info))
    assert entry["exception"] == expected.replace(token, "[redacted]").replace("my-signing-secret", "[redacted]")
    assert entry["exception"].startswith("Traceback (most recent call last):\n")


@pytest.mark.parametrize("secret", ['pa"ss"word', "back\\slash\\key", "tab\there", "quote'and\"both\\"])
def test_a_secret_that_json_escapes_is_still_masked(secret):
    # json.dumps writes " as \" and \ as \\: a mask applied to the encoded line would miss them.
    formatter = JsonFormatter(Redactor([secret]))
    line = formatter.format(_record(f"key={secret}", fields={"value": secret, secret: "as a key"}))
    assert secret not in json.loads(line).__repr__()
    assert secret not in line and json.dumps(secret)[1:-1] not in line
    entry = json.loads(line)
    assert entry["message"] == "key=[redacted]" and entry["value"] == "[redacted]"
    assert entry["[redacted]"] == "as a key"


ESCAPING_SECRETS = ['pa"ss"word', "back\\slash\\key", "quote'and\"both\\", "spaced secret/value", "naïve\"key"]


@pytest.mark.parametrize("secret", ESCAPING_SECRETS)
def test_a_secret_already_escaped_in_the_text_is_masked(secret):
    """Text may carry a secret escaped before it reaches the log: a JSON body or API answer logged as a string,
    a dict or an exception whose text is a repr (``KeyError('…')``), a URL. Issue 16: a secret with " or \\
    must be masked in every such form, in the message, in fields and in the exception."""
    quoted = urllib.parse.quote(secret, safe="")
    in_json, in_repr = json.dumps({"token": secret}), repr({"token": secret})
    try:
        raise KeyError(secret)  # str(KeyError) is the key's repr
    except KeyError:
        exc_info = sys.exc_info()
    formatter = JsonFormatter(Redactor([secret]))
    line = formatter.format(_record(f"slack answered {in_json} for {in_repr}",
                                    fields={"body": in_json, "url": f"https://h/?token={quoted}",
                                            "plus": urllib.parse.quote_plus(secret), "args": in_repr},
                                    exc_info=exc_info))
    entry = json.loads(line)
    assert entry["message"] == 'slack answered {"token": "[redacted]"} for {\'token\': \'[redacted]\'}'
    assert entry["body"] == '{"token": "[redacted]"}' and entry["url"] == "https://h/?token=[redacted]"
    assert entry["plus"] == "[redacted]" and entry["args"] == "{'token': '[redacted]'}"
    assert entry["exception"].endswith("KeyError: '[redacted]'\n")
    everything = json.dumps(entry, ensure_ascii=False)
    for form in (secret, json.dumps(secret)[1:-1], repr(secret)[1:-1], quoted):
        assert form not in line and form not in everything


def test_values_that_are_not_json_are_written_as_text_and_masked():
    class Opaque:
        def __str__(self):
            return "opaque xoxp-1234-abcdefgh"

    line = JsonFormatter(Redactor()).format(_record(fields={"thing": Opaque(), "items": ("a", 1, None, True, 2.5)}))
    entry = json.loads(line)
    assert entry["thing"] == "opaque [redacted]"
    assert entry["items"] == ["a", 1, None, True, 2.5]


# --- configure / FieldLogger ----------------------------------------------------

def test_configure_writes_masked_json_lines_to_stdout(root_logging, capsys):
    logs.configure("INFO", ["operator-api-key-1"])
    log = logs.get("threadwise.unit")
    log.info("using operator-api-key-1", channel="C1")
    log.debug("not at INFO", channel="C1")
    log.warning("careful", n=2)
    try:
        raise ValueError("boom operator-api-key-1")
    except ValueError:
        log.error("failed", exc_info=True, where="here")
    log.error("no traceback", where="there")
    lines = _lines(capsys)
    assert [(l["severity"], l["message"]) for l in lines] == [
        ("INFO", "using [redacted]"), ("WARNING", "careful"), ("ERROR", "failed"), ("ERROR", "no traceback")]
    assert lines[0]["channel"] == "C1" and lines[0]["logger"] == "threadwise.unit"
    assert lines[1]["n"] == 2
    assert "ValueError: boom [redacted]" in lines[2]["exception"] and lines[2]["where"] == "here"
    assert "exception" not in lines[3] and lines[3]["where"] == "there"
    assert len(logging.getLogger().handlers) == 1


def test_configure_replaces_earlier_handlers_and_sets_the_level(root_logging, capsys):
    logs.configure("INFO", [])
    logs.configure("DEBUG", [])
    logs.get("threadwise.unit").debug("shown at DEBUG", step=1)
    assert [(l["message"], l["step"]) for l in _lines(capsys)] == [("shown at DEBUG", 1)]
    assert logging.getLogger().level == logging.DEBUG


def test_library_chatter_stays_out_unless_the_level_is_higher_still(root_logging):
    logs.configure("DEBUG", [])
    assert {name: logging.getLogger(name).level for name in NOISY} == dict.fromkeys(NOISY, logging.WARNING)
    logs.configure("ERROR", [])
    assert {name: logging.getLogger(name).level for name in NOISY} == dict.fromkeys(NOISY, logging.ERROR)


def test_a_disabled_level_builds_no_record(root_logging, capsys):
    logs.configure("WARNING", [])
    log = logs.get("threadwise.unit")
    log.info("hidden")
    log.debug("hidden")
    log.warning("shown")
    assert [l["message"] for l in _lines(capsys)] == ["shown"]

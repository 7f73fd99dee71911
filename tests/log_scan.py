"""The logs of every process the tests start hold no secret.

The bot masks secrets in its logs (``logs.Redactor``); this is the check from the
outside, over the log files of bots, workers, Socket Mode clients and playgrounds
alike: neither a secret the process was given (its environment) nor anything
shaped like a Slack token or an OpenAI key may appear, whatever the tests made
the process do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# The settings that hold secrets (config.Settings.secrets) and the worker's push token.
SECRET_SETTINGS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "ACCESS_TOKEN", "OPENAI_API_KEY", "WORKER_TOKEN",
                   "SLACK_USER_TOKEN", "NOTION_TOKEN", "GITHUB_TOKEN", "SLACK_APP_TOKEN")
# Shapes of Slack tokens and OpenAI keys, as logs.Redactor knows them: a log line holding one
# was not masked. (The masked form, "[redacted]", matches none of them.)
SECRET_SHAPES = re.compile(r"xox[abposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}|sk-[A-Za-z0-9_-]{8,}")
MIN_SECRET_CHARS = 8  # shorter test values ("s", "t") would match innocent text


@dataclass(frozen=True)
class Leak:
    log_path: Path
    line_number: int
    what: str  # the setting's name, or "a token-shaped string"

    def __str__(self) -> str:
        return f"{self.log_path}:{self.line_number}: {self.what}"


def secrets_of(env: dict[str, str]) -> dict[str, str]:
    return {name: env[name] for name in SECRET_SETTINGS
            if len(env.get(name) or "") >= MIN_SECRET_CHARS}


def leaks_in(log_path: Path, secrets: dict[str, str]) -> list[Leak]:
    if not log_path.exists():
        return []
    found = []
    for number, line in enumerate(log_path.read_text(errors="replace").splitlines(), start=1):
        found += [Leak(log_path, number, name) for name, value in secrets.items() if value in line]
        if SECRET_SHAPES.search(line):
            found.append(Leak(log_path, number, "a token-shaped string"))
    return found


# --- forcing a secret into a logged exception ---------------------------------------------------
def secret_echoing_failure(secret: str) -> dict:
    """A Slack error body that carries a secret, as a misbehaving proxy might echo a header: the
    SDK's exception quotes the body, and the bot logs that exception with its traceback."""
    return {"ok": False, "error": "internal_error", "echo": f"Authorization: Bearer {secret}"}


def assert_logged_masked(process, secret: str, message: str = "answer loop failed") -> None:
    """``process`` logged the failure with its traceback, the secret masked in it and everywhere."""
    entries = process.wait_for_log(message=message)
    tracebacks = [entry["exception"] for entry in entries if "internal_error" in entry.get("exception", "")]
    assert tracebacks, f"the exception was not logged with its traceback: {entries}"
    assert secret not in tracebacks[-1] and "[redacted]" in tracebacks[-1], tracebacks[-1]
    assert secret not in process.logs()

"""What the in-process unit tests share: the real SlackGateway (real slack_sdk WebClient) against the
FakeSlack stand-in of conftest's ``slack`` fixture, and settings for a bot answering in practice mode.

These tests run the bot's modules inside the pytest process, which is what lets mutmut
(./scripts/mutants) see which test covers which function.
"""
from __future__ import annotations

import time

import pytest

from threadwise.config import load_settings
from threadwise.slack.events import Ask
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway
from threadwise.state.sqlite import SqliteStore
from store_cases import FakeClock

BOT_TOKEN = "xoxb-test"  # conftest's FakeSlack


def gateway_for(slack, limits: dict[str, Limit] | None = None, token: str = BOT_TOKEN) -> SlackGateway:
    """``limits`` {} (the default here): no write budget, so a test never waits for a token."""
    return SlackGateway(token, slack.base_url, budget=WriteBudget({} if limits is None else limits))


@pytest.fixture
def gateway(slack) -> SlackGateway:
    return gateway_for(slack)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def claims(tmp_path, clock) -> SqliteStore:
    """Claims in a SQLite file of the test's own, on the test's clock."""
    return SqliteStore(str(tmp_path / "claims.sqlite3"), now=clock)


def practice_settings(slack, **env: str):
    return load_settings({
        "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "unit-test-signing-secret", "SLACK_API_URL": slack.base_url,
        "PRACTICE_MODE": "true", "PRACTICE_TOKEN_DELAY": "0", "STREAM_UPDATE_INTERVAL": "0.05", **env,
    })


def ask_in(slack, channel: str, text: str = "What is a mutant?", user: str = "U1", event_id: str | None = None,
           thread_ts: str | None = None, **fields) -> Ask:
    """A question the person really posted (so the thread holds it)."""
    ts = slack.add_message(channel, user, text, thread_ts=thread_ts)
    return Ask(event_id=event_id or f"Ev{ts.replace('.', '')}", team_id="T1", channel=channel,
               channel_type="im" if channel.startswith("D") else "channel", user=user, text=text, ts=ts,
               thread_ts=thread_ts or ts, **fields)


def eventually(condition, timeout: float = 5.0, interval: float = 0.01):
    """Waits for what the code did, not for time to pass; returns the first truthy value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)

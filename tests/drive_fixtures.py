"""What test_tool_drive.py and test_tool_drive_failures.py share: the Google stand-in, a registered
key file, a Recorder, a DriveSearch on them, and the asker and the people it looks up."""
from __future__ import annotations

import pytest

from threadwise.knowledge.toolbox import Asker
from standins.google_api import FakeGoogle, Recorder
from threadwise.knowledge.drive import DriveSearch

ASKER = Asker(user_id="UALICE", channel="D1", team_id="T1", private_answer=True)  # a DM with the bot
EMAILS = {"UALICE": "Alice@Example.com", "UNOMAIL": None}  # as a Slack profile may spell it
ANYONE = [{"type": "anyone", "role": "reader"}]


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


@pytest.fixture
def key_file(google, tmp_path):
    return google.write_key_file(tmp_path / "drive-key.json")


@pytest.fixture
def recorder():
    with Recorder() as server:
        yield server


@pytest.fixture
def tool(google, key_file):
    return DriveSearch(key_file, google.base_url, EMAILS.get, timeout=3)


def run(tool, query, asker=ASKER):
    return tool.run({"query": query}, asker)


def by_title(output):
    return {f.title: f for f in output.found}

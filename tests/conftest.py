import itertools
import json

import pytest

from harness import BotProcess, bot_env
from standins.openai_api import FakeOpenAI
from standins.slack_api import FakeSlack

_channels = itertools.count(1)


@pytest.fixture(scope="session")
def slack():
    fake = FakeSlack(bot_token="xoxb-test")
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def openai_server():
    from harness import OPENAI_KEY

    fake = FakeOpenAI(api_key=OPENAI_KEY)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(autouse=True)
def _fresh_script(request):
    """Every test starts with the stand-ins' default behaviour."""
    if "openai_server" in request.fixturenames:
        # reply back to Script(), and no script left queued by an earlier test (nor its requests)
        request.getfixturevalue("openai_server").reset()
    yield


class Bots:
    """One bot process per configuration, shared by the tests of a session."""

    def __init__(self, tmp_path_factory, slack, openai_server):
        self._tmp = tmp_path_factory
        self._slack = slack
        self._openai = openai_server
        self._running: dict[tuple, BotProcess] = {}

    def get(self, practice: bool = False, **overrides: str) -> BotProcess:
        env = bot_env(self._slack.base_url, None if practice else self._openai.base_url, **overrides)
        key = tuple(sorted(env.items()))
        if key not in self._running:
            folder = self._tmp.mktemp("bot")
            env.setdefault("SQLITE_PATH", str(folder / "claims.sqlite3"))  # claims of this bot only
            self._running[key] = BotProcess(env, folder / "bot.log", slack=self._slack)
        return self._running[key]

    def all(self) -> list[BotProcess]:
        return list(self._running.values())

    def stop_all(self) -> None:
        for bot in self._running.values():
            bot.stop()


@pytest.fixture(scope="session")
def bots(tmp_path_factory, slack, openai_server):
    registry = Bots(tmp_path_factory, slack, openai_server)
    yield registry
    registry.stop_all()


@pytest.fixture
def bot(bots):
    return bots.get()


@pytest.fixture
def channel(slack):
    """A DM of the test's own between the asker and the bot, so tests sharing the stand-in never see each other."""
    dm = f"D{next(_channels):06d}"
    slack.add_channel(dm, members=[slack.bot_user_id, "UASKER"])  # flows.ASKER
    return dm


def pytest_sessionfinish(session, exitstatus):
    # Logs from every bot process, for the secrets-in-logs check and for debugging.
    pass

import itertools
import json

import pytest

# Registered here, once: a module importing the fixture itself would get a session fixture of its own, and
# every such module would start (and keep until the session ends) a Firestore emulator of its own.
from firestore_emulator import firestore_emulator  # noqa: F401
from harness import BotProcess, bot_env
from slack_tiers import enforce_slack_tiers, within_slack_tiers
from standins.openai_api import FakeOpenAI
from standins.slack_api import FakeSlack

_channels = itertools.count(1)


@pytest.fixture(scope="session")
def slack():
    fake = FakeSlack(bot_token="xoxb-test")
    fake.start()
    enforce_slack_tiers(fake)  # Slack's rate tiers, as in production
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
    # Slack's tiers with full buckets: a test does not pay for the writes of the one before it (the
    # bots' own budgets carry over, and only ever make them more careful); and no 429 unless on purpose.
    if "slack" in request.fixturenames and request.node.get_closest_marker("in_process"):
        # In-process unit tests drive one module with no write budget of its own: they test its
        # logic (a 429 only when a test asks for one), not Slack's tiers, which the bots' tests keep.
        request.getfixturevalue("slack").enforce_tiers(None)
        yield
    elif "slack" in request.fixturenames:
        slack = request.getfixturevalue("slack")
        enforce_slack_tiers(slack)
        with within_slack_tiers(slack, on_purpose=request.node.get_closest_marker("slack_429") is not None):
            yield
    else:
        yield
    if "openai_server" in request.fixturenames:
        # The stand-in refuses what OpenAI refuses; a refusal here is the bot's bug, whatever the test checked.
        refused = request.getfixturevalue("openai_server").refused
        assert not refused, f"OpenAI would refuse the bot's request: {[r.refusal for r in refused]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test: the bots still running write their threads' stacks to their logs (a hang shows where)."""
    outcome = yield
    if outcome.get_result().failed:
        from harness import dump_threads_of_running_processes

        dump_threads_of_running_processes()


def pytest_configure(config):
    config.addinivalue_line("markers", "slack_429: the test makes the Slack stand-in answer 429 on purpose")
    config.addinivalue_line("markers", "in_process: a unit test of one module, inside the pytest process (mutmut "
                                       "sees what it covers); the Slack stand-in enforces no tiers for it")


class Bots:
    """One bot process per configuration, shared by the tests of a session."""

    def __init__(self, tmp_path_factory, slack, openai_server):
        self._tmp = tmp_path_factory
        self._slack = slack
        self._openai = openai_server
        self._running: dict[tuple, BotProcess] = {}

    def get(self, practice: bool = False, own: str | None = None, **overrides: str) -> BotProcess:
        """``own``: a process of that name's own, e.g. for tests that need a quiet workspace: a bot shared
        by many tests has spent much of its write budget, and shows new answers by the thread status."""
        env = bot_env(self._slack.base_url, None if practice else self._openai.base_url, **overrides)
        key = (own, *sorted(env.items()))
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


@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log():
    """After the last test: the log of every process the tests started (bots, workers, Socket Mode,
    playgrounds) holds none of its secrets and nothing shaped like a token. A leak fails the run."""
    yield
    from harness import STARTED
    from log_scan import leaks_in, secrets_of

    leaks = [leak for process in STARTED for leak in leaks_in(process.log_path, secrets_of(process.env))]
    assert not leaks, "secrets in the logs:\n" + "\n".join(map(str, leaks[:20]))


# --- no silent skips ---------------------------------------------------------------------------
# A test that cannot run here (a missing emulator, browser or package) fails the run instead of
# passing quietly as "skipped": ./scripts/test installs what the tests need or says what is missing.
_skipped: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        _skipped.append(f"{report.nodeid}: {report.longrepr[-1] if isinstance(report.longrepr, tuple) else ''}")


def pytest_sessionfinish(session, exitstatus):
    if _skipped and exitstatus == 0:
        print("\nskipped tests fail the run (install what they need):\n  " + "\n  ".join(_skipped))
        session.exitstatus = 1

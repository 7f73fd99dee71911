"""A cold instance's first acknowledgement pays only for what acknowledging needs."""
import json
import subprocess
import sys
import time

from flows import ASKER, wait_answer
from harness import ROOT, bot_env, message_event


def test_import_main_loads_no_model_google_or_document_libraries(slack):
    env = {"PATH": "/usr/bin:/bin", **bot_env(slack.base_url)}
    code = ("import sys, main; print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('openai', 'google', 'pypdf', 'requests', 'httpx', 'httpx2', 'grpc') or m.startswith("
            "('threadwise.knowledge', 'threadwise.answering.responder', 'threadwise.model', 'threadwise.usage')))))")
    result = subprocess.run([sys.executable, "-c", "import json; " + code], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    # The google-cloud packages' .pth files create the empty namespaces at interpreter start.
    assert loaded - {"google", "google.cloud"} == set()


def test_the_first_event_is_acknowledged_without_waiting_for_auth_test(bots, slack, openai_server):
    # A Slack round trip slower than Slack's 3 s window: an acknowledgement that waited for it would miss it.
    slack.set_latency("auth.test", 4.0)
    try:
        bot = bots.get(CONTEXT_TOKEN_BUDGET="15999")  # a process of this test's own: cold
        channel = "DCOLD0001"
        ts = slack.add_message(channel, ASKER, "cold question")
        started = time.monotonic()
        response = bot.send_event(message_event(channel, ASKER, "cold question", ts))
        acked_after = time.monotonic() - started
        assert response.status == 200
        assert acked_after < 3.0  # Slack's contract (it retries later events); how fast it is: bench/cold_start.py
        assert wait_answer(slack, channel, ts, timeout=30)[-1]["text"] == "Echo: cold question"
    finally:
        slack.set_latency("auth.test", 0)

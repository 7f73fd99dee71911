"""./scripts/run's choice of mode (config.local_run, launch.py) and its one start-up line."""
import os
import signal
import subprocess
import sys

import pytest

from threadwise.config import ConfigError
from threadwise.config.local import local_run
from harness import ROOT, free_port


@pytest.mark.parametrize("env, mode", [
    ({}, "playground"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "playground"),
    ({"SLACK_SIGNING_SECRET": "s"}, "http"),
    ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_SIGNING_SECRET": "s"}, "socket"),
    ({"SLACK_APP_TOKEN": " ", "SLACK_SIGNING_SECRET": ""}, "playground"),  # empty means unset
])
def test_the_mode_follows_what_is_configured(env, mode):
    assert local_run(env).mode == mode


@pytest.mark.parametrize("env, named", [
    ({"SLACK_SIGNING_SECRET": "s"}, "(SLACK_SIGNING_SECRET is set)"),
    ({"SLACK_SIGNING_SECRET": "s", "ACCESS_TOKEN": "t"}, "(SLACK_SIGNING_SECRET and ACCESS_TOKEN are set)"),
])
def test_the_start_up_line_names_the_setting_that_chose_the_http_function(env, named):
    """(5c5740b: ACCESS_TOKEN alone was reported as SLACK_SIGNING_SECRET.)"""
    assert named in local_run(env).why


def test_access_token_alone_is_refused_with_a_sentence():
    """ACCESS_TOKEN proves nothing about a request's body (issue 16): the HTTP function needs the signing secret."""
    with pytest.raises(ConfigError, match=r"^ACCESS_TOKEN is set but SLACK_SIGNING_SECRET is not"):
        local_run({"ACCESS_TOKEN": "t"})


def test_the_port_is_validated():
    assert local_run({"PORT": "9000"}).port == 9000
    assert local_run({}).port == 8080
    with pytest.raises(ConfigError, match="PORT"):
        local_run({"PORT": "eighty"})


def _launch(env: dict, port: int) -> tuple[str, subprocess.Popen]:
    """Starts launch.py and returns its first line of output (then the process, still running)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "OPENAI_", "PORT"))}
    process = subprocess.Popen([sys.executable, "-m", "threadwise.launch"], cwd=ROOT, env={**clean, **env, "PORT": str(port)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return process.stdout.readline().strip(), process


def _stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    process.stdout.close()


def test_each_mode_says_which_it_is_in_one_line():
    port = free_port()
    line, process = _launch({}, port)
    try:
        assert line.startswith("Threadwise offline playground (practice mode") and f"http://127.0.0.1:{port}/" in line
    finally:
        _stop(process)
    line, process = _launch({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "secret"}, free_port())
    try:
        assert line.startswith("Threadwise: HTTP function on http://localhost:") and "SLACK_SIGNING_SECRET" in line
    finally:
        _stop(process)
    line, process = _launch({"SLACK_BOT_TOKEN": "xoxb-test", "ACCESS_TOKEN": "a-token-0123456789"}, free_port())
    try:
        assert process.wait(timeout=60) == 1 and line.startswith("ACCESS_TOKEN is set but SLACK_SIGNING_SECRET")
    finally:
        _stop(process)
    line, process = _launch({"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_APP_TOKEN": "xapp-test",
                             "SLACK_API_URL": f"http://127.0.0.1:{free_port()}/api/"}, free_port())
    try:
        assert line == "Threadwise: Socket Mode (SLACK_APP_TOKEN is set): no public URL needed"
    finally:
        _stop(process)


def test_a_busy_port_gets_a_sentence_not_a_traceback():
    import socket as sockets

    with sockets.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line, process = _launch({}, port)
        try:
            assert process.wait(timeout=60) == 1
            rest = process.stdout.read()
        finally:
            _stop(process)
    assert f"cannot listen on 127.0.0.1:{port}" in line + rest and "set PORT" in line + rest
    assert "Traceback" not in line + rest

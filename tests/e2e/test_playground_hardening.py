"""The playground's own HTTP edge (issue 16, item 7): a bad Content-Length gets a clear 4xx at once,
a browser dropping its long poll prints nothing, and with a real model key only who holds the printed
address (its random token) may use the page. Each runs ``python -m playground`` as ./scripts/run does."""
from __future__ import annotations

import http.client
import json
import re
import socket
import time

import pytest

from browser import PlaygroundProcess, keyed_playground as keyed, until_stopped

ADA = "U0PLAYADA"


@pytest.fixture(scope="module")
def playground(tmp_path_factory):
    yield from until_stopped(PlaygroundProcess(tmp_path_factory.mktemp("playground-edge") / "playground.log",
                                               PRACTICE_TOKEN_DELAY="0.01", STREAM_UPDATE_INTERVAL="0.2"))


def raw_post(port: int, body: bytes, length: str | None, path: str = "/api/messages",
             headers: dict | None = None) -> tuple[int, dict]:
    """A POST with exactly this Content-Length header (or none), answered within 5 s or failing."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.putrequest("POST", path, skip_accept_encoding=True)
        connection.putheader("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            connection.putheader(name, value)
        if length is not None:
            connection.putheader("Content-Length", length)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if response.getheader("Content-Type", "").startswith(
            "application/json") else {"bytes": len(data)})
    finally:
        connection.close()


def messages(port: int, headers: dict | None = None) -> dict:
    status, snapshot = get(port, f"/api/state?person={ADA}&since=-1", headers)
    assert status == 200, snapshot
    return {c["id"]: c["messages"] for c in snapshot["conversations"]}


def test_a_bad_content_length_gets_a_clear_4xx_at_once(playground):
    before = messages(playground.port)
    since = playground.log_mark()
    body = json.dumps({"person": ADA, "channel": "D0PLAYADA", "text": "hi"}).encode()
    for length, status in ((None, 400), ("-1", 400), ("abc", 400), ("1e3", 400), ("²", 400), ("", 400),
                           ("99999999999999999999", 413), (str(10 ** 6), 413)):
        got, answer = raw_post(playground.port, body, length)
        assert got == status and answer["error"], (length, got, answer)
    assert messages(playground.port) == before
    assert "Traceback" not in playground.logs(since)


def _connections(local_port: int, remote_port: int) -> list[str]:
    """The server's sockets for one client connection, from the kernel's table (state in hex)."""
    found = []
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        fields = line.split()
        local, remote, state = fields[1], fields[2], fields[3]
        if int(local.split(":")[1], 16) == local_port and int(remote.split(":")[1], 16) == remote_port:
            found.append(state)
    return found


def test_a_browser_dropping_its_long_poll_prints_no_traceback(playground):
    since = playground.log_mark()
    for attempt in range(3):
        _status, snapshot = get(playground.port, f"/api/state?person={ADA}&since=-1")
        poll = socket.create_connection(("127.0.0.1", playground.port))
        poll.sendall(f"GET /api/state?person={ADA}&since={snapshot['version']} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1:{playground.port}\r\n\r\n".encode())
        client_port = poll.getsockname()[1]
        time.sleep(0.2)  # the poll is waiting for a change (it answers at once only when a request is bad)
        poll.close()  # the tab is closed: the server's socket is left half-closed (CLOSE_WAIT)
        wake = json.dumps({"person": ADA, "channel": "D0PLAYADA", "text": f"wake the poll {attempt}"}).encode()
        assert raw_post(playground.port, wake, str(len(wake)))[0] == 200
        # A change wakes the poll, which answers into the dropped connection; the positive signal that the
        # server is done with it: its socket is gone from the kernel's table.
        deadline = time.monotonic() + 30
        while _connections(playground.port, client_port) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _connections(playground.port, client_port)
    logs = playground.logs(since)
    assert "Traceback" not in logs and "BrokenPipe" not in logs and "ConnectionReset" not in logs, logs


# --- a real key: the address carries a token ------------------------------------------------------
@pytest.fixture(scope="module")
def keyed_playground(tmp_path_factory, openai_server):
    yield from until_stopped(keyed(tmp_path_factory.mktemp("playground-keyed") / "playground.log",
                                   openai_server.base_url))


def started_url(process) -> str:
    [url] = re.findall(r"open (http://127\.0\.0\.1:\d+/\S*)", process.logs())
    return url


def test_with_a_real_key_only_the_printed_address_reaches_the_page(keyed_playground):
    url = started_url(keyed_playground)
    token = re.fullmatch(r"http://127\.0\.0\.1:\d+/\?token=([0-9a-f]{32})", url).group(1)
    assert keyed_playground.logs().count(token) == 1  # printed once, in the start-up line
    port = keyed_playground.port
    authorized = {"X-Playground-Token": token}
    before = messages(port, authorized)
    assert get(port, "/")[0] == 403
    assert get(port, "/?token=" + "0" * 32)[0] == 403
    assert get(port, f"/api/state?person={ADA}&since=-1")[0] == 403
    assert get(port, f"/api/state?person={ADA}&since=-1", {"X-Playground-Token": "wrong"})[0] == 403
    body = json.dumps({"person": ADA, "channel": "D0PLAYADA", "text": "spend my key"}).encode()
    status, answer = raw_post(port, body, str(len(body)))
    assert status == 403 and "address it printed" in answer["error"]
    assert raw_post(port, body, str(len(body)), headers={"X-Playground-Token": "x" * 32})[0] == 403
    # With the token: the page, its API (the page sends the token as a header), and no message was posted above.
    assert get(port, f"/?token={token}")[0] == 200
    assert get(port, "/static/playground.js")[0] == 200  # the page's own code is no secret
    assert messages(port, authorized) == before
    status, answer = raw_post(port, body, str(len(body)), headers=authorized)
    assert status == 200 and answer["ok"]

"""Closing a model stream that has already ended must not break the pooled connection another answer uses."""
import threading
import time
from types import SimpleNamespace

from threadwise.config import load_settings
from harness import OPENAI_KEY
from threadwise.model.client import open_stream
from threadwise.model.closing import hard_close
from threadwise.model.types import ModelInput, Turn


def test_closing_finished_streams_leaves_the_shared_connection_pool_healthy(openai_server):
    settings = load_settings({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "OPENAI_API_KEY": OPENAI_KEY,
                              "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_MAX_RETRIES": "0"})
    model_input = ModelInput("be brief", [Turn("user", "hello")], 0, 10)
    failures = []

    def answer_many():
        for _ in range(15):
            try:
                stream = open_stream(settings.model, model_input)
                assert "".join(stream) == "Echo: hello"  # read to the end: the connection goes back to the pool
                stream.close()  # what the answer loop always does afterwards, while others reuse the pool
            except Exception as error:
                failures.append(repr(error))

    threads = [threading.Thread(target=answer_many) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_a_stream_still_running_is_cut_at_once():
    closed = []
    socket_ = SimpleNamespace(shutdown=lambda how: closed.append("shutdown"))
    network = SimpleNamespace(get_extra_info=lambda name: socket_)
    response = SimpleNamespace(is_closed=False, extensions={"network_stream": network})
    stream = SimpleNamespace(response=response, close=lambda: closed.append("close"))
    hard_close(stream)
    assert closed == ["shutdown"]  # the reading thread closes it: its file descriptor is not freed under it
    response.is_closed = True
    closed.clear()
    hard_close(stream)
    assert closed == ["close"]  # a finished response's socket belongs to the pool now
    response.is_closed, response.extensions = False, {}
    closed.clear()
    hard_close(stream)
    assert closed == ["close"]  # no socket to shut down: closed the plain way


def test_stop_from_another_thread_leaves_the_readers_socket_open_until_the_reader_closes_it(openai_server):
    """Stop closes the model stream from the interaction's thread while the answer's thread reads it.
    If that closed the socket's file descriptor, a socket opened at that moment (the Slack call the Stop
    handler makes next) could take the number, and the reader would wait on that stranger's connection
    until its read timeout: a Stop that took 60 s in a full test run."""
    from standins.openai_api import Script

    openai_server.reply = Script(text=" ".join(f"w{i}" for i in range(400)), chunk_chars=4, delta_delay=0.02)
    settings = load_settings({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "OPENAI_API_KEY": OPENAI_KEY,
                              "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_MAX_RETRIES": "0"})
    stream = open_stream(settings.model, ModelInput("be brief", [Turn("user", "talk")], 0, 10))
    deltas = iter(stream)
    assert next(deltas)  # the answer's thread has read its first words and is about to read on
    sock = stream._stream.response.extensions["network_stream"].get_extra_info("socket")
    stopped_at = time.monotonic()
    threading.Thread(target=stream.close).start()  # Stop, from another thread
    time.sleep(0.2)
    assert sock.fileno() != -1, "the descriptor stays the reader's until it has seen the connection end"
    rest = []
    try:
        rest.extend(deltas)
    except Exception:
        pass  # the connection ended under the stream: what a Stop does
    assert time.monotonic() - stopped_at < 2
    assert len(rest) < 300
    request = openai_server.wait_for(lambda f: f.last.done and f.last, timeout=5)
    assert request.client_closed_early
    stream.close()  # what the answer loop does afterwards, in its own thread
    assert sock.fileno() == -1

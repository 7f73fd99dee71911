"""Closing a model stream that has already ended must not break the pooled connection another answer uses."""
import threading
from types import SimpleNamespace

from config import load_settings
from context import ModelInput, Turn
from harness import OPENAI_KEY
import llm


def test_closing_finished_streams_leaves_the_shared_connection_pool_healthy(openai_server):
    settings = load_settings({"SLACK_SIGNING_SECRET": "s", "SLACK_BOT_TOKEN": "xoxb-1", "OPENAI_API_KEY": OPENAI_KEY,
                              "OPENAI_BASE_URL": openai_server.base_url, "OPENAI_MAX_RETRIES": "0"})
    model_input = ModelInput("be brief", [Turn("user", "hello")], 0, 10)
    failures = []

    def answer_many():
        for _ in range(15):
            try:
                stream = llm.open_stream(settings, model_input)
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
    llm._hard_close(stream)
    assert closed == ["shutdown", "close"]
    response.is_closed = True
    closed.clear()
    llm._hard_close(stream)
    assert closed == ["close"]  # a finished response's socket belongs to the pool now

"""A person asks; the answer streams into the thread (DM, mention, follow-ups)."""
from flows import ASKER, answer_text, markdown_of, replies_to, say, updates_of, wait_answer
from standins.openai_api import Script


def test_dm_answer_streams_into_a_thread(bot, slack, openai_server, channel):
    openai_server.reply = Script(text="Hello there, this is **bold** and a list:\n\n- one\n- two", chunk_chars=3,
                                 delta_delay=0.02)
    ts, response = say(bot, slack, channel, "hi bot")
    assert response.status == 200
    assert response.headers.get("X-Slack-No-Retry") == "1"

    parts = wait_answer(slack, channel, ts)
    assert len(parts) == 1
    reply = parts[0]
    assert reply["thread_ts"] == ts
    assert reply["text"] == "Hello there, this is **bold** and a list:\n\n- one\n- two"
    assert markdown_of(reply) == reply["text"]  # Slack's markdown block renders the model's Markdown
    assert reply["metadata"]["event_type"] == "assistant_reply"
    assert reply["metadata"]["event_payload"]["asker"] == ASKER
    assert not any(b["type"] == "actions" for b in reply["blocks"])  # Stop button gone at the end

    placeholder = [c for c in slack.calls_of("chat.postMessage") if c.params.get("channel") == channel][0]
    assert placeholder.params["thread_ts"] == ts
    assert placeholder.params["metadata"]["event_type"] == "assistant_reply"
    assert any(b["type"] == "actions" and b["elements"][0]["action_id"] == "abort_openai_api"
               for b in placeholder.params["blocks"])

    request = openai_server.requests[-1]
    assert request.path == "/v1/responses"
    assert request.body["input"][-1] == {"role": "user", "content": "hi bot"}
    assert sum(1 for item in request.body["input"] if item["content"] == "hi bot") == 1

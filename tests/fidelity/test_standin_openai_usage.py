"""FakeOpenAI reports usage as OpenAI does -- cached and reasoning tokens inside their details objects, on
both APIs -- and reports none for a stream the client closed early: the usage rides on the last event
(Responses' ``response.completed``, Chat's usage chunk), which a client that has hung up never gets.
``Recorded.usage_reported`` says what the client was sent, for tests that compare it with the ledger."""
from __future__ import annotations

import pytest

from openai_standin_fixtures import client, fake  # noqa: F401  (fixtures)
from standins.openai_api import Script

MODEL = "gpt-5-mini"
USER = {"role": "user", "content": "hello there"}


def _stream(client, api):
    if api == "responses":
        return client.responses.create(model=MODEL, input=[USER], stream=True)
    return client.chat.completions.create(model=MODEL, messages=[USER], stream=True,
                                          stream_options={"include_usage": True})


def _usage_seen(event, api):
    if api == "responses":
        return getattr(getattr(event, "response", None), "usage", None)
    return event.usage


def _is_text(event, api) -> bool:
    if api == "responses":
        return event.type == "response.output_text.delta"
    return bool(event.choices and event.choices[0].delta.content)


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_a_whole_stream_reports_its_usage_with_cached_and_reasoning_tokens(fake, client, api):
    fake.queue(Script(text="abcd" * 5, usage={"input_tokens": 900, "cached_tokens": 256, "reasoning_tokens": 3}))
    usages = [u for u in (_usage_seen(e, api) for e in _stream(client, api)) if u is not None]
    assert len(usages) == 1  # once, at the end
    usage = usages[0]
    if api == "responses":
        seen = (usage.input_tokens, usage.input_tokens_details.cached_tokens, usage.output_tokens,
                usage.output_tokens_details.reasoning_tokens)
    else:
        seen = (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens, usage.completion_tokens,
                usage.completion_tokens_details.reasoning_tokens)
    assert seen == (900, 256, 5, 3)
    reported = fake.wait_for(lambda: fake.last.done and fake.last).usage_reported
    assert reported == usage.model_dump(exclude_none=True) or reported == usage.model_dump()


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_a_stream_the_client_closed_early_reports_no_usage(fake, client, api):
    fake.queue(Script(text="y" * 400, chunk_chars=4, delta_delay=0.02, usage={"cached_tokens": 8}))
    stream = _stream(client, api)
    seen_usage, texts = [], 0
    for event in stream:
        if _usage_seen(event, api) is not None:
            seen_usage.append(event)
        if _is_text(event, api):
            texts += 1
            if texts == 3:
                break
    stream.close()
    record = fake.wait_for(lambda: fake.last.done and fake.last)
    assert record.client_closed_early and record.deltas_sent < record.deltas_total
    assert seen_usage == [] and record.usage_reported is None


def test_a_chat_stream_without_include_usage_reports_none(fake, client):
    list(client.chat.completions.create(model=MODEL, messages=[USER], stream=True))
    assert fake.wait_for(lambda: fake.last.done and fake.last).usage_reported is None

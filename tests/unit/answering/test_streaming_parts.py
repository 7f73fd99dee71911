"""A long answer split into parts while it streams (StreamingReply, in-process against FakeSlack):
text past a part's size is sealed into its message and goes on in a new one in the thread."""
from __future__ import annotations

import pytest

from inprocess import eventually, gateway  # noqa: F401  (gateway: a fixture)
from threadwise.slack.reply_format import PART_LIMIT, PLACEHOLDER_TEXT, TEXT_LIMIT, ReplyTag, final_blocks, open_fence, \
    reply_metadata, streaming_blocks
from scripted_slack import ScriptedSlack, error
from slack_client import SlackGateway
from threadwise.answering.replies.streaming import FinalReport, StreamingReply
from threadwise.state.stop_records import StopReason, StopSignal
from test_streaming_reply import ASKER, Answer, answer, bounded  # noqa: F401  (answer: a fixture)

pytestmark = pytest.mark.in_process


def paragraphs(count: int) -> str:
    return "".join(f"Paragraph {n}: " + "word " * 60 + "\n\n" for n in range(count))


def stream(answer: Answer, text: str, chunk: int = 700) -> None:
    for start in range(0, len(text), chunk):
        answer.reply.append(text[start:start + chunk])


def parts_of(answer: Answer, report) -> list[dict]:
    return [answer.message(ts) for ts in report.parts]


def test_a_long_answer_goes_on_in_new_messages_and_loses_no_character(slack, answer):
    text = paragraphs(30)  # ~9,600 characters: three parts
    stream(answer, text)
    report = answer.finish()
    assert report.landed and report.stop is None and report.parts[0] == answer.ts
    first, second, third = parts_of(answer, report)
    assert "".join(part["text"] for part in (first, second, third)) == text
    assert all(len(part["text"]) <= PART_LIMIT for part in (first, second, third))
    assert first["text"].endswith("word \n\n") and second["text"].startswith("Paragraph ")  # cut between paragraphs
    for part in (first, second):
        assert part["blocks"] == final_blocks(part["text"])  # sealed: no cursor, no Stop button
    assert second["thread_ts"] == third["thread_ts"] == answer.question
    tag = ReplyTag(ASKER, answer.question)
    assert first["metadata"] == reply_metadata(tag, "continued")
    assert second["metadata"] == reply_metadata(ReplyTag(ASKER, answer.question, answer.ts, 2), "continued")
    assert third["metadata"] == reply_metadata(ReplyTag(ASKER, answer.question, answer.ts, 3), "done")
    assert third["blocks"] == final_blocks(third["text"])
    seals = [c for c in slack.calls_of("chat.update") if c.params.get("metadata", {}).get("event_payload", {})
             .get("status") == "continued" and c.params["ts"] in report.parts]
    assert [c.params["text"] for c in seals] == [first["text"], second["text"]]


def test_an_answer_of_exactly_a_parts_size_stays_one_message(answer):
    text = ("x" * 99 + "\n") * (PART_LIMIT // 100)
    assert len(text) == PART_LIMIT
    answer.reply.append(text)
    report = answer.finish()
    assert report.parts == [answer.ts] and answer.message()["text"] == text


def test_a_continuation_is_posted_with_the_text_that_goes_on(slack, answer):
    posts = len(slack.calls_of("chat.postMessage"))
    text = paragraphs(14)  # two parts
    answer.reply.append(text)
    assert eventually(lambda: len(slack.calls_of("chat.postMessage")) > posts, 2)
    [posted] = slack.calls_of("chat.postMessage")[posts:]
    rest = text[len(answer.message()["text"]):]
    assert (posted.params["text"], posted.params["blocks"]) == (rest, streaming_blocks(rest))
    assert posted.params["metadata"] == reply_metadata(ReplyTag(ASKER, answer.question, answer.ts, 2), "streaming")
    answer.finish()


def test_a_code_block_cut_in_two_is_closed_and_reopened(answer):
    code = "".join(f"value_{n} = compute({n})  # a line of code\n" for n in range(250))  # ~10,000 characters
    text = "Here it is:\n\n```python\n" + code + "```\n\nDone."
    stream(answer, text, chunk=900)
    report = answer.finish()
    texts = [part["text"] for part in parts_of(answer, report)]
    assert len(texts) == 3
    assert all(open_fence(part) is None and len(part) <= TEXT_LIMIT for part in texts)
    assert texts[1].startswith("```python\n") and texts[2].startswith("```python\n")
    assert texts[0].endswith("\n```") and texts[1].endswith("\n```")
    # Only the fence lines were added: take them away and the answer is whole.
    joined = texts[0].removesuffix("```") + texts[1].removeprefix("```python\n").removesuffix("```") + \
        texts[2].removeprefix("```python\n")
    assert joined == text


def test_a_stop_on_a_later_part_ends_the_answer_there(slack, answer):
    text = paragraphs(14)
    answer.reply.append(text)
    report_parts = eventually(lambda: [m["ts"] for m in slack.thread(answer.channel, answer.question)
                                       if m.get("metadata", {}).get("event_payload", {}).get("part") == 2], 2)
    [second] = report_parts
    answer.ts = second
    assert eventually(lambda: answer.message()["blocks"][0]["text"].endswith("…"), 2)
    answer.stop_click()
    answer.reply.append("more")
    assert eventually(lambda: answer.reply.stop, 2) == StopSignal(StopReason.STOPPED, ASKER)
    report = answer.finish()
    assert report.parts == [report.parts[0], second]
    payload = answer.message()["metadata"]["event_payload"]
    assert answer.message()["metadata"]["event_type"] == "aborted"
    assert (payload["answer"], payload["part"], payload["status"]) == (report.parts[0], 2, "stopped")


def test_a_deleted_part_is_not_continued(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, interval=30)
    slack.delete(channel, answer.ts)
    posts = len(slack.calls_of("chat.postMessage"))
    answer.reply.append(paragraphs(14))
    report = answer.finish()
    assert report.stop == StopSignal(StopReason.DELETED) and not report.landed and report.parts == [answer.ts]
    assert len(slack.calls_of("chat.postMessage")) == posts
    assert len(answer.updates()) == 1  # the seal that found it gone; nothing written after


@pytest.fixture
def scripted():
    with ScriptedSlack() as server:
        yield server


@pytest.mark.parametrize("sealed_by", ["writer", "finish"])
def test_a_continuation_that_cannot_be_posted_ends_the_answer(scripted, sealed_by):
    scripted.script("chat.postMessage", error("invalid_blocks"))
    refusing = SlackGateway("xoxb-test", scripted.api_url)
    reply = StreamingReply(refusing, "C1", "1.000001", ReplyTag(ASKER, "1.000001"), "1.000002", 30)
    if sealed_by == "finish":  # the writer has just written, its next slot is 30 s away
        reply.append("Short")
        assert eventually(lambda: scripted.calls("chat.update"), 2)
    reply.append(paragraphs(14))
    if sealed_by == "writer":
        assert eventually(lambda: reply.stop, 2)
    report = bounded(reply.finish)
    assert report == FinalReport(["1.000002"], StopSignal(StopReason.DELETED), landed=False)
    assert len(scripted.calls("chat.postMessage")) == 1
    # The first part keeps the text it was sealed with: the rest is not written over it.
    sealed = scripted.calls("chat.update")[-1]
    assert sealed["ts"] == "1.000002" and sealed["metadata"]["event_payload"]["status"] == "continued"

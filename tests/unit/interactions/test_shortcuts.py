"""Stop and delete in-process: clicks dispatched through the interactions registry to the stop and
delete handlers, with the real SlackGateway against FakeSlack.

Answers are set up as the bot writes them (posted through the gateway, with the reply metadata),
and what a click changes is read back from FakeSlack. Here no process runs the answers (a StopBoard
without a store: nobody can acknowledge a stop), so a Stop ends the reply from the handler itself;
how a Stop reaches a running answer (a signal here, a stop record elsewhere) is in
tests/unit/interactions/test_shortcuts_reach.py."""
from __future__ import annotations

import threading

import pytest

from threadwise.interactions.notices import NOT_A_REPLY
from inprocess import gateway, gateway_for  # noqa: F401  (gateway: a fixture)
from posted_answers import ASKER, Answer, ephemerals, told, writes
from posted_answers import answer, channel  # noqa: F401  (fixtures)
from threadwise.slack.reply_format import ReplyTag, aborted_metadata, final_blocks, reply_metadata, streaming_blocks
from threadwise.config.slack_limits import Limit
from threadwise.slack.rate_budget import FINAL

pytestmark = pytest.mark.in_process

def test_stop_on_an_answer_nobody_runs_ends_it_from_the_handler(slack, channel, answer):
    # (blocks still showing a status line: the text field holds the words written so far)
    ts = answer.post("The answer so far", blocks=streaming_blocks("", "Searching the web…"))
    views = len(slack.views)
    answer.click(ts)
    meta = answer.metadata(ts)
    assert meta == aborted_metadata(reply_metadata(answer.tag, "streaming")["event_payload"], ASKER, "stopped",
                                    "stopped")
    assert meta["event_payload"] == {"asker": ASKER, "question": answer.question, "status": "stopped",
                                     "stopped_by": ASKER, "reason": "stopped"}
    message = slack.get(channel, ts)
    ended = "The answer so far\n\n_⏹ Stopped by <@U1>._"
    assert message["text"] == ended
    assert message["blocks"] == final_blocks(ended), "no cursor and no Stop button left"
    assert ephemerals(slack, channel) == []
    [view] = slack.views[views:]
    assert view["trigger_id"] == answer.last_trigger
    assert view["view"]["title"]["text"] == "Stopped"
    assert view["view"]["blocks"][0]["text"]["text"] == "Generating stopped. The answer ends where it was."


def test_the_stop_button_changes_the_answer_without_a_modal(slack, channel, answer):
    ts = answer.post("text")
    views = len(slack.views)
    answer.click(ts, via="button")
    assert answer.metadata(ts)["event_type"] == "aborted"
    assert slack.views[views:] == []


def test_a_click_never_waits_for_the_answers_write_budget(slack, channel):
    # Every chat.update and conversations.replies token spent: an answer's write would wait a minute.
    limits = {"chat.update": Limit(1, 2), "conversations.replies": Limit(1, 2)}
    busy = gateway_for(slack, limits)
    answer = Answer(slack, busy, channel)
    ts = answer.post("text")
    busy.budget.acquire("chat.update", FINAL)
    busy.budget.acquire("conversations.replies", FINAL)
    clicked = threading.Thread(target=answer.click, args=(ts,), daemon=True)
    clicked.start()
    clicked.join(10)
    assert not clicked.is_alive(), "the person's click waited behind the budget"
    assert answer.metadata(ts)["event_type"] == "aborted"


def test_a_click_spends_from_the_budget_the_answers_share(slack, gateway, channel):
    # One token each (6 a minute: none comes back during the test); the click takes it.
    answer, control, stream = _native_answer(slack, gateway, channel)
    answer.gateway = clicking = gateway_for(slack, {"chat.update": Limit(6, 2), "chat.stopStream": Limit(6, 2)})
    answer.click(stream)
    assert answer.metadata(stream)["event_type"] == "aborted"
    assert not clicking.budget.try_take("chat.update"), "the stop's chat.update was counted"
    assert not clicking.budget.try_take("chat.stopStream"), "the stop's chat.stopStream was counted"


def test_stopping_a_native_stream_never_waits_for_the_budget(slack, channel):
    limits = {"chat.stopStream": Limit(1, 2), "chat.startStream": Limit(600, 5)}
    busy = gateway_for(slack, limits)
    answer, control, stream = _native_answer(slack, busy, channel)
    busy.budget.acquire("chat.stopStream", FINAL)
    clicked = threading.Thread(target=answer.click, args=(stream,), daemon=True)
    clicked.start()
    clicked.join(10)
    assert not clicked.is_alive(), "the person's click waited behind the budget"
    assert not slack.is_streaming(channel, stream)


def test_stop_reaches_every_streaming_part_of_a_long_answer(slack, channel, answer):
    first = answer.post("part one", status="continued")
    second = answer.post("part two")
    answer.click(first)
    assert answer.metadata(first)["event_type"] == "assistant_reply", "a sealed part stays as it is"
    assert answer.metadata(second)["event_type"] == "aborted"
    assert answer.metadata(second)["event_payload"]["answer"] == first


def test_only_the_asker_may_stop_or_delete(slack, channel, answer):
    ts = answer.post("text")
    calls = len(slack.calls)
    answer.click(ts, by="U2")
    assert told(slack, channel) == (f"Only <@{ASKER}>, who asked the question, can stop this answer; "
                                     "nothing was changed.")
    answer.click(ts, kind="delete", by="U2")
    assert ephemerals(slack, channel)[-1]["text"] == (f"Only <@{ASKER}>, who asked the question, can delete "
                                                       "this answer; nothing was changed.")
    assert ephemerals(slack, channel)[-1]["user"] == "U2"
    assert ephemerals(slack, channel)[-1]["thread_ts"] == answer.question
    assert writes(slack, calls) == ["chat.postEphemeral", "chat.postEphemeral"]
    assert answer.metadata(ts)["event_type"] == "assistant_reply" and answer.exists(ts)


def test_an_answer_without_an_asker_can_be_stopped_by_nobody(slack, gateway, channel):
    answer = Answer(slack, gateway, channel, asker=None)
    ts = answer.post("text")
    answer.click(ts, by="U2")
    assert told(slack, channel) == "Only the person who asked, who asked the question, can stop this answer; " \
                                    "nothing was changed."


def test_messages_that_are_not_the_bots_answers_are_refused(slack, channel, answer):
    # (Stop on the clicker's own question is "stop the answer to it": tests/unit/interactions/test_shortcuts_reach.py)
    human = slack.add_message(channel, "U2", "someone else's message", thread_ts=answer.question)
    answer.click(human)
    # Another app's message, even one shaped like our answers, is not ours to stop.
    other_bot = slack.add_message(channel, "UOTHER", "another app", thread_ts=answer.question, bot_id="BOTHER",
                                  metadata=reply_metadata(ReplyTag(ASKER, answer.question), "streaming"))
    answer.click(other_bot)
    no_metadata = answer.gateway.post(channel, answer.question, "a plain bot message", [], None).ts
    answer.click(no_metadata)
    other_kind = answer.gateway.post(channel, answer.question, "x", [],
                                     {"event_type": "something_else", "event_payload": {"asker": ASKER}}).ts
    answer.click(other_kind)
    top_level = answer.gateway.post(channel, None, "a bot message outside any thread", [], None).ts
    answer.click(top_level, thread_ts=None)
    assert [e["text"] for e in ephemerals(slack, channel)] == [NOT_A_REPLY] * 5
    assert slack.get(channel, other_kind)["metadata"]["event_type"] == "something_else"
    assert slack.get(channel, other_bot)["metadata"]["event_type"] == "assistant_reply"


def test_the_bot_is_recognised_by_its_bot_id_alone(slack, channel, answer):
    ts = answer.post("text")
    answer.click(ts, user=None)  # some payloads carry only the bot_id
    assert answer.metadata(ts)["event_type"] == "aborted"


def test_a_message_deleted_meanwhile(slack, channel, answer):
    ts = answer.post("text")
    slack.delete(channel, ts)
    answer.click(ts, user="UBOT", bot_id="BBOT")  # (the click's payload still shows the message)
    assert told(slack, channel) == "That message no longer exists."


def test_stopping_a_finished_or_stopped_answer_says_so(slack, channel, answer):
    done = answer.post("all of it", status="done")
    answer.click(done)
    assert ephemerals(slack, channel)[-1]["text"] == "This answer has already finished."
    other = Answer(slack, answer.gateway, channel)
    stopped = other.post("half", status="stopping", event_type="aborted")
    calls = len(slack.calls)
    other.click(stopped)
    assert ephemerals(slack, channel)[-1]["text"] == "This answer was already stopped."
    assert writes(slack, calls) == ["chat.postEphemeral"]


def test_delete_removes_every_part_and_confirms(slack, channel, answer):
    first = answer.post("part one", status="continued")
    second = answer.post("part two", status="done")
    unrelated = Answer(slack, answer.gateway, channel).post("another answer", status="done")
    views = len(slack.views)
    answer.click(second, kind="delete")
    assert not answer.exists(first) and not answer.exists(second)
    assert answer.exists(unrelated)
    [view] = slack.views[views:]
    assert view["view"]["title"]["text"] == "Deleted"
    assert view["view"]["blocks"][0]["text"]["text"] == "The answer was deleted."


def test_a_delete_without_a_trigger_opens_nothing(slack, channel, answer):
    # (Delete is a shortcut only: no button is registered for it, tests/unit/interactions/test_interaction_registry.py)
    ts = answer.post("text", status="done")
    views = len(slack.views)
    answer.click(ts, kind="delete", trigger_id=None)
    assert not answer.exists(ts)
    assert slack.views[views:] == []


# --- Slack-native streams (STREAM_MODE=native) -----------------------------------

def _native_answer(slack, gateway, channel, named: bool = True, answer: Answer | None = None
                   ) -> tuple[Answer, str, str]:
    answer = answer or Answer(slack, gateway, channel)
    control = answer.post("_Thinking…_")
    stream = gateway.start_stream(channel, answer.question, "streamed words", ASKER, "T1", 0, 0.0).ts
    if named:
        gateway.update(channel, control, "_Thinking…_", streaming_blocks(""),
                       reply_metadata(answer.tag, "streaming", stream=stream))
    return answer, control, stream


@pytest.mark.parametrize("named", [True, False], ids=["named", "not yet named"])
def test_stop_on_a_native_stream_ends_it_through_its_control_message(slack, gateway, channel, named):
    answer = Answer(slack, gateway, channel)
    earlier = answer.post("an earlier answer in this thread", status="done")
    answer.parts.clear()
    answer, control, stream = _native_answer(slack, gateway, channel, named, answer)
    assert slack.get(channel, stream).get("metadata") is None  # a stream carries none while written
    answer.click(stream)
    control_meta = answer.metadata(control)
    assert control_meta["event_type"] == "aborted"
    if named:
        assert not slack.is_streaming(channel, stream)
        meta = answer.metadata(stream)
        assert meta["event_type"] == "aborted"
        assert meta["event_payload"] == {"asker": ASKER, "question": answer.question, "status": "stopping",
                                         "stopped_by": ASKER, "reason": "stopped"}
        assert "stream" not in meta["event_payload"]
    else:
        assert slack.is_streaming(channel, stream), "its writer reads the Stop from the placeholder"
    assert answer.metadata(earlier)["event_type"] == "assistant_reply"


def test_a_new_stream_belongs_to_the_latest_unnamed_placeholder_before_it(slack, gateway, channel):
    # Two answers in one thread at once: C1's stream S1 arrives after C2 (which names S2 already),
    # with a person's message in between; a third answer starts after S1.
    answer = Answer(slack, gateway, channel)
    c1 = answer.post("_Thinking…_")
    other = Answer(slack, gateway, channel)
    other.question = answer.question
    _, c2, s2 = _native_answer(slack, gateway, channel, answer=other)
    slack.add_message(channel, "U2", "someone else talks", thread_ts=answer.question)
    s1 = gateway.start_stream(channel, answer.question, "words of S1", ASKER, "T1", 0, 0.0).ts
    third = Answer(slack, gateway, channel)
    third.question = answer.question
    c3 = third.post("_Thinking…_")
    answer.click(s1)
    assert answer.metadata(c1)["event_type"] == "aborted"
    assert [answer.metadata(ts)["event_type"] for ts in (c2, c3)] == ["assistant_reply", "assistant_reply"]
    assert slack.is_streaming(channel, s2)


def test_a_stream_without_a_control_message_is_not_an_answer(slack, gateway, channel):
    answer = Answer(slack, gateway, channel)
    stream = gateway.start_stream(channel, answer.question, "words", ASKER, "T1", 0, 0.0).ts
    answer.click(stream)
    assert told(slack, channel) == NOT_A_REPLY
    assert slack.is_streaming(channel, stream)


def test_delete_takes_the_native_stream_with_its_control_message(slack, gateway, channel):
    answer, control, stream = _native_answer(slack, gateway, channel)
    answer.click(control, kind="delete")
    assert not answer.exists(control) and not answer.exists(stream)


def test_a_click_the_app_lacks_a_scope_for_is_answered_with_the_scope(slack, channel, answer):
    """Installed without channels:history, the bot cannot read the answer back: the person who
    clicked is told which permission is missing, in the thread, and nothing changes."""
    ts = answer.post("text")
    narrow = "xoxb-narrow-shortcuts-0123456789"  # another token of the bot, with fewer scopes
    slack.grant(narrow, slack.bot_scopes - {"channels:history"})
    answer.gateway = gateway_for(slack, token=narrow)
    answer.click(ts)
    [told] = ephemerals(slack, channel)
    assert (told["user"], told["thread_ts"]) == (ASKER, answer.question)
    assert "`channels:history`" in told["text"]
    assert answer.metadata(ts)["event_type"] == "assistant_reply"

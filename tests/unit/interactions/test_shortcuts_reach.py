"""How Stop and Delete reach the answer, in-process (the handlers with the real
SlackGateway against FakeSlack, and ScriptedSlack for a Slack that keeps refusing): a signal when this
process runs the answer (no Slack write at all from the handler), a stop record acknowledged by the
process that runs it (another StopBoard on the same SQLite file), and the handler's own write only
when nobody acknowledges, checked and bounded, with the truth told when Slack refuses."""
from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from threadwise.interactions import registry
from threadwise.interactions.notices import NOT_A_REPLY, SLACK_BUSY
from threadwise.answering.signals import StopBoard, answer_key
from threadwise.state.stop_records import StopReason, StopSignal
from threadwise.slack.events import MessageAction, TargetMessage, Via
from inprocess import eventually, gateway  # noqa: F401  (gateway: a fixture)
from threadwise.slack.reply_format import PLACEHOLDER_TEXT, ReplyTag, final_blocks, reply_metadata, streaming_blocks
from scripted_slack import Reply, ScriptedSlack, error
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway
from signal_boards import here, started, stores, there  # noqa: F401  (fixtures)
from posted_answers import ASKER, CLICKS, ephemerals, told, writes
from posted_answers import answer, channel  # noqa: F401  (fixtures)

pytestmark = pytest.mark.in_process

STOPPED_BY_ASKER = StopSignal(StopReason.STOPPED, ASKER)


def _stopped_text(text: str) -> str:
    return f"{text}\n\n_⏹ Stopped by <@{ASKER}>._"


# --- Stop on a reply -----------------------------------------------------------------------

@pytest.mark.parametrize("via, written", [("button", []), ("shortcut", ["views.open"])])
def test_stop_on_an_answer_running_here_signals_it_and_writes_nothing(slack, answer, started, via, written):
    running = started(answer.stops, answer.channel, answer.question)
    ts = answer.post("words so far")
    calls = len(slack.calls)
    answer.click(ts, via=via)
    assert running.stop == STOPPED_BY_ASKER
    assert writes(slack, calls) == written, "the answer writes its own stop marker"
    assert answer.metadata(ts)["event_type"] == "assistant_reply"
    assert ephemerals(slack, answer.channel) == []


def test_stop_reaches_the_answer_another_process_runs_through_its_stop_record(slack, answer, stores, here, there,
                                                                              started):
    running = started(there, answer.channel, answer.question)
    answer.stops = here
    ts = answer.post("words so far")
    calls = len(slack.calls)
    answer.click(ts)
    assert running.stop == STOPPED_BY_ASKER
    assert stores[0].stop_acknowledged(answer_key(answer.channel, answer.question))
    assert writes(slack, calls) == ["views.open"]
    assert answer.metadata(ts)["event_type"] == "assistant_reply"


def test_stop_nobody_acknowledges_is_recorded_and_the_handler_ends_the_reply(slack, answer, stores, here):
    answer.stops = here  # with a store, but no process runs the answer (it died)
    ts = answer.post("half an answer")
    answer.click(ts, via="button")
    key = answer_key(answer.channel, answer.question)
    assert stores[1].requested_stops([key]) == {key: STOPPED_BY_ASKER}, "left for an answer that starts later"
    message = slack.get(answer.channel, ts)
    assert message["text"] == _stopped_text("half an answer")
    assert message["blocks"] == final_blocks(_stopped_text("half an answer"))
    payload = message["metadata"]["event_payload"]
    assert (message["metadata"]["event_type"], payload["status"], payload["reason"]) == ("aborted", "stopped",
                                                                                          "stopped")


def test_a_reply_with_no_words_yet_ends_with_the_marker_alone(slack, answer):
    ts = answer.post(PLACEHOLDER_TEXT, blocks=streaming_blocks(""))  # as open_answer posts it
    answer.click(ts, via="button")
    marker = f"_⏹ Stopped by <@{ASKER}>._"
    assert (slack.get(answer.channel, ts)["text"], slack.get(answer.channel, ts)["blocks"]) == \
        (marker, final_blocks(marker)), "as the answer itself ends an empty text (streaming_reply.finish)"


def test_a_final_that_lands_while_the_handler_waits_for_an_acknowledgement_is_kept(slack, answer, stores, here):
    answer.stops = here  # the process running the answer is not on this store: it never acknowledges
    ts = answer.post("streaming when clicked")
    key = answer_key(answer.channel, answer.question)

    def answer_lands():  # …but it writes its final text while the handler waits
        assert eventually(lambda: stores[1].requested_stops([key]), 5)
        answer.gateway.update(answer.channel, ts, "the whole answer", final_blocks("the whole answer"),
                              reply_metadata(answer.tag, "done"))

    landing = threading.Thread(target=answer_lands, daemon=True)
    landing.start()
    answer.click(ts, via="button")
    landing.join(5)
    message = slack.get(answer.channel, ts)
    assert (message["text"], message["metadata"]) == ("the whole answer", reply_metadata(answer.tag, "done"))


def test_a_429_within_the_persons_wait_is_waited_out(slack, answer):
    ts = answer.post("text")
    slack.rate_limit_next("chat.update", 1, retry_after=1)
    answer.click(ts, via="button")
    assert answer.metadata(ts)["event_payload"]["status"] == "stopped"
    assert [c.status for c in slack.calls_of("chat.update")[-2:]] == [429, 200]
    assert ephemerals(slack, answer.channel) == []


class ScriptedAnswer:
    """One streaming reply of the bot as ScriptedSlack shows it, clicked through the registry (a shortcut)."""

    QUESTION = "1.000001"

    def __init__(self, server: ScriptedSlack, parts: int = 1, status: str = "streaming"):
        self.server = server
        self.gateway = SlackGateway("xoxb-test", server.api_url, budget=WriteBudget({}))
        tag = ReplyTag(ASKER, self.QUESTION)
        self.parts = [f"1.00000{2 + n}" for n in range(parts)]
        self.thread = [{"ts": self.QUESTION, "user": ASKER, "text": "a question", "thread_ts": self.QUESTION}] + [
            {"ts": ts, "user": "UBOT", "bot_id": "BBOT", "text": f"part {n + 1}", "thread_ts": self.QUESTION,
             "metadata": reply_metadata(tag if n == 0 else ReplyTag(ASKER, self.QUESTION, self.parts[0], n + 1),
                                        status if n == len(self.parts) - 1 else "continued")}
            for n, ts in enumerate(self.parts)]
        server.script("auth.test", Reply(body={"ok": True, "user_id": "UBOT", "bot_id": "BBOT"}))
        server.script("conversations.replies", *[Reply(body={"ok": True, "messages": self.thread})] * 2)

    def click(self, kind: str = "stop") -> None:
        target = TargetMessage(self.parts[-1], self.QUESTION, "UBOT", "BBOT", "", None, None)
        registry.dispatch(MessageAction(CLICKS[kind], Via.SHORTCUT, "C1", ASKER, "trigger", target),
                          SimpleNamespace(slack=self.gateway, stops=StopBoard()))

    def told(self) -> list[str]:
        return [call["text"] for call in self.server.calls("chat.postEphemeral")]


@pytest.fixture
def scripted():
    with ScriptedSlack() as server:
        yield server


@pytest.mark.parametrize("refusal", [error("ratelimited", 429, **{"Retry-After": "3"}),
                                     error("internal_error", 500)], ids=["429 for 3 s", "5xx"])
def test_a_stop_slack_refuses_beyond_the_persons_wait_is_told_as_it_is(scripted, refusal):
    answer = ScriptedAnswer(scripted)
    scripted.script("chat.update", refusal)
    answer.click()
    assert answer.told() == [SLACK_BUSY.format(verb="stop")]
    assert len(scripted.calls("chat.update")) == 1, "Retry-After is past the 2 s a person waits: not tried again"
    assert scripted.calls("views.open") == [], "no 'Stopped' when nothing stopped"


# --- Delete ----------------------------------------------------------------------------------

def test_delete_signals_the_running_answer_once_its_messages_are_gone(slack, answer, started):
    running = started(answer.stops, answer.channel, answer.question)
    ts = answer.post("words so far")
    present_when_signalled: list[bool] = []
    running.listen(lambda stop: present_when_signalled.append(answer.exists(ts)))
    answer.click(ts, kind="delete")
    assert running.stop == StopSignal(StopReason.DELETED, ASKER)
    assert present_when_signalled == [False], "signalled once Slack took the deletion"
    assert not answer.exists(ts)
    assert slack.views[-1]["view"]["title"]["text"] == "Deleted"


@pytest.mark.slack_429
def test_a_delete_slack_refuses_leaves_the_running_answer_to_finish(slack, answer, started):
    """Nothing deleted: the answer goes on and lands its final text (no half answer with a Stop button)."""
    running = started(answer.stops, answer.channel, answer.question)
    ts = answer.post("words so far")
    slack.rate_limit_next("chat.delete", count=1, retry_after=3)
    answer.click(ts, kind="delete")
    assert running.stop is None
    assert answer.exists(ts)
    time.sleep(slack.refusal_ends_in("chat.delete"))


def test_delete_of_an_answer_running_elsewhere_does_not_wait_for_an_acknowledgement(slack, answer, stores, here):
    answer.stops = here
    ts = answer.post("words so far")
    answer.click(ts, kind="delete")
    key = answer_key(answer.channel, answer.question)
    assert stores[1].requested_stops([key]) == {key: StopSignal(StopReason.DELETED, ASKER)}
    assert not answer.exists(ts)


def test_a_delete_slack_refuses_beyond_the_persons_wait_is_told_as_it_is(scripted):
    answer = ScriptedAnswer(scripted, status="done")
    scripted.script("chat.delete", error("ratelimited", 429, **{"Retry-After": "3"}))
    answer.click("delete")
    assert answer.told() == [SLACK_BUSY.format(verb="delete")]
    assert scripted.calls("views.open") == []


def test_a_delete_slack_refuses_in_part_says_how_much_is_left(scripted):
    answer = ScriptedAnswer(scripted, parts=2, status="done")
    scripted.script("chat.delete", Reply(), error("ratelimited", 429, **{"Retry-After": "5"}))
    answer.click("delete")
    assert [call["ts"] for call in scripted.calls("chat.delete")] == answer.parts
    assert answer.told() == ["Slack is too busy right now: 1 of the answer's 2 messages are still there. "
                             "Please delete them again in a moment."]


def test_a_delete_refused_briefly_is_waited_out(scripted):
    answer = ScriptedAnswer(scripted, status="done")
    scripted.script("chat.delete", error("ratelimited", 429, **{"Retry-After": "1"}))
    answer.click("delete")
    assert len(scripted.calls("chat.delete")) == 2
    assert answer.told() == []
    assert scripted.calls("views.open")[0]["view"]  # "Deleted"


# --- Stop on one's own question (no reply to press it on yet) ---------------------------------

def test_stop_on_ones_own_question_stops_the_answer_to_it(slack, answer, started):
    running = started(answer.stops, answer.channel, answer.question)
    calls = len(slack.calls)
    answer.click(answer.question, thread_ts=None)
    assert running.stop == STOPPED_BY_ASKER
    assert writes(slack, calls) == ["views.open"]
    assert slack.views[-1]["view"]["title"]["text"] == "Stopped"


def test_stop_on_ones_own_question_ends_the_reply_nobody_runs(slack, answer):
    ts = answer.post("words so far")
    answer.click(answer.question, thread_ts=None, via="button")
    assert slack.get(answer.channel, ts)["text"] == _stopped_text("words so far")


def test_stop_on_ones_own_question_without_an_answer_says_so(slack, answer):
    answer.click(answer.question, thread_ts=None)
    assert told(slack, answer.channel) == "No answer to this message is being written."


def test_stop_on_someone_elses_question_is_refused(slack, answer, started):
    running = started(answer.stops, answer.channel, answer.question)
    answer.click(answer.question, by="U2", thread_ts=None)
    assert running.stop is None
    assert told(slack, answer.channel) == NOT_A_REPLY

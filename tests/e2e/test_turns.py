"""Turns in a thread (issue 16, item 4): only the asker's own newer question supersedes their answer;
another person's question waits for the running answer and is answered after it, from the thread with
that answer in it. Through main.slack_bot: in one process, and in two processes sharing one store."""
import json

import pytest

from flows import ASKER, handed_off, replies_to, say, shared_channel, updates_of, wait_answer, wait_settled
from harness import shortcut_payload, stop_button_payload
from standins.openai_api import Script

OTHER = "UOTHER"
WAITING = "Waiting for the answer above"  # (the ellipsis may come JSON-escaped)
LONG = " ".join(f"token{i}" for i in range(200))


@pytest.fixture
def bot(bots):
    """A bot of this file's own, in a quiet workspace: each answer gets its placeholder at once."""
    return bots.get(own=__name__)


@pytest.fixture
def pair(bots, tmp_path_factory):
    """Two processes (two instances of the function) on one store file: stop records reach across."""
    path = str(tmp_path_factory.mktemp("turns") / "claims.sqlite3")
    return (bots.get(own=f"{__name__}-1", SQLITE_PATH=path), bots.get(own=f"{__name__}-2", SQLITE_PATH=path))


def _ask(bot, slack, channel, text, user=ASKER, thread_ts=None):
    ts, response = say(bot, slack, channel, f"<@UBOT> {text}", user=user, thread_ts=thread_ts,
                       channel_type="channel", event_type="app_mention")
    assert response.status == 200
    return ts


def _shown_text(slack, channel, question_ts):
    """Wait until the answer to ``question_ts`` shows some of its text."""
    def shown(fake):
        parts = replies_to(fake, channel, question_ts)
        return parts[-1] if parts and parts[-1]["text"].startswith("token") else None

    return slack.wait_for(shown, timeout=15)


def _waiting(slack, channel, question_ts):
    """Wait until the answer to ``question_ts`` says it waits for the answer above; its reply."""
    def says_so(fake):
        parts = replies_to(fake, channel, question_ts)
        return parts[0] if parts and WAITING in json.dumps(parts[0].get("blocks")) else None

    return slack.wait_for(says_so, timeout=15)


def _requests_about(openai_server, question):
    """The model requests that answer ``question`` (their input's last turn; earlier turns are history)."""
    return [r for r in openai_server.requests if r.body.get("input") and question in json.dumps(r.body["input"][-1])]


def _another_persons_question_waits(first_bot, second_bot, slack, openai_server):
    channel = shared_channel(slack, ASKER, OTHER)
    openai_server.queue(Script(text=LONG, chunk_chars=7, delta_delay=0.02), Script(text="the second answer"))
    first = _ask(first_bot, slack, channel, "tell me a long story")
    _shown_text(slack, channel, first)
    second = _ask(second_bot, slack, channel, "and what about mine?", user=OTHER, thread_ts=first)

    older = wait_answer(slack, channel, first, timeout=30)
    assert older[-1]["metadata"]["event_type"] == "assistant_reply", "another person's question stopped it"
    assert older[-1]["metadata"]["event_payload"]["status"] == "done"
    assert older[-1]["text"] == LONG
    newer = wait_answer(slack, channel, second, timeout=30)
    assert newer[-1]["text"] == "the second answer"
    assert [u for u in updates_of(slack, channel, newer[0]["ts"]) if WAITING in json.dumps(u.params.get("blocks"))]
    [asked_first] = _requests_about(openai_server, "tell me a long story")
    [asked_second] = _requests_about(openai_server, "and what about mine?")
    assert asked_first.outcome == "completed" and not asked_first.client_closed_early
    assert asked_second.started_at >= asked_first.finished_at, "the second answer began before the first ended"
    assert LONG in json.dumps(asked_second.body["input"]), "the second answer did not read the finished first"


def test_another_persons_question_waits_for_the_running_answer(bot, slack, openai_server):
    _another_persons_question_waits(bot, bot, slack, openai_server)


def test_another_persons_question_waits_for_an_answer_another_process_writes(pair, slack, openai_server):
    _another_persons_question_waits(*pair, slack, openai_server)


def _stop_while_waiting(asked_bot, waiting_bot, clicked_bot, slack, openai_server):
    channel = shared_channel(slack, ASKER, OTHER)
    openai_server.queue(Script(text=LONG, chunk_chars=7, delta_delay=0.03))
    first = _ask(asked_bot, slack, channel, "a long one, please")
    _shown_text(slack, channel, first)
    second = _ask(waiting_bot, slack, channel, "my turn next", user=OTHER, thread_ts=first)
    placeholder = _waiting(slack, channel, second)
    assert clicked_bot.send_interaction(stop_button_payload(channel, OTHER, placeholder)).status == 200

    stopped = wait_answer(slack, channel, second, timeout=15)
    assert stopped[-1]["metadata"]["event_type"] == "aborted"
    assert stopped[-1]["text"].endswith(f"_⏹ Stopped by <@{OTHER}>._")
    older = wait_answer(slack, channel, first, timeout=30)
    assert older[-1]["metadata"]["event_payload"]["status"] == "done" and older[-1]["text"] == LONG
    assert _requests_about(openai_server, "my turn next") == [], "the model was asked for a stopped answer"


def test_stop_on_a_waiting_answer_ends_it_without_asking_the_model(bot, slack, openai_server):
    _stop_while_waiting(bot, bot, bot, slack, openai_server)


def test_stop_from_another_process_reaches_a_waiting_answer(pair, slack, openai_server):
    first, second = pair
    _stop_while_waiting(first, second, first, slack, openai_server)


def test_delete_on_a_waiting_answer_removes_it_without_asking_the_model(bot, slack, openai_server):
    channel = shared_channel(slack, ASKER, OTHER)
    openai_server.queue(Script(text=LONG, chunk_chars=7, delta_delay=0.03))
    first = _ask(bot, slack, channel, "long, please")
    _shown_text(slack, channel, first)
    since = bot.log_mark()
    second = _ask(bot, slack, channel, "then mine", user=OTHER, thread_ts=first)
    placeholder = _waiting(slack, channel, second)
    assert bot.send_interaction(shortcut_payload("delete_message", channel, OTHER, placeholder)).status == 200
    [event_id] = handed_off(bot, since)  # the second question's
    wait_settled(bot, event_id, since=since)  # the waiting answer's job has ended
    assert replies_to(slack, channel, second) == []
    older = wait_answer(slack, channel, first, timeout=30)
    assert older[-1]["metadata"]["event_payload"]["status"] == "done" and older[-1]["text"] == LONG
    assert _requests_about(openai_server, "then mine") == [], "the model was asked for a deleted answer"


def test_the_askers_own_newer_question_still_supersedes_in_a_channel(bot, slack, openai_server):
    channel = shared_channel(slack, ASKER, OTHER)
    openai_server.queue(Script(text=LONG, chunk_chars=7, delta_delay=0.03), Script(text="the newer answer"))
    first = _ask(bot, slack, channel, "first, slowly")
    _shown_text(slack, channel, first)
    second = _ask(bot, slack, channel, "no, this instead", thread_ts=first)
    newer = wait_answer(slack, channel, second, timeout=20)
    older = wait_answer(slack, channel, first, timeout=20)
    assert newer[-1]["text"] == "the newer answer"
    assert older[-1]["metadata"]["event_payload"]["reason"] == "superseded"


def test_a_long_answer_waited_for_is_read_whole(bot, slack, openai_server):
    """Its second part is posted after the waiting question: the question still reads it, after the first."""
    channel = shared_channel(slack, ASKER, OTHER)
    long_text = " ".join(f"token{i}" for i in range(800))  # two messages (a part holds 3,800 characters)
    openai_server.queue(Script(text=long_text, chunk_chars=40, delta_delay=0.02), Script(text="after the long one"))
    first = _ask(bot, slack, channel, "a very long story")
    _shown_text(slack, channel, first)
    second = _ask(bot, slack, channel, "and then?", user=OTHER, thread_ts=first)
    older = wait_answer(slack, channel, first, timeout=30)
    assert len(older) == 2 and float(older[1]["ts"]) > float(second)
    assert wait_answer(slack, channel, second, timeout=30)[-1]["text"] == "after the long one"
    [asked_second] = _requests_about(openai_server, "and then?")
    history = json.dumps(asked_second.body["input"][:-1])
    assert long_text[:60] in history and long_text[-60:] in history, "the second part was not read"

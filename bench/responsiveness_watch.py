"""What a person sees of each answer, read from FakeSlack's call log and FakeOpenAI's records, however the
bot chooses to show it (responsiveness_bench.py).

An ``Answer`` is one question (a signed event in a conversation of its own) and the times the
benchmark's figures are made of. ``Watch`` reads the Slack writes in the question's thread, whichever
method made them:

* shown: the first accepted ``chat.postMessage`` / ``chat.startStream`` in the thread or
  ``assistant.threads.setStatus`` with a status on it (a placeholder or a status line);
* first words: the first accepted write (post, update, stream) whose text holds the answer's first
  delta;
* final: the first accepted write whose metadata status is final (``done``, ``error``, ``stopped``).

Writes are the thread's if they post into it (``thread_ts``) or change a message posted into it. The
model's side (last delta written, stream closed by the bot) comes from FakeOpenAI's ``Recorded`` of
the question's request, found by the question's unique head in the request body.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from common import ASKER, FINAL_STATUSES, Shot, build_shot, mention_shot, new_calls, post_event
from harness import shortcut_payload, stop_button_payload

WRITES = ("chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream")
POSTS = ("chat.postMessage", "chat.startStream")  # writes that create a message in the thread
STATUS = "assistant.threads.setStatus"
STOP_ACTION = "abort_openai_api"  # the Stop button's action_id and the shortcut's callback_id
_HEAD = re.compile(r"bench question (\d+) from ([A-Z0-9]+):")  # common.question_for's head


@dataclass
class Answer:
    """One question and what became of it; times are time.monotonic() values."""
    shot: Shot
    first_delta: str                      # the model's first delta: a write holding it shows the answer
    replies: set = field(default_factory=set)
    shown_at: float | None = None
    shown_by: str | None = None           # the method that first showed life in the thread
    first_words_at: float | None = None
    final_at: float | None = None
    final_status: str | None = None
    final_event_type: str | None = None
    clicked_at: float | None = None       # Stop pressed
    stop_via: str | None = None           # "button" on the reply, "shortcut" on the question
    stop_status: int | None = None        # the HTTP status of the interaction
    model: object | None = None           # FakeOpenAI's Recorded of its (last) model request
    writes: int = 0
    refused: int = 0                      # its writes answered 429

    @property
    def key(self) -> tuple[str, str]:
        return self.shot.channel, self.shot.question_ts

    @property
    def asked_at(self) -> float | None:
        return self.shot.start

    def since_asked(self, at: float | None) -> float | None:
        return None if at is None or self.asked_at is None else at - self.asked_at

    def since_click(self, at: float | None) -> float | None:
        return None if at is None or self.clicked_at is None else at - self.clicked_at

    @property
    def stream_closed_at(self) -> float | None:
        return getattr(self.model, "client_closed_at", None)

    @property
    def last_token_to_shown(self) -> float | None:
        last = getattr(self.model, "last_delta_at", None)
        return None if last is None or self.final_at is None else self.final_at - last


def written_text(params: dict) -> str:
    """The text a write shows: ``text``, ``markdown_text``, markdown chunks and the blocks' texts."""
    parts = [params.get("text"), params.get("markdown_text")]
    chunks = params.get("chunks") if isinstance(params.get("chunks"), list) else []
    parts += [c.get("text") for c in chunks if isinstance(c, dict)]
    for block in params.get("blocks") if isinstance(params.get("blocks"), list) else []:
        text = block.get("text") if isinstance(block, dict) else None
        parts.append(text.get("text") if isinstance(text, dict) else text)
    return "\n".join(p for p in parts if isinstance(p, str))


def metadata_of(params: dict) -> tuple[str | None, str | None]:
    """(event_type, event_payload.status) of a write's metadata."""
    meta = params.get("metadata")
    if not isinstance(meta, dict):
        return None, None
    payload = meta.get("event_payload") if isinstance(meta.get("event_payload"), dict) else {}
    return meta.get("event_type"), payload.get("status")


class Watch:
    """Reads FakeSlack's calls (from ``start_index``) and FakeOpenAI's requests into the ``Answer`` s."""

    def __init__(self, slack, openai, start_index: int):
        self.slack, self.openai = slack, openai
        self.index = start_index              # (new_calls' names)
        self.methods: dict[str, int] = {}
        self.rate_limited = 0
        self.refused_by_method: dict[str, int] = {}
        self.by_thread: dict[tuple[str, str], Answer] = {}
        self.by_reply: dict[tuple[str, str], Answer] = {}
        self.by_head: dict[tuple[int, str], Answer] = {}
        self._model_index = 0

    def add(self, answer: Answer) -> Answer:
        self.by_thread[answer.key] = answer
        match = _HEAD.search(answer.shot.question)
        self.by_head[(int(match.group(1)), match.group(2))] = answer
        return answer

    @property
    def answers(self) -> list[Answer]:
        return list(self.by_thread.values())

    def poll(self) -> None:
        for call in new_calls(self):
            if call.status == 429:
                self.refused_by_method[call.method] = self.refused_by_method.get(call.method, 0) + 1
            if call.method == STATUS:
                self._status(call)
            elif call.method in WRITES:
                self._write(call)
        self._models()

    def _status(self, call) -> None:
        answer = self.by_thread.get((call.params.get("channel_id"), call.params.get("thread_ts")))
        if answer is not None and call.status == 200 and call.response.get("ok") and call.params.get("status"):
            self._shown(answer, call)

    def _write(self, call) -> None:
        channel = call.params.get("channel")
        answer = self.by_thread.get((channel, call.params.get("thread_ts")))
        if answer is None or call.method not in POSTS:
            answer = self.by_reply.get((channel, call.params.get("ts")))
        if answer is None:
            return
        answer.writes += 1
        if call.status == 429:
            answer.refused += 1
        if not (call.status == 200 and call.response.get("ok")):
            return
        if call.method in POSTS and call.response.get("ts"):
            self.by_reply[(channel, call.response["ts"])] = answer
            answer.replies.add(call.response["ts"])
            self._shown(answer, call)
        if answer.first_words_at is None and answer.first_delta in written_text(call.params):
            answer.first_words_at = call.at
        event_type, status = metadata_of(call.params)
        if answer.final_at is None and status in FINAL_STATUSES:
            answer.final_at, answer.final_status, answer.final_event_type = call.at, status, event_type

    @staticmethod
    def _shown(answer: Answer, call) -> None:
        if answer.shown_at is None:
            answer.shown_at, answer.shown_by = call.at, call.method

    def _models(self) -> None:
        requests = self.openai.requests
        for rec in requests[self._model_index:]:
            heads = _HEAD.findall(json.dumps(rec.body, ensure_ascii=False))
            answer = self.by_head.get((int(heads[-1][0]), heads[-1][1])) if heads else None
            if answer is not None:
                answer.model = rec  # a later request for the same question (a retry) replaces it
        self._model_index = len(requests)

    def wait(self, done, timeout: float, interval: float = 0.02) -> bool:
        """Polls until ``done()`` is true (True) or ``timeout`` seconds have passed (False)."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll()
            if done():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(interval)

    def all_final(self) -> bool:
        return all(a.final_at is not None for a in self.by_thread.values())

    done = all_final  # what common.Burst.run waits for


# --------------------------------------------------------------------------- a person's actions
def new_answer(slack, channel: str, index: int, chars: int, tag: str, chunk_chars: int) -> Answer:
    """A question in a conversation of its own (the asker and the bot in it): an @mention in a channel, a
    plain message in a DM (a ``D…`` id). Its answer is ``Echo: question``, ``chars`` long (FakeOpenAI's
    default script)."""
    slack.set_channel(channel, name=f"bench-{channel.lower()}", members=[ASKER, "UBOT"])
    if channel.startswith("D"):
        shot = build_shot(index, channel, slack, chars, tag)
        shot.expected = "Echo: " + shot.question
    else:
        shot = mention_shot(index, channel, slack, chars, tag)
    return Answer(shot, shot.expected[:chunk_chars])


def ask(port: int, answer: Answer, timeout: float = 30.0) -> Answer:
    """Slack delivers the question's event (signed) to the bot; the acknowledgement is timed in the Shot."""
    post_event(port, answer.shot, timeout, None)
    return answer


def click_stop(bot, slack, answer: Answer) -> Answer:
    """The asker presses Stop: the button on the latest reply that shows one, or, with no such reply yet,
    the *Stop generating* shortcut on their own question."""
    channel, question_ts = answer.key
    with_button = [m for m in slack.thread(channel, question_ts)
                   if m.get("bot_id") == slack.bot_id and any(
                       e.get("action_id") == STOP_ACTION for b in m.get("blocks") or [] for e in b.get("elements") or []
                       if isinstance(e, dict))]
    if with_button:
        payload, answer.stop_via = stop_button_payload(channel, ASKER, with_button[-1]), "button"
    else:
        question = slack.get(channel, question_ts)
        payload, answer.stop_via = shortcut_payload(STOP_ACTION, channel, ASKER, question), "shortcut"
    answer.clicked_at = time.monotonic()
    answer.stop_status = bot.send_interaction(payload).status
    return answer


def _parts(slack, answer: Answer) -> tuple[list[dict], dict]:
    """The bot's messages in the question's thread as Slack holds them now, and the last one's metadata payload."""
    channel, question_ts = answer.key
    parts = [m for m in slack.thread(channel, question_ts)
             if m.get("bot_id") == slack.bot_id and m["ts"] != question_ts]
    return parts, ((parts[-1].get("metadata") or {}).get("event_payload") or {}) if parts else {}


def ended(slack, answer: Answer) -> bool:
    """The thread shows the answer ended (done, stopped or an error), whenever that happened."""
    return _parts(slack, answer)[1].get("status") in FINAL_STATUSES


def exact(slack, answer: Answer) -> bool:
    """The thread holds the whole expected answer, marked done: what Slack shows at the end, not a write."""
    parts, payload = _parts(slack, answer)
    return payload.get("status") == "done" and "".join(p.get("text", "") for p in parts) == answer.shot.expected

"""The scenarios of responsiveness_bench.py, tried as people would: each returns its raw numbers (seconds,
counts), which responsiveness_report.py turns into figures; every question asked is kept in ``World.asked``
for the answers lost.

* ``quiet``: one person in a quiet workspace, ``repeats`` times: a question answered to its end, then
  a long one stopped mid-answer.
* ``busy``: ``others`` long answers streaming in other conversations (DMs), then one long answer stopped
  and one short answer among them, ``rounds`` times.
* ``crowd``: ``n`` people asking at once, each in a channel of their own.

Every scenario (and every quiet repeat and busy round) starts in a fresh minute of Slack's tiers
(FakeSlack's buckets refilled: a workspace of its own) after the bot's own budget had ``pause``
seconds to refill, and waits, bounded, for its answers to end before the next begins.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from common import Burst
from responsiveness_watch import Answer, Watch, ask, click_stop, ended, exact, new_answer
from slack_tiers import enforce_slack_tiers  # tests/slack_tiers.py


@dataclass
class World:
    """What the scenarios act on: the stand-ins, the process Slack delivers to, and the run's options."""
    slack: object
    openai: object
    bot: object            # BotProcess: slack_bot, which takes the events and the interactions
    args: object
    say: object
    asked: list = field(default_factory=list)   # every Answer of the run, for "answers lost"
    refused: dict = field(default_factory=dict)  # 429s per method over the run

    def watch(self) -> Watch:
        return Watch(self.slack, self.openai, len(self.slack.calls))

    def fresh_minute(self) -> None:
        """The bot's own budget gets ``pause`` seconds to refill; Slack's buckets start full."""
        time.sleep(self.args.pause)
        enforce_slack_tiers(self.slack)

    def timeout_for(self, answers: int) -> float:
        """How long ``answers`` answers at once may take before the scenario gives up on the rest (and counts
        them as never final). With Pub/Sub the emulator pushes two at a time: their model time adds up too."""
        pushed = answers * seconds_of(self.args, self.args.deltas) / 2 if self.args.pubsub else 0.0
        return self.args.answer_timeout + answers * self.args.wait_per_answer + pushed

    def lost(self, drain: float) -> int:
        """Questions not acknowledged, or whose thread does not show their end after ``drain`` more seconds."""
        deadline = time.monotonic() + drain
        while not all(ended(self.slack, a) for a in self.asked) and time.monotonic() < deadline:
            time.sleep(0.2)
        return sum(1 for a in self.asked if a.shot.status != 200 or not ended(self.slack, a))

    def answer(self, watch: Watch, channel: str, index: int, chars: int, tag: str) -> Answer:
        answer = watch.add(new_answer(self.slack, channel, index, chars, tag, self.args.chunk_chars))
        self.asked.append(answer)
        return answer

    def settle(self, watch: Watch, timeout: float) -> None:
        """Until every answer of ``watch`` has ended (or ``timeout``); its 429s join the run's."""
        watch.wait(watch.all_final, timeout)
        for method, count in watch.refused_by_method.items():
            self.refused[method] = self.refused.get(method, 0) + count

    def stop_mid_answer(self, watch: Watch, answer: Answer, timeout: float) -> None:
        """Stop, pressed ``stop_after`` seconds after the question once the model is streaming; then until the
        answer has ended and the model stream is over (closed or run to its end), or ``timeout``."""
        streaming = watch.wait(lambda: getattr(answer.model, "first_delta_at", None) is not None
                               and time.monotonic() >= answer.asked_at + self.args.stop_after, timeout)
        if not streaming:
            return
        click_stop(self.bot, self.slack, answer)
        watch.wait(lambda: answer.final_at is not None and answer.model.done, timeout)


def together(port: int, answers: list[Answer]) -> None:
    """The questions' events sent at the same moment, one connection each."""
    with ThreadPoolExecutor(max_workers=len(answers)) as pool:
        list(pool.map(lambda a: ask(port, a), answers))


def stop_figures(answer: Answer) -> dict:
    stopped = answer.final_status == "stopped" and answer.final_event_type == "aborted"
    return {"via": answer.stop_via, "interaction_status": answer.stop_status,
            "closed": answer.since_click(answer.stream_closed_at),
            "shown": answer.since_click(answer.final_at) if stopped else None,
            "final_status": answer.final_status, "model_outcome": getattr(answer.model, "outcome", None),
            "deltas_sent": getattr(answer.model, "deltas_sent", None),
            "deltas_total": getattr(answer.model, "deltas_total", None)}


# --------------------------------------------------------------------------- one person, quiet
def quiet(world: World, tag: str = "Q") -> dict:
    args, port = world.args, world.bot.port
    shown, last_token, stops = [], [], []
    for i in range(1, args.repeats + 1):
        world.fresh_minute()
        watch = world.watch()
        whole = world.answer(watch, f"C{tag}A{i:04d}", i, args.answer_chars, f"{tag}A")
        ask(port, whole)
        watch.wait(lambda: whole.final_at is not None, args.answer_timeout)
        world.settle(watch, 0)
        shown.append(whole.since_asked(whole.shown_at))
        last_token.append(whole.last_token_to_shown)

        world.fresh_minute()
        watch = world.watch()
        stopped = world.answer(watch, f"C{tag}S{i:04d}", i, args.long_chars, f"{tag}S")
        ask(port, stopped)
        world.stop_mid_answer(watch, stopped, args.answer_timeout)
        world.settle(watch, args.answer_timeout)
        shown.append(stopped.since_asked(stopped.shown_at))
        stops.append(stop_figures(stopped))
        world.say(f"  quiet {i}/{args.repeats}: shown {fmt_s(shown[-1])}, last token -> shown "
                  f"{fmt_s(last_token[-1])}, Stop ({stops[-1]['via']}) -> closed {fmt_s(stops[-1]['closed'])}, "
                  f"-> shown stopped {fmt_s(stops[-1]['shown'])}")
    return {"shown": shown, "last_token_to_shown": last_token, "stops": stops}


# --------------------------------------------------------------------------- answers streaming elsewhere
def busy(world: World) -> dict:
    args, port = world.args, world.bot.port
    rounds = []
    for r in range(1, args.rounds + 1):
        world.fresh_minute()
        watch = world.watch()
        # In DMs: a question in a channel the bot has not seen waits for conversations.info (Tier 3, the bot's
        # budget lets 3 through at once), so answers in new channels would start a second apart and the
        # first would end before the last began; the crowds show that. Here they all stream at once.
        others = [world.answer(watch, f"DB{r}O{k:04d}", k, args.long_chars, f"B{r}O")
                  for k in range(1, args.others + 1)]
        together(port, others)
        watch.wait(lambda: all(getattr(a.model, "first_delta_at", None) for a in others), args.answer_timeout)
        target = world.answer(watch, f"DB{r}T0001", 1, args.long_chars, f"B{r}T")
        short = world.answer(watch, f"DB{r}S0001", 1, args.short_chars, f"B{r}S")
        together(port, [target, short])
        world.stop_mid_answer(watch, target, args.answer_timeout)
        clicked = target.clicked_at or float("inf")
        streaming_when_stopped = sum(1 for a in others if a.final_at is None or a.final_at > clicked)
        watch.wait(lambda: short.final_at is not None, args.answer_timeout)
        world.settle(watch, world.timeout_for(len(others) + 2))
        figures = stop_figures(target)
        figures.update(short_last_token_to_shown=short.last_token_to_shown, others=len(others),
                       others_streaming_at_stop=streaming_when_stopped,
                       others_final=sum(1 for a in others if a.final_at is not None),
                       refused=dict(watch.refused_by_method))
        rounds.append(figures)
        world.say(f"  busy {r}/{args.rounds}: Stop ({figures['via']}) -> closed {fmt_s(figures['closed'])}, "
                  f"-> shown stopped {fmt_s(figures['shown'])}; short answer: last token -> shown "
                  f"{fmt_s(figures['short_last_token_to_shown'])}; 429s {figures['refused'] or 0}")
    return {"rounds": rounds}


# --------------------------------------------------------------------------- people asking at once
def crowd(world: World, n: int, tag: str) -> dict:
    args = world.args
    world.fresh_minute()
    watch = world.watch()
    answers = [world.answer(watch, f"C{tag}{k:05d}", k, args.answer_chars, tag) for k in range(1, n + 1)]
    burst = Burst(world.bot.port, [a.shot for a in answers], n, args.ack_timeout)
    try:
        burst.run(watch, world.timeout_for(n))
    finally:
        burst.abort()
    world.settle(watch, 0)
    shots = [a.shot for a in answers]
    result = {
        "n": n, "ack": [s.end - s.start for s in shots if s.status == 200],
        "not_200": sum(1 for s in shots if s.status != 200),
        "shown": [a.since_asked(a.shown_at) for a in answers if a.shown_at],
        "first_words": [a.since_asked(a.first_words_at) for a in answers if a.first_words_at],
        "final": [a.since_asked(a.final_at) for a in answers if a.final_at],
        "finals": sum(1 for a in answers if a.final_at is not None),
        "exact": sum(1 for a in answers if exact(world.slack, a)),
        "refused": dict(sorted(watch.refused_by_method.items())),
        "calls": dict(sorted(watch.methods.items())), "wall": burst.wall,
    }
    world.say(f"  {n} at once: {result['finals']}/{n} final, {result['exact']}/{n} exact, "
              f"last final after {fmt_s(max(result['final'], default=None))}, 429s {result['refused'] or 0}")
    return result


def seconds_of(args, deltas: int) -> float:
    """How long the model takes to write ``deltas`` deltas."""
    return round(args.first_token_delay + deltas * args.delta_delay, 2)


def fmt_s(value) -> str:
    return "-" if value is None else f"{value:.2f} s"

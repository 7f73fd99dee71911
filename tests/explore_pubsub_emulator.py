"""Measures how the Pub/Sub emulator publishes and pushes. Not a test (pytest does not collect it).

    cd /work/main && . .venv/bin/activate && python tests/explore_pubsub_emulator.py [section ...]

Sections: latency, retries, deadline, duplicates, concurrency (default: all).
Prints one line per finding; the numbers go into the issue's notes, since the
production design (ack deadline, retry policy, claims) leans on this behaviour.
The emulator is not Pub/Sub: what it does here is a lower bound on what the
worker must survive, not a promise of what production does.
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pubsub_emulator import PubSubEmulator, PushReceiver, Reply, free_port  # noqa: E402

from threadwise.handoff import pubsub as pubsub_jobs  # noqa: E402
from threadwise.handoff.job_wire import encode_job  # noqa: E402
from threadwise.slack.events import Ask  # noqa: E402


def ask(number: int) -> Ask:
    return Ask(event_id=f"Ev{number:06d}", team_id="T1", channel="C1", channel_type="im", user="U1",
               text=f"question {number}", ts=f"1700000000.{number:06d}", thread_ts=f"1700000000.{number:06d}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summary(label: str, values: list[float]) -> None:
    print(f"  {label}: n={len(values)} p50={ms(pct(values, 50))} p90={ms(pct(values, 90))} "
          f"p99={ms(pct(values, 99))} max={ms(max(values))} mean={ms(statistics.mean(values))}", flush=True)


def message_id(body: bytes) -> str:
    return json.loads(body)["message"]["messageId"]


def envelope_keys(body: bytes) -> str:
    envelope = json.loads(body)
    return f"envelope={sorted(envelope)} message={sorted(envelope['message'])}"


# -- (a) publish latency, (b) publish → push ------------------------------------------------


def latency(emulator: PubSubEmulator) -> None:
    print("\n(a) publish latency, PubSubPublisher (max_messages=1, max_latency=0), future.result()", flush=True)
    receiver = PushReceiver()
    emulator.create_topic("latency")
    emulator.create_push_subscription("latency-push", "latency", f"{receiver.base_url}/push")
    publisher = pubsub_jobs.PubSubPublisher(emulator.project, "latency")
    started = time.monotonic()
    publisher.publish(ask(0))
    print(f"  first publish (creates the client and channel): {ms(time.monotonic() - started)}")
    receiver.wait_for(1, 10)

    publish_times, push_times = [], []
    for number in range(1, 51):
        before = len(receiver.received)
        started = time.monotonic()
        publisher.publish(ask(number))
        publish_times.append(time.monotonic() - started)
        got = receiver.wait_for(before + 1, 10)
        push_times.append(got[before].at - started)
    summary("publish (call → message ID)", publish_times)
    print("\n(b) publish → push delivery (publish call → request arrives at the endpoint)")
    summary("publish → push", push_times)

    print("\n(a') for comparison, the library's default batching (max_latency 10 ms)")
    from google.cloud import pubsub_v1

    default_client = pubsub_v1.PublisherClient()
    topic = emulator.topic_path("latency")
    default_client.publish(topic, b"warm").result(5)
    times = []
    for number in range(50):
        started = time.monotonic()
        default_client.publish(topic, encode_job(ask(number))).result(5)
        times.append(time.monotonic() - started)
    summary("default BatchSettings publish", times)

    print("\n(a'') 20 publishes at once from 20 threads with PubSubPublisher")
    times = []
    lock = threading.Lock()

    def one(number: int) -> None:
        started = time.monotonic()
        publisher.publish(ask(1000 + number))
        with lock:
            times.append(time.monotonic() - started)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    summary("concurrent publish", times)
    time.sleep(2)
    receiver.stop()


# -- (c) failures at the endpoint: does it redeliver, when, with deliveryAttempt? -------------


def failing(first_failures: int, reply: Reply):
    def respond(received, number):
        return reply if number <= first_failures else Reply(204)
    return respond


def retries(emulator: PubSubEmulator, watch: float = 150) -> None:
    print(f"\n(c) endpoint failures: first 6 deliveries fail, then 204; watched {watch:.0f} s", flush=True)
    scenarios = {
        "500": (failing(6, Reply(500)), {}),
        "429": (failing(6, Reply(429)), {}),
        "429+Retry-After:1": (failing(6, Reply(429, headers={"Retry-After": "1"})), {}),
        "409": (failing(6, Reply(409)), {}),
        "400": (failing(6, Reply(400)), {}),
        "reset": (failing(6, Reply(reset=True)), {}),
        "200": (failing(0, Reply(200)), {}),
        "202": (failing(0, Reply(202)), {}),
        "102": (failing(6, Reply(102)), {}),
        "500+retry_policy(1s..4s)": (failing(6, Reply(500)), {
            "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 4}}}),
        "500+retry_policy(10s..600s)": (failing(6, Reply(500)), {
            "retry_policy": {"minimum_backoff": {"seconds": 10}, "maximum_backoff": {"seconds": 600}}}),
        "500+dead_letter(5)": (failing(100, Reply(500)), {
            "dead_letter_policy": {"dead_letter_topic": emulator.topic_path("dead-letters"),
                                   "max_delivery_attempts": 5}}),
    }
    emulator.create_topic("dead-letters")
    dead_receiver = PushReceiver()
    emulator.create_push_subscription("dead-letters-push", "dead-letters", f"{dead_receiver.base_url}/dead")
    runs = []  # a topic per scenario, so each receiver sees only its own message
    for index, (name, (respond, extra)) in enumerate(scenarios.items()):
        receiver = PushReceiver(respond)
        topic = f"retries-{index}"
        emulator.create_topic(topic)
        emulator.create_push_subscription(f"{topic}-push", topic, f"{receiver.base_url}/push", **extra)
        runs.append((name, receiver, pubsub_jobs.PubSubPublisher(emulator.project, topic)))

    # Connection refused: nobody listens on the port for the first 45 s, then a receiver does.
    refused_port = free_port()
    emulator.create_topic("refused")
    emulator.create_push_subscription("refused-push", "refused", f"http://127.0.0.1:{refused_port}/push")
    refused_publisher = pubsub_jobs.PubSubPublisher(emulator.project, "refused")

    started = {}
    for name, receiver, scenario_publisher in runs:
        started[name] = time.monotonic()
        scenario_publisher.publish(ask(1))
    refused_started = time.monotonic()
    refused_publisher.publish(ask(2))
    time.sleep(45)
    refused_receiver = PushReceiver(port=refused_port)
    time.sleep(max(0.0, watch - 45))

    for name, receiver, _ in runs:
        times = [r.at - started[name] for r in receiver.received]
        gaps = [b - a for a, b in zip(times, times[1:])]
        attempts = [json.loads(r.body).get("deliveryAttempt") for r in receiver.received]
        ids = {message_id(r.body) for r in receiver.received}
        print(f"  {name}: {len(times)} deliveries of {len(ids)} message(s); at "
              f"{[round(t, 2) for t in times][:14]} s; gaps {[round(g, 2) for g in gaps][:13]} s; "
              f"deliveryAttempt {attempts[:14]}", flush=True)
        receiver.stop()
    first = refused_receiver.received[0].at - refused_started if refused_receiver.received else None
    print(f"  connection refused for 45 s, then listening: first delivery at "
          f"{round(first, 2) if first else None} s after publish; {len(refused_receiver.received)} deliveries")
    print(f"  dead-letter topic received {len(dead_receiver.received)} message(s)"
          + (f", {envelope_keys(dead_receiver.received[0].body)}, attributes "
             f"{json.loads(dead_receiver.received[0].body)['message'].get('attributes')}"
             if dead_receiver.received else ""))
    refused_receiver.stop()
    dead_receiver.stop()


# -- (d) an answer longer than the ack deadline ----------------------------------------------


def deadline(emulator: PubSubEmulator, watch: float = 70) -> None:
    print(f"\n(d) ack deadline 10 s, endpoint takes 15 s (then 204); watched {watch:.0f} s", flush=True)
    cases = {
        "first delivery sleeps 15 s, later ones answer at once": lambda r, n: Reply(204, delay=15 if n == 1 else 0),
        "every delivery sleeps 15 s": lambda r, n: Reply(204, delay=15),
        "first delivery sleeps 15 s then 500": lambda r, n: Reply(500 if n == 1 else 204, delay=15 if n == 1 else 0),
        "ack deadline 600 s, endpoint sleeps 45 s": lambda r, n: Reply(204, delay=45 if n == 1 else 0),
    }
    runs = []
    for index, (name, respond) in enumerate(cases.items()):
        receiver = PushReceiver(respond)
        topic = f"deadline-{index}"
        emulator.create_topic(topic)
        emulator.create_push_subscription(f"{topic}-push", topic, f"{receiver.base_url}/push",
                                          ack_deadline=600 if "600" in name else 10)
        publisher = pubsub_jobs.PubSubPublisher(emulator.project, topic)
        runs.append((name, receiver, time.monotonic(), publisher.publish(ask(index))))
    time.sleep(watch)
    for name, receiver, started, _ in runs:
        rows = [(round(r.at - started, 1), round(r.finished - started, 1) if r.finished else None,
                 round(r.caller_hung_up - started, 1) if r.caller_hung_up else None) for r in receiver.received]
        print(f"  {name}: {len(rows)} deliveries (arrived, answered, caller hung up) s: {rows[:10]}", flush=True)
        receiver.stop()


# -- (e) duplicates, (f) concurrency ----------------------------------------------------------


def duplicates(emulator: PubSubEmulator) -> None:
    print("\n(e) duplicates: 200 messages, endpoint answers 204 at once; watched 20 s after the last", flush=True)
    receiver = PushReceiver()
    emulator.create_topic("dups")
    emulator.create_push_subscription("dups-push", "dups", f"{receiver.base_url}/push", ack_deadline=10)
    publisher = pubsub_jobs.PubSubPublisher(emulator.project, "dups")
    ids = [publisher.publish(ask(n)) for n in range(200)]
    receiver.wait_for(200, 30)
    time.sleep(20)
    counts: dict[str, int] = {}
    for r in receiver.received:
        counts[message_id(r.body)] = counts.get(message_id(r.body), 0) + 1
    print(f"  published {len(ids)} ({len(set(ids))} distinct IDs), deliveries {len(receiver.received)}, "
          f"messages delivered more than once: {sum(1 for c in counts.values() if c > 1)}, "
          f"never delivered: {len(set(ids) - set(counts))}")
    print(f"  message IDs look like {ids[:3]}; envelope {envelope_keys(receiver.received[0].body)}")
    print(f"  push request headers: {sorted(receiver.received[0].headers)}")
    receiver.stop()

    print("\n(e') two subscriptions on one topic: each gets its own copy (fan-out)", flush=True)
    first, second = PushReceiver(), PushReceiver()
    emulator.create_topic("fanout")
    emulator.create_push_subscription("fanout-a", "fanout", f"{first.base_url}/a")
    emulator.create_push_subscription("fanout-b", "fanout", f"{second.base_url}/b")
    pubsub_jobs.PubSubPublisher(emulator.project, "fanout").publish(ask(1))
    time.sleep(3)
    print(f"  deliveries: a={len(first.received)} b={len(second.received)}")
    first.stop()
    second.stop()


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = best = 0
    for _, step in edges:
        now += step
        best = max(best, now)
    return best


def concurrency(emulator: PubSubEmulator) -> None:
    print("\n(f) concurrency: 30 messages published at once, endpoint takes 3 s each", flush=True)
    receiver = PushReceiver(lambda r, n: Reply(204, delay=3))
    emulator.create_topic("busy")
    emulator.create_push_subscription("busy-push", "busy", f"{receiver.base_url}/push", ack_deadline=60)
    publisher = pubsub_jobs.PubSubPublisher(emulator.project, "busy")
    started = time.monotonic()
    for n in range(30):
        publisher.publish(ask(n))
    receiver.wait_for(30, 60)
    time.sleep(4)
    arrivals = sorted(r.at - started for r in receiver.received)
    print(f"  deliveries {len(receiver.received)}, most in flight at once {receiver.max_in_flight}, "
          f"arrivals from {arrivals[0]:.2f} s to {arrivals[-1]:.2f} s")
    receiver.stop()

    print("\n(f') two subscriptions, 12 messages each, endpoint takes 2 s: is the limit per subscription?")
    receivers = []
    for name in ("busy-a", "busy-b"):
        receiver = PushReceiver(lambda r, n: Reply(204, delay=2))
        emulator.create_topic(name)
        emulator.create_push_subscription(f"{name}-push", name, f"{receiver.base_url}/push", ack_deadline=60)
        receivers.append((receiver, pubsub_jobs.PubSubPublisher(emulator.project, name)))
    for n in range(12):
        for _, publisher in receivers:
            publisher.publish(ask(n))
    for receiver, _ in receivers:
        receiver.wait_for(12, 60)
    time.sleep(3)
    intervals = [(r.at, r.finished) for receiver, _ in receivers for r in receiver.received]
    print(f"  most in flight: per subscription {[receiver.max_in_flight for receiver, _ in receivers]}, "
          f"both together {most_at_once(intervals)}")
    for receiver, _ in receivers:
        receiver.stop()


SECTIONS = {"latency": latency, "retries": retries, "deadline": deadline, "duplicates": duplicates,
            "concurrency": concurrency}


def main(names: list[str]) -> None:
    started = time.monotonic()
    emulator = PubSubEmulator()
    print(f"emulator ready in {time.monotonic() - started:.2f} s at {emulator.host}", flush=True)
    os.environ.update(emulator.env)
    try:
        for name in names or list(SECTIONS):
            SECTIONS[name](emulator)
    finally:
        kept = Path("/tmp/explore-pubsub-emulator.log")
        kept.write_text(emulator.logs())
        emulator.stop()
        print(f"\nemulator stopped; processes left: {emulator.remaining()}; its log: {kept}")


if __name__ == "__main__":
    main(sys.argv[1:])

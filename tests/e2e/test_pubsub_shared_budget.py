"""Several Pub/Sub workers answering at once spend one workspace's budget: they lease it from the store
(budget_lease.py), so Slack's tiers (enforced by the stand-in, autouse) refuse none of their writes."""
from __future__ import annotations

import threading

from flows import ASKER, wait_answer
from harness import BotProcess
from standins.openai_api import Script
from threadwise.state.firestore_documents import document_id
from test_pubsub_e2e import WORKER_TOKEN, Deployment, firestore, pubsub, push_of  # noqa: F401  (fixtures)

ANSWERS_PER_WORKER = 3


def test_two_workers_answering_at_once_stay_within_slack_s_tiers(tmp_path, slack, openai_server, pubsub,
                                                                 firestore):
    text = " ".join(f"word{i}" for i in range(200))
    openai_server.reply = Script(text=text, chunk_chars=6, delta_delay=0.05)  # about 10 s, updated every 0.8 s
    deployment = Deployment(tmp_path, slack, openai_server, pubsub, firestore)
    try:
        other = BotProcess(deployment.env, tmp_path / "worker-2.log", target="slack_worker")
        deployment.workers.append(other)
        workers = [deployment.worker, other]
        for worker in workers:
            worker.post(b"{}", "application/json")  # warm: both workers are ready when the pushes arrive
        questions = []
        for n in range(2 * ANSWERS_PER_WORKER):
            channel = f"D-shared-{n}"
            questions.append((channel, slack.add_message(channel, ASKER, f"question {n}")))
        statuses: list[int] = []

        def deliver(worker, channel, ts):
            push = push_of(channel, "question", ts)
            try:
                statuses.append(worker.post(push, "application/json", query=f"?token={WORKER_TOKEN}").status)
            except TimeoutError:
                pass  # (the harness waits 10 s for an answer; the worker answers on, as for the front end)

        threads = [threading.Thread(target=deliver, args=(workers[n % 2], channel, ts))
                   for n, (channel, ts) in enumerate(questions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        for channel, ts in questions:
            assert "".join(p["text"] for p in wait_answer(slack, channel, ts, timeout=60)) == text
        assert set(statuses) <= {200}
        updates = [c for c in slack.calls_of("chat.update") if c.params.get("channel", "").startswith("D-shared-")]
        assert len(updates) > 50, f"{len(updates)} updates: more than one worker's burst alone, yet no 429"
        shared = firestore.client().collection(deployment.collection + "_budget").document(document_id("chat.update"))
        assert shared.get().exists, "the workers leased chat.update from the store"
    finally:
        deployment.stop()

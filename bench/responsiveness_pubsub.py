"""``DISPATCH=pubsub`` for responsiveness_bench.py: slack_bot publishes, several slack_worker processes answer
the pushes of one subscription, on the Pub/Sub and Firestore emulators.

Production runs one push subscription whose endpoint is the worker function's URL; Google's front end
spreads the pushes over the function's instances. Here a ``FrontEnd`` on 127.0.0.1 stands for that
front end: the emulator pushes to it, it hands each push to the next worker process in turn and
relays the worker's answer, so every job takes the real path (publish → push → slack_worker). The
emulator pushes only 2-3 messages at a time per subscription (bench/README.md, pubsub_bench.py), so
that many answers run at once, whatever the number of workers.
"""
from __future__ import annotations

import http.client
import itertools
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from emulators import start_emulators
from harness import BotProcess, free_port
from lifecycle import signals_deferred

WORKER_TOKEN = "bench-worker-push-secret-0123456789"
ACK_DEADLINE = 600  # seconds: longer than any answer, as in production (scripts/deploy)


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # The emulator drops its idle keep-alive connections with a reset when it stops: not an error of ours.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FrontEnd:
    """Round robin over the workers' ports: one push, one worker, the worker's status relayed."""

    def __init__(self, ports: list[int]):
        turns = itertools.cycle(ports)
        lock = threading.Lock()
        self.pushes = {port: 0 for port in ports}
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    port = next(turns)
                    front.pushes[port] += 1
                worker = http.client.HTTPConnection("127.0.0.1", port, timeout=ACK_DEADLINE)
                try:
                    worker.request("POST", self.path, body, {"Content-Type": self.headers.get("Content-Type", "")})
                    response = worker.getresponse()
                    status, answer = response.status, response.read()
                except OSError:
                    status, answer = 502, b""  # as a front end answers when an instance is gone: redelivered
                finally:
                    worker.close()
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="front-end", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class PubSubDeployment:
    """Both emulators, a topic, ``workers`` slack_worker processes behind a ``FrontEnd``, slack_bot and the
    push subscription. Every ``stop`` goes on ``stack`` as soon as its part has started."""

    def __init__(self, env: dict[str, str], slack, workers: int, log_dir: Path, stack: list):
        run_id = f"{os.getpid()}-{int(time.time())}"
        self.pubsub, self.firestore = start_emulators(log_dir, stack)
        topic = f"bench-jobs-{run_id}"
        self.pubsub.create_topic(topic)
        self.env = {**env, "DISPATCH": "pubsub", "PUBSUB_TOPIC": topic, "STORE": "firestore",
                    "FIRESTORE_COLLECTION": f"bench_claims_{run_id.replace('-', '_')}",
                    "WORKER_AUTH": "token", "WORKER_TOKEN": WORKER_TOKEN, **self.pubsub.env, **self.firestore.env}
        self.workers: list[BotProcess] = []
        for number in range(workers):
            with signals_deferred():
                self.workers.append(BotProcess(self.env, log_dir / f"worker-{number}.log", target="slack_worker",
                                               port=free_port()))
                stack.append(self.workers[-1].stop)
        with signals_deferred():
            self.front = FrontEnd([w.port for w in self.workers])
            stack.append(self.front.stop)
        with signals_deferred():
            self.bot = BotProcess(self.env, log_dir / "bot.log", slack=slack)
            stack.append(self.bot.stop)
        self.pubsub.create_push_subscription(f"bench-push-{run_id}", topic, f"{self.front.url}?token={WORKER_TOKEN}",
                                             ack_deadline=ACK_DEADLINE)

    @property
    def processes(self) -> list[BotProcess]:
        return [self.bot, *self.workers]

    def logs(self) -> str:
        return "\n".join(f"--- {p.log_path.name}\n{p.logs()[-1500:]}" for p in self.processes)

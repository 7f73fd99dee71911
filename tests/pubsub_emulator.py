"""The Pub/Sub emulator (``gcloud beta emulators pubsub start``) for tests: started, used, stopped.

gcloud runs the emulator as a Java child. Killing gcloud alone leaves that
child running (gcloud's own clean-up never runs on SIGTERM), so the emulator
gets a process group of its own and ``stop`` ends the whole group, then checks
that none of it is left.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

from proc_groups import live_members

PROJECT = "threadwise-test"
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PubSubEmulator:
    def __init__(self, project: str = PROJECT, start_timeout: float = START_TIMEOUT):
        self.project = project
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.env = {
            "PUBSUB_EMULATOR_HOST": self.host,
            "PUBSUB_PROJECT_ID": project,
            "GOOGLE_CLOUD_PROJECT": project,
        }
        # A data directory of its own: gcloud writes env.yaml there, and two
        # test runs must not share one.
        self._data_dir = tempfile.mkdtemp(prefix="pubsub-emulator-")
        self.log_path = Path(self._data_dir) / "emulator.log"
        self._log = open(self.log_path, "wb")
        self._publisher = None
        self._subscriber = None
        self.process = subprocess.Popen(
            ["gcloud", "beta", "emulators", "pubsub", "start", f"--host-port={self.host}",
             f"--project={project}", f"--data-dir={self._data_dir}", "--quiet"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pgid = self.process.pid  # start_new_session: the group is named after gcloud's pid
        try:
            self._wait_until_ready(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Pub/Sub emulator exited with {self.process.returncode}:\n{self.logs()}")
            try:
                with urllib.request.urlopen(f"http://{self.host}/", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"Pub/Sub emulator not ready after {timeout:g} s:\n{self.logs()}")

    def logs(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    # -- admin, with clients pointed at the emulator whatever the environment says ----------

    def topic_path(self, name: str) -> str:
        return f"projects/{self.project}/topics/{name}"

    def subscription_path(self, name: str) -> str:
        return f"projects/{self.project}/subscriptions/{name}"

    def publisher(self):
        if self._publisher is None:
            import grpc
            from google.cloud import pubsub_v1
            from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

            self._publisher = pubsub_v1.PublisherClient(
                transport=PublisherGrpcTransport(channel=grpc.insecure_channel(self.host)))
        return self._publisher

    def subscriber(self):
        if self._subscriber is None:
            import grpc
            from google.cloud import pubsub_v1
            from google.pubsub_v1.services.subscriber.transports import SubscriberGrpcTransport

            self._subscriber = pubsub_v1.SubscriberClient(
                transport=SubscriberGrpcTransport(channel=grpc.insecure_channel(self.host)))
        return self._subscriber

    def create_topic(self, name: str) -> str:
        path = self.topic_path(name)
        self.publisher().create_topic(request={"name": path})
        return path

    def create_push_subscription(self, name: str, topic: str, push_endpoint: str, ack_deadline: int = 600,
                                 **extra) -> str:
        """``topic``: a short name or a full path. ``extra``: more Subscription fields
        (``retry_policy``, ``dead_letter_policy``, …) as the request dict takes them."""
        path = self.subscription_path(name)
        topic_path = topic if topic.startswith("projects/") else self.topic_path(topic)
        self.subscriber().create_subscription(request={
            "name": path,
            "topic": topic_path,
            "push_config": {"push_endpoint": push_endpoint},
            "ack_deadline_seconds": ack_deadline,
            **extra,
        })
        return path

    def delete_subscription(self, path: str) -> None:
        self.subscriber().delete_subscription(request={"subscription": path})

    # -- stopping ---------------------------------------------------------------------------

    def stop(self, timeout: float = 15.0) -> None:
        for client in (self._publisher, self._subscriber):
            if client is not None:
                try:
                    (client.transport if hasattr(client, "transport") else client.api.transport).close()
                except Exception:
                    pass
        self._publisher = self._subscriber = None
        self._signal_group(signal.SIGTERM)
        if not self._wait_group_gone(timeout):
            self._signal_group(signal.SIGKILL)
            if not self._wait_group_gone(5):
                raise RuntimeError(f"Pub/Sub emulator processes still running: {self.remaining()}")
        try:
            self.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        shutil.rmtree(self._data_dir, ignore_errors=True)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.pgid, sig)
        except ProcessLookupError:
            pass

    def _wait_group_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            self.process.poll()  # reap gcloud itself; the Java child is reaped by init
            if not self.remaining():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)

    def remaining(self) -> list[int]:
        """Live (not zombie) processes of the emulator's group: gcloud and its Java child."""
        return [pid for pid, _comm in live_members(self.pgid)]

    def __enter__(self) -> "PubSubEmulator":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# -- a push endpoint on 127.0.0.1 that records what the emulator sends ---------------------------


@dataclass
class Received:
    at: float  # time.monotonic() when the request arrived
    path: str
    headers: dict
    body: bytes
    finished: float | None = None  # when the answer was sent
    caller_hung_up: float | None = None  # when the caller closed the connection while we waited


@dataclass
class Reply:
    status: int = 204
    delay: float = 0.0  # seconds to wait before answering
    reset: bool = False  # drop the connection (RST) instead of answering
    headers: dict = field(default_factory=dict)


class PushReceiver:
    """Records every push request; ``respond(received, number)`` decides the reply (default 204).

    ``number`` counts the requests for the same message ID, from 1.
    """

    def __init__(self, respond: Callable[[Received, int], Reply] | None = None, port: int = 0):
        self.respond = respond or (lambda received, number: Reply())
        self.received: list[Received] = []
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received = Received(time.monotonic(), self.path, dict(self.headers), self.rfile.read(length))
                number = receiver._record(received)
                try:
                    reply = receiver.respond(received, number)
                    if reply.delay:
                        self._wait(reply.delay, received)
                    if reply.reset:
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        self.close_connection = True
                        self.connection.close()
                        return
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                finally:
                    received.finished = time.monotonic()
                    with receiver._lock:
                        receiver.in_flight -= 1

            def _wait(self, delay: float, received: Received) -> None:
                # Sleep, but notice when the caller gives up on us (EOF on the socket).
                until = time.monotonic() + delay
                while (left := until - time.monotonic()) > 0:
                    readable, _, _ = select.select([self.connection], [], [], min(left, 0.2))
                    if readable and received.caller_hung_up is None:
                        try:
                            if self.connection.recv(1, socket.MSG_PEEK) == b"":
                                received.caller_hung_up = time.monotonic()
                        except OSError:
                            received.caller_hung_up = time.monotonic()
                    if received.caller_hung_up is not None:
                        time.sleep(min(max(left, 0), 0.2))

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_port
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="push-receiver", daemon=True)
        self._thread.start()

    def _record(self, received: Received) -> int:
        import json

        try:
            message_id = json.loads(received.body)["message"]["messageId"]
        except Exception:
            message_id = ""
        with self._lock:
            self.received.append(received)
            self._counts[message_id] = self._counts.get(message_id, 0) + 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self._counts[message_id]

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        with self._lock:
            return list(self.received)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

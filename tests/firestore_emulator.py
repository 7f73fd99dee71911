"""The Firestore emulator, started and stopped by the tests themselves.

    with FirestoreEmulator() as emulator:
        os.environ.update(emulator.env)
        client = google.cloud.firestore.Client(project=emulator.project)

``gcloud emulators firestore start`` is a Python process that runs a shell
script that runs Java. They are started in a session of their own, so that
``stop()`` can signal the whole process group by its id and leave no Java
behind; nothing is killed by name.

Importing ``firestore_emulator`` (the session fixture below) into a test module
makes it available there; it also sets ``FIRESTORE_EMULATOR_HOST`` and
``GOOGLE_CLOUD_PROJECT`` for the session and restores them afterwards.
"""
from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from proc_groups import live_members

GCLOUD = "/usr/bin/gcloud"
PROJECT = "threadwise-test"
READY_LINE = "Dev App Server is now running"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class EmulatorError(RuntimeError):
    pass


class FirestoreEmulator:
    def __init__(self, project: str = PROJECT, gcloud: str = GCLOUD, log_dir: str | None = None):
        self.project = project
        self._gcloud = gcloud
        self._log_dir = log_dir
        self._process: subprocess.Popen | None = None
        self._log_path: Path | None = None
        self.host = ""
        self.pid: int | None = None
        self.startup_seconds: float | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"FIRESTORE_EMULATOR_HOST": self.host, "GOOGLE_CLOUD_PROJECT": self.project}

    def start(self) -> "FirestoreEmulator":
        if self._process is not None:
            raise EmulatorError("the emulator is already running")
        port = _free_port()
        self.host = f"127.0.0.1:{port}"
        log_dir = Path(self._log_dir or tempfile.mkdtemp(prefix="firestore-emulator-"))
        self._log_path = log_dir / "emulator.log"
        started = time.monotonic()
        # Output goes to a file, not a pipe: nobody has to keep reading it, and
        # it is there to read when the start fails.
        with open(self._log_path, "wb") as log:
            self._process = subprocess.Popen(
                [self._gcloud, "emulators", "firestore", "start", f"--host-port={self.host}", "--quiet"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid = self._process.pid  # also the process group's id
        atexit.register(self.stop)  # in case the test run ends without its teardown
        try:
            self._wait_until_ready(started + START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def reset(self) -> None:
        """Delete every document of the project's default database."""
        url = f"http://{self.host}/emulator/v1/projects/{self.project}/databases/(default)/documents"
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10) as response:
            response.read()

    def client(self):
        """A Firestore client talking to this emulator."""
        from google.cloud import firestore

        saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)  # the client reads the emulator host when it is built
        try:
            return firestore.Client(project=self.project)
        finally:
            _restore(saved)

    def java_pids(self) -> list[int]:
        """The emulator's Java processes (there is one while it runs)."""
        return [int(entry.split()[0]) for entry in _java_serving(self.host)]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        group = process.pid  # start_new_session: the leader's pid is the group id
        _signal_group(group, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            pass
        # gcloud may exit before its Java child does: wait for the whole group.
        deadline = time.monotonic() + STOP_TIMEOUT
        while _live_members(group) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _live_members(group):
            _signal_group(group, signal.SIGKILL)
            deadline = time.monotonic() + STOP_TIMEOUT
            while _live_members(group) and time.monotonic() < deadline:
                time.sleep(0.1)
        if process.poll() is None:
            process.wait(timeout=STOP_TIMEOUT)
        left = _live_members(group) + _java_serving(self.host)
        if left:
            raise EmulatorError(f"emulator processes still running after SIGKILL: {left}")

    def log_text(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path and self._log_path.exists() else ""

    def __enter__(self) -> "FirestoreEmulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmulatorError(f"the emulator exited with {self._process.returncode}:\n{self.log_text()}")
            if READY_LINE in self.log_text() and self._answers():
                return
            time.sleep(0.1)
        raise EmulatorError(f"the emulator was not ready within {START_TIMEOUT:g} s:\n{self.log_text()}")

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}/", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[FirestoreEmulator]:
    """One emulator for the test session, with the environment pointing at it."""
    with FirestoreEmulator() as emulator:
        saved = {name: os.environ.get(name) for name in emulator.env}
        os.environ.update(emulator.env)
        try:
            yield emulator
        finally:
            _restore(saved)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _signal_group(group: int, sig: signal.Signals) -> None:
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        pass


def _live_members(group: int) -> list[str]:
    return [f"{pid} {comm}" for pid, comm in live_members(group)]


def _java_serving(host: str) -> list[str]:
    """Emulator Java processes for this host:port, whatever their group (belt and braces)."""
    address, port = host.rsplit(":", 1)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"java") and f"--port={port}".encode() in argv \
                and any(b"firestore" in arg for arg in argv):
            found.append(f"{entry.name} java")
    return found


def _restore(saved: dict[str, str | None]) -> None:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

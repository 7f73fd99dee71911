"""Shared by the store's tests and the in-process tests that need its clock: the clock, the times, and
stores on both backends (SQLite on a temp file, Firestore on its emulator), each like another instance."""
from __future__ import annotations

import time
import uuid

import pytest

from threadwise.state import store
from threadwise.state.firestore import FirestoreStore
from threadwise.state.sqlite import SqliteStore

TTL = 3600.0
LEASE = 30.0
START = 1_700_000_000.0


class FakeClock:
    def __init__(self, start: float = START):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "firestore"])
def make_store(request, tmp_path):
    """Builds stores on one shared backend, each one like another instance of the bot."""
    opened: list[store.Store] = []
    if request.param == "sqlite":
        path = str(tmp_path / "claims.sqlite3")

        def make(now=time.time) -> store.Store:
            opened.append(SqliteStore(path, now=now))
            return opened[-1]
    else:
        emulator = request.getfixturevalue("firestore_emulator")
        collection = f"claims_{uuid.uuid4().hex[:12]}"  # every test its own collection

        def make(now=time.time) -> store.Store:
            opened.append(FirestoreStore(collection=collection, client=emulator.client(), now=now))
            return opened[-1]
    yield make
    for each in opened:
        each.close()

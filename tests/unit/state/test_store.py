"""Event claims: the same tests against both backends (SQLite on a temp file, Firestore on its emulator)."""
from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time
import uuid
from collections import Counter
from contextlib import closing
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest

from threadwise.config import ConfigError, load_settings
from threadwise.state import store
from threadwise.state.backends import STORE_BACKENDS
from firestore_emulator import FirestoreEmulator
from threadwise.state.store import Acquire, Claim, ClaimStatus
from threadwise.state.firestore_documents import document_id
from threadwise.state.sqlite import PURGE_EVERY, SqliteStore

from store_cases import LEASE, START, TTL, FakeClock, clock, make_store  # noqa: F401  (fixtures)


@pytest.fixture
def claims(make_store, clock) -> store.Store:
    return make_store(now=clock)


def test_create_claim_only_once(claims):
    assert claims.create_claim("Ev1", TTL) is True
    assert claims.create_claim("Ev1", TTL) is False
    assert claims.create_claim("Ev2", TTL) is True
    assert claims.get("Ev1") == Claim("Ev1", "queued", None, None, 0.0, START + TTL, 0)


def test_expired_claim_is_replaced(claims, clock):
    claims.create_claim("Ev1", 10)
    claims.acquire("Ev1", "w1", LEASE, 10)
    claims.set_reply("Ev1", "w1", "1700000000.000100")
    clock.advance(LEASE + 1)
    assert claims.create_claim("Ev1", TTL) is True
    assert claims.get("Ev1") == Claim("Ev1", "queued", None, None, 0.0, clock.now + TTL, 0)


def test_acquire_and_answer(claims, clock):
    assert claims.create_claim("Ev1", TTL)
    got = claims.acquire("Ev1", "w1", LEASE, TTL)
    assert got.outcome == Acquire.ACQUIRED == "acquired"
    assert got.claim == Claim("Ev1", "answering", None, "w1", START + LEASE, START + TTL, 1)
    assert claims.set_reply("Ev1", "w1", "1700000000.000100")
    clock.advance(20)
    assert claims.renew("Ev1", "w1", LEASE)
    assert claims.get("Ev1").lease_until == clock.now + LEASE
    assert claims.finish("Ev1", "w1")
    assert claims.finish("Ev1", "w1"), "finishing twice is harmless"
    done = claims.get("Ev1")
    assert (done.status, done.reply_ts, done.attempts) == ("answered", "1700000000.000100", 1)


def _stored_status(claims, event_id: str):
    """The claim's ``status`` as the backend holds it (a row's text, a document's field)."""
    if isinstance(claims, SqliteStore):
        with closing(claims._connect()) as db:
            return db.execute("SELECT status FROM claims WHERE event_id = ?", (event_id,)).fetchone()[0]
    return claims._collection.document(document_id(event_id)).get().to_dict()["status"]


def test_a_claim_status_is_stored_as_its_word(claims):
    """A process of the previous release reads the claims during a deploy: the stored text stays."""
    claims.create_claim("Ev1", TTL)
    seen = [(_stored_status(claims, "Ev1"), claims.get("Ev1").status)]
    claims.acquire("Ev1", "w1", LEASE, TTL)
    seen.append((_stored_status(claims, "Ev1"), claims.get("Ev1").status))
    claims.hand_off("Ev1", "w1")
    seen.append((_stored_status(claims, "Ev1"), claims.get("Ev1").status))
    claims.acquire_delivery("Ev1", "d1", "w1", LEASE, TTL)
    claims.finish("Ev1", "d1")
    seen.append((_stored_status(claims, "Ev1"), claims.get("Ev1").status))
    assert [stored for stored, _ in seen] == ["queued", "answering", "delivering", "answered"]
    assert all(type(stored) is str for stored, _ in seen)
    assert [status for _, status in seen] == [ClaimStatus.QUEUED, ClaimStatus.ANSWERING, ClaimStatus.DELIVERING,
                                              ClaimStatus.ANSWERED]
    assert all(type(status) is ClaimStatus for _, status in seen), "read back typed"


def test_acquire_without_a_claim_creates_it(claims):
    got = claims.acquire("Ev1", "w1", LEASE, TTL)
    assert got.outcome == "acquired"
    assert got.claim == Claim("Ev1", "answering", None, "w1", START + LEASE, START + TTL, 1)
    assert claims.create_claim("Ev1", TTL) is False


def test_takeover_after_the_lease_lapses_keeps_the_reply(claims, clock):
    claims.create_claim("Ev1", TTL)
    claims.acquire("Ev1", "w1", LEASE, TTL)
    claims.set_reply("Ev1", "w1", "1700000000.000100")
    clock.advance(LEASE)  # w1 died mid-answer
    got = claims.acquire("Ev1", "w2", LEASE, TTL)
    assert got.outcome == "acquired"
    assert (got.claim.owner, got.claim.reply_ts, got.claim.attempts) == ("w2", "1700000000.000100", 2)
    assert got.claim.lease_until == clock.now + LEASE
    # The old worker comes back to life: everything it tries is refused.
    assert not claims.set_reply("Ev1", "w1", "1700000000.000999")
    assert not claims.renew("Ev1", "w1", LEASE)
    assert not claims.finish("Ev1", "w1")
    assert claims.finish("Ev1", "w2")
    assert claims.get("Ev1").reply_ts == "1700000000.000100"


def test_busy_while_another_lease_is_live(claims, clock):
    claims.create_claim("Ev1", TTL)
    claims.acquire("Ev1", "w1", LEASE, TTL)
    clock.advance(LEASE - 1)
    got = claims.acquire("Ev1", "w2", LEASE, TTL)
    assert got.outcome == "busy"
    assert got.claim.owner == "w1"
    again = claims.acquire("Ev1", "w1", LEASE, TTL)
    assert again.outcome == "acquired"
    assert again.claim.attempts == 1, "re-acquiring one's own live lease is not a new attempt"
    assert again.claim.lease_until == clock.now + LEASE


def test_renew_keeps_others_out(claims, clock):
    claims.acquire("Ev1", "w1", LEASE, TTL)
    clock.advance(LEASE - 1)
    assert claims.renew("Ev1", "w1", LEASE)
    clock.advance(LEASE - 1)
    assert claims.acquire("Ev1", "w2", LEASE, TTL).outcome == "busy"


def test_lapsed_owner_keeps_the_claim_until_someone_takes_it(claims, clock):
    claims.acquire("Ev1", "w1", LEASE, TTL)
    clock.advance(LEASE + 5)
    assert claims.renew("Ev1", "w1", LEASE)
    assert claims.acquire("Ev1", "w2", LEASE, TTL).outcome == "busy"


def test_changes_are_refused_to_non_owners(claims):
    for event_id in ("absent", "queued", "answering"):
        if event_id != "absent":
            claims.create_claim(event_id, TTL)
    claims.acquire("answering", "w1", LEASE, TTL)
    for event_id in ("absent", "queued", "answering"):
        assert not claims.set_reply(event_id, "intruder", "1.2")
        assert not claims.renew(event_id, "intruder", LEASE)
        assert not claims.finish(event_id, "intruder")
    assert claims.get("absent") is None
    assert claims.get("queued").status == "queued"
    assert claims.get("answering") == Claim("answering", "answering", None, "w1", START + LEASE, START + TTL, 1)


def test_answered_stays_answered_until_it_expires(claims, clock):
    claims.create_claim("Ev1", TTL)
    claims.acquire("Ev1", "w1", LEASE, TTL)
    claims.finish("Ev1", "w1")
    clock.advance(LEASE * 10)
    assert claims.create_claim("Ev1", TTL) is False
    got = claims.acquire("Ev1", "w2", LEASE, TTL)
    assert (got.outcome, got.claim.status, got.claim.owner) == ("answered", "answered", "w1")
    assert claims.acquire("Ev1", "w1", LEASE, TTL).outcome == "answered"
    assert not claims.renew("Ev1", "w1", LEASE)
    assert not claims.set_reply("Ev1", "w1", "1.2")
    assert claims.get("Ev1").status == "answered"
    clock.now = START + TTL
    assert claims.get("Ev1") is None
    assert claims.create_claim("Ev1", TTL) is True


def test_get_after_expiry(claims, clock):
    claims.create_claim("Ev1", 60)
    assert claims.get("Ev1") is not None
    clock.advance(59.5)
    assert claims.get("Ev1") is not None
    clock.advance(0.5)
    assert claims.get("Ev1") is None
    assert claims.get("never") is None


def test_purge_expired(claims, clock):
    for number in range(3):
        claims.create_claim(f"short{number}", 10)
    for number in range(2):
        claims.create_claim(f"long{number}", 100)
    claims.acquire("long0", "w1", LEASE, 100)
    clock.advance(50)
    assert claims.purge_expired() == 3
    assert claims.purge_expired() == 0
    assert claims.get("long0").owner == "w1"
    assert claims.get("long1").status == "queued"
    clock.advance(50)
    assert claims.purge_expired() == 2


@pytest.mark.parametrize("event_id", ["a/b", ".", "..", "__name__", "%41", "A", "Ev 1 é 😀", "x" * 3000])
def test_any_event_id_works(claims, event_id):
    assert claims.create_claim(event_id, TTL)
    assert not claims.create_claim(event_id, TTL)
    assert claims.get(event_id).event_id == event_id
    assert claims.create_claim(event_id + "/", TTL), "a different id is a different claim"


def test_document_ids_are_valid_and_distinct():
    ids = ["a/b", "a%2Fb", ".", "..", "__x__", "_", "%", "é", "A", "a" * 2000, "a" * 2001]
    documents = [document_id(each) for each in ids]
    assert len(set(documents)) == len(ids)
    for each in documents:
        assert "/" not in each and each not in (".", "..") and not each.startswith("__")
        assert 0 < len(each.encode()) <= 1500
    assert document_id("Ev0A1B2C3D") == "Ev0A1B2C3D"
    with pytest.raises(ValueError):
        document_id("")


def test_emulator_resets_and_stops_with_its_java():
    with FirestoreEmulator() as emulator:
        client = emulator.client()
        document = client.collection("things").document("one")
        document.set({"n": 1})
        emulator.reset()
        assert not document.get().exists
        client.close()
        java = emulator.java_pids()
        assert len(java) == 1
        group = os.getpgid(emulator.pid)
        assert group == emulator.pid != os.getpgid(0), "a process group of its own"
        assert os.getpgid(java[0]) == group
    assert not os.path.exists(f"/proc/{java[0]}") or "\nState:\tZ" in open(f"/proc/{java[0]}/status").read()
    assert emulator.java_pids() == []


def test_open_store(tmp_path, request):
    """Each backend opens from its settings, as runtime.py opens it, and works."""
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PRACTICE_MODE": "true"}
    settings = load_settings({**env, "STORE": "sqlite", "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    sqlite = STORE_BACKENDS[settings.state.store].open(settings.state)
    assert isinstance(sqlite, SqliteStore) and sqlite.create_claim("Ev1", TTL)
    with pytest.raises(ConfigError):
        load_settings({**env, "STORE": "redis"})
    request.getfixturevalue("firestore_emulator")  # sets FIRESTORE_EMULATOR_HOST and the project
    settings = load_settings({**env, "STORE": "firestore", "FIRESTORE_COLLECTION": f"open_{uuid.uuid4().hex[:8]}"})
    firestore = STORE_BACKENDS[settings.state.store].open(settings.state)
    try:
        assert firestore.create_claim("Ev1", TTL) and not firestore.create_claim("Ev1", TTL)
    finally:
        firestore.close()


def test_sqlite_purges_now_and_then(tmp_path, clock):
    path = tmp_path / "deeper" / "claims.sqlite3"
    claims = SqliteStore(str(path), now=clock)
    for number in range(PURGE_EVERY - 1):
        claims.create_claim(f"old{number}", 10)
    clock.advance(11)
    claims.create_claim("new", TTL)  # the 100th call purges first
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT event_id FROM claims").fetchall() == [("new",)]


# --- at the same moment -----------------------------------------------------

def _all_at_once(count: int, call: Callable[[int], object]) -> list:
    start = threading.Barrier(count)

    def run(number: int):
        start.wait()
        return call(number)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_concurrent_creates_have_one_winner(make_store):
    instances = [make_store() for _ in range(20)]
    for round_number, before in enumerate(["nothing", "an expired claim", "nothing"]):
        event_id = f"Ev{round_number}"
        if before == "an expired claim":
            instances[0].create_claim(event_id, 0.001)
            time.sleep(0.01)
        results = _all_at_once(20, lambda n: instances[n].create_claim(event_id, TTL))
        assert results.count(True) == 1, before


def test_concurrent_acquires_have_one_winner(make_store):
    instances = [make_store() for _ in range(20)]
    for round_number, before in enumerate(["nothing", "a queued claim", "a lapsed lease", "nothing"]):
        event_id = f"Ev{round_number}"
        if before == "a queued claim":
            instances[0].create_claim(event_id, TTL)
        if before == "a lapsed lease":
            instances[0].acquire(event_id, "dead", 0, TTL)
        results = _all_at_once(20, lambda n: instances[n].acquire(event_id, f"w{n}", LEASE, TTL).outcome)
        assert Counter(results) == {"acquired": 1, "busy": 19}, before
        winner = instances[0].get(event_id)
        assert winner.owner == f"w{results.index('acquired')}"
        assert winner.attempts == (2 if before == "a lapsed lease" else 1)


def _process_worker(path: str, start, results, rounds: int) -> None:
    claims = SqliteStore(path)  # every process opens the file itself, as another instance would
    worker = f"pid{os.getpid()}"
    for number in range(rounds):
        start.wait()
        results.put(("create", number, claims.create_claim(f"Ev{number}", TTL)))
        start.wait()
        results.put(("acquire", number, str(claims.acquire(f"Fresh{number}", worker, LEASE, TTL).outcome)))


def test_processes_sharing_one_sqlite_file_have_one_winner(tmp_path):
    path, processes, rounds = str(tmp_path / "claims.sqlite3"), 4, 25
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Barrier(processes, timeout=60), spawn.Queue()
    workers = [spawn.Process(target=_process_worker, args=(path, start, results, rounds)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(processes * rounds * 2)]
    for worker in workers:
        worker.join(timeout=30)
        assert worker.exitcode == 0
    for number in range(rounds):
        created = [ok for kind, n, ok in outcomes if kind == "create" and n == number]
        acquired = [outcome for kind, n, outcome in outcomes if kind == "acquire" and n == number]
        assert created.count(True) == 1, created
        assert Counter(acquired) == {"acquired": 1, "busy": processes - 1}, acquired

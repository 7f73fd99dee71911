"""Claims on SQLite, the edges tests/unit/state/test_store.py leaves open: how long a claim lives once a worker
holds it, the purge cadence, the lock wait, and which backend the ``STORE`` setting opens."""
from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace

import pytest

from threadwise.config import ConfigError, load_settings
from threadwise.state.backends import STORE_BACKENDS
from threadwise.state.firestore import FirestoreStore
from threadwise.state.sqlite import PURGE_EVERY, SqliteStore
from inprocess import claims, clock  # noqa: F401  (fixtures)
from store_cases import LEASE, START, TTL

pytestmark = pytest.mark.in_process


def test_acquiring_a_short_claim_makes_it_live_as_long_as_the_answer_may(claims, clock):
    claims.create_claim("Ev1", 10)  # the HTTP handler's claim: short
    got = claims.acquire("Ev1", "w1", LEASE, TTL)
    assert got.claim.expires_at == START + TTL
    clock.advance(11)
    assert claims.get("Ev1").owner == "w1", "the claim outlived its first, short TTL"
    assert claims.create_claim("Ev1", TTL) is False


def test_a_lease_longer_than_the_ttl_keeps_the_claim_alive(claims, clock):
    claims.create_claim("Ev1", 10)
    clock.advance(5)
    got = claims.acquire("Ev1", "w1", 60, 10)
    assert (got.claim.lease_until, got.claim.expires_at) == (clock.now + 60, clock.now + 60)
    fresh = claims.acquire("Ev2", "w1", 60, 10)  # no claim before: created by acquire
    assert fresh.claim.expires_at == clock.now + 60


def test_acquire_never_shortens_a_claim(claims, clock):
    claims.create_claim("Ev1", TTL)
    assert claims.acquire("Ev1", "w1", 5, 10).claim.expires_at == START + TTL


def test_renewing_past_the_expiry_extends_it(claims, clock):
    claims.acquire("Ev1", "w1", 5, 10)  # expires at START + 10
    clock.advance(8)
    assert claims.renew("Ev1", "w1", 5)
    assert claims.get("Ev1").expires_at == START + 13
    clock.advance(3)  # past the first expiry, before the renewed one
    assert claims.get("Ev1").owner == "w1"
    assert claims.acquire("Ev1", "w2", 5, 10).outcome == "busy"


def test_renewing_never_shortens_a_claim(claims, clock):
    claims.acquire("Ev1", "w1", LEASE, TTL)
    assert claims.renew("Ev1", "w1", 5)
    assert claims.get("Ev1").expires_at == START + TTL


def _rows(claims: SqliteStore) -> int:
    with sqlite3.connect(claims._path) as db:
        return db.execute("SELECT COUNT(*) FROM claims").fetchone()[0]


def test_purging_happens_every_hundredth_create_and_not_before(claims, clock):
    half = PURGE_EVERY // 2
    for number in range(half - 1):
        claims.create_claim(f"old{number}", 10)
    clock.advance(11)
    claims.create_claim("new", TTL)
    assert _rows(claims) == half, "no purge at the 50th call"
    for number in range(half - 1):
        claims.create_claim(f"new{number}", TTL)
    assert _rows(claims) == PURGE_EVERY - 1
    claims.create_claim("the hundredth", TTL)
    assert _rows(claims) == half + 1, "the 49 expired claims are gone"


def test_an_empty_event_id_is_a_programming_error(claims):
    for call in (lambda: claims.get(""), lambda: claims.create_claim("", TTL),
                 lambda: claims.acquire("", "w1", LEASE, TTL)):
        with pytest.raises(ValueError, match="^event_id must not be empty$"):
            call()


class WriteLockHolder:
    """Another process's writer, as SQLite sees it: holds the file's write lock until released
    (or at most ``seconds``)."""

    def __init__(self, path: str, seconds: float):
        self._release = threading.Event()
        held = threading.Event()

        def hold():
            db = sqlite3.connect(path, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            held.set()
            self._release.wait(seconds)
            db.execute("ROLLBACK")
            db.close()

        self._thread = threading.Thread(target=hold)
        self._thread.start()
        assert held.wait(5)

    def release(self) -> None:
        self._release.set()
        self._thread.join()


def test_a_writer_waits_for_the_lock_only_as_long_as_the_busy_timeout(tmp_path, clock):
    path = str(tmp_path / "claims.sqlite3")
    impatient = SqliteStore(path, now=clock, busy_timeout=0.05)
    holder = WriteLockHolder(path, 3.0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            impatient.create_claim("Ev1", TTL)  # (waiting longer, it would get the lock after 3 s)
    finally:
        holder.release()
    patient = SqliteStore(path, now=clock, busy_timeout=10)
    holder = WriteLockHolder(path, 0.2)
    assert patient.create_claim("Ev1", TTL) is True
    holder.release()


def test_the_file_is_in_wal_mode_so_readers_do_not_wait_for_writers(tmp_path):
    path = str(tmp_path / "claims.sqlite3")
    SqliteStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_the_store_setting_picks_the_backend(tmp_path, clock, monkeypatch):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PRACTICE_MODE": "true"}
    settings = load_settings({**env, "SQLITE_PATH": str(tmp_path / "x.sqlite3")})
    assert settings.state.store == "sqlite", "the default"
    sqlite = STORE_BACKENDS[settings.state.store].open(settings.state, now=clock)
    assert isinstance(sqlite, SqliteStore)
    assert sqlite.create_claim("Ev1", TTL) and sqlite.get("Ev1").expires_at == START + TTL, "the clock given is used"
    assert {name: backend.store_class for name, backend in STORE_BACKENDS.items()} == {
        "sqlite": SqliteStore, "firestore": FirestoreStore}
    # STORE's choices in the settings are exactly the registered backends: a typo fails at start-up.
    with pytest.raises(ConfigError, match=f"STORE must be one of {', '.join(STORE_BACKENDS)}, not 'redis'$"):
        load_settings({**env, "STORE": "redis"})
    # Built without a round trip: the client connects on its first call (none here).
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", "127.0.0.1:9")
    settings = load_settings({**env, "STORE": "firestore", "GOOGLE_CLOUD_PROJECT": "demo-project"})
    firestore = STORE_BACKENDS[settings.state.store].open(settings.state, now=clock)
    assert isinstance(firestore, FirestoreStore)
    assert (firestore._client.project, firestore._collection.id) == ("demo-project", "threadwise_claims")
    assert firestore._now is clock
    named = STORE_BACKENDS["firestore"].open(replace(settings.state, firestore_collection="other_claims"))
    assert named._collection.id == "other_claims"


def test_runtime_opens_the_store_the_settings_name(tmp_path):
    """runtime.py is the one place a backend is picked; it opens the store on first use, not before."""
    from threadwise.runtime import Runtime

    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "PRACTICE_MODE": "true",
           "SQLITE_PATH": str(tmp_path / "lazy" / "x.sqlite3")}
    runtime = Runtime(load_settings(env))
    assert not (tmp_path / "lazy").exists(), "nothing opened yet"
    assert isinstance(runtime.store, SqliteStore) and runtime.store is runtime.store
    assert (tmp_path / "lazy" / "x.sqlite3").exists()

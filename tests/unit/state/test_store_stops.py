"""Stop records on both backends (SQLite, and Firestore in its emulator): how a Stop handled by one
instance reaches an answer running in another (answer_signals.py)."""
from __future__ import annotations

from contextlib import closing

from threadwise.answering.signals import StopBoard, answer_key
from threadwise.state.firestore_documents import document_id, timestamp
from threadwise.state.sqlite import SqliteStore
from threadwise.state.stop_records import StopReason, StopSignal
from store_cases import FakeClock, clock, make_store  # noqa: F401  (the fixtures, on both backends)


def test_a_stop_record_is_read_once_acknowledged(make_store, clock):
    handler, worker = make_store(now=clock), make_store(now=clock)  # two instances, one store
    key = answer_key("C1", "1700000000.000100")
    assert worker.requested_stops([key]) == {}
    handler.request_stop(key, StopReason.STOPPED, "U1", ttl=60)
    handler.request_stop(key, StopReason.SUPERSEDED, "U2", ttl=60)  # the first request wins
    assert worker.requested_stops([key, answer_key("C1", "2.0")]) == {key: StopSignal(StopReason.STOPPED, "U1")}
    assert not handler.stop_acknowledged(key)
    worker.acknowledge_stop(key)
    assert handler.stop_acknowledged(key)
    assert worker.requested_stops([key]) == {}, "acknowledged: not signalled again"


def test_a_stop_record_expires(make_store, clock):
    store = make_store(now=clock)
    key = answer_key("C1", "3.0")
    store.request_stop(key, StopReason.STOPPED, "U1", ttl=60)
    clock.advance(61)
    assert store.requested_stops([key]) == {}


def test_many_keys_are_read_in_batches(make_store, clock):
    store = make_store(now=clock)
    keys = [answer_key("C1", f"{n}.0") for n in range(250)]
    for key in keys[::50]:
        store.request_stop(key, StopReason.DELETED, "", ttl=60)
    assert store.requested_stops(keys) == {key: StopSignal(StopReason.DELETED, None) for key in keys[::50]}


def test_a_board_on_another_instance_reaches_the_running_answer(make_store):
    """The watcher of the instance running the answer signals it and acknowledges; the handler's
    board on the other instance learns that it did."""
    worker_store, handler_store = make_store(), make_store()
    worker, handler = StopBoard(records=lambda: worker_store), StopBoard(records=lambda: handler_store)
    running = worker.start("C9", "5.0")
    heard = []
    running.listen(heard.append)
    assert handler.reach("C9", "5.0", StopSignal(StopReason.STOPPED, "U1"), wait=5.0)
    assert heard == [StopSignal(StopReason.STOPPED, "U1")]
    assert not handler.reach("C9", "6.0", StopSignal(StopReason.STOPPED, "U1"), wait=0.5), "nobody runs that one"
    worker.end(running)


def _stored_reasons(store) -> dict[str, str]:
    """The stop records' ``reason`` as the backend holds it (a row's text, a document's field)."""
    if isinstance(store, SqliteStore):
        with closing(store._connect()) as db:
            return dict(db.execute("SELECT key, reason FROM stops").fetchall())
    return {d.get("key"): d.get("reason") for d in (doc.to_dict() for doc in store._stops().stream())}


def _store_raw(store, key: str, reason: str, now: float) -> None:
    """A record as another release of the bot may have written it."""
    if isinstance(store, SqliteStore):
        with closing(store._connect()) as db:
            db.execute("INSERT INTO stops VALUES (?, ?, '', 0, ?)", (key, reason, now + 60))
        return
    store._stops().document(document_id(key)).create({"key": key, "reason": reason, "stopped_by": "",
                                                      "acknowledged": False, "expires_at": timestamp(now + 60)})


def test_a_reason_is_stored_as_its_word(make_store, clock):
    """A process of the previous release reads the records during a deploy: the stored text stays."""
    store = make_store(now=clock)
    keys = {reason: answer_key("C1", f"{n}.0") for n, reason in enumerate(StopReason)}
    for reason, key in keys.items():
        store.request_stop(key, reason, "U1", ttl=60)
    stored = _stored_reasons(store)
    assert stored == {keys[StopReason.STOPPED]: "stopped", keys[StopReason.SUPERSEDED]: "superseded",
                      keys[StopReason.DELETED]: "deleted", keys[StopReason.TAKEN_OVER]: "taken_over"}
    assert all(type(text) is str for text in stored.values())
    assert all(signal.reason is reason for reason, signal in
               ((reason, store.requested_stops([key])[key]) for reason, key in keys.items()))


def test_records_written_by_another_release_read_back_typed(make_store, clock):
    store = make_store(now=clock)
    known, unknown = answer_key("C2", "1.0"), answer_key("C2", "2.0")
    _store_raw(store, known, "superseded", clock())
    _store_raw(store, unknown, "a_newer_reason", clock())  # a word this release does not know
    found = store.requested_stops([known, unknown])
    assert found[known].reason is StopReason.SUPERSEDED
    assert found[unknown] == StopSignal(StopReason.STOPPED, None), "read as a person's Stop, as it always was"

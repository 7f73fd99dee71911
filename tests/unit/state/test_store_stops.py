"""Stop records on both backends (SQLite, and Firestore in its emulator): how a Stop handled by one
instance reaches an answer running in another (answer_signals.py)."""
from __future__ import annotations

from threadwise.answering.signals import StopBoard, answer_key
from threadwise.state.stop_records import StopSignal
from store_cases import FakeClock, clock, make_store  # noqa: F401  (the fixtures, on both backends)
from firestore_emulator import firestore_emulator  # noqa: F401  (the session fixture)


def test_a_stop_record_is_read_once_acknowledged(make_store, clock):
    handler, worker = make_store(now=clock), make_store(now=clock)  # two instances, one store
    key = answer_key("C1", "1700000000.000100")
    assert worker.requested_stops([key]) == {}
    handler.request_stop(key, "stopped", "U1", ttl=60)
    handler.request_stop(key, "superseded", "U2", ttl=60)  # the first request wins
    assert worker.requested_stops([key, answer_key("C1", "2.0")]) == {key: StopSignal("stopped", "U1")}
    assert not handler.stop_acknowledged(key)
    worker.acknowledge_stop(key)
    assert handler.stop_acknowledged(key)
    assert worker.requested_stops([key]) == {}, "acknowledged: not signalled again"


def test_a_stop_record_expires(make_store, clock):
    store = make_store(now=clock)
    key = answer_key("C1", "3.0")
    store.request_stop(key, "stopped", "U1", ttl=60)
    clock.advance(61)
    assert store.requested_stops([key]) == {}


def test_many_keys_are_read_in_batches(make_store, clock):
    store = make_store(now=clock)
    keys = [answer_key("C1", f"{n}.0") for n in range(250)]
    for key in keys[::50]:
        store.request_stop(key, "deleted", "", ttl=60)
    assert store.requested_stops(keys) == {key: StopSignal("deleted", None) for key in keys[::50]}


def test_a_board_on_another_instance_reaches_the_running_answer(make_store):
    """The watcher of the instance running the answer signals it and acknowledges; the handler's
    board on the other instance learns that it did."""
    worker_store, handler_store = make_store(), make_store()
    worker, handler = StopBoard(records=lambda: worker_store), StopBoard(records=lambda: handler_store)
    running = worker.start("C9", "5.0")
    heard = []
    running.listen(heard.append)
    assert handler.reach("C9", "5.0", StopSignal("stopped", "U1"), wait=5.0)
    assert heard == [StopSignal("stopped", "U1")]
    assert not handler.reach("C9", "6.0", StopSignal("stopped", "U1"), wait=0.5), "nobody runs that one"
    worker.end(running)

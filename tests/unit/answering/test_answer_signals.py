"""Stop, Delete and a newer question reaching a running answer, in-process (answer_signals): the
answer's line (first signal wins), the board of the answers a process runs, and stop records in a real
SqliteStore for the answers another process runs. "Another process" is another StopBoard on its own
SqliteStore over the same file: what they share is only the file, as two workers share the store."""
from __future__ import annotations

import threading

import pytest

from threadwise.answering.signals import ACKNOWLEDGE_WAIT, RunningAnswer, StopBoard, answer_key
from threadwise.state.stop_records import StopReason, StopSignal
from inprocess import clock, eventually  # noqa: F401  (clock: a fixture)
from threadwise.state.sqlite import SqliteStore

pytestmark = pytest.mark.in_process

STOPPED = StopSignal(StopReason.STOPPED, "U1")


from signal_boards import here, started, stores, there  # noqa: F401  (fixtures)


# --- one answer's line ---------------------------------------------------------------------

def test_the_first_signal_wins_and_every_listener_hears_it_once():
    answer = RunningAnswer("C1", "1.000001")
    assert (answer.key, answer.thread_ts, answer.stop) == ("C1:1.000001", "1.000001", None)
    heard: list[tuple[str, StopSignal]] = []
    answer.listen(lambda stop: heard.append(("first", stop)))
    answer.listen(lambda stop: heard.append(("second", stop)))
    assert answer.signal(STOPPED) is True
    assert answer.signal(StopSignal(StopReason.DELETED, "U1")) is False, "a later signal changes nothing"
    assert answer.stop == STOPPED
    assert heard == [("first", STOPPED), ("second", STOPPED)]


def test_a_listener_that_comes_after_the_signal_hears_it_at_once():
    answer = RunningAnswer("C1", "1.000001", "1.000000")
    assert answer.thread_ts == "1.000000"
    answer.signal(STOPPED)
    heard: list[StopSignal] = []
    answer.listen(heard.append)
    assert heard == [STOPPED]


def test_a_failing_listener_does_not_keep_the_others_from_hearing():
    answer = RunningAnswer("C1", "1.000001")
    heard: list[StopSignal] = []

    def broken(stop):
        raise RuntimeError("the model stream is already closed")

    answer.listen(broken)
    answer.listen(heard.append)
    assert answer.signal(STOPPED) is True
    assert heard == [STOPPED]
    answer.listen(broken)  # (after the signal: called at once, and quietly too)


# --- the board of this process -----------------------------------------------------------

def test_one_answer_per_question_until_it_ends(started):
    board = StopBoard()
    answer = started(board, "C1", "1.000001")
    assert started(board, "C1", "1.000001") is answer, "the same question finds the same answer"
    assert board.runs_here("C1", "1.000001")
    assert not board.runs_here("C1", "1.000002") and not board.runs_here("C2", "1.000001")
    board.end(answer)
    assert not board.runs_here("C1", "1.000001")
    assert board.signal_here("C1", "1.000001", STOPPED) is False, "an ended answer is not signalled"
    assert answer.stop is None


def test_ending_an_answer_that_was_replaced_keeps_its_successor(started):
    board = StopBoard()
    stopped = started(board, "C1", "1.000001")
    assert board.signal_here("C1", "1.000001", STOPPED)
    again = started(board, "C1", "1.000001")  # the same question answered anew after the stop
    assert again is not stopped and again.stop is None
    board.end(stopped)
    assert board.runs_here("C1", "1.000001")
    assert board.signal_here("C1", "1.000001", StopSignal(StopReason.DELETED, "U1"))
    assert again.stop == StopSignal(StopReason.DELETED, "U1")


def test_signal_here_stops_only_the_answer_this_process_runs(started):
    board = StopBoard()
    answer = started(board, "C1", "1.000001")
    other = started(board, "C1", "1.000002")
    assert board.signal_here("C1", "1.000001", STOPPED) is True
    assert board.signal_here("C1", "1.000001", StopSignal(StopReason.DELETED, "U1")) is False, "already stopped"
    assert board.signal_here("C9", "1.000001", STOPPED) is False
    assert (answer.stop, other.stop) == (STOPPED, None)


def test_a_newer_question_stops_only_the_askers_earlier_answers_in_its_thread(started):
    board = StopBoard()
    thread = "1700000000.000100"
    earlier = started(board, "C1", "1700000000.000100", thread, "U3")  # the thread's first question
    also_earlier = started(board, "C1", "1700000000.000105", thread, "U3")
    someone_elses = started(board, "C1", "1700000000.000104", thread, "U4")  # waited for, never stopped
    later = started(board, "C1", "1700000000.000120", thread, "U3")  # asked after the newer question
    other_thread = started(board, "C1", "1700000000.000101", "1700000000.000101", "U3")
    other_channel = started(board, "C2", "1700000000.000102", thread, "U3")
    superseded = StopSignal(StopReason.SUPERSEDED, "U3")
    assert board.supersede_here("C1", thread, "1700000000.000110", superseded, asker="U3") == 2
    assert (earlier.stop, also_earlier.stop) == (superseded, superseded)
    assert [a.stop for a in (someone_elses, later, other_thread, other_channel)] == [None, None, None, None]
    assert board.supersede_here("C1", thread, "1700000000.000110", superseded, asker="U3") == 0, "each once"
    assert board.earlier_here("C1", thread, "1700000000.000110") == [earlier, also_earlier, someone_elses]
    assert not someone_elses.ended.is_set()
    board.end(someone_elses)
    assert someone_elses.ended.is_set(), "a question waiting for it goes on"
    assert board.earlier_here("C1", thread, "1700000000.000110") == [earlier, also_earlier]


def test_reach_stops_an_answer_running_here_at_once_without_a_record(stores, here, started):
    answer = started(here, "C1", "1.000001")
    assert here.reach("C1", "1.000001", STOPPED) is True
    assert answer.stop == STOPPED
    key = answer_key("C1", "1.000001")
    assert stores[0].requested_stops([key]) == {} and not stores[0].stop_acknowledged(key), "no record at all"


def test_without_a_store_only_this_process_can_be_reached():
    board = StopBoard()
    assert board.reach("C1", "1.000001", STOPPED) is False
    assert board.request_elsewhere("C1", "1.000001", STOPPED, wait=1.0) is False


def test_a_stop_nobody_acknowledges_is_left_as_a_record_and_reported_false(stores, here):
    key = answer_key("C1", "1.000001")
    assert here.reach("C1", "1.000001", STOPPED, wait=0.3) is False
    assert stores[1].requested_stops([key]) == {key: STOPPED}, "another process reads it"
    assert not stores[1].stop_acknowledged(key)


def test_a_stop_record_reaches_the_answer_another_process_runs(stores, here, there, started):
    answer = started(there, "C1", "1.000001")
    assert not here.runs_here("C1", "1.000001")
    assert here.reach("C1", "1.000001", STOPPED) is True, f"acknowledged within {ACKNOWLEDGE_WAIT} s"
    assert answer.stop == STOPPED
    key = answer_key("C1", "1.000001")
    assert stores[0].stop_acknowledged(key)
    assert stores[1].requested_stops([key]) == {}, "an acknowledged record is not read again"


def test_an_answer_that_starts_after_the_record_reads_it_too(here, there, started):
    assert here.request_elsewhere("C1", "1.000001", StopSignal(StopReason.DELETED, "U1"), wait=0.0) is False
    answer = started(there, "C1", "1.000001")  # (it waited for a model slot meanwhile)
    assert eventually(lambda: answer.stop, 3) == StopSignal(StopReason.DELETED, "U1")


def test_the_first_stop_requested_wins_and_records_of_answers_run_elsewhere_stay_unacknowledged(stores, here, there, started):
    answer = started(there, "C1", "1.000001")
    mine, other = answer_key("C1", "1.000001"), answer_key("C1", "1.000002")
    stores[0].request_stop(other, StopReason.STOPPED, "U1", 60)  # an answer nobody runs
    stores[0].request_stop(mine, StopReason.SUPERSEDED, "U3", 60)
    stores[0].request_stop(mine, StopReason.STOPPED, "U1", 60)
    assert eventually(lambda: stores[0].stop_acknowledged(mine), 3)
    assert answer.stop == StopSignal(StopReason.SUPERSEDED, "U3")
    assert not stores[0].stop_acknowledged(other), "not this process's to acknowledge"


def test_an_idle_watcher_wakes_for_a_new_answer(here, there, started):
    there.end(started(there, "C1", "1.000001"))
    assert eventually(lambda: not there.runs_here("C1", "1.000001"))
    threading.Event().wait(0.5)  # its watcher found nothing to watch and waits (up to 5 s) for an answer
    answer = started(there, "C1", "1.000002")
    assert here.reach("C1", "1.000002", STOPPED) is True, f"acknowledged within {ACKNOWLEDGE_WAIT} s"
    assert answer.stop == STOPPED


def test_the_watcher_goes_on_after_the_store_failed_once(stores, started):
    failures = [RuntimeError("database is locked")]

    def records():
        if failures:
            raise failures.pop()
        return stores[1]

    board = StopBoard(records=records, watch_interval=0.05)
    answer = started(board, "C1", "1.000001")
    stores[0].request_stop(answer.key, StopReason.STOPPED, "U1", 60)
    assert eventually(lambda: answer.stop, 3) == STOPPED
    assert failures == []


def test_stop_records_expire(tmp_path, clock):
    store = SqliteStore(str(tmp_path / "claims.sqlite3"), now=clock)
    key = answer_key("C1", "1.000001")
    store.request_stop(key, StopReason.STOPPED, "", 10)
    assert store.requested_stops([key, "C1:9.0"]) == {key: StopSignal(StopReason.STOPPED, None)}, "no name: None"
    clock.advance(11)
    assert store.requested_stops([key]) == {}


def test_many_answers_are_read_in_batches(stores):
    keys = [answer_key("C1", f"1.{n:06d}") for n in range(250)]
    stopped = [keys[n] for n in (0, 98, 99, 100, 199, 200, 249)]  # at the edges of the reads
    for key in stopped:
        stores[0].request_stop(key, StopReason.STOPPED, "U1", 60)
    assert set(stores[1].requested_stops(keys)) == set(stopped)


def test_watchers_of_two_processes_each_acknowledge_their_own(stores, here, there, started):
    mine, theirs = started(here, "C1", "1.000001"), started(there, "C1", "1.000002")
    acknowledged: list[bool] = []
    asking = threading.Thread(target=lambda: acknowledged.append(
        here.request_elsewhere("C1", "1.000002", STOPPED, 3.0)), daemon=True)
    asking.start()
    assert there.request_elsewhere("C1", "1.000001", StopSignal(StopReason.DELETED, "U1"), 3.0)
    asking.join(5)
    assert acknowledged == [True]
    assert (mine.stop, theirs.stop) == (StopSignal(StopReason.DELETED, "U1"), STOPPED)

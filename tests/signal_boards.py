"""Stop boards of two processes sharing one store file, and answers running on them (fixtures)."""
from __future__ import annotations

import pytest

from threadwise.answering.signals import RunningAnswer, StopBoard
from threadwise.state.sqlite import SqliteStore


@pytest.fixture
def started():
    """``started(board, channel, question, thread, asker)``: an answer running on ``board``, ended after the test
    (a board's watcher reads the store for as long as it runs answers)."""
    running: list[tuple[StopBoard, RunningAnswer]] = []

    def start(board: StopBoard, channel: str, question: str, thread: str | None = None,
              asker: str | None = None) -> RunningAnswer:
        answer = board.start(channel, question, thread, asker)
        running.append((board, answer))
        return answer

    yield start
    for board, answer in running:
        board.end(answer)


@pytest.fixture
def stores(tmp_path):
    """Two processes' stores on one SQLite file: (here, there)."""
    path = str(tmp_path / "claims.sqlite3")
    return SqliteStore(path), SqliteStore(path)


@pytest.fixture
def here(stores) -> StopBoard:
    return StopBoard(records=lambda: stores[0])


@pytest.fixture
def there(stores) -> StopBoard:
    return StopBoard(records=lambda: stores[1])

"""The SQLite write transaction every change in the SQLite store runs in: claims (``sqlite.py``) and
the shared budget's buckets (``budget.py``).

``BEGIN IMMEDIATE`` takes the database's write lock before reading, so two
writers never decide on the same old row; the connection's busy timeout makes
the second one wait for the lock instead of failing.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """Read, decide and write as one: committed when the block ends, rolled back when it raises.
    The connection must be opened with ``isolation_level=None`` (we issue BEGIN ourselves)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")

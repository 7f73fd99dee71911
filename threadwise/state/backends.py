"""The store backends, by the name ``STORE`` gives: the one declaration of what there is and how each
opens from the settings. ``runtime.py`` opens the one the settings name.

Adding a backend: its module implementing ``store.Store``, one line here, its name among
``STORE``'s choices (``StoreBackend`` in ``config/groups.py``; a test checks the two agree), and its tests.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from threadwise.config.groups import StateSettings
from threadwise.state.firestore import FirestoreStore
from threadwise.state.sqlite import SqliteStore
from threadwise.state.store import Clock, Store


@dataclass(frozen=True)
class Backend:
    store_class: type  # implements store.Store
    opens: Callable[[StateSettings, Clock], Store]  # from the settings this backend reads

    def open(self, settings: StateSettings, now: Clock = time.time) -> Store:
        return self.opens(settings, now)


STORE_BACKENDS: dict[str, Backend] = {
    # One local file: the embedded default, for one instance or processes sharing a disk.
    "sqlite": Backend(SqliteStore, lambda s, now: SqliteStore(s.sqlite_path, now=now)),
    # Shared by every instance (Cloud Functions with DISPATCH=pubsub).
    "firestore": Backend(FirestoreStore, lambda s, now: FirestoreStore(
        collection=s.firestore_collection, project=s.google_cloud_project, now=now)),
}

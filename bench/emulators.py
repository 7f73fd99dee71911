"""The Pub/Sub and Firestore emulators for the ``DISPATCH=pubsub`` benchmarks (pubsub_bench.py,
responsiveness_pubsub.py), each on the stack of things to stop before anything can interrupt its start."""
from __future__ import annotations

from pathlib import Path

from firestore_emulator import FirestoreEmulator  # tests/firestore_emulator.py
from lifecycle import signals_deferred
from pubsub_emulator import PubSubEmulator  # tests/pubsub_emulator.py


def start_emulators(log_dir: Path, stack: list) -> tuple[PubSubEmulator, FirestoreEmulator]:
    # Signals deferred: the emulators' Java children are on the stack (their ``stop`` ends the whole
    # process group) before a Ctrl-C can interrupt.
    with signals_deferred():
        pubsub = PubSubEmulator()
        stack.append(pubsub.stop)
    with signals_deferred():
        firestore = FirestoreEmulator(log_dir=str(log_dir))
        stack.append(firestore.stop)  # a no-op until it has started
        firestore.start()
    return pubsub, firestore

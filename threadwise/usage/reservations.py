"""Money set aside for answers being written, so that answers starting together do not all pass on the
same remaining budget.

An answer admitted by its budgets reserves its worst case on each of them until its usage is recorded
(``settle``); the next answer's check counts those reservations as spent. Per process: another
instance's running answers are not seen here, only once their entries are in the ledger (so across
instances a budget can be overrun by the answers that started at the same moment, at most their
worst cases).

The check reads what was spent from the store outside the lock (a Firestore read must not hold every
other answer's check), then decides and reserves under the lock. An answer settled between that read
and the lock would be counted neither as spent nor as reserved: the check then reads again.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable

from threadwise.usage.budgets import Budget, Standing, first_over

READ_AGAIN = 2  # reads outside the lock before one is made holding it
STALE_AFTER = 3600.0  # seconds: a reservation whose answer never settled (a crash) stops counting


@dataclass(frozen=True)
class Admission:
    refusing: Standing | None  # None: admitted, its worst case reserved
    standings: tuple[Standing, ...]  # every budget as the decision saw it


@dataclass(frozen=True)
class _Held:
    keys: frozenset[str]  # the budgets' keys
    amount: Decimal
    since: float


class Reservations:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {}  # answer id → its reservation
        self._settled = 0  # how many reservations were let go: a read that straddles one is read again

    def admit(self, answer_id: str, budgets: tuple[Budget, ...], worst: Decimal,
              read_spent: Callable[[tuple[Budget, ...]], list[Decimal]]) -> Admission:
        """Reserve ``worst`` on every budget, or refuse (nothing reserved) when one has no room for it.
        ``read_spent``: the ledger's sums for the budgets this month, in their order (one read for all)."""
        def read() -> dict[str, Decimal]:
            return dict(zip((budget.key for budget in budgets), read_spent(budgets), strict=True))

        for _ in range(READ_AGAIN):
            with self._lock:
                settled_before = self._settled
            spent = read()
            with self._lock:
                if self._settled == settled_before:
                    return self._decide(answer_id, budgets, worst, spent)
        with self._lock:  # answers keep settling meanwhile: read once more, holding the lock
            return self._decide(answer_id, budgets, worst, read())

    def _decide(self, answer_id: str, budgets: tuple[Budget, ...], worst: Decimal,
                spent: dict[str, Decimal]) -> Admission:
        standings = tuple(Standing(b, spent[b.key], self._reserved_on(b.key, answer_id)) for b in budgets)
        refusing = first_over(standings, worst)
        if refusing is None:
            self._held[answer_id] = _Held(frozenset(b.key for b in budgets), worst, self._clock())
        return Admission(refusing, standings)

    def settle(self, answer_id: str) -> None:
        """The answer's usage is recorded (or it made no request): its reservation is let go."""
        with self._lock:
            if self._held.pop(answer_id, None) is not None:
                self._settled += 1

    def reserved(self, budget_key: str) -> Decimal:
        with self._lock:
            return self._reserved_on(budget_key, None)

    def _reserved_on(self, key: str, besides: str | None) -> Decimal:
        now = self._clock()
        for stale in [a for a, held in self._held.items() if now - held.since > STALE_AFTER]:
            del self._held[stale]
        return sum((h.amount for a, h in self._held.items() if key in h.keys and a != besides), Decimal(0))

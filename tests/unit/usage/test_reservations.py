"""Reservations (issue 15, item 3): answers starting together in one process do not all pass on the same
remaining money; a settled answer's money is counted once, never missed."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from threadwise.usage.budgets import Budget, Scope
from threadwise.usage.reservations import STALE_AFTER, Reservations

pytestmark = pytest.mark.in_process

USER = Budget(Scope.USER, "U1", "T1", Decimal("1.00"))
CHANNEL = Budget(Scope.CHANNEL, "C1", "T1", Decimal("100"))


def nothing_spent(budgets: tuple[Budget, ...]) -> list[Decimal]:
    return [Decimal(0)] * len(budgets)


def test_concurrent_answers_do_not_share_the_same_remaining_money():
    """$1 left, each answer's worst case $0.30: of ten answers starting together, three may go."""
    reservations = Reservations()
    start = threading.Barrier(10)
    admitted = []

    def answer(n: int) -> None:
        start.wait()
        if reservations.admit(f"Ev{n}", (USER,), Decimal("0.30"), nothing_spent).refusing is None:
            admitted.append(n)

    threads = [threading.Thread(target=answer, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 3
    assert reservations.reserved(USER.key) == Decimal("0.90")


def test_settling_gives_the_money_back_and_only_the_budgets_it_was_on():
    reservations = Reservations()
    assert reservations.admit("Ev1", (USER, CHANNEL), Decimal("0.60"), nothing_spent).refusing is None
    refused = reservations.admit("Ev2", (USER,), Decimal("0.60"), nothing_spent).refusing
    assert refused is not None and refused.reserved == Decimal("0.60")
    assert reservations.reserved(CHANNEL.key) == Decimal("0.60")
    assert reservations.reserved("T1:user:U2") == 0
    reservations.settle("Ev1")
    reservations.settle("Ev1")  # (twice: nothing more happens)
    assert reservations.reserved(USER.key) == 0 and reservations.reserved(CHANNEL.key) == 0
    assert reservations.admit("Ev2", (USER,), Decimal("0.60"), nothing_spent).refusing is None


def test_an_answer_settled_during_the_read_is_read_again():
    """Ev1 is recorded ($0.50) and settled while Ev2's read is on its way: the read saw neither its entry nor,
    by the decision, its reservation. The check reads again, and sees the entry."""
    reservations = Reservations()
    ledger = {"spent": Decimal(0)}
    reservations.admit("Ev1", (USER,), Decimal("0.50"), lambda budgets: [ledger["spent"]] * len(budgets))
    reads = []

    def read(budgets: tuple[Budget, ...]) -> list[Decimal]:
        seen = ledger["spent"]
        reads.append(seen)
        if len(reads) == 1:  # Ev1 ends now: its cost is recorded, then its reservation let go
            ledger["spent"] = Decimal("0.50")
            reservations.settle("Ev1")
        return [seen] * len(budgets)

    refused = reservations.admit("Ev2", (USER,), Decimal("0.60"), read).refusing
    assert reads == [Decimal(0), Decimal("0.50")]
    assert refused is not None and refused.spent == Decimal("0.50")


def test_a_reservation_never_settled_stops_counting_after_an_hour():
    now = [0.0]
    reservations = Reservations(clock=lambda: now[0])
    reservations.admit("Ev1", (USER,), Decimal("0.90"), nothing_spent)
    assert reservations.admit("Ev2", (USER,), Decimal("0.20"), nothing_spent).refusing is not None
    now[0] = STALE_AFTER + 1
    assert reservations.admit("Ev2", (USER,), Decimal("0.20"), nothing_spent).refusing is None


def test_a_refused_answer_reserves_nothing():
    reservations = Reservations()
    admission = reservations.admit("Ev1", (USER,), Decimal("2"), nothing_spent)
    assert admission.refusing is not None and admission.standings[0].budget == USER
    assert reservations.reserved(USER.key) == 0

"""What an interaction's handler may use, as a protocol: the runtime provides it.

``threadwise.runtime.Runtime`` has these attributes (and more); tests pass their
own small object. An interaction that needs something more (say, handing work to
a worker) names it here, and the runtime already has it or gains it: the
transports and the other handlers stay as they are.
"""
from __future__ import annotations

from typing import Callable, Protocol

from slack_client import SlackGateway
from threadwise.answering.signals import StopBoard
from threadwise.config import Settings
from threadwise.state.usage_records import UsageLedger


class Services(Protocol):
    slack: SlackGateway  # every Web API call; a person's writes pass with priority USER_ACTION
    stops: StopBoard  # the answers running here, and the stop records for those running elsewhere
    store: UsageLedger  # the usage ledger (App Home, its CSV button); the runtime's store is one
    settings: Settings  # App Home reads its usage group (admins, budgets, seat price)

    def run_soon(self, job: Callable[[], object], wait: float = 0.0) -> None:
        """Work the acknowledgement must not wait long for (Slack wants it within 3 s), in a thread of this
        process; ``wait``: return when it is done or after that many seconds."""
        ...

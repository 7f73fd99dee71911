"""Every interaction on a message, declared once: its id, how it comes, its handler, its name.

The callback_ids and action_ids are contracts (DESIGN.md): the manifests
declare the shortcuts (``tests/unit/interactions/test_interaction_registry.py`` checks that
they declare exactly these, with these names and descriptions), Slack sends the
ids back, and operators find them in the logs. The events parser asks
``registered`` whether an id is ours (an unknown one is ignored and logged as
such); ``dispatch`` runs its handler; the playground's message menu lists
``SHORTCUTS``. A new interaction is its own module and one line here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from threadwise.interactions import delete, home, stop
from threadwise.interactions.home_view import CSV_ACTION_ID, CSV_BUTTON_TEXT
from threadwise.interactions.notices import tell
from threadwise.interactions.services import Services
from threadwise.slack.events import MessageAction, Via
from threadwise.slack.home_events import HomeAction
from threadwise.slack.refusals import MissingScope
from threadwise.slack.reply_format import STOP_BUTTON_ACTION_ID

# A message's interaction gets a MessageAction; a Home button (Via.HOME) a HomeAction.
Handler = Callable[[MessageAction | HomeAction, Services], None]


@dataclass(frozen=True)
class Interaction:
    id: str  # a shortcut's callback_id, a button's action_id
    via: Via
    handler: Handler
    name: str  # a shortcut's name in the message menu, as the manifests state it; a button's label
    description: str  # as the manifests state it (a shortcut's); what the button does


INTERACTIONS = (
    Interaction("abort_openai_api", Via.SHORTCUT, stop.handle, "Stop generating",
                "Stop an answer that is still being written"),
    Interaction(STOP_BUTTON_ACTION_ID, Via.BUTTON, stop.handle, "Stop",
                "The button under an answer still being written"),
    Interaction("delete_message", Via.SHORTCUT, delete.handle, "Delete message",
                "Delete one of Threadwise's answers (only the person who asked)"),
    Interaction(CSV_ACTION_ID, Via.HOME, home.export_csv, CSV_BUTTON_TEXT,
                "App Home, admins only: the month's usage ledger as a CSV file in their DM"),
)

_BY_KEY = {(i.via, i.id): i for i in INTERACTIONS}  # (one entry a key: test_interaction_registry.py checks)

# The message shortcuts, in the order of the manifests' message menu.
SHORTCUTS = tuple(i for i in INTERACTIONS if i.via is Via.SHORTCUT)


def registered(via: Via, interaction_id: str) -> bool:
    """For the events parser (``slack.events.parse_interaction``): is this one of ours?"""
    return (via, interaction_id) in _BY_KEY


def dispatch(action: MessageAction | HomeAction, services: Services) -> None:
    """Run the handler registered for ``action`` (the parser lets only registered ones through).
    A permission the app lacks is told to the person who clicked, whichever handler ran into it."""
    interaction = _BY_KEY[(Via.HOME if isinstance(action, HomeAction) else action.via, action.id)]
    try:
        interaction.handler(action, services)
    except MissingScope as missing:  # (logged with the scope) the person who clicked learns why nothing happened
        if not isinstance(action, MessageAction):  # (a Home button has no thread: its handler tells the person)
            raise
        tell(services.slack, action, missing.sentence)

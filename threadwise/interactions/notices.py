"""What the person who clicked is told when an interaction changes nothing (or less than asked).

Every interaction is done while a person waits (and within Slack's 3 seconds): a
sentence they can act on is the only feedback they get, so it says what really
happened, never a hopeful "done".
"""
from __future__ import annotations

from slack_client import SlackGateway
from threadwise.slack.events import MessageAction

NOT_A_REPLY = "This works only on Threadwise's answers; nothing was changed."
SLACK_BUSY = "Slack is too busy to {verb} the answer right now; nothing was changed. Please try again in a moment."
# A person's own writes wait out Slack's 429 for at most this long (Slack wants its 200 within 3 s).
PERSON_WAITS = 2.0


def tell(slack: SlackGateway, action: MessageAction, text: str) -> None:
    """A note only the person who clicked sees, in the thread of the message they clicked on."""
    slack.post_ephemeral(action.channel, action.user, text, thread_ts=action.message.thread_ts)

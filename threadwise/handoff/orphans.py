"""Placeholders orphaned by a crash, found and removed by the redelivery.

A worker posts its placeholder and then records it in the claim
(``store.set_reply``). Dying between the two leaves a reply with a Stop button
and no text that no claim knows of; the redelivery would post a second one
beside it. So a worker that takes a claim over looks for the bot's own
placeholders to the same question first and deletes them.

Deleted, not reused: the worker that posted one may not be dead but stalled
past its lease. Such a worker finds the claim taken when it records its
placeholder and deletes that placeholder itself; had the new owner adopted it,
that deletion would remove the answer being written. Deleting on both sides
leaves exactly the new owner's reply, whoever comes first.
"""
from __future__ import annotations

from threadwise import logs
from threadwise.slack.events import REPLY_EVENT_TYPE, Ask
from threadwise.slack.reply_format import STATUS_STREAMING
from slack_client import SlackGateway
from threadwise.slack.messages import SlackMessage
from threadwise.slack.refusals import MissingScope

log = logs.get(__name__)


def is_placeholder_for(message: SlackMessage, ask: Ask) -> bool:
    """A first part, still streaming, of a reply to this person's question (by its metadata)."""
    meta = message.metadata
    if meta is None or meta.event_type != REPLY_EVENT_TYPE:
        return False
    payload = meta.payload
    return (payload.get("question") == ask.ts and payload.get("asker") == ask.user
            and payload.get("status") == STATUS_STREAMING and "answer" not in payload)


def remove_orphaned_placeholders(ask: Ask, slack: SlackGateway, keep: str | None) -> int:
    """Delete the bot's streaming placeholders for ``ask`` other than ``keep`` (the claim's reply)."""
    try:
        thread = slack.thread(ask.channel, ask.thread_ts)
    except MissingScope:  # (logged with the scope) unseen orphans stay; the answer itself goes on
        return 0
    orphans = [m for m in thread if m.ts != keep and is_placeholder_for(m, ask) and slack.is_own(m)]
    for orphan in orphans:
        slack.delete(ask.channel, orphan.ts)
    if orphans:
        log.info("orphaned placeholders removed", event_id=ask.event_id, count=len(orphans))
    return len(orphans)

"""Slack's rate tiers, as the stand-in enforces them in every end-to-end test (the production configuration).

From /work/shared/SLACK_FACTS.md: limits are per method, per workspace, per app; Tier 2 ≈ 20 a
minute, Tier 3 ≈ 50, Tier 4 ≈ 100, "with short bursts allowed"; chat.update and
conversations.replies are Tier 3 (so are chat.delete and conversations.info in Slack's method
reference), chat.postMessage is about one a second per channel, chat.startStream and
chat.stopStream Tier 2, chat.appendStream Tier 4. (conversations.replies is far lower for
commercially distributed apps outside the Marketplace since 2025; Threadwise is a team's own app.)
assistant.threads.setStatus is of the "special" tier with no number documented
(/work/shared/AI_SURFACE_FACTS.md): it is modelled as Tier 4, the tier of its siblings
assistant.threads.setTitle and setSuggestedPrompts.

Bursts: Slack documents the tiers as "50+ per minute" and so on, with bursts allowed, and answers
a burst that is too much with 429 + Retry-After; it does not say how big a burst may be. Issue 13
settles the model the stand-in enforces: each workspace-wide tier allows a burst as big as its
per-minute rate (a client may spend a whole minute's calls at once, then one every 60/rate
seconds). chat.postMessage is limited per channel, about one a second, with a small burst of 2
("short bursts >1 allowed"). The bot's own budget (slack_budget.py, not set by the tests) has to
keep every answer within them; a test that needs other limits on either side says so and why.
"""
from __future__ import annotations

from contextlib import contextmanager

SLACK_TIERS = {  # calls a minute
    "chat.update": 50, "chat.delete": 50, "conversations.replies": 50, "conversations.info": 50,
    "conversations.open": 50,  # Tier 3 (Slack's method reference): a DM to an admin
    "chat.postMessage": 60,  # about one a second, per channel
    "chat.startStream": 20, "chat.appendStream": 100, "chat.stopStream": 20,
    "assistant.threads.setStatus": 100,  # "special", undocumented: modelled as Tier 4 (see above)
    # App Home: views.publish and the file upload's two methods are Tier 4 (AI_SURFACE_FACTS.md C, G).
    "views.publish": 100,
    # Who will read an answer (answering/audience.py): Tier 4 both (Slack's method reference); the bot
    # does not budget them but looks each person up at most once in slack/people.py's PERSON_TTL.
    "users.info": 100, "conversations.members": 100,
    "files.getUploadURLExternal": 100, "files.completeUploadExternal": 100,
}
PER_CHANNEL = ("chat.postMessage",)
# The burst of a workspace-wide tier is its per-minute rate; chat.postMessage's, per channel, is 2.
SLACK_BURSTS = {method: (2 if method in PER_CHANNEL else rate) for method, rate in SLACK_TIERS.items()}


def enforce_slack_tiers(fake_slack, faster: dict[str, int] | None = None) -> None:
    """The tiers on, with full buckets: every test starts in a workspace of its own. ``faster``: calls a
    minute for some methods, for a test that opts out of their tier (and says why)."""
    fake_slack.enforce_tiers({**SLACK_TIERS, **(faster or {})}, SLACK_BURSTS, per_channel=PER_CHANNEL)


@contextmanager
def within_slack_tiers(fake_slack, on_purpose: bool = False):
    """Around a test: Slack answered no 429, i.e. the bot's own budget kept every call inside the tiers
    (a bot that overran them would still wait out each 429 and pass, unseen). ``on_purpose``: the test
    makes Slack refuse (marked ``slack_429``)."""
    first = len(fake_slack.calls)
    yield
    refused = [f"{c.method} {c.params.get('channel') or ''}" for c in fake_slack.calls[first:] if c.status == 429]
    assert on_purpose or not refused, f"Slack's tiers refused {len(refused)} calls: {refused[:10]}"

"""What the bot does with one delivery from Slack, whatever carried it.

The HTTP function (``main.slack_bot``) and Socket Mode (``slack_socket.py``)
receive the same two things: an Events API body and an interactivity
payload. Each transport verifies and acknowledges in its own way; this core
turns the delivery into a typed value once (``events.py``) and acts on it:
url_verification is answered, noise is ignored, a question is handed off
without waiting for the model, a shortcut or button is done at once by the
handler the interactions registry names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from threadwise import logs
from threadwise.runtime import Runtime
from threadwise.slack.events import (BotIdentity, Ignore, Interaction, UrlVerification, authorizations,
                                     parse_event_body, parse_interaction, parse_interaction_form)
from threadwise.slack.home_events import HomeOpened

log = logs.get("threadwise")
# Seconds an App Home delivery waits for its work before it is acknowledged: a typical view (a few store reads
# and one views.publish) is done by then, at full CPU even where the function's CPU is throttled after its
# response; Slack's 3 s for the acknowledgement leaves room for the network and a cold start.
HOME_WAIT = 1.0


@dataclass(frozen=True)
class EventOutcome:
    """What the transport should answer. ``handed_off`` False with no challenge and not
    ``ignored`` means the question could not be handed off now: let Slack deliver it again."""

    challenge: str | None = None
    ignored: bool = False
    handed_off: bool = False

    @property
    def retry_later(self) -> bool:
        return self.challenge is None and not self.ignored and not self.handed_off


class SlackInbound:
    def __init__(self, runtime: Runtime):
        self._runtime = runtime
        self._app_id = runtime.settings.slack.slack_app_id

    def event(self, body: Any, retry_num: str | int | None = None, retry_reason: str | None = None) -> EventOutcome:
        """An Events API body (already verified). Raises ``BadRequest`` when it is malformed."""
        event = parse_event_body(body, self._identity(body))
        if isinstance(event, UrlVerification):
            return EventOutcome(challenge=event.challenge)
        if isinstance(event, Ignore):
            log.debug("ignored event", reason=event.reason, event_id=_event_id(body))
            return EventOutcome(ignored=True)
        if isinstance(event, HomeOpened):
            # Sent on every visit: acknowledged within HOME_WAIT, the view built and published off this path.
            runtime = self._runtime
            runtime.run_soon(lambda: _home().publish(event, runtime), wait=HOME_WAIT)
            log.info("home tab opened", event_id=event.event_id, user=event.user)
            return EventOutcome(handed_off=True)
        if retry_num:
            # Handed off like any delivery: the event's claim decides. A retry of an
            # event never processed (the first delivery was lost) is answered; one
            # already claimed is not answered twice.
            log.info("slack retry", event_id=event.event_id, retry=str(retry_num), reason=retry_reason)
        try:
            self._runtime.hand_off(event)
        except Exception:
            log.error("hand-off failed; Slack will retry", event_id=event.event_id, exc_info=True)
            return EventOutcome()
        # The one door to a background answer: a request without this line starts nothing later.
        log.info("handed off", event_id=event.event_id, channel=event.channel)
        return EventOutcome(handed_off=True)

    def interaction_form(self, payload: str) -> None:
        """The JSON text of an interactivity request's ``payload`` form field (HTTP)."""
        self._act(parse_interaction_form(payload, _registry().registered))

    def interaction(self, payload: Any) -> None:
        """An interactivity payload as a Socket Mode envelope carries it, decoded."""
        self._act(parse_interaction(payload, _registry().registered))

    def _act(self, action: Interaction) -> None:
        if not isinstance(action, Ignore):
            _registry().dispatch(action, self._runtime)
        else:
            log.debug("ignored interaction", reason=action.reason)

    def _identity(self, body) -> BotIdentity | None:
        """Our bot's identity: from auth.test once it is known; before that (a cold instance) from the
        event's own authorizations, so the first acknowledgement does not wait for a Slack round trip."""
        if not isinstance(body, dict) or body.get("type") != "event_callback":
            return None
        slack = self._runtime.slack
        known = slack.known_identity()
        if known is not None:
            return known
        for authorization in authorizations(body):  # (BadRequest when it is not a list of objects)
            if authorization.get("is_bot") and authorization.get("user_id"):
                return BotIdentity(user_id=authorization["user_id"], app_id=self._app_id)
        try:
            return slack.identity()
        except Exception:
            log.warning("auth.test failed and the event names no bot user")
            return None


def _registry():
    """The interactions registry, imported at the first interaction rather than with ``main`` (for
    cold-start cost only: the handlers and the reply format they import are a few milliseconds that
    a cold start answering a question does not need)."""
    from threadwise.interactions import registry

    return registry


def _home():
    """The App Home (its view, the ledger's report): imported at the first visit, not with ``main``."""
    from threadwise.interactions import home

    return home


def _event_id(body: Any) -> str | None:
    """The event_id of an ignored event's body, when it has one (which event was ignored, in the log)."""
    event_id = body.get("event_id") if isinstance(body, dict) else None
    return event_id if isinstance(event_id, str) else None

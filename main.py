"""Cloud Functions entry points. Flask request in, response out; nothing else lives here.

``slack_bot`` answers every Slack request within its 3 seconds: it verifies
the request, echoes url_verification, does quick actions (stop, delete)
inline, and hands questions to the dispatcher, never waiting for the model.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from urllib.parse import parse_qs

import config
import logs
import prompts
from dispatch import ThreadDispatcher
from events import (Ask, BadRequest, BotIdentity, Ignore, MessageAction, UrlVerification,
                    parse_event_body, parse_interaction_form)
from slack_client import SlackGateway
from verification import RequestVerifier

MAX_BODY_BYTES = 1 << 20  # Slack's payloads are a few KB; anything near this is not Slack.
NO_RETRY = {"X-Slack-No-Retry": "1"}

settings = config.load_settings()  # raises ConfigError naming the variable: the function refuses to start
logs.configure(settings.log_level, settings.secrets())
log = logs.get("threadwise")
SYSTEM_PROMPT = prompts.system_prompt(settings.system_prompt, settings.system_prompt_preset)
slack = SlackGateway(settings.slack_bot_token, settings.slack_api_url, app_id=settings.slack_app_id)
verifier = RequestVerifier(settings.slack_signing_secret, settings.access_token)
log.info(
    "Threadwise starting: " + ("practice mode, no model API is called" if settings.practice_mode
                               else f"model {settings.openai_model} via the {settings.openai_api} API"),
    verification=[name for name, on in (("signature", settings.slack_signing_secret), ("token", settings.access_token)) if on],
    dispatch=settings.dispatch,
)


def _services():
    import responder  # the model client is loaded by the first answer, not by the acknowledgement

    return responder, responder.Services(settings, slack, SYSTEM_PROMPT)


def _open_answer(ask: Ask):
    responder, services = _services()
    return responder.open_answer(ask, services)


def _complete_answer(opened) -> None:
    responder, services = _services()
    responder.complete_answer(opened, services)


dispatcher = ThreadDispatcher(settings.dispatch_workers, _open_answer, _complete_answer)


class RecentEvents:
    """Event IDs seen by this instance, so a duplicate delivery is not answered twice."""

    def __init__(self, size: int = 10_000):
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, event_id: str) -> bool:
        with self._lock:
            if event_id in self._seen:
                return False
            self._seen[event_id] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


recent_events = RecentEvents()


def slack_bot(request):
    if request.method != "POST":
        return _reply(405, {"error": "method not allowed"})
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _reply(413, {"error": "request body too large"})
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _reply(413, {"error": "request body too large"})
    if not verifier.is_authentic(body, request.headers, request.args.get("token")):
        log.warning("unverified request rejected", remote=request.headers.get("X-Forwarded-For", request.remote_addr))
        return _reply(401, {"error": "invalid signature or token"})
    try:
        text = body.decode("utf-8")
        if request.mimetype == "application/json":
            return _on_event(text, request.headers)
        if request.mimetype == "application/x-www-form-urlencoded":
            return _on_interaction(text)
        return _reply(415, {"error": "expected application/json or application/x-www-form-urlencoded"})
    except UnicodeDecodeError:
        return _reply(400, {"error": "body is not UTF-8"})
    except BadRequest as error:
        return _reply(400, {"error": str(error)})
    except Exception:
        # Slack retrying would not help; the failure is logged for the operator.
        log.error("request handling failed", exc_info=True)
        return _reply(200, {})


def _on_event(text: str, headers) -> tuple:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    event = parse_event_body(body, _identity(body))
    if isinstance(event, UrlVerification):
        return _reply(200, {"challenge": event.challenge})
    if isinstance(event, Ignore):
        log.debug("ignored event", reason=event.reason)
        return _reply(200, {})
    retry = headers.get("X-Slack-Retry-Num")
    if retry:
        # Until event claims land (issue 3) a retry is acknowledged, not answered:
        # answering it could post a second answer to the same question.
        log.info("retry acknowledged", event_id=event.event_id, retry=retry,
                 reason=headers.get("X-Slack-Retry-Reason"))
        recent_events.first_time(event.event_id)
        return _reply(200, {})
    if not recent_events.first_time(event.event_id):
        log.info("duplicate event ignored", event_id=event.event_id)
        return _reply(200, {})
    dispatcher.submit(event)
    return _reply(200, {})


def _on_interaction(text: str) -> tuple:
    try:
        form = parse_qs(text, strict_parsing=True, max_num_fields=20)
    except ValueError:
        raise BadRequest("invalid form body") from None
    payloads = form.get("payload")
    if not payloads or len(payloads) != 1:
        raise BadRequest("missing payload field")
    action = parse_interaction_form(payloads[0])
    if isinstance(action, MessageAction):
        import shortcuts

        shortcuts.handle(action, slack)
    else:
        log.debug("ignored interaction", reason=action.reason)
    return _reply(200, {})


def _identity(body) -> BotIdentity | None:
    """Our bot's identity from auth.test (cached); the event's own authorizations if Slack is unreachable."""
    if not isinstance(body, dict) or body.get("type") != "event_callback":
        return None
    try:
        return slack.identity()
    except Exception:
        log.warning("auth.test failed; using the event's authorizations")
        for authorization in body.get("authorizations") or []:
            if isinstance(authorization, dict) and authorization.get("is_bot") and authorization.get("user_id"):
                return BotIdentity(user_id=authorization["user_id"])
        return None


def _reply(status: int, payload: dict) -> tuple:
    return json.dumps(payload), status, {**NO_RETRY, "Content-Type": "application/json"}

"""Cloud Functions entry points. Flask request in, response out; nothing else lives here.

``slack_bot`` answers every Slack request within its 3 seconds: it verifies
the request, echoes url_verification, does quick actions (stop, delete)
inline, and hands questions to the dispatcher, never waiting for the model.
"""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import config
import logs
from events import BadRequest
from inbound import SlackInbound
from runtime import Runtime
from verification import RequestVerifier

MAX_BODY_BYTES = 1 << 20  # Slack's payloads are a few KB; anything near this is not Slack.
NO_RETRY = {"X-Slack-No-Retry": "1"}

settings = config.load_settings()  # raises ConfigError naming the variable: the function refuses to start
logs.configure(settings.log_level, settings.secrets())
log = logs.get("threadwise")
runtime = Runtime(settings)
inbound = SlackInbound(runtime)
verifier = RequestVerifier(settings.slack_signing_secret, settings.access_token)
runtime.announce("HTTP function (Events API and interactivity at its URL)")


def slack_bot(request):
    if request.method != "POST":
        return _refuse(405, "method not allowed")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _refuse(413, "request body too large")
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _refuse(413, "request body too large")
    if not verifier.is_authentic(body, request.headers, request.args.get("token")):
        log.warning("unverified request rejected", remote=request.headers.get("X-Forwarded-For", request.remote_addr))
        return _reply(401, {"error": "invalid signature or token"})
    try:
        text = body.decode("utf-8")
        if request.mimetype == "application/json":
            return _on_event(text, request.headers)
        if request.mimetype == "application/x-www-form-urlencoded":
            return _on_interaction(text)
        return _refuse(415, "expected application/json or application/x-www-form-urlencoded")
    except UnicodeDecodeError:
        return _refuse(400, "body is not UTF-8")
    except BadRequest as error:
        return _refuse(400, str(error))
    except Exception:
        # Slack retrying would not help; the failure is logged for the operator.
        log.error("request handling failed", exc_info=True)
        return _reply(200, {})


def _on_event(text: str, headers) -> tuple:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    outcome = inbound.event(body, headers.get("X-Slack-Retry-Num"), headers.get("X-Slack-Retry-Reason"))
    if outcome.challenge is not None:
        return _reply(200, {"challenge": outcome.challenge})
    if outcome.retry_later:
        # Not handed off: without X-Slack-No-Retry, Slack delivers the event again later.
        return json.dumps({"error": "temporarily unavailable"}), 503, {"Content-Type": "application/json"}
    return _reply(200, {})


def _on_interaction(text: str) -> tuple:
    try:
        form = parse_qs(text, strict_parsing=True, max_num_fields=20)
    except ValueError:
        raise BadRequest("invalid form body") from None
    payloads = form.get("payload")
    if not payloads or len(payloads) != 1:
        raise BadRequest("missing payload field")
    inbound.interaction_form(payloads[0])
    return _reply(200, {})


def _refuse(status: int, reason: str) -> tuple:
    # Stated in the log: the decision an operator (and a test) can see, not only the caller.
    log.info("request refused", status=status, reason=reason)
    return _reply(status, {"error": reason})


def _reply(status: int, payload: dict) -> tuple:
    return json.dumps(payload), status, {**NO_RETRY, "Content-Type": "application/json"}


def slack_worker(request):
    """Pub/Sub push endpoint (DISPATCH=pubsub): runs one job, then acknowledges.

    2xx acknowledges the message; anything else makes Pub/Sub deliver it
    again later. 429 means "another worker is answering this event right now":
    if that worker dies, the redelivery takes the answer over. A job is a
    question, or (``kind=final``) an answer's final text that Slack refused
    until the worker that wrote it had to stop (``JOB_DEADLINE_SECONDS``).
    """
    received_at = time.monotonic()  # the deadline runs from here: Pub/Sub's ack deadline does
    if request.method != "POST":
        return _reply(405, {"error": "method not allowed"})
    body = request.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _reply(413, {"error": "request body too large"})
    auth = runtime.push_authenticator.check(request.headers.get("Authorization"), request.args.get("token"))
    if not auth.ok:
        log.warning("unauthenticated push rejected", reason=auth.reason)
        return _reply(401, {"error": "not an authenticated Pub/Sub push"})
    from final_jobs import KIND, decode_final
    from pubsub_jobs import BadJob, decode_job, parse_push

    give_up_at = received_at + settings.job_deadline
    try:
        delivery = parse_push(body)
        is_final = delivery.attributes.get("kind") == KIND
        job = decode_final(delivery.data) if is_final else decode_job(delivery.data)
    except BadJob as error:
        log.warning("malformed push rejected", error=str(error))
        return _reply(400, {"error": str(error)})
    log.info("job received", event_id=job.event_id, message_id=delivery.message_id,
             attempt=delivery.delivery_attempt, kind=KIND if is_final else "question")
    if is_final:
        outcome = runtime.answers.deliver(job, give_up_at)
    else:
        outcome = runtime.answers.answer(job, give_up_at)
    log.info("job ended", event_id=job.event_id, outcome=str(outcome))
    return _reply(_WORKER_STATUS.get(str(outcome), 200), {"status": str(outcome)})


# busy: another worker has the claim now; handed_back / redeliver: Slack still refuses the text, or
# nothing carries it on: Pub/Sub delivers the job again later (with its retry policy's backoff).
_WORKER_STATUS = {"busy": 429, "handed_back": 503, "redeliver": 503}

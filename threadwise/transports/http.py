"""Slack's HTTP protocol and Pub/Sub's push protocol, as pure functions of a request.

``main.py`` turns a Flask request into an ``HttpRequest`` and an ``HttpResponse``
back into what Flask returns; everything in between lives here, so tests call it
without Flask: the method, the body limit (checked before the body is read), the
signature or token, url_verification, Slack's retries, JSON events versus form
interactions, and the status codes Pub/Sub reads as "delivered" or "try again".
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import parse_qs

from threadwise import logs
from threadwise.slack.events import BadRequest

MAX_BODY_BYTES = 1 << 20  # Slack's payloads are a few KB; anything near this is not Slack.
NO_RETRY = {"X-Slack-No-Retry": "1"}
CLAIM_CHARS = 200  # of a header logged as the sender's claim: enough for a chain of proxies, no more

log = logs.get("threadwise")


@dataclass(frozen=True)
class HttpRequest:
    method: str
    content_type: str  # the media type alone, without parameters
    headers: Mapping[str, str]
    read_body: Callable[[int], bytes]  # reads at most that many bytes: nothing is read before the checks
    declared_length: int | None = None
    query_token: str | None = None  # ?token= (ACCESS_TOKEN)
    remote: str | None = None


@dataclass(frozen=True)
class HttpResponse:
    status: int
    payload: dict
    headers: dict = field(default_factory=lambda: {**NO_RETRY, "Content-Type": "application/json"})

    @property
    def body(self) -> str:
        return json.dumps(self.payload)


def slack_request(request: HttpRequest, verifier, inbound) -> HttpResponse:
    """An Events API or interactivity request, answered within Slack's 3 seconds."""
    if request.method != "POST":
        return _refuse(405, "method not allowed")
    if (request.declared_length or 0) > MAX_BODY_BYTES:
        return _refuse(413, "request body too large")
    body = request.read_body(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return _refuse(413, "request body too large")
    if not verifier.is_authentic(body, request.headers, request.query_token):
        # The address the server saw; X-Forwarded-For is whatever the sender wrote (a forger writes anyone's
        # address), so it is logged only as a claim, cut short.
        claimed = request.headers.get("X-Forwarded-For")
        log.warning("unverified request rejected", remote=request.remote,
                    forwarded_for_claimed=claimed[:CLAIM_CHARS] if claimed else None)
        return HttpResponse(401, {"error": "invalid signature or token"})
    try:
        text = body.decode("utf-8")
        if request.content_type == "application/json":
            return _event(text, request.headers, inbound)
        if request.content_type == "application/x-www-form-urlencoded":
            return _interaction(text, inbound)
        return _refuse(415, "expected application/json or application/x-www-form-urlencoded")
    except UnicodeDecodeError:
        return _refuse(400, "body is not UTF-8")
    except BadRequest as error:
        return _refuse(400, str(error))
    except Exception:
        # Slack retrying would not help; the failure is logged for the operator.
        log.error("request handling failed", exc_info=True)
        return HttpResponse(200, {})


def _event(text: str, headers: Mapping[str, str], inbound) -> HttpResponse:
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    outcome = inbound.event(body, headers.get("X-Slack-Retry-Num"), headers.get("X-Slack-Retry-Reason"))
    if outcome.challenge is not None:
        return HttpResponse(200, {"challenge": outcome.challenge})
    if outcome.retry_later:
        # Not handed off: without X-Slack-No-Retry, Slack delivers the event again later.
        return HttpResponse(503, {"error": "temporarily unavailable"}, {"Content-Type": "application/json"})
    return HttpResponse(200, {})


def _interaction(text: str, inbound) -> HttpResponse:
    try:
        form = parse_qs(text, strict_parsing=True, max_num_fields=20)
    except ValueError:
        raise BadRequest("invalid form body") from None
    payloads = form.get("payload")
    if not payloads or len(payloads) != 1:
        raise BadRequest("missing payload field")
    inbound.interaction_form(payloads[0])
    return HttpResponse(200, {})


def _refuse(status: int, reason: str) -> HttpResponse:
    # Stated in the log: the decision an operator (and a test) can see, not only the caller.
    log.info("request refused", status=status, reason=reason)
    return HttpResponse(status, {"error": reason})




def worker_push(request: HttpRequest, authenticator, answers, job_deadline: float,
                received_at: float | None = None) -> HttpResponse:
    """A Pub/Sub push (DISPATCH=pubsub): runs one job, then acknowledges.

    2xx acknowledges the message; anything else makes Pub/Sub deliver it again
    later. 429 means "another worker is answering this event right now": if that
    worker dies, the redelivery takes the answer over. A job is a question, or
    (``kind=final``) an answer's final text that Slack refused until the worker
    that wrote it had to stop (``JOB_DEADLINE_SECONDS``).
    """
    received_at = time.monotonic() if received_at is None else received_at  # Pub/Sub's ack deadline runs from here
    # Imported here, for cold-start cost only: the Slack-facing function never reads a job.
    from threadwise.handoff.final_jobs import KIND, decode_final
    from threadwise.handoff.job_wire import BadJob, decode_job, parse_push
    from threadwise.handoff.outcomes import JobOutcome

    # busy: another worker has the claim now; handed_back / redeliver: Slack still refuses the text, or
    # nothing carries it on: Pub/Sub delivers the job again later (with its retry policy's backoff).
    retry_later = {JobOutcome.BUSY: 429, JobOutcome.HANDED_BACK: 503, JobOutcome.REDELIVER: 503}
    if request.method != "POST":
        return HttpResponse(405, {"error": "method not allowed"})
    body = request.read_body(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        return HttpResponse(413, {"error": "request body too large"})
    auth = authenticator.check(request.headers.get("Authorization"), request.query_token)
    if not auth.ok:
        log.warning("unauthenticated push rejected", reason=auth.reason)
        return HttpResponse(401, {"error": "not an authenticated Pub/Sub push"})
    try:
        delivery = parse_push(body)
        is_final = delivery.attributes.get("kind") == KIND
        job = decode_final(delivery.data) if is_final else decode_job(delivery.data)
    except BadJob as error:
        log.warning("malformed push rejected", error=str(error))
        return HttpResponse(400, {"error": str(error)})
    log.info("job received", event_id=job.event_id, message_id=delivery.message_id,
             attempt=delivery.delivery_attempt, kind=KIND if is_final else "question")
    give_up_at = received_at + job_deadline
    outcome = answers.deliver(job, give_up_at) if is_final else answers.answer(job, give_up_at)
    log.info("job ended", event_id=job.event_id, outcome=str(outcome))
    return HttpResponse(retry_later.get(outcome, 200), {"status": str(outcome)})

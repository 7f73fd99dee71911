"""Cloud Functions entry points: a Flask request in, a response out; the protocol lives in
``threadwise/transports/http.py`` and everything behind it in ``threadwise/``."""
from __future__ import annotations

import time

from threadwise import config, logs
from threadwise.runtime import Runtime
from threadwise.slack.verification import RequestVerifier
from threadwise.transports import http
from threadwise.transports.inbound import SlackInbound

settings = config.load_settings()  # raises ConfigError naming the variable: the function refuses to start
logs.configure(settings.log_level, settings.secrets())
runtime = Runtime(settings)
inbound = SlackInbound(runtime)
verifier = RequestVerifier(settings.slack.slack_signing_secret, settings.slack.access_token)
runtime.announce("HTTP function (Events API and interactivity at its URL)")


def slack_bot(request):
    """Slack's Events API and interactivity: acknowledged within 3 s, never waiting for the model."""
    return _flask(http.slack_request(_incoming(request), verifier, inbound))


def slack_worker(request):
    """Pub/Sub push (DISPATCH=pubsub): one job, then the status Pub/Sub reads as done or not."""
    received_at = time.monotonic()
    return _flask(http.worker_push(_incoming(request), runtime.push_authenticator, runtime.answers,
                                   settings.handoff.job_deadline, received_at))


def _incoming(request) -> http.HttpRequest:
    return http.HttpRequest(method=request.method, content_type=request.mimetype, headers=request.headers,
                            read_body=request.stream.read, declared_length=request.content_length,
                            query_token=request.args.get("token"), remote=request.remote_addr)


def _flask(response: http.HttpResponse) -> tuple:
    return response.body, response.status, response.headers

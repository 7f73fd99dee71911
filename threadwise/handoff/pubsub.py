"""Answer jobs over Pub/Sub: publishing a job (its bytes: job_wire.py, final_jobs.py).

``DISPATCH=pubsub``: ``slack_bot`` publishes the ``Ask`` and acknowledges
Slack only once Pub/Sub has stored it, so an acknowledged question is never
lost; ``slack_worker`` receives it as a push delivery and answers it.

A job carries only what the worker needs to answer, never a token or a key:
the worker reads its own secrets from its own settings.
"""
from __future__ import annotations

import re
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

from threadwise import logs
from threadwise.handoff.final_jobs import KIND, FinalDelivery, encode_final
from threadwise.handoff.job_wire import encode_job
from threadwise.slack.events import Ask

log = logs.get(__name__)

# Slack has to hear back within 3 s; what is left after verifying and parsing
# goes to the publish. A publish that is not confirmed in time is reported as
# failed, Slack retries the event, and the claim on event_id keeps a late
# duplicate from being answered twice.
DEFAULT_PUBLISH_TIMEOUT = 2.0

_TOPIC_PATH = re.compile(r"^projects/([^/]+)/topics/([^/]+)$")
# Pub/Sub's own rules for a topic ID, so a typo fails at start-up, not on the first question.
_TOPIC_ID = re.compile(r"^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$")
_PROJECT_ID = re.compile(r"^[a-z][a-z0-9\-]{4,28}[a-z0-9]$|^[a-z0-9.\-]+:[a-z][a-z0-9\-]{4,28}[a-z0-9]$")



class PublishFailed(RuntimeError):
    """Pub/Sub did not confirm the job in time; do not acknowledge Slack, so that it retries."""


# -- publishing -------------------------------------------------------------------------------


def topic_path(project: str | None, topic: str) -> str:
    """``PUBSUB_TOPIC`` as a full path: a short topic ID needs the project, a full path does not."""
    topic = (topic or "").strip()
    full = _TOPIC_PATH.match(topic)
    if full:
        project_in_path, topic_id = full.groups()
        if project and project != project_in_path:
            raise ValueError(f"PUBSUB_TOPIC names project {project_in_path!r}, but the project is {project!r}")
        project = project_in_path
    else:
        topic_id = topic
        if "/" in topic_id:
            raise ValueError(f"PUBSUB_TOPIC must be a topic ID or projects/PROJECT/topics/TOPIC, not {topic!r}")
        if not project:
            raise ValueError("PUBSUB_TOPIC is a short topic ID; also set the project (or use projects/P/topics/T)")
    if not _TOPIC_ID.match(topic_id) or topic_id.lower().startswith("goog"):
        raise ValueError(f"{topic_id!r} is not a valid Pub/Sub topic ID")
    if not _PROJECT_ID.match(project):
        raise ValueError(f"{project!r} is not a valid Google Cloud project ID")
    return f"projects/{project}/topics/{topic_id}"


class PubSubPublisher:
    """Publishes answer jobs, one message per question, and waits until Pub/Sub has it.

    The client is created on first use, not at import: gunicorn imports the app
    and then forks, and gRPC channels do not survive a fork. It honours
    ``PUBSUB_EMULATOR_HOST`` (the client library reads it itself).
    """

    def __init__(self, project: str | None, topic: str, timeout: float = DEFAULT_PUBLISH_TIMEOUT):
        self.topic_path = topic_path(project, topic)
        self._timeout = timeout
        self._client = None
        self._lock = threading.Lock()

    def publish(self, ask: Ask) -> str:
        """Publish the job; returns Pub/Sub's message ID. Raises ``PublishFailed``."""
        return self._publish(encode_job(ask), ask.event_id)

    def publish_final(self, final: FinalDelivery) -> str:
        """Publish a delivery job: an answer's final text, for another worker."""
        return self._publish(encode_final(final), final.event_id, kind=KIND)

    def _publish(self, data: bytes, event_id: str, **attributes: str) -> str:
        started = time.monotonic()
        try:
            client = self._get_client()
            future = client.publish(self.topic_path, data, event_id=event_id, **attributes)
            message_id = future.result(timeout=self._timeout)
        except FutureTimeout:
            raise PublishFailed(f"Pub/Sub did not confirm the job within {self._timeout:g} s") from None
        except Exception as error:  # google.api_core errors, transport errors, a closed client
            raise PublishFailed(f"publishing to Pub/Sub failed: {type(error).__name__}: {error}") from error
        log.info("job published", event_id=event_id, message_id=message_id, **attributes,
                 publish_ms=round((time.monotonic() - started) * 1000, 1))
        return message_id

    def warm_up(self) -> None:
        """Create the client now (channel, credentials) so the first question does not pay for it."""
        self._get_client()

    def _get_client(self):
        if self._client is None:
            with self._lock:
                if self._client is None:
                    from google.api_core import exceptions, retry
                    from google.cloud import pubsub_v1

                    # Transient errors are retried, but only within our own
                    # timeout (the library's default keeps trying for 60 s): no
                    # publish should linger after we have told Slack to retry.
                    transient = retry.if_exception_type(
                        exceptions.Aborted, exceptions.Cancelled, exceptions.DeadlineExceeded,
                        exceptions.InternalServerError, exceptions.ResourceExhausted,
                        exceptions.ServiceUnavailable, exceptions.Unknown,
                    )
                    options = pubsub_v1.types.PublisherOptions(
                        retry=retry.Retry(initial=0.05, maximum=0.5, multiplier=2, predicate=transient,
                                          timeout=self._timeout),
                        timeout=self._timeout,
                    )
                    # One message per batch, sent at once: a question should not
                    # wait up to max_latency for company it will rarely have.
                    self._client = pubsub_v1.PublisherClient(
                        batch_settings=pubsub_v1.types.BatchSettings(max_messages=1, max_latency=0),
                        publisher_options=options,
                    )
        return self._client



"""The long-lived pieces of one instance, built from the settings on first use.

Lazy on purpose: the acknowledgement path of a cold instance should not pay
for the model client, the store or the Pub/Sub client before it needs them,
and gunicorn imports the app before forking, when no thread or gRPC channel
may exist yet.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable

from threadwise import logs
import prompts
from threadwise.config import Settings
from threadwise.slack.events import Ask
from threadwise.slack.rate_budget import WriteBudget
from slack_client import SlackGateway

if TYPE_CHECKING:  # annotations only: the answer loop is imported on the first question (cold-start cost)
    from threadwise.answering.signals import StopBoard
    from threadwise.usage.prices import PriceTable
    from threadwise.answering.responder import Services
    from threadwise.knowledge.toolbox import KnowledgeTool
    from threadwise.state.usage_records import UsageLedger
    from threadwise.usage.spending_rules import SpendingRules


QUICK_WORKERS = 2  # threads for quick jobs (App Home views): a few visits at once


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.system_prompt = prompts.system_prompt(settings.answering.system_prompt,
                                                   settings.answering.system_prompt_preset)
        # With Pub/Sub, this process and every worker spend one workspace's budget: they lease it from the
        # store (budget_lease.py). The store opens on the first lease, not to acknowledge an event.
        lender = (lambda *lease: self.store.lease_tokens(*lease)) if settings.handoff.dispatch == "pubsub" else None
        slack = settings.slack
        self.slack = SlackGateway(slack.slack_bot_token, slack.slack_api_url, app_id=slack.slack_app_id,
                                  budget=WriteBudget(slack.slack_rate_limits, lender=lender))
        self._lock = threading.RLock()
        if settings.usage.model_prices:  # the operator's price file is read now: a bad one refuses to start
            _ = self.prices
        if settings.handoff.dispatch == "pubsub":
            from threadwise.handoff.pubsub import topic_path

            # A bad topic refuses to start.
            topic_path(settings.handoff.google_cloud_project, settings.handoff.pubsub_topic)

    def announce(self, transport: str, verification: list[str] | None = None) -> None:
        """The one start-up line: how Slack reaches us, how that is verified, and what answers."""
        slack, model = self.settings.slack, self.settings.model
        if verification is None:
            verification = [name for name, on in (("signature", slack.slack_signing_secret),
                                                  ("token", slack.access_token)) if on]
        answering = ("practice mode, no model API is called" if model.practice_mode
                     else f"model {model.openai_model} via the {model.openai_api} API")
        logs.get("threadwise").info(
            f"Threadwise starting: {transport}; {answering}",
            verification=verification, dispatch=self.settings.handoff.dispatch, store=self.settings.state.store,
        )

    @property
    def prices(self) -> PriceTable:
        """The price table the usage ledger costs answers with (the shipped one, under MODEL_PRICES').
        The shipped table alone is read on first use, for cold-start cost only (it is checked by the tests)."""
        def build():
            from threadwise.usage.prices import load_price_table

            return load_price_table(self.settings.usage.model_prices)

        return self._built("_prices", build)

    @property
    def stops(self) -> StopBoard:
        """The answers this process runs, for Stop to reach; stop records for the others go through the store.
        Built on first use (an answer or a click), for cold-start cost only."""
        def build():
            from threadwise.answering.signals import StopBoard

            return StopBoard(records=lambda: self.store)

        return self._built("_stops", build)

    def _built(self, name: str, build):
        # cached_property is not thread-safe; two requests may arrive together on a cold instance.
        with self._lock:
            if name not in self.__dict__:
                self.__dict__[name] = build()
            return self.__dict__[name]

    @property
    def store(self):
        def build():
            # Imported on first use, for cold-start cost only: acknowledging an event needs no store.
            from threadwise.state.backends import STORE_BACKENDS

            # The one place a backend is picked: STORE's name (a choice config checks) → its backend.
            return STORE_BACKENDS[self.settings.state.store].open(self.settings.state)

        return self._built("_store", build)

    @property
    def answers(self):
        """Claimed answers: the exactly-once wrapper around the answer loop."""
        def build():
            from threadwise.handoff.claims import ClaimedAnswers
            from threadwise.knowledge.registry import enabled_tools

            from threadwise.usage.spending_rules import SpendingRules

            spending_rules = SpendingRules(self.settings.usage, self.settings.model, self.slack, store=lambda: self.store,
                                prices=lambda: self.prices)
            services = answer_services(self.settings, self.slack, self.system_prompt,
                                       enabled_tools(self.settings.knowledge, self.slack), self.stops,
                                       ledger=self.store, prices=lambda: self.prices, spending_rules=spending_rules)
            handoff = self.settings.handoff
            # With Pub/Sub, a final text Slack refuses past the job's deadline goes on in a delivery job.
            hand_on = self._publisher.publish_final if handoff.dispatch == "pubsub" else None
            return ClaimedAnswers(self.store, services, handoff.claim_lease, handoff.claim_ttl, hand_on)

        return self._built("_answers", build)

    def run_soon(self, job: Callable[[], object], wait: float = 0.0) -> None:
        """Work a delivery asks for but its acknowledgement must not wait long for (App Home's view, the CSV):
        a thread of this process does it. ``wait``: return once it is done, or after ``wait`` seconds, whichever
        comes first. Cloud Functions with request-based billing (the Pub/Sub deployment's ``slack_bot``)
        throttles the CPU once the response is sent, so work that fits in the wait is done at full speed, and
        only work that outlasts it (a slow Slack) finishes late."""
        done = self._quick_jobs.submit(_logged(job))
        if wait > 0:
            from concurrent.futures import TimeoutError as NotYet

            try:
                done.result(timeout=wait)
            except NotYet:
                pass  # the acknowledgement goes now; the job goes on

    @property
    def _quick_jobs(self):
        def build():
            # Started on first use, not at import: threads do not survive gunicorn's fork.
            from concurrent.futures import ThreadPoolExecutor

            return ThreadPoolExecutor(max_workers=QUICK_WORKERS, thread_name_prefix="quick")

        return self._built("_quick_jobs_instance", build)

    def hand_off(self, ask: Ask) -> None:
        """Give the question to whoever answers it; raises when that is impossible now."""
        if self.settings.handoff.dispatch == "pubsub":
            self._publisher.publish(ask)  # returns once Pub/Sub has the job
        else:
            self._dispatcher.submit(ask)

    @property
    def _publisher(self):
        def build():
            from threadwise.handoff.pubsub import PubSubPublisher

            return PubSubPublisher(self.settings.handoff.google_cloud_project, self.settings.handoff.pubsub_topic)

        return self._built("_publisher_instance", build)

    @property
    def _dispatcher(self):
        def build():
            from threadwise.handoff.threads import ThreadDispatcher

            return ThreadDispatcher(self.settings.handoff.dispatch_workers, self._open_in_thread,
                                    self._complete_in_thread)

        return self._built("_dispatcher_instance", build)

    def _open_in_thread(self, ask: Ask):
        opened = self.answers.open(ask)
        return None if isinstance(opened, str) else opened  # duplicate / busy / quiet: nothing to stream

    def _complete_in_thread(self, claimed) -> None:
        self.answers.complete(claimed)

    @property
    def push_authenticator(self):
        def build():
            from threadwise.handoff.worker_auth import PushAuthenticator

            s = self.settings.handoff
            return PushAuthenticator(mode=s.worker_auth, audience=s.worker_audience,
                                     service_account_email=s.worker_service_account, token=s.worker_token)

        return self._built("_push_auth", build)


def _logged(job: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception:  # nobody waits for the job: its failure is the operator's to read
            logs.get("threadwise").error("background job failed", exc_info=True)
    return run


def answer_services(settings: Settings, slack: SlackGateway, system_prompt: str,
                    tools: dict[str, KnowledgeTool] | None = None, stops: StopBoard | None = None,
                    ledger: UsageLedger | None = None, prices: Callable[[], PriceTable] | None = None,
                    spending_rules: SpendingRules | None = None) -> Services:
    """The answer loop's ``Services``: the groups it reads, and by name the few values of other groups it needs.
    The one place that splits the Settings for it (the Runtime, and tests that run the answer loop alone).
    ``ledger``: where each answer's usage entry goes, priced by ``prices()`` (called on the first entry)."""
    # Imported here for cold-start cost only: acknowledging an event needs no answer loop.
    from threadwise.answering import responder
    from threadwise.answering.audience import ReachRules
    from threadwise.answering.metering import Meter
    from threadwise.answering.signals import StopBoard

    return responder.Services(
        answering=settings.answering, model=settings.model, slack=slack, system_prompt=system_prompt,
        bot_token=settings.slack.slack_bot_token, slack_api_url=settings.slack.slack_api_url,
        tool_result_chars=settings.knowledge.tool_result_chars, tool_max_rounds=settings.knowledge.tool_max_rounds,
        tools=tools or {}, stops=stops if stops is not None else StopBoard(),
        meter=Meter(ledger, prices) if ledger is not None and prices is not None else None,
        spending_rules=spending_rules, admin_users=settings.usage.admin_users,
        reach=ReachRules(settings.knowledge.knowledge_for_guests, settings.knowledge.knowledge_in_shared_channels),
    )

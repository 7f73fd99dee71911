"""The settings, one frozen group a concern, so that a room receives what it uses and nothing else.

Choices are ``Literal`` types: ``load_settings`` validates each against its
type's values once, at start-up, and code that branches on one compares with
a value the type names. Field names are the environment variables' names in
lower case (``NOTION_TOKEN`` → ``knowledge.notion_token``), except where the
variable says its unit (``CLAIM_TTL_SECONDS`` → ``handoff.claim_ttl``).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from threadwise.config.slack_limits import Limit

OpenAIApi = Literal["responses", "chat"]
Dispatch = Literal["thread", "pubsub"]  # answer in this process's threads, or hand each question to Pub/Sub
StoreBackend = Literal["sqlite", "firestore"]
WorkerAuth = Literal["oidc", "token"]  # how a Pub/Sub push proves it comes from our subscription
StreamMode = Literal["update", "native"]  # chat.update, or chat.startStream/appendStream/stopStream
Transport = Literal["http", "socket"]  # the HTTP function (verifies every request), or Socket Mode


@dataclass(frozen=True)
class SlackSettings:
    """The Slack edge: who the bot is, how requests are verified, where the API is, how fast it may write."""

    slack_bot_token: str
    slack_signing_secret: str | None
    access_token: str | None
    slack_api_url: str  # ends with "/"
    slack_app_id: str | None
    slack_app_token: str | None  # xapp-: Socket Mode (transports/socket_mode.py) instead of a public URL
    slack_rate_limits: dict[str, Limit]  # Slack's documented limits, SLACK_RATE_LIMITS over them


@dataclass(frozen=True)
class ModelSettings:
    """The model: OpenAI's API (or practice mode, which calls none), which model, how long to wait."""

    openai_api_key: str | None
    openai_base_url: str | None
    openai_model: str
    openai_api: OpenAIApi
    openai_max_retries: int
    practice_mode: bool
    practice_token_delay: float
    web_search: bool
    first_token_timeout: float
    max_output_tokens: int | None


@dataclass(frozen=True)
class AnsweringSettings:
    """The answer loop: the prompt, what of a thread goes to the model, how the reply streams."""

    system_prompt: str | None
    system_prompt_preset: str
    context_token_budget: int
    file_max_count: int
    file_max_bytes: int
    file_max_chars: int
    model_accepts_images: bool
    stream_update_interval: float
    stream_mode: StreamMode


@dataclass(frozen=True)
class HandoffSettings:
    """How a question reaches whoever answers it, exactly once."""

    dispatch: Dispatch
    dispatch_workers: int
    pubsub_topic: str | None
    google_cloud_project: str | None
    job_deadline: float  # seconds a Pub/Sub worker may spend on one job before it hands the final text on
    worker_auth: WorkerAuth
    worker_audience: str | None
    worker_service_account: str | None
    worker_token: str | None
    claim_ttl: float
    claim_lease: float


@dataclass(frozen=True)
class StateSettings:
    """Where what Slack cannot hold is kept (claims, stop records, the shared write budget)."""

    store: StoreBackend
    sqlite_path: str
    firestore_collection: str
    google_cloud_project: str | None


@dataclass(frozen=True)
class KnowledgeSettings:
    """The knowledge tools (``knowledge/registry.py``): each is on only when its credential is set."""

    slack_user_token: str | None  # xoxp- with search:read, for search.messages
    slack_api_url: str  # the same Slack API as the bot's: the user token searches there
    notion_token: str | None
    notion_api_url: str
    github_token: str | None
    github_org: str | None
    github_api_url: str
    google_drive_credentials: str | None  # a service-account key file, or "default" (the function's own)
    google_api_url: str
    tool_result_chars: int
    tool_max_rounds: int
    # Who may read answers drawn from knowledge (answering/audience.py): by default only the workspace's
    # members, in conversations not shared with another organisation.
    knowledge_for_guests: bool = False  # KNOWLEDGE_FOR_GUESTS: guests too (is_restricted / is_ultra_restricted)
    knowledge_in_shared_channels: bool = False  # KNOWLEDGE_IN_SHARED_CHANNELS: Slack Connect and shared channels


@dataclass(frozen=True)
class UsageSettings:
    """What answers cost and who may spend it (``threadwise/usage/``): prices, budgets, admins, allowlists."""

    model_prices: str | None  # a price file over the shipped table (usage/prices.py), read and checked at start-up
    admin_users: frozenset[str] = frozenset()  # Slack user IDs: see everyone's usage, get budget alerts
    # Monthly (UTC calendar month) limits in USD; None = no limit.
    budget_user_monthly_usd: Decimal | None = None
    budget_channel_monthly_usd: Decimal | None = None
    budget_workspace_monthly_usd: Decimal | None = None
    budget_alert_percent: int = 80  # the admins get one DM per budget per month when spending passes this share
    # Slack IDs the bot answers for; None = everyone the bot can hear.
    allowed_channels: frozenset[str] | None = None
    allowed_users: frozenset[str] | None = None
    seat_price_usd: Decimal = Decimal(25)  # a ChatGPT Business seat a month (COST_FACTS §6), for App Home's comparison


@dataclass(frozen=True)
class Settings:
    slack: SlackSettings
    model: ModelSettings
    answering: AnsweringSettings
    handoff: HandoffSettings
    state: StateSettings
    knowledge: KnowledgeSettings
    usage: UsageSettings
    log_level: str

    def secrets(self) -> list[str]:
        """Values that must never reach a log line or a Slack message."""
        return [
            s
            for s in (self.slack.slack_bot_token, self.slack.slack_signing_secret, self.slack.access_token,
                      self.model.openai_api_key, self.handoff.worker_token, self.knowledge.slack_user_token,
                      self.knowledge.notion_token, self.knowledge.github_token, self.slack.slack_app_token)
            if s
        ]

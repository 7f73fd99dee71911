"""Every setting, read from the environment once and validated with clear errors.

Nothing else in the code reads ``os.environ``: a typo in a variable shows up
here, at start-up, not as a confusing failure in the middle of an answer.
"""
from __future__ import annotations

import os
from decimal import Decimal
from typing import Mapping

from threadwise.config.env import ConfigError, api_url, boolean, choice, money, number, slack_ids, text, whole_number
from threadwise.config.groups import (AnsweringSettings, Dispatch, HandoffSettings, KnowledgeSettings, ModelSettings,
                                      OpenAIApi, Settings, SlackSettings, StateSettings, StoreBackend, StreamMode,
                                      Transport, UsageSettings, WorkerAuth)
from threadwise.config.slack_limits import Limit, LimitSyntaxError, parse_limits

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_NOTION_API_URL = "https://api.notion.com"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GOOGLE_API_URL = "https://www.googleapis.com"


def load_settings(env: Mapping[str, str] | None = None, transport: Transport = "http") -> Settings:
    """``transport`` "http": the HTTP function, which must verify every request; "socket":
    Socket Mode, where Slack is reached over a WebSocket opened with the app-level token."""
    env = os.environ if env is None else env
    # Of several wrong settings, the error names the first read: the Slack edge, the model, the hand-off, the rest.
    slack, model, handoff = _slack(env, transport), _model(env), _handoff(env)
    return Settings(
        slack=slack,
        model=model,
        answering=AnsweringSettings(
            system_prompt=text(env, "SYSTEM_PROMPT"),
            system_prompt_preset=text(env, "SYSTEM_PROMPT_PRESET") or "default",
            context_token_budget=int(number(env, "CONTEXT_TOKEN_BUDGET", 16000, 500, 2_000_000)),
            file_max_count=int(number(env, "FILE_MAX_COUNT", 10, 0, 100)),
            file_max_bytes=int(number(env, "FILE_MAX_BYTES", 1_000_000, 1_000, 50_000_000)),
            file_max_chars=int(number(env, "FILE_MAX_CHARS", 20_000, 100, 1_000_000)),
            model_accepts_images=boolean(env, "MODEL_ACCEPTS_IMAGES", default=True),
            stream_update_interval=number(env, "STREAM_UPDATE_INTERVAL", 0.8, 0.05, 60),
            stream_mode=choice(env, "STREAM_MODE", StreamMode, "update"),
        ),
        handoff=handoff,
        state=_state(env, handoff.google_cloud_project),
        knowledge=KnowledgeSettings(
            slack_user_token=text(env, "SLACK_USER_TOKEN"),
            slack_api_url=slack.slack_api_url,
            notion_token=text(env, "NOTION_TOKEN"),
            notion_api_url=api_url(env, "NOTION_API_URL", DEFAULT_NOTION_API_URL),
            github_token=text(env, "GITHUB_TOKEN"),
            github_org=text(env, "GITHUB_ORG"),
            github_api_url=api_url(env, "GITHUB_API_URL", DEFAULT_GITHUB_API_URL),
            google_drive_credentials=text(env, "GOOGLE_DRIVE_CREDENTIALS"),
            google_api_url=api_url(env, "GOOGLE_API_URL", DEFAULT_GOOGLE_API_URL),
            tool_result_chars=int(number(env, "TOOL_RESULT_CHARS", 12_000, 500, 200_000)),
            tool_max_rounds=int(number(env, "TOOL_MAX_ROUNDS", 4, 1, 10)),
            knowledge_for_guests=boolean(env, "KNOWLEDGE_FOR_GUESTS", default=False),
            knowledge_in_shared_channels=boolean(env, "KNOWLEDGE_IN_SHARED_CHANNELS", default=False),
        ),
        # Only the path here: the file's format belongs to the usage room, which reads it (and refuses a bad
        # one with a ConfigError naming the file) when the runtime is built, before any answer.
        usage=_usage(env),
        log_level=(text(env, "LOG_LEVEL") or "INFO").upper(),
    )


def load_store_settings(env: Mapping[str, str] | None = None) -> StateSettings:
    """The store's settings alone, for ``./scripts/usage``: it reads the ledger without Slack or OpenAI credentials."""
    env = os.environ if env is None else env
    return _state(env, text(env, "GOOGLE_CLOUD_PROJECT"))


def load_usage_settings(env: Mapping[str, str] | None = None) -> UsageSettings:
    """The cost-and-control settings alone (``./scripts/usage`` shows the seat price)."""
    return _usage(os.environ if env is None else env)


def _state(env: Mapping[str, str], google_cloud_project: str | None) -> StateSettings:
    return StateSettings(
        store=choice(env, "STORE", StoreBackend, "sqlite"),
        sqlite_path=text(env, "SQLITE_PATH") or "/tmp/threadwise.sqlite3",
        firestore_collection=text(env, "FIRESTORE_COLLECTION") or "threadwise_claims",
        google_cloud_project=google_cloud_project,
    )


def _slack(env: Mapping[str, str], transport: Transport) -> SlackSettings:
    signing_secret = text(env, "SLACK_SIGNING_SECRET")
    access_token = text(env, "ACCESS_TOKEN")
    app_token = text(env, "SLACK_APP_TOKEN")
    if transport == "socket":
        if not app_token or not app_token.startswith("xapp-"):
            raise ConfigError("Refusing to start Socket Mode: set SLACK_APP_TOKEN to the app-level token "
                              "(xapp-…, scope connections:write) from the app's Basic Information page.")
    elif not signing_secret:
        # ACCESS_TOKEN proves nothing about the body and sits in the URL: whoever holds the URL could forge
        # any request with it. It stays an extra check on top of the signature, never instead of it.
        raise ConfigError(
            "Refusing to start: set SLACK_SIGNING_SECRET (the app's Signing Secret, under Basic Information → "
            "App Credentials) so that every request is verified as coming from Slack"
            + (". ACCESS_TOKEN alone is not enough: it is only an extra check on top of the signature."
               if access_token else "; ACCESS_TOKEN (?token=) may be set too, as an extra check.")
        )
    bot_token = text(env, "SLACK_BOT_TOKEN")
    if not bot_token:
        raise ConfigError("Refusing to start: set SLACK_BOT_TOKEN (the app's xoxb- bot token).")
    slack_api_url = text(env, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    return SlackSettings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        access_token=access_token,
        slack_api_url=slack_api_url,
        slack_app_id=text(env, "SLACK_APP_ID"),
        slack_app_token=app_token,
        slack_rate_limits=_rate_limits(env),
    )


def _model(env: Mapping[str, str]) -> ModelSettings:
    api_key = text(env, "OPENAI_API_KEY")
    practice = boolean(env, "PRACTICE_MODE", default=api_key is None)
    max_output = number(env, "MAX_OUTPUT_TOKENS", 0, 0, 1_000_000)
    web_search = boolean(env, "WEB_SEARCH", default=False)
    api: OpenAIApi = choice(env, "OPENAI_API", OpenAIApi, "responses")
    if web_search and api == "chat":
        raise ConfigError("WEB_SEARCH=true needs OPENAI_API=responses (web search is a Responses API tool).")
    if 0 < max_output < 16 and api == "responses":
        # The Responses API refuses every request below its minimum (400 integer_below_min_value).
        raise ConfigError(f"MAX_OUTPUT_TOKENS must be at least 16 for the Responses API, not {max_output:g}.")
    return ModelSettings(
        openai_api_key=api_key,
        openai_base_url=text(env, "OPENAI_BASE_URL"),
        openai_model=text(env, "OPENAI_MODEL") or DEFAULT_MODEL,
        openai_api=api,
        openai_max_retries=int(number(env, "OPENAI_MAX_RETRIES", 2, 0, 10)),
        practice_mode=practice,
        practice_token_delay=number(env, "PRACTICE_TOKEN_DELAY", 0.04, 0, 5),
        web_search=web_search,
        first_token_timeout=number(env, "FIRST_TOKEN_TIMEOUT", 60, 1, 600),
        max_output_tokens=int(max_output) or None,
    )


def _handoff(env: Mapping[str, str]) -> HandoffSettings:
    dispatch: Dispatch = choice(env, "DISPATCH", Dispatch, "thread")
    pubsub_topic = text(env, "PUBSUB_TOPIC")
    worker_auth: WorkerAuth = choice(env, "WORKER_AUTH", WorkerAuth, "oidc")
    worker_token = text(env, "WORKER_TOKEN")
    audience, service_account = text(env, "WORKER_AUDIENCE"), text(env, "WORKER_SERVICE_ACCOUNT")
    if worker_auth == "token" and not text(env, "PUBSUB_EMULATOR_HOST"):
        # A secret in the push URL is readable in the subscription's settings and any log of the URL; only the
        # emulator, which cannot sign its pushes, needs it.
        raise ConfigError("WORKER_AUTH=token is only for the Pub/Sub emulator (PUBSUB_EMULATOR_HOST is not set): "
                          "use WORKER_AUTH=oidc with WORKER_AUDIENCE and WORKER_SERVICE_ACCOUNT (./scripts/deploy "
                          "sets them up).")
    if dispatch == "pubsub":
        if not pubsub_topic:
            raise ConfigError("DISPATCH=pubsub needs PUBSUB_TOPIC (the topic the jobs are published to).")
        if worker_auth == "oidc" and not (audience and service_account):
            raise ConfigError("WORKER_AUTH=oidc needs WORKER_AUDIENCE (the slack_worker URL) and "
                              "WORKER_SERVICE_ACCOUNT (the push subscription's service account).")
        if worker_auth == "token" and not worker_token:
            raise ConfigError("WORKER_AUTH=token needs WORKER_TOKEN (the secret in the push endpoint's ?token=).")
    return HandoffSettings(
        dispatch=dispatch,
        dispatch_workers=int(number(env, "DISPATCH_WORKERS", 64, 1, 512)),
        pubsub_topic=pubsub_topic,
        google_cloud_project=text(env, "GOOGLE_CLOUD_PROJECT"),
        # Under the push subscription's 600 s ack deadline (Pub/Sub's maximum), with time left to hand on.
        job_deadline=number(env, "JOB_DEADLINE_SECONDS", 540, 1, 600),
        worker_auth=worker_auth,
        worker_audience=audience,
        worker_service_account=service_account,
        worker_token=worker_token,
        claim_ttl=number(env, "CLAIM_TTL_SECONDS", 7 * 24 * 3600, 600, 90 * 24 * 3600),
        claim_lease=number(env, "CLAIM_LEASE_SECONDS", 30, 5, 600),
    )


def _usage(env: Mapping[str, str]) -> UsageSettings:
    return UsageSettings(
        model_prices=text(env, "MODEL_PRICES"),
        admin_users=slack_ids(env, "ADMIN_USERS", "UW") or frozenset(),
        budget_user_monthly_usd=money(env, "BUDGET_USER_MONTHLY_USD"),
        budget_channel_monthly_usd=money(env, "BUDGET_CHANNEL_MONTHLY_USD"),
        budget_workspace_monthly_usd=money(env, "BUDGET_WORKSPACE_MONTHLY_USD"),
        budget_alert_percent=whole_number(env, "BUDGET_ALERT_PERCENT", 80, 1, 100),
        allowed_channels=slack_ids(env, "ALLOWED_CHANNELS", "CGD"),
        allowed_users=slack_ids(env, "ALLOWED_USERS", "UW"),
        seat_price_usd=money(env, "SEAT_PRICE_USD") or Decimal(25),
    )


def _rate_limits(env: Mapping[str, str]) -> dict[str, Limit]:
    try:
        return parse_limits(text(env, "SLACK_RATE_LIMITS"))
    except LimitSyntaxError as error:
        raise ConfigError(f"SLACK_RATE_LIMITS: {error}") from None

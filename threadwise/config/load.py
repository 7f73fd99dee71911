"""Every setting, read from the environment once and validated with clear errors.

Nothing else in the code reads ``os.environ``: a typo in a variable shows up
here, at start-up, not as a confusing failure in the middle of an answer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_MODEL = "gpt-4.1-mini"
DEFAULT_NOTION_API_URL = "https://api.notion.com"
DEFAULT_GITHUB_API_URL = "https://api.github.com"
DEFAULT_GOOGLE_API_URL = "https://www.googleapis.com"


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    slack_bot_token: str
    slack_signing_secret: str | None
    access_token: str | None
    slack_api_url: str
    slack_app_id: str | None
    openai_api_key: str | None
    openai_base_url: str | None
    openai_model: str
    openai_api: str  # "responses" or "chat"
    openai_max_retries: int
    practice_mode: bool
    web_search: bool
    file_max_count: int
    file_max_bytes: int
    file_max_chars: int
    model_accepts_images: bool
    practice_token_delay: float
    stream_update_interval: float
    first_token_timeout: float
    context_token_budget: int
    max_output_tokens: int | None
    system_prompt: str | None
    system_prompt_preset: str
    dispatch: str  # "thread" or "pubsub"
    dispatch_workers: int
    store: str  # "sqlite" or "firestore"
    sqlite_path: str
    firestore_collection: str
    google_cloud_project: str | None
    claim_ttl: float
    claim_lease: float
    job_deadline: float  # seconds a Pub/Sub worker may spend on one job before it hands the final text on
    pubsub_topic: str | None
    worker_auth: str  # "oidc" or "token"
    worker_audience: str | None
    worker_service_account: str | None
    worker_token: str | None
    log_level: str
    # Workspace knowledge tools: each is on only when its credential is set.
    slack_user_token: str | None = None  # xoxp- with search:read, for search.messages
    notion_token: str | None = None
    notion_api_url: str = DEFAULT_NOTION_API_URL
    github_token: str | None = None
    github_org: str | None = None
    github_api_url: str = DEFAULT_GITHUB_API_URL
    google_drive_credentials: str | None = None  # a service-account key file, or "default" (the function's own)
    google_api_url: str = DEFAULT_GOOGLE_API_URL
    tool_result_chars: int = 12_000
    tool_max_rounds: int = 4
    slack_rate_limits: str | None = None
    stream_mode: str = "update"  # "update" (chat.update) or "native" (chat.startStream/appendStream/stopStream)
    slack_app_token: str | None = None  # xapp-: Socket Mode (slack_socket.py) instead of a public URL

    def secrets(self) -> list[str]:
        """Values that must never reach a log line or a Slack message."""
        return [
            s
            for s in (self.slack_bot_token, self.slack_signing_secret, self.access_token, self.openai_api_key,
                      self.worker_token, self.slack_user_token, self.notion_token, self.github_token,
                      self.slack_app_token)
            if s
        ]


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _text(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {raw!r}")


def _number(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = _text(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low:g} and {high:g}, not {raw}")
    return value


def _choice(env: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (_text(env, name) or default).lower()
    if raw not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def load_settings(env: Mapping[str, str] | None = None, transport: str = "http") -> Settings:
    """``transport`` "http": the HTTP function, which must verify every request; "socket":
    Socket Mode, where Slack is reached over a WebSocket opened with the app-level token."""
    env = os.environ if env is None else env
    signing_secret = _text(env, "SLACK_SIGNING_SECRET")
    access_token = _text(env, "ACCESS_TOKEN")
    app_token = _text(env, "SLACK_APP_TOKEN")
    if transport == "socket":
        if not app_token or not app_token.startswith("xapp-"):
            raise ConfigError("Refusing to start Socket Mode: set SLACK_APP_TOKEN to the app-level token "
                              "(xapp-…, scope connections:write) from the app's Basic Information page.")
    elif not signing_secret and not access_token:
        raise ConfigError(
            "Refusing to start: set SLACK_SIGNING_SECRET (recommended) and/or ACCESS_TOKEN "
            "so that requests can be verified as coming from Slack."
        )
    bot_token = _text(env, "SLACK_BOT_TOKEN")
    if not bot_token:
        raise ConfigError("Refusing to start: set SLACK_BOT_TOKEN (the app's xoxb- bot token).")

    api_key = _text(env, "OPENAI_API_KEY")
    practice = _bool(env, "PRACTICE_MODE", default=api_key is None)
    max_output = _number(env, "MAX_OUTPUT_TOKENS", 0, 0, 1_000_000)
    web_search = _bool(env, "WEB_SEARCH", default=False)
    if web_search and _choice(env, "OPENAI_API", "responses", ("responses", "chat")) == "chat":
        raise ConfigError("WEB_SEARCH=true needs OPENAI_API=responses (web search is a Responses API tool).")
    if 0 < max_output < 16 and _choice(env, "OPENAI_API", "responses", ("responses", "chat")) == "responses":
        # The Responses API refuses every request below its minimum (400 integer_below_min_value).
        raise ConfigError(f"MAX_OUTPUT_TOKENS must be at least 16 for the Responses API, not {max_output:g}.")
    slack_api_url = _text(env, "SLACK_API_URL") or DEFAULT_SLACK_API_URL
    if not slack_api_url.endswith("/"):
        slack_api_url += "/"
    dispatch = _choice(env, "DISPATCH", "thread", ("thread", "pubsub"))
    pubsub_topic = _text(env, "PUBSUB_TOPIC")
    worker_auth = _choice(env, "WORKER_AUTH", "oidc", ("oidc", "token"))
    worker_token = _text(env, "WORKER_TOKEN")
    if dispatch == "pubsub":
        if not pubsub_topic:
            raise ConfigError("DISPATCH=pubsub needs PUBSUB_TOPIC (the topic the jobs are published to).")
        if worker_auth == "oidc" and not (_text(env, "WORKER_AUDIENCE") and _text(env, "WORKER_SERVICE_ACCOUNT")):
            raise ConfigError("WORKER_AUTH=oidc needs WORKER_AUDIENCE (the slack_worker URL) and "
                              "WORKER_SERVICE_ACCOUNT (the push subscription's service account).")
        if worker_auth == "token" and not worker_token:
            raise ConfigError("WORKER_AUTH=token needs WORKER_TOKEN (the secret in the push endpoint's ?token=).")

    return Settings(
        slack_bot_token=bot_token,
        slack_signing_secret=signing_secret,
        access_token=access_token,
        slack_api_url=slack_api_url,
        slack_app_id=_text(env, "SLACK_APP_ID"),
        openai_api_key=api_key,
        openai_base_url=_text(env, "OPENAI_BASE_URL"),
        openai_model=_text(env, "OPENAI_MODEL") or DEFAULT_MODEL,
        openai_api=_choice(env, "OPENAI_API", "responses", ("responses", "chat")),
        openai_max_retries=int(_number(env, "OPENAI_MAX_RETRIES", 2, 0, 10)),
        practice_mode=practice,
        web_search=web_search,
        file_max_count=int(_number(env, "FILE_MAX_COUNT", 10, 0, 100)),
        file_max_bytes=int(_number(env, "FILE_MAX_BYTES", 1_000_000, 1_000, 50_000_000)),
        file_max_chars=int(_number(env, "FILE_MAX_CHARS", 20_000, 100, 1_000_000)),
        model_accepts_images=_bool(env, "MODEL_ACCEPTS_IMAGES", default=True),
        practice_token_delay=_number(env, "PRACTICE_TOKEN_DELAY", 0.04, 0, 5),
        stream_update_interval=_number(env, "STREAM_UPDATE_INTERVAL", 0.8, 0.05, 60),
        first_token_timeout=_number(env, "FIRST_TOKEN_TIMEOUT", 60, 1, 600),
        context_token_budget=int(_number(env, "CONTEXT_TOKEN_BUDGET", 16000, 500, 2_000_000)),
        max_output_tokens=int(max_output) or None,
        system_prompt=_text(env, "SYSTEM_PROMPT"),
        system_prompt_preset=_text(env, "SYSTEM_PROMPT_PRESET") or "default",
        dispatch=dispatch,
        dispatch_workers=int(_number(env, "DISPATCH_WORKERS", 64, 1, 512)),
        store=_choice(env, "STORE", "sqlite", ("sqlite", "firestore")),
        sqlite_path=_text(env, "SQLITE_PATH") or "/tmp/threadwise.sqlite3",
        firestore_collection=_text(env, "FIRESTORE_COLLECTION") or "threadwise_claims",
        google_cloud_project=_text(env, "GOOGLE_CLOUD_PROJECT"),
        claim_ttl=_number(env, "CLAIM_TTL_SECONDS", 7 * 24 * 3600, 600, 90 * 24 * 3600),
        claim_lease=_number(env, "CLAIM_LEASE_SECONDS", 30, 5, 600),
        # Under the push subscription's 600 s ack deadline (Pub/Sub's maximum), with time left to hand on.
        job_deadline=_number(env, "JOB_DEADLINE_SECONDS", 540, 1, 600),
        pubsub_topic=pubsub_topic,
        worker_auth=worker_auth,
        worker_audience=_text(env, "WORKER_AUDIENCE"),
        worker_service_account=_text(env, "WORKER_SERVICE_ACCOUNT"),
        worker_token=worker_token,
        log_level=(_text(env, "LOG_LEVEL") or "INFO").upper(),
        slack_user_token=_text(env, "SLACK_USER_TOKEN"),
        notion_token=_text(env, "NOTION_TOKEN"),
        notion_api_url=_api_url(env, "NOTION_API_URL", DEFAULT_NOTION_API_URL),
        github_token=_text(env, "GITHUB_TOKEN"),
        github_org=_text(env, "GITHUB_ORG"),
        github_api_url=_api_url(env, "GITHUB_API_URL", DEFAULT_GITHUB_API_URL),
        google_drive_credentials=_text(env, "GOOGLE_DRIVE_CREDENTIALS"),
        google_api_url=_api_url(env, "GOOGLE_API_URL", DEFAULT_GOOGLE_API_URL),
        tool_result_chars=int(_number(env, "TOOL_RESULT_CHARS", 12_000, 500, 200_000)),
        tool_max_rounds=int(_number(env, "TOOL_MAX_ROUNDS", 4, 1, 10)),
        slack_rate_limits=_rate_limits(env),
        stream_mode=_choice(env, "STREAM_MODE", "update", ("update", "native")),
        slack_app_token=app_token,
    )


def _rate_limits(env: Mapping[str, str]) -> str | None:
    raw = _text(env, "SLACK_RATE_LIMITS")
    from threadwise.slack.rate_budget import LimitSyntaxError, parse_limits

    try:
        parse_limits(raw)
    except LimitSyntaxError as error:
        raise ConfigError(f"SLACK_RATE_LIMITS: {error}") from None
    return raw


def _api_url(env: Mapping[str, str], name: str, default: str) -> str:
    """A provider's API base URL without a trailing slash; only http(s)."""
    value = (_text(env, name) or default).rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
    return value


@dataclass(frozen=True)
class LocalRun:
    """How ``./scripts/run`` runs the bot on this machine, chosen from what is configured."""

    mode: str  # "socket" | "http" | "playground"
    port: int  # the HTTP function's port, or the playground page's
    why: str   # one line for the terminal: the mode and what chose it


def local_run(env: Mapping[str, str] | None = None) -> LocalRun:
    env = os.environ if env is None else env
    port = int(_number(env, "PORT", 8080, 1, 65535))
    if _text(env, "SLACK_APP_TOKEN"):
        return LocalRun("socket", port, "Socket Mode (SLACK_APP_TOKEN is set): no public URL needed")
    chosen_by = [name for name in ("SLACK_SIGNING_SECRET", "ACCESS_TOKEN") if _text(env, name)]
    if chosen_by:
        return LocalRun("http", port, f"HTTP function on http://localhost:{port}/ ({' and '.join(chosen_by)} "
                                      f"{'is' if len(chosen_by) == 1 else 'are'} set): "
                                      "Slack must reach this URL (a tunnel, or deploy)")
    return LocalRun("playground", port, "offline playground (no Slack settings): a Slack-like page on this machine")

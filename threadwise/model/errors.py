"""What goes wrong with the model, as one plain sentence for the user.

Whatever fails (the SDK, the connection, an error the server reports inside
the stream, the first-token deadline) becomes a ``ModelError`` carrying that
sentence; the responder never sees an SDK exception or a traceback. The
sentences for an answer the model cut short (``incomplete_notice``) live here
too, so every wording the user may read about the model is in one place.
"""
from __future__ import annotations

import enum
from typing import Iterable

from threadwise import logs
from threadwise.config import ModelSettings

log = logs.get(__name__)


class ModelErrorKind(str, enum.Enum):
    """What went wrong, for logs and retries (the responder retries CONTEXT_LENGTH_EXCEEDED once)."""

    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    INSUFFICIENT_QUOTA = "insufficient_quota"  # out of credit (prepaid billing)
    ORGANIZATION_SPEND_LIMIT = "organization_spend_limit_exceeded"  # the org's hard monthly limit
    PROJECT_SPEND_LIMIT = "project_spend_limit_exceeded"  # the project's hard monthly limit
    RATE_LIMITED = "rate_limited"
    CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"
    BAD_REQUEST = "bad_request"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"  # the SDK's request timeout
    FIRST_TOKEN_TIMEOUT = "first_token_timeout"  # no text within FIRST_TOKEN_TIMEOUT
    BROKEN_STREAM = "broken_stream"  # the connection broke after some text
    CONNECTION = "connection"
    UNEXPECTED = "unexpected"
    FAILED = "failed"  # Responses API: a response.failed event
    ERROR_EVENT = "error_event"  # an error the server reported inside the stream

    def __str__(self) -> str:
        return self.value


class ModelError(Exception):
    """``kind`` is for logs and retries; ``sentence`` is what the user reads. ``admin_action``: what the
    Threadwise admins must do (an imperative, "add credit at …"), addressed to them by ``sentence_for``."""

    def __init__(self, kind: ModelErrorKind, sentence: str, admin_action: str | None = None):
        super().__init__(kind)
        self.kind = kind
        self.sentence = sentence
        self.admin_action = admin_action

    def sentence_for(self, admins: Iterable[str] = ()) -> str:
        """The sentence with its call to the admins (ADMIN_USERS as mentions, or "your Slack admin")."""
        if self.admin_action is None:
            return self.sentence
        mentions = ", ".join(f"<@{user}>" for user in sorted(admins))
        if mentions:
            return f"{self.sentence} {mentions}: {self.admin_action}."
        return f"{self.sentence} Ask your Slack admin to {self.admin_action}."


# OpenAI's 429s that no retry cures: the account or a spend limit, not the request rate (COST_FACTS §6).
# Status and code are what the API documents; the client is told not to retry them (``client.py``).
_QUOTA = {
    ModelErrorKind.INSUFFICIENT_QUOTA: (
        "OpenAI refused: the OpenAI account is out of credit.",
        "add credit at platform.openai.com → Settings → Billing"),
    ModelErrorKind.ORGANIZATION_SPEND_LIMIT: (
        "OpenAI refused: the OpenAI organization's monthly spend limit is reached.",
        "raise it at platform.openai.com → Settings → Limits, or wait until it resets"),
    ModelErrorKind.PROJECT_SPEND_LIMIT: (
        "OpenAI refused: this OpenAI project's monthly spend limit is reached.",
        "raise it at platform.openai.com → Settings → Limits (the project's), or wait until it resets"),
}
QUOTA_CODES = frozenset(kind.value for kind in _QUOTA)


def quota_error(code: str | None) -> ModelError | None:
    """The quota or spend-limit error ``code`` names, or None for any other code."""
    if code not in QUOTA_CODES:
        return None
    kind = ModelErrorKind(code)
    problem, action = _QUOTA[kind]
    return ModelError(kind, problem, action)


def quota_code(body: object) -> str | None:
    """The quota code in an OpenAI error body (``{"error": {"code": …}}``), or None."""
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return code if code in QUOTA_CODES else None


def incomplete_notice(reason: str | None) -> str:
    if reason == "content_filter":
        return "The answer was cut off by the model's content filter."
    if reason == "max_output_tokens":
        return "The answer was cut off at the output token limit (MAX_OUTPUT_TOKENS)."
    return "The model ended the answer early."


def failure_sentence(code: str | None) -> str:
    if code in ("rate_limit_exceeded",):
        return "The model is rate limited right now; please try again in a minute."
    quota = quota_error(code)
    if quota is not None:
        return quota.sentence_for()
    suffix = f" ({code})" if code else ""
    return f"The model stopped with an error{suffix}; please try again."


def timeout_error(seconds: float) -> ModelError:
    return ModelError(ModelErrorKind.FIRST_TOKEN_TIMEOUT, f"The model did not start answering within {seconds:g} seconds; please try again.")


def as_model_error(error: BaseException, settings: ModelSettings, got_text: bool) -> ModelError:
    """Any exception from the SDK or the connection → one sentence for the user."""
    if isinstance(error, ModelError):
        return error
    # Imported only once an answer has failed: the acknowledgement path of a
    # cold instance does not pay for the openai package.
    import openai

    model = settings.openai_model
    code = getattr(error, "code", None)
    log.warning("model call failed", error=type(error).__name__, code=code, got_text=got_text)
    if isinstance(error, openai.AuthenticationError):
        return ModelError(ModelErrorKind.AUTH, "The OpenAI API key was rejected; ask the operator to check OPENAI_API_KEY.")
    if isinstance(error, openai.PermissionDeniedError):
        return ModelError(ModelErrorKind.PERMISSION, f"This API key may not use the model “{model}”; ask the operator to check OPENAI_MODEL.")
    if isinstance(error, openai.NotFoundError):
        return ModelError(ModelErrorKind.NOT_FOUND, f"The model “{model}” was not found; ask the operator to check OPENAI_MODEL and OPENAI_BASE_URL.")
    if isinstance(error, openai.RateLimitError):
        quota = quota_error(code)
        if quota is not None:
            return quota
        return ModelError(ModelErrorKind.RATE_LIMITED, failure_sentence("rate_limit_exceeded"))
    if isinstance(error, openai.BadRequestError):
        if code == "context_length_exceeded":
            return ModelError(ModelErrorKind.CONTEXT_LENGTH_EXCEEDED, "This conversation is too long for the model; start a new thread or shorten the question.")
        return ModelError(ModelErrorKind.BAD_REQUEST, f"The model API refused the request{f' ({code})' if code else ''}.")
    if isinstance(error, openai.InternalServerError):
        return ModelError(ModelErrorKind.SERVER_ERROR, "The model API had an internal error; please try again.")
    if isinstance(error, openai.APITimeoutError):
        return ModelError(ModelErrorKind.TIMEOUT, "The model took too long to answer; please try again.")
    if isinstance(error, openai.APIConnectionError) or not isinstance(error, openai.APIError):
        if got_text:
            return ModelError(ModelErrorKind.BROKEN_STREAM, "The connection to the model broke off; the answer above is incomplete.")
        if isinstance(error, openai.APIConnectionError):
            return ModelError(ModelErrorKind.CONNECTION, "Could not reach the model API; please try again.")
        return ModelError(ModelErrorKind.UNEXPECTED, "Something went wrong while talking to the model; please try again.")
    # Any other APIError: an error the server reported inside the stream.
    return ModelError(ModelErrorKind.ERROR_EVENT, failure_sentence(code))

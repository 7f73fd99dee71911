"""Opening a model stream: the one place that picks Responses, Chat Completions or practice mode.

The streams themselves live in ``streams`` (the two APIs) and ``practice``;
what they share is in ``types``, ``errors`` and ``closing``, none of which
imports this module, so imports in the model room run one way. The ``openai``
package is imported only when an answer needs a client (here) or has failed
(``errors``), so the acknowledgement path of a cold instance does not pay for it.
"""
from __future__ import annotations

import threading

from threadwise.config import ModelSettings
from threadwise.knowledge.toolbox import ToolBox
from threadwise.model.errors import as_model_error, quota_code
from threadwise.model.practice import PracticeStream
from threadwise.model.streams import ChatStream, ResponsesStream
from threadwise.model.types import ModelInput, ModelStream


def open_stream(settings: ModelSettings, model_input: ModelInput, toolbox: ToolBox | None = None) -> ModelStream:
    if settings.practice_mode:
        return PracticeStream(settings, model_input, toolbox)
    client = _client(settings)
    try:
        if settings.openai_api == "chat":
            return ChatStream(client, settings, model_input, toolbox)
        return ResponsesStream(client, settings, model_input, toolbox)
    except Exception as error:
        raise as_model_error(error, settings, got_text=False) from None


_clients: dict[tuple, object] = {}
_clients_lock = threading.Lock()


def _client(settings: ModelSettings):
    key = (settings.openai_api_key, settings.openai_base_url, settings.first_token_timeout, settings.openai_max_retries)
    with _clients_lock:
        if key not in _clients:
            import httpx2

            _clients[key] = _client_class()(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
                max_retries=settings.openai_max_retries,
                # The read timeout bounds the wait for the response and for each
                # chunk; the first-token deadline itself is enforced by a watchdog.
                timeout=httpx2.Timeout(settings.first_token_timeout, connect=10.0),
            )
        return _clients[key]


def _client_class():
    """``OpenAI``, except that a 429 for the account's credit or a spend limit is not retried.

    The SDK retries every 429 (OPENAI_FACTS: 408, 409, 429, ≥ 500); ``insufficient_quota`` and the
    ``*_spend_limit_exceeded`` codes are 429s too, and no retry cures them: retried twice they only
    keep the asker waiting through the backoff. ``_should_retry`` is the SDK's own hook for this
    decision; its body is read here (it is read for the error anyway). The e2e test that counts the
    requests a quota error makes holds this against SDK updates."""
    from openai import OpenAI

    class QuotaAwareOpenAI(OpenAI):
        def _should_retry(self, response) -> bool:
            if response.status_code == 429:
                try:
                    response.read()
                    body = response.json()
                except Exception:
                    body = None
                if quota_code(body) is not None:
                    return False
            return super()._should_retry(response)

    return QuotaAwareOpenAI

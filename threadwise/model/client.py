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
from threadwise.model.errors import as_model_error
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
            from openai import OpenAI

            _clients[key] = OpenAI(
                api_key=settings.openai_api_key,
                base_url=settings.openai_base_url,
                max_retries=settings.openai_max_retries,
                # The read timeout bounds the wait for the response and for each
                # chunk; the first-token deadline itself is enforced by a watchdog.
                timeout=httpx2.Timeout(settings.first_token_timeout, connect=10.0),
            )
        return _clients[key]

"""Socket Mode: ``python slack_socket.py``. The bot opens a WebSocket to Slack, so no public URL is needed.

Set SLACK_APP_TOKEN (an app-level token, xapp-…, scope connections:write). Events and
interactivity arrive as envelopes over the socket and go to the same core as the HTTP
function (``inbound.SlackInbound``); each envelope is acknowledged the way
``main.slack_bot`` answers the matching request: handed off or ignored → ack; a
question that could not be handed off → no ack, so Slack delivers it again (the
HTTP function's 503); malformed → ack, since a redelivery cannot fix it (its 400).
slack_sdk's built-in client reconnects by itself after a drop or a ``disconnect``.
"""
from __future__ import annotations

import json
import signal
import sys

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientNotConnectedError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from threadwise import config
from threadwise import logs
from threadwise.slack.events import BadRequest
from threadwise.transports.inbound import SlackInbound
from threadwise.runtime import Runtime

log = logs.get("threadwise")

# slack_sdk's monitor runs every PING_INTERVAL seconds and reconnects a connection it finds
# lost: a reset at its next run; a connection closed with a bare FIN (no close frame) only
# after five failed pings, and one that went silent after four intervals without a pong.
# That bounds how long the bot is deaf after a drop; a ping every few seconds costs nothing.
PING_INTERVAL = 2.0
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


class EnvelopeHandler:
    """A ``socket_mode_request_listeners`` entry: acts on one envelope, then acknowledges it (or not)."""

    def __init__(self, inbound: SlackInbound):
        self._inbound = inbound

    def __call__(self, client: SocketModeClient, request: SocketModeRequest) -> None:
        if not self.should_ack(request):
            return
        try:
            client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        except SlackClientNotConnectedError:
            # The connection went while we worked; Slack delivers an unacknowledged event again.
            log.warning("acknowledgement not sent: the connection closed", envelope_type=request.type)

    def should_ack(self, request: SocketModeRequest) -> bool:
        if request.type == "events_api":
            return self._event(request)
        if request.type == "interactive":
            self._interaction(request)
            return True
        # Slash commands and anything newer: not ours, and an ack keeps Slack from retrying.
        log.debug("ignored envelope", envelope_type=request.type)
        return True

    def _event(self, request: SocketModeRequest) -> bool:
        try:
            outcome = self._inbound.event(request.payload, request.retry_attempt, request.retry_reason)
        except BadRequest as error:
            log.warning("malformed event acknowledged and dropped", error=str(error))
            return True
        except Exception:
            # As the HTTP function's 200 after an unexpected failure: a redelivery would fail the same way.
            log.error("event handling failed", exc_info=True)
            return True
        if outcome.retry_later:
            log.warning("event not acknowledged so that Slack delivers it again")
            return False
        return True

    def _interaction(self, request: SocketModeRequest) -> None:
        try:
            self._inbound.interaction(request.payload)
        except BadRequest as error:
            log.warning("malformed interaction acknowledged and dropped", error=str(error))
        except Exception:
            log.error("interaction handling failed", exc_info=True)


class ConnectionLog:
    """Connections and reconnections in our log format (slack_sdk's own logger is kept at WARNING).
    Never logs the WebSocket URL: its ticket opens a connection."""

    def __init__(self) -> None:
        self._hellos = 0

    def on_message(self, raw: str) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "hello":
            self._hellos += 1
            log.info("Socket Mode connected" if self._hellos == 1 else "Socket Mode reconnected",
                     connections=message.get("num_connections"),
                     host=(message.get("debug_info") or {}).get("host"))
        elif kind == "disconnect":
            log.info("Slack asked to reconnect; opening a new connection", reason=message.get("reason"))

    def on_close(self, code: int, reason: str | None = None) -> None:
        # After a "disconnect" this is the old connection closing; the new one is already open.
        log.info("Socket Mode connection closed by Slack", code=code)

    def on_error(self, error: Exception) -> None:
        # slack_sdk reports the error itself; the type only here, a message might carry the address.
        log.info("Socket Mode connection lost; reconnecting", error=type(error).__name__)


def connect_or_exit(client: SocketModeClient) -> None:
    """The first connection: a token Slack refuses ends the process with one sentence, not a traceback."""
    try:
        client.connect()
        return
    except SlackApiError as error:
        code = error.response.get("error") if error.response is not None else None
        message = (f"Slack answered {code} for SLACK_APP_TOKEN; use the app-level token (xapp-…, scope "
                   "connections:write) from the app's Basic Information page, with Socket Mode turned on."
                   if code in ("invalid_auth", "not_allowed_token_type", "not_authed", "token_revoked",
                               "account_inactive", "missing_scope")
                   else f"apps.connections.open failed ({code}); check SLACK_APP_TOKEN and the app's Socket Mode setting.")
    except OSError as error:  # urllib's URLError included
        message = (f"Could not reach Slack's Web API to open a Socket Mode connection with SLACK_APP_TOKEN "
                   f"({type(error).__name__}); check SLACK_API_URL and the network.")
    log.error("Socket Mode could not start", reason=message)
    client.close()
    print(f"Refusing to start Socket Mode: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    # Before any thread exists, so that every thread inherits the mask and the signals wait
    # for sigwait below instead of interrupting whichever thread they land on.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        settings = config.load_settings(transport="socket")
        logs.configure(settings.log_level, settings.secrets())
        runtime = Runtime(settings)
    except config.ConfigError as error:
        print(error, file=sys.stderr)
        sys.exit(2)
    inbound = SlackInbound(runtime)
    connection_log = ConnectionLog()
    client = SocketModeClient(
        app_token=settings.slack.slack_app_token,
        web_client=WebClient(base_url=settings.slack.slack_api_url),
        auto_reconnect_enabled=True,
        ping_interval=PING_INTERVAL,
        on_message_listeners=[connection_log.on_message],
        on_close_listeners=[connection_log.on_close],
        on_error_listeners=[connection_log.on_error],
    )
    client.socket_mode_request_listeners.append(EnvelopeHandler(inbound))
    # Nothing to verify per request: only Slack can deliver on a connection opened with the app-level token.
    runtime.announce("Socket Mode (events and interactivity over a WebSocket, no public URL)",
                     verification=["app-level token"])
    connect_or_exit(client)
    received = signal.sigwait(STOP_SIGNALS)
    log.info("Socket Mode stopping", signal=signal.Signals(received).name)
    # Answers already streaming finish before the interpreter exits; nothing new arrives.
    client.close()
    sys.exit(0)


if __name__ == "__main__":
    main()

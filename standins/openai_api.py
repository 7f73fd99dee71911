"""FakeOpenAI: a local stand-in for OpenAI's HTTP API, for tests.

Speaks the real wire formats (see /work/shared/OPENAI_FACTS.md) so the real
``openai`` client can be pointed at it with ``OpenAI(base_url=fake.base_url)``:

* ``POST /v1/responses``  (stream or not): Responses API, SSE events
  ``event: <type>\\ndata: <json>\\n\\n`` with increasing ``sequence_number``
  (openai_responses).
* ``POST /v1/chat/completions`` (stream or not): ``data: <chunk json>\\n\\n``
  lines ending with ``data: [DONE]`` (openai_chat).
* ``GET /v1/models``: a small model list (handy for key checks).

It refuses what OpenAI refuses, before any script runs: a wrong key (401), and
a body the real API answers with 400 ``invalid_request_error`` -- no model,
the other API's parameters or content parts, a tool result that answers no
call, and more (openai_checks, openai_checks_items). A refused request is
recorded with outcome "invalid_request" and its error in ``refusal``.

Streams use HTTP/1.1 chunked transfer encoding, one chunk per SSE event, written
straight to the socket (no buffering), so streaming is really incremental and a
dropped connection is seen by the client as an incomplete body (openai_wire).

Every valid request is answered from a ``Script`` (openai_script):
``fake.queue(Script(...))`` for the next request only (queued scripts are
consumed first, FIFO), otherwise ``fake.reply`` (default ``Script()``: "Echo:
<last user text>").

The server watches the socket while it waits (first_token_delay, delta_delay)
and before each write, so when the client hangs up the stream stops within one
delay and ``Recorded.client_closed_early`` is set -- that is how a test proves
that "stop" closed the stream and no more tokens were generated.

Standard library only.
"""

from __future__ import annotations

import inspect
import json
import socket
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional

from .openai_chat import ChatAnswer
from .openai_checks import check_request
from .openai_refusals import NOT_JSON, Refused
from .openai_responses import ResponsesAnswer
from .openai_script import HANG, STATUS_ERRORS, Recorded, Script
from .openai_wire import ClientGone, Conn, Stopping, mask_key

__all__ = ["FakeOpenAI", "Script", "Recorded", "STATUS_ERRORS", "HANG"]

_ANSWERS = {"/v1/responses": ResponsesAnswer, "/v1/chat/completions": ChatAnswer}
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if "
    "you're accessing the API from your browser and are prompted for a username and password. You can "
    "obtain an API key from https://platform.openai.com/account/api-keys."
)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeOpenAI/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence access log
        pass

    @property
    def fake(self) -> "FakeOpenAI":
        return self.server.fake  # type: ignore[attr-defined]

    def setup(self) -> None:
        super().setup()
        self.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.fake._track(self.connection, False)

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        fake = self.fake
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parsed: Any = None
        try:
            parsed = json.loads(raw) if raw else {}
            body = parsed if isinstance(parsed, dict) else {"_": parsed}
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        rec = Recorded(
            path=path,
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
            started_at=time.monotonic(),
            method=method,
            stream=body.get("stream") is True,
        )
        fake._record(rec)
        conn = Conn(self, rec, fake._stopping)
        request_id = f"req_{uuid.uuid4().hex[:24]}"
        try:
            self._route(fake, conn, rec, method, path, request_id, parsed)
        except ClientGone as exc:
            if isinstance(exc, Stopping) or fake._stopping.is_set():
                rec.outcome = "server_stopped"
                conn.abort()
                return
            rec.client_closed_at = time.monotonic()
            rec.client_closed_early = True
            rec.outcome = "client_closed"
            self.close_connection = True
        finally:
            rec.finished_at = time.monotonic()
            rec.finished.set()

    # -- routing ------------------------------------------------------------
    def _route(self, fake: "FakeOpenAI", conn: Conn, rec: Recorded, method: str, path: str,
               request_id: str, parsed: Any) -> None:
        auth = rec.headers.get("authorization", "")
        key = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else ""
        if key != fake.api_key:
            rec.outcome = "status_error"
            message = (STATUS_ERRORS["invalid_api_key"][3].format(masked_key=mask_key(key)) if key
                       else _NO_KEY)
            conn.json_response(401, {"error": {"message": message, "type": "invalid_request_error",
                                               "param": None, "code": "invalid_api_key" if key else None}},
                               request_id=request_id)
            return
        if method == "GET" and path == "/v1/models":
            rec.outcome = "completed"
            conn.json_response(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                for m in ("gpt-5-mini", "gpt-4.1", "gpt-4o-mini")]}, request_id=request_id)
            return
        answer = _ANSWERS.get(path) if method == "POST" else None
        if answer is None:
            rec.outcome = "not_found"
            conn.json_response(404, {"error": {
                "message": f"Invalid URL ({method} {path})", "type": "invalid_request_error",
                "param": None, "code": None}}, request_id=request_id)
            return
        try:
            if parsed is None:
                raise Refused(NOT_JSON)
            check_request(answer.api, parsed)
        except Refused as refused:
            # Refused before the model sees it: no script is used up.
            rec.outcome, rec.refusal = "invalid_request", refused.error
            conn.json_response(400, {"error": refused.error}, request_id=request_id)
            return
        script = fake._next_script()
        rec.script = script
        answer(conn, rec, script, request_id, fake.api_key).run()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: "FakeOpenAI"

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return  # client went away: not interesting
        self.fake.errors.append(exc)  # type: ignore[arg-type]
        traceback.print_exc()


class FakeOpenAI:
    """Local OpenAI API stand-in. See module docstring.

    >>> with FakeOpenAI() as fake:
    ...     client = openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0)
    """

    def __init__(self, api_key: str = "sk-test") -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._reply = Script()
        self._queue: list[Script] = []
        self._requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._conns: set[socket.socket] = set()
        self.errors: list[BaseException] = []

    # -- lifecycle --------------------------------------------------------------
    def start(self) -> "FakeOpenAI":
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="FakeOpenAI", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
        # Let in-flight handlers notice the stop and record their outcome.
        deadline = time.monotonic() + 2.0
        for rec in self.requests:
            rec.finished.wait(max(0.0, deadline - time.monotonic()))
        self._server = None
        self._thread = None

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeOpenAI is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting ----------------------------------------------------------------
    @property
    def reply(self) -> Script:
        with self._lock:
            return self._reply

    @reply.setter
    def reply(self, script: Script) -> None:
        if not isinstance(script, Script):
            raise TypeError("reply must be a Script")
        with self._lock:
            self._reply = script

    def queue(self, *scripts: Script) -> None:
        """Use these scripts for the next requests (one each, FIFO), before `reply`."""
        for s in scripts:
            if not isinstance(s, Script):
                raise TypeError("queue() takes Script objects")
        with self._lock:
            self._queue.extend(scripts)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Forget recorded requests, queued scripts and set reply back to Script()."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._reply = Script()

    def _next_script(self) -> Script:
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            return self._reply

    # -- recording ------------------------------------------------------------------
    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self._requests.append(rec)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    @property
    def requests(self) -> list[Recorded]:
        """A snapshot list of every request received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def last(self) -> Recorded:
        with self._lock:
            if not self._requests:
                raise LookupError("no request recorded yet")
            return self._requests[-1]

    @property
    def refused(self) -> list[Recorded]:
        """Requests refused as invalid (HTTP 400 invalid_request_error), oldest first."""
        return [r for r in self.requests if r.outcome == "invalid_request"]

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def count(self, path: Optional[str] = None) -> int:
        """Requests received (to `path`, e.g. "/v1/responses", if given)."""
        reqs = self.requests
        return len(reqs) if path is None else sum(1 for r in reqs if r.path == path)

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.requests:
            out[r.path] = out.get(r.path, 0) + 1
        return out

    def wait_for(self, predicate: Callable[..., Any], timeout: float = 10.0, interval: float = 0.01) -> Any:
        """Poll `predicate` (called with no argument, or with this fake if it
        takes one) until it returns something truthy; return that value.
        Raises TimeoutError after `timeout` seconds."""
        try:
            wants_arg = any(
                p.default is inspect.Parameter.empty
                and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                for p in inspect.signature(predicate).parameters.values()
            )
        except (TypeError, ValueError):
            wants_arg = False
        deadline = time.monotonic() + timeout
        while True:
            value = predicate(self) if wants_arg else predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every recorded request has finished server-side."""
        self.wait_for(lambda: all(r.done for r in self.requests), timeout=timeout)

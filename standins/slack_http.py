"""FakeSlack's HTTP side: a request decoded (form or JSON), its token checked, the scripted
faults, latency and rate limits applied, the method run, and the call recorded.

Mixed into ``FakeSlack`` (``slack_api.py``), whose ``_methods`` maps each Web API method to its
handler and whose lock guards the call log, the forced faults and the token buckets.
"""
import copy
import json
import math
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

try:
    from .slack_limits import decode_json_field, error
except ImportError:  # imported as a top-level module
    from slack_limits import decode_json_field, error

# Params that carry JSON; recorded decoded so tests need not care about transport.
_JSON_PARAMS = ("blocks", "attachments", "metadata", "view", "chunks")

# Slack's native streaming (chat.startStream Tier 2, chat.appendStream Tier 4,
# chat.stopStream Tier 2); FakeSlack.streaming_available switches them off.
_STREAM_METHODS = ("chat.startStream", "chat.appendStream", "chat.stopStream")


# Methods that change nothing: they do not bump the version the playground waits on.
_READ_METHODS = frozenset({"auth.test", "conversations.replies", "conversations.history", "conversations.info",
                           "conversations.members", "users.info", "files.info", "search.messages"})


@dataclass
class Call:
    method: str
    params: dict          # request arguments, token removed, JSON fields decoded
    at: float             # time.monotonic() when the request arrived
    response: dict
    status: int
    http_method: str = "POST"
    content_type: str = ""
    retry_after: int | None = None  # the Retry-After of a 429


class HttpSide:
    # ------------------------------------------- scripted faults and limits
    def set_latency(self, method, seconds):
        """Delay responses of `method` ("*" = every method)."""
        with self._lock:
            self._latency[method] = seconds

    def rate_limit_next(self, method, count=1, retry_after=1):
        """The next `count` calls of `method` get 429. As on Slack, each 429 holds for its
        Retry-After: a call inside that window gets 429 too (not counted in `count`)."""
        with self._lock:
            self._forced_429[method] = [count, int(retry_after)]

    def refusal_ends_in(self, method):
        """Seconds until the Retry-After window of a forced 429 on `method` is over (0 when none holds)."""
        with self._lock:
            return max(0.0, self._held_until.get(method, 0) - time.monotonic())

    def fail_next(self, method, body, status=200, count=1):
        """The next `count` calls of `method` get `body` (a scripted fault: an error Slack
        gives, or a body carrying something that must never reach a log)."""
        with self._lock:
            self._forced_failures[method] = [count, status, body]

    def enforce_tiers(self, per_minute=None, burst=None, per_channel=()):
        """Token bucket per method: refills per_minute/60 tokens a second and holds
        at most `burst` (int for all, or dict per method; default per_minute).
        Methods in `per_channel` (chat.postMessage: ~1/s per channel) get a bucket
        per channel. per_minute=None switches enforcement off."""
        with self._lock:
            self._tiers, self._buckets = {}, {}
            self._per_channel = set(per_channel)
            for method, rate in (per_minute or {}).items():
                cap = burst.get(method, rate) if isinstance(burst, dict) else (burst or rate)
                self._tiers[method] = (rate, cap)

    # --------------------------------------------------------------- HTTP side
    def _serve(self, req):
        if req.path.startswith("/upload/v1/"):  # a file's bytes, POSTed to files.getUploadURLExternal's URL
            return self._serve_upload(req)
        arrived = time.monotonic()
        url = urlsplit(req.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        ctype = req.headers.get("Content-Type", "")
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        status, headers = 200, {}
        try:
            if body and ctype.startswith("application/json"):
                params.update(json.loads(body.decode("utf-8")))
            elif body:
                params.update({k: v[-1] for k, v in
                               parse_qs(body.decode("utf-8"), keep_blank_values=True).items()})
        except (ValueError, TypeError, UnicodeDecodeError):  # TypeError: JSON not an object
            params, result = {}, error("invalid_form_data")
        else:
            result = None
        method = url.path[len("/api/"):] if url.path.startswith("/api/") else ""
        params = {k: v for k, v in params.items() if v is not None}
        form_token = params.pop("token", None)
        for key in _JSON_PARAMS:  # decode for the record; handlers accept both forms
            try:
                params[key] = decode_json_field(params[key])
            except (KeyError, ValueError):
                pass
        delay = self._latency.get(method, self._latency.get("*", 0))
        if delay:
            time.sleep(delay)
        if result is not None:
            pass  # unparseable body
        elif method not in self._methods or (method in _STREAM_METHODS
                                             and not self.streaming_available):
            status, result = 404, error("unknown_method")
        else:
            auth = req.headers.get("Authorization", "")
            token = auth[len("Bearer "):] if auth.startswith("Bearer ") else form_token
            if not token:
                result = error("not_authed")
            elif token in self.app_tokens:
                # Slack: an app-level token opens Socket Mode connections and calls nothing else;
                # apps.connections.open wants it in the Authorization header (the error is undocumented).
                if method != "apps.connections.open":
                    result = error("not_allowed_token_type")
                elif not auth.startswith("Bearer "):
                    result = error("not_authed")
            elif not self._is_bot_token(token) and token not in self.user_tokens:
                result = error("invalid_auth")
            self._caller = token
        with self._lock:
            if result is None:
                retry_after = self._rate_limited(method, params.get("channel"))
                failure = self._forced_failure(method) if retry_after is None else None
                if failure is not None:
                    status, result = failure
                elif retry_after is not None:
                    status, result = 429, error("ratelimited")
                    headers["Retry-After"] = str(retry_after)
                    self.ratelimited_count += 1
                else:
                    try:
                        result = self._refusal(method, params) or self._methods[method](params)
                    except Exception as exc:  # a stand-in bug must fail loudly, not hang the client
                        status, result = 500, error("fake_slack_internal_error", detail=repr(exc))
            payload = json.dumps(result, ensure_ascii=False).encode("utf-8")
            self.calls.append(Call(method, params, arrived, result, status, req.command, ctype.split(";")[0],
                                   int(headers["Retry-After"]) if "Retry-After" in headers else None))
            if result.get("ok") and method not in _READ_METHODS:
                self._bump()
        req.send_response(status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(payload)

    def _forced_failure(self, method):
        forced = self._forced_failures.get(method)
        if not forced or forced[0] <= 0:
            return None
        forced[0] -= 1
        return forced[1], copy.deepcopy(forced[2])

    def _rate_limited(self, method, channel=None):
        """Seconds to put in Retry-After, or None to let the call through."""
        held = self._held_until.get(method, 0) - time.monotonic()
        if held > 0:
            return max(1, math.ceil(held))
        forced = self._forced_429.get(method)
        if forced and forced[0] > 0:
            forced[0] -= 1
            self._held_until[method] = time.monotonic() + forced[1]
            return forced[1]
        if method not in self._tiers:
            return None
        rate, cap = self._tiers[method]
        now = time.monotonic()
        key = (method, channel) if method in self._per_channel else method
        bucket = self._buckets.setdefault(key, [float(cap), now])
        bucket[0] = min(cap, bucket[0] + (now - bucket[1]) * rate / 60.0)
        bucket[1] = now
        if bucket[0] >= 1:
            bucket[0] -= 1
            return None
        # Whole seconds, rounded up, so a client that waits exactly that long succeeds.
        return max(1, math.ceil((1 - bucket[0]) * 60.0 / rate))

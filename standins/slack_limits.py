"""Argument checking for the FakeSlack stand-in: content limits, ts windows, cursors.

Kept apart from the server so the limits (taken from /work/shared/SLACK_FACTS.md)
are in one place and easy to compare with the facts file.
"""

import base64
import binascii
import json

MAX_MARKDOWN_TEXT = 12000  # facts: markdown_text argument


def error(code, **extra):
    """A Slack error body: HTTP 200 with ok=false."""
    return {"ok": False, "error": code, **extra}


def decode_json_field(value):
    """Form-encoded requests carry blocks/metadata/view as JSON strings, JSON
    requests carry them as objects; return the object either way.
    Raises ValueError for a string that is not JSON."""
    if isinstance(value, (bytes, str)):
        return json.loads(value)
    return value


def fallback_text(blocks):
    """Slack fills `text` from the blocks when only blocks are sent; a bot that
    reads a thread back sees that text. Approximation: join the visible texts."""
    parts = []
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        text = block.get("text")
        if isinstance(text, dict):
            text = text.get("text")
        if isinstance(text, str) and text:
            parts.append(text)
    return "\n".join(parts)


def check_content(params, *, max_text):
    """Validate the content arguments shared by chat.postMessage, chat.update
    and chat.postEphemeral; the blocks and metadata themselves are ``slack_blocks.py``'s.

    Returns (error_body, None) or (None, content) where content holds the
    decoded `text`, `blocks`, `metadata`, `markdown_text` that were present."""
    content = {}
    for key in ("text", "markdown_text"):
        if params.get(key) is not None:
            content[key] = str(params[key])
    err = _decode_blocks_and_metadata(params, content)
    if err:
        return err, None

    # Facts: markdown_text "can't be combined with text or blocks".
    if "markdown_text" in content and ("text" in content or "blocks" in content):
        return error("invalid_arguments"), None
    has_content = bool(content.get("text")) or bool(content.get("blocks")) \
        or bool(content.get("markdown_text")) or bool(params.get("attachments"))
    if not has_content:
        return error("no_text"), None
    if len(content.get("text", "")) > max_text:
        return error("msg_too_long"), None
    # Slack's error for an over-long markdown_text is not documented; this is a guess.
    if len(content.get("markdown_text", "")) > MAX_MARKDOWN_TEXT:
        return error("msg_too_long"), None
    return None, content


# chat.*Stream chunk types (slack_sdk.models.messages.chunk). Only markdown_text
# chunks add text here; the others are accepted and not rendered.
STREAM_CHUNK_TYPES = ("markdown_text", "task_update", "plan_update", "blocks")


def check_stream_content(params, *, final=False, exclusive=True):
    """Validate the arguments of chat.startStream / chat.appendStream (final=False)
    and chat.stopStream (final=True, which also takes `blocks` and `metadata`).

    Returns (error_body, None) or (None, content): content["text"] is the markdown
    this call appends ("" if none), content["mode"] is "markdown_text", "chunks" or
    None (what carried text, for streaming_mode_mismatch), plus decoded `blocks`
    and `metadata` when final and present (checked by ``slack_blocks.py``).
    exclusive: refuse markdown_text together with chunks (documented for
    chat.appendStream and chat.stopStream as cannot_provide_both_markdown_text_and_chunks)."""
    content, parts = {"mode": None}, []
    markdown = params.get("markdown_text")
    if markdown is not None:
        markdown = str(markdown)
        # Docs: "Limit this field to 12,000 characters"; the error code is a guess.
        if len(markdown) > MAX_MARKDOWN_TEXT:
            return error("msg_too_long"), None
        parts.append(markdown)
    chunks = params.get("chunks")
    if chunks in ("", []):
        chunks = None  # slack_sdk's ChatStream.stop() sends chunks=[] when its buffer is empty
    if chunks is not None:
        try:
            chunks = decode_json_field(chunks)
        except ValueError:
            return error("invalid_chunks"), None
        if not isinstance(chunks, list):
            return error("invalid_chunks"), None
        for chunk in chunks:
            if not isinstance(chunk, dict) or chunk.get("type") not in STREAM_CHUNK_TYPES:
                return error("invalid_chunks"), None
            if chunk["type"] == "markdown_text":
                if not isinstance(chunk.get("text"), str):
                    return error("invalid_chunks"), None
                if len(chunk["text"]) > MAX_MARKDOWN_TEXT:
                    return error("msg_too_long"), None
                parts.append(chunk["text"])
    if markdown is not None and chunks is not None:
        if exclusive:
            return error("cannot_provide_both_markdown_text_and_chunks"), None
        content["mode"] = "mixed"
    elif markdown is not None:
        content["mode"] = "markdown_text"
    elif chunks is not None:
        content["mode"] = "chunks"
    content["text"] = "".join(parts)
    if final:
        err = _decode_blocks_and_metadata(params, content)
        if err:
            return err, None
    return None, content


def truthy(value):
    # Form bodies carry "1"/"true" (slack_sdk turns bools into "1"/"0"); JSON carries bools.
    return value is True or str(value).lower() in ("1", "true")


def ts_key(ts):
    """Order ts strings numerically ("1700000000.000100"); raises ValueError."""
    sec, _, frac = str(ts).partition(".")
    return (int(sec), int((frac + "000000")[:6]))


def encode_cursor(ts):
    # Same shape as Slack's cursors: base64("next_ts:<ts without the dot>").
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def decode_cursor(cursor):
    raw = base64.b64decode(cursor, validate=True).decode()
    digits = raw[len("next_ts:"):]
    if not raw.startswith("next_ts:") or not digits.isdigit() or len(digits) < 7:
        raise ValueError(cursor)
    return ts_key(f"{digits[:-6]}.{digits[-6:]}")


def time_window(params):
    """(keep(msg) predicate for oldest/latest/inclusive, None) or (None, error body)."""
    try:
        oldest = ts_key(params.get("oldest") or "0")
    except ValueError:
        return None, error("invalid_ts_oldest")
    try:
        latest = ts_key(params["latest"]) if params.get("latest") else None
    except ValueError:
        return None, error("invalid_ts_latest")
    inclusive = truthy(params.get("inclusive", False))

    def keep(msg):
        k = ts_key(msg["ts"])
        above = k >= oldest if inclusive else k > oldest
        below = latest is None or (k <= latest if inclusive else k < latest)
        return above and below
    return keep, None


def page_limit(params, default):
    try:
        limit = int(params.get("limit") or 0)
    except (TypeError, ValueError):
        limit = 0
    return default if limit <= 0 else limit


def paginate(items, params, default_limit, max_limit, order):
    """Cut one page of `items` (sorted; order +1 ascending ts, -1 descending).
    Returns ((page, has_more, response_metadata), None) or (None, error body)."""
    limit = min(page_limit(params, default_limit), max_limit)
    start = 0
    if params.get("cursor"):
        try:
            at = decode_cursor(params["cursor"])
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None, error("invalid_cursor")
        start = next((i for i, m in enumerate(items)
                      if (ts_key(m["ts"]) >= at if order > 0 else ts_key(m["ts"]) <= at)),
                     len(items))
    page, rest = items[start:start + limit], items[start + limit:]
    return (page, bool(rest), {"next_cursor": encode_cursor(rest[0]["ts"]) if rest else ""}), None


def _decode_blocks_and_metadata(params, content):
    """Decode `blocks` and `metadata` (JSON text or objects) into content; an error body when malformed."""
    for key, bad in (("blocks", "invalid_blocks"), ("metadata", "invalid_metadata_format")):
        if params.get(key) in (None, ""):
            continue
        try:
            content[key] = decode_json_field(params[key])
        except ValueError:
            return error(bad)
    return None

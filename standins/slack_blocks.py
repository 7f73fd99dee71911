"""Block Kit as strict as Slack: the element limits of messages and modals, and metadata's event_type.

FakeSlack calls these after ``slack_limits.check_content`` (which checks the text and decodes the
blocks and metadata): Slack refuses blocks that break a limit with ``invalid_blocks`` and one
line per problem naming its place (``[json-pointer:/blocks/0/elements/0/text/text]``), and a
modal that breaks one with ``invalid_arguments`` in the same form.

Limits from /work/shared/SLACK_FACTS.md and AI_SURFACE_FACTS.md (B, C, D), the rest from the
validators in slack_sdk's ``models/blocks`` and ``models/views`` (Slack's own SDK).
"""
from __future__ import annotations

import json
import re

try:
    from .slack_limits import error
except ImportError:  # imported as a top-level module
    from slack_limits import error

MAX_BLOCKS = 50                # facts: "at most 50 per message"
MAX_SECTION_TEXT = 3000        # facts: "a section's text at most 3,000 characters"
MAX_MARKDOWN_TOTAL = 12000     # facts: markdown blocks, cumulative per message
MAX_VIEW_BLOCKS = 100          # modals and Home tabs
MAX_ID = 255                   # block_id, action_id, callback_id
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_URL = 3000
MAX_HEADER_TEXT = 150
MAX_SECTION_FIELDS, MAX_FIELD_TEXT = 10, 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_ACTIONS_ELEMENTS = 5
MAX_OPTIONS, MAX_OPTION_TEXT, MAX_OPTION_VALUE = 100, 75, 150
MAX_ALT_TEXT = 2000
MAX_LABEL = 2000
MAX_PLACEHOLDER = 150
MAX_VIEW_TITLE = 24            # title, submit and close of a modal
MAX_PRIVATE_METADATA = 3000
MAX_VIEW_BYTES = 250_000       # views.publish: view_too_large past 250 kB (facts C); taken for views.open too

# Facts: metadata event_type is a "snake_case_name".
_EVENT_TYPE = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")


def blocks_error(blocks, *, max_blocks=MAX_BLOCKS, path="/blocks"):
    """``invalid_blocks`` naming every problem, or None when Slack would take the blocks."""
    problems = block_problems(blocks, max_blocks=max_blocks, path=path)
    return invalid("invalid_blocks", problems) if problems else None


def invalid(code, problems):
    return error(code, errors=problems, response_metadata={"messages": [f"[ERROR] {p}" for p in problems]})


def content_error(content, max_metadata_chars):
    """The error body for a message's decoded ``blocks`` and ``metadata`` (chat.postMessage, chat.update,
    chat.postEphemeral, chat.stopStream), blocks first, or None."""
    if "blocks" in content:
        err = blocks_error(content["blocks"])
        if err:
            return err
    return metadata_error(content["metadata"], max_metadata_chars) if "metadata" in content else None


def metadata_error(metadata, max_chars):
    """``invalid_metadata_format`` for metadata that is not {event_type: snake_case string,
    event_payload: object}, ``metadata_too_large`` past ``max_chars`` of JSON, else None."""
    if not (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
            and isinstance(metadata.get("event_payload", {}), dict)):
        return error("invalid_metadata_format")
    # Facts: the real limit is undocumented; the caller makes it configurable.
    if len(json.dumps(metadata, ensure_ascii=False, separators=(",", ":"))) > max_chars:
        return error("metadata_too_large")
    if not _EVENT_TYPE.match(metadata["event_type"]):
        return error("invalid_metadata_format")
    return None


def view_error(view):
    """The error body for a modal ``views.open`` would refuse, or None."""
    if not isinstance(view, dict) or not view.get("type"):
        return error("invalid_arguments")
    if len(json.dumps(view, ensure_ascii=False).encode("utf-8")) > MAX_VIEW_BYTES:
        return error("view_too_large")
    problems = []
    for key in ("title", "submit", "close"):
        _text(problems, view.get(key), f"/view/{key}", MAX_VIEW_TITLE, plain_only=True, required=key == "title")
    _too_long(problems, view.get("private_metadata"), MAX_PRIVATE_METADATA, "/view/private_metadata")
    _too_long(problems, view.get("callback_id"), MAX_ID, "/view/callback_id")
    blocks = view.get("blocks", [])
    problems += block_problems(blocks, max_blocks=MAX_VIEW_BLOCKS, path="/view/blocks")
    if isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks) \
            and not view.get("submit"):
        problems.append("must provide a submit button when an input block is present [json-pointer:/view/submit]")
    return invalid("invalid_arguments", problems) if problems else None


def block_problems(blocks, *, max_blocks, path):
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{path}]"]
    problems = []
    if len(blocks) > max_blocks:
        problems.append(f"no more than {max_blocks} items allowed [json-pointer:{path}]")
    markdown_total, block_ids = 0, set()
    for i, block in enumerate(blocks):
        where = f"{path}/{i}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            _too_long(problems, block_id, MAX_ID, f"{where}/block_id")
            if block_id in block_ids:  # Block Kit reference: "unique for each message"
                problems.append(f"duplicate block_id [json-pointer:{where}/block_id]")
            block_ids.add(block_id)
        if block["type"] == "markdown":
            markdown_total += len(str(block.get("text", "")))
        check = _BLOCKS.get(block["type"])
        if check:
            check(problems, block, where)
    if markdown_total > MAX_MARKDOWN_TOTAL:
        problems.append(f"markdown blocks exceed {MAX_MARKDOWN_TOTAL} characters in total [json-pointer:{path}]")
    return problems


# ------------------------------------------------------------------ blocks
def _section(problems, block, where):
    _text(problems, block.get("text"), f"{where}/text", MAX_SECTION_TEXT, required="fields" not in block)
    fields = block.get("fields")
    if fields is not None:
        _count(problems, fields, 1, MAX_SECTION_FIELDS, f"{where}/fields")
        for k, field in enumerate(fields if isinstance(fields, list) else []):
            _text(problems, field, f"{where}/fields/{k}", MAX_FIELD_TEXT)
    if block.get("accessory") is not None:
        _element(problems, block["accessory"], f"{where}/accessory")


def _header(problems, block, where):
    _text(problems, block.get("text"), f"{where}/text", MAX_HEADER_TEXT, plain_only=True, required=True)


def _element_list(most):
    """An actions-like block: 1 to ``most`` interactive elements."""
    def check(problems, block, where):
        elements = block.get("elements")
        _count(problems, elements, 1, most, f"{where}/elements")
        for k, element in enumerate(elements if isinstance(elements, list) else []):
            _element(problems, element, f"{where}/elements/{k}")
    return check


def _context(problems, block, where):
    elements = block.get("elements")
    _count(problems, elements, 1, MAX_CONTEXT_ELEMENTS, f"{where}/elements")
    for k, element in enumerate(elements if isinstance(elements, list) else []):
        kind = element.get("type") if isinstance(element, dict) else None
        if kind == "image":
            _too_long(problems, element.get("alt_text"), MAX_ALT_TEXT, f"{where}/elements/{k}/alt_text")
        elif kind not in ("plain_text", "mrkdwn"):  # (text here has no documented length of its own)
            problems.append(f"must be a text or image element [json-pointer:{where}/elements/{k}]")


def _image(problems, block, where):
    _too_long(problems, block.get("image_url"), MAX_URL, f"{where}/image_url")
    _too_long(problems, block.get("alt_text"), MAX_ALT_TEXT, f"{where}/alt_text")


def _input(problems, block, where):
    _text(problems, block.get("label"), f"{where}/label", MAX_LABEL, plain_only=True, required=True)
    _element(problems, block.get("element"), f"{where}/element")


# context_actions (facts B): where feedback buttons live, at most 5 elements.
_BLOCKS = {"section": _section, "header": _header, "actions": _element_list(MAX_ACTIONS_ELEMENTS),
           "context": _context, "context_actions": _element_list(MAX_CONTEXT_ACTIONS_ELEMENTS),
           "image": _image, "input": _input}


# ---------------------------------------------------------------- elements
def _element(problems, element, where):
    if not isinstance(element, dict) or not isinstance(element.get("type"), str):
        problems.append(f"missing required field: type [json-pointer:{where}]")
        return
    _too_long(problems, element.get("action_id"), MAX_ID, f"{where}/action_id")
    kind = element["type"]
    if kind == "button":
        _text(problems, element.get("text"), f"{where}/text", MAX_BUTTON_TEXT, plain_only=True, required=True)
        _too_long(problems, element.get("value"), MAX_BUTTON_VALUE, f"{where}/value")
        _too_long(problems, element.get("url"), MAX_URL, f"{where}/url")
        if element.get("style") not in (None, "primary", "danger"):  # the button element's two styles
            problems.append(f"must be one of primary, danger [json-pointer:{where}/style]")
    elif kind == "feedback_buttons":
        for side in ("positive_button", "negative_button"):
            button = element.get(side)
            if not isinstance(button, dict):
                problems.append(f"missing required field: {side} [json-pointer:{where}]")
                continue
            _text(problems, button.get("text"), f"{where}/{side}/text", MAX_BUTTON_TEXT, plain_only=True,
                  required=True)
            _too_long(problems, button.get("value"), MAX_BUTTON_VALUE, f"{where}/{side}/value")
    elif kind in ("static_select", "multi_static_select"):
        options = element.get("options")
        _count(problems, options, 1, MAX_OPTIONS, f"{where}/options")
        for k, option in enumerate(options if isinstance(options, list) else []):
            _text(problems, (option or {}).get("text"), f"{where}/options/{k}/text", MAX_OPTION_TEXT,
                  plain_only=True, required=True)
            _too_long(problems, (option or {}).get("value"), MAX_OPTION_VALUE, f"{where}/options/{k}/value")
    if "placeholder" in element:
        _text(problems, element["placeholder"], f"{where}/placeholder", MAX_PLACEHOLDER, plain_only=True)


# ------------------------------------------------------------------ pieces
def _text(problems, obj, where, limit, *, plain_only=False, required=False):
    """A text object: {"type": "plain_text"|"mrkdwn", "text": …} of at most ``limit`` characters."""
    if obj is None:
        if required:
            problems.append(f"missing required field: text [json-pointer:{where}]")
        return
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if not isinstance(obj, dict) or obj.get("type") not in allowed:
        problems.append(f"must be a {' or '.join(allowed)} text object [json-pointer:{where}]")
        return
    _too_long(problems, obj.get("text"), limit, f"{where}/text")


def _too_long(problems, value, limit, where):
    if value is not None and len(str(value)) > limit:
        problems.append(f"must be less than {limit + 1} characters [json-pointer:{where}]")


def _count(problems, items, least, most, where):
    if not isinstance(items, list):
        problems.append(f"must be an array [json-pointer:{where}]")
    elif len(items) < least:
        problems.append(f"must provide at least {least} items [json-pointer:{where}]")
    elif len(items) > most:
        problems.append(f"no more than {most} items allowed [json-pointer:{where}]")

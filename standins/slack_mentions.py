"""Which messages would ping a channel or a group: FakeSlack reads them as Slack does.

From Slack's message-formatting reference: ``&``, ``<`` and ``>`` are control
characters; ``<!here>``, ``<!channel>``, ``<!everyone>`` (``<!group>``, an old
synonym of channel) and user groups ``<!subteam^ID>``, each also with a
``|label``, notify; the HTML-escaped ``&lt;!here&gt;`` is shown as text and
notifies nobody. A plain ``@here`` is linked only when the call asks for
``link_names`` (or ``parse=full``). This holds for the top-level ``text`` and
for ``mrkdwn`` text objects; ``plain_text`` is never parsed; rich text
``broadcast`` and ``usergroup`` elements notify.

The ``markdown`` block (and streaming's ``markdown_text``, stored as one) is
not documented on this point, so the stand-in assumes the worst: Markdown
decodes entities, and both ``<!here>`` and a plain ``@here`` in it notify. Slack writes the
commands in lower case; how it reads ``<!HERE>`` is not documented either, so it counts too.
"""
import html
import re

SPECIAL = re.compile(r"<!(here|channel|everyone|group|subteam\^[A-Za-z0-9]+)(?:\|[^<>]*)?>", re.IGNORECASE)
PLAIN = re.compile(r"(?<![\w@])@(here|channel|everyone)\b", re.IGNORECASE)


def mrkdwn_pings(text, link_names=False):
    found = [match.group(1) for match in SPECIAL.finditer(text or "")]
    return found + ([match.group(1) for match in PLAIN.finditer(text or "")] if link_names else [])


def markdown_pings(text):
    return mrkdwn_pings(html.unescape(text or ""), link_names=True)


def block_pings(node, link_names=False):
    """Every notifying mention in a block (or a list of them), walked as Slack renders each part."""
    if isinstance(node, list):
        return [ping for item in node for ping in block_pings(item, link_names)]
    if not isinstance(node, dict):
        return []
    kind = node.get("type")
    if kind == "markdown" and isinstance(node.get("text"), str):
        return markdown_pings(node["text"])
    if kind == "mrkdwn":
        return mrkdwn_pings(node.get("text"), link_names)
    if kind == "plain_text":
        return []
    if kind == "broadcast":
        return [node.get("range", "here")]
    if kind == "usergroup":
        return [f"subteam^{node.get('usergroup_id', '')}"]
    return [ping for value in node.values() if isinstance(value, (dict, list))
            for ping in block_pings(value, link_names)]


def message_pings(msg, link_names=False):
    """Who the stored message would notify, from its text and its blocks (each once)."""
    found = mrkdwn_pings(msg.get("text"), link_names) + block_pings(msg.get("blocks") or [], link_names)
    return list(dict.fromkeys(found))


def asks_link_names(params):
    return str(params.get("link_names", "")).lower() in ("1", "true") or params.get("parse") == "full"

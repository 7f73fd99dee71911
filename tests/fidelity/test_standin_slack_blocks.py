"""FakeSlack refuses the Block Kit, metadata, modals and trigger ids that real Slack refuses, with
Slack's errors (``invalid_blocks`` naming the place, ``invalid_arguments``, ``*_trigger_id``); each
limit next to the largest value Slack still takes, through the real slack_sdk.WebClient."""
import pytest

from slack_standin_fixtures import CHANNEL, api_error, client, fake  # noqa: F401  (fixtures)


def button(text="Stop", **extra):
    return {"type": "button", "action_id": "act", "text": {"type": "plain_text", "text": text}, **extra}


def actions(*elements):
    return {"type": "actions", "elements": list(elements)}


def plain(text):
    return {"type": "plain_text", "text": text}


# (name, blocks Slack refuses, the JSON pointer it names, blocks at the limit that it takes)
LIMITS = [
    ("50-blocks", [{"type": "divider"}] * 51, "/blocks", [{"type": "divider"}] * 50),
    ("section-text-3000", [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}],
     "/blocks/0/text/text", [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3000}}]),
    ("section-10-fields", [{"type": "section", "fields": [plain("f")] * 11}], "/blocks/0/fields",
     [{"type": "section", "fields": [plain("f")] * 10}]),
    ("markdown-12000-per-message", [{"type": "markdown", "text": "m" * 6000}, {"type": "markdown", "text": "m" * 6001}],
     "/blocks", [{"type": "markdown", "text": "m" * 6000}] * 2),
    ("button-text-75", [actions(button("b" * 76))], "/blocks/0/elements/0/text/text", [actions(button("b" * 75))]),
    ("button-text-plain", [actions(button(text=None) | {"text": {"type": "mrkdwn", "text": "*b*"}})],
     "/blocks/0/elements/0/text", [actions(button("b"))]),
    ("action-id-255", [actions(button(action_id="a" * 256))], "/blocks/0/elements/0/action_id",
     [actions(button(action_id="a" * 255))]),
    ("button-value-2000", [actions(button(value="v" * 2001))], "/blocks/0/elements/0/value",
     [actions(button(value="v" * 2000))]),
    ("actions-at-most-25", [actions(*[button()] * 26)], "/blocks/0/elements", [actions(*[button()] * 25)]),
    ("actions-at-least-1", [actions()], "/blocks/0/elements", [actions(button())]),
    ("context-10-elements", [{"type": "context", "elements": [plain("c")] * 11}], "/blocks/0/elements",
     [{"type": "context", "elements": [plain("c")] * 10}]),
    ("header-150", [{"type": "header", "text": plain("h" * 151)}], "/blocks/0/text/text",
     [{"type": "header", "text": plain("h" * 150)}]),
    ("block-id-255", [{"type": "divider", "block_id": "i" * 256}], "/blocks/0/block_id",
     [{"type": "divider", "block_id": "i" * 255}]),
    ("block-id-unique", [{"type": "divider", "block_id": "x"}] * 2, "/blocks/1/block_id",
     [{"type": "divider", "block_id": "x"}, {"type": "divider", "block_id": "y"}]),
    ("feedback-button-text-75", [{"type": "context_actions", "elements": [
        {"type": "feedback_buttons", "action_id": "fb", "positive_button": {"text": plain("y" * 76), "value": "up"},
         "negative_button": {"text": plain("no"), "value": "down"}}]}],
     "/blocks/0/elements/0/positive_button/text/text", [{"type": "context_actions", "elements": [
        {"type": "feedback_buttons", "action_id": "fb", "positive_button": {"text": plain("y" * 75), "value": "up"},
         "negative_button": {"text": plain("no"), "value": "down"}}]}]),
]


@pytest.mark.parametrize("bad, pointer, good", [case[1:] for case in LIMITS], ids=[case[0] for case in LIMITS])
def test_blocks_over_a_limit_are_invalid_blocks_naming_the_place(fake, client, bad, pointer, good):
    refused = api_error(client.chat_postMessage, channel=CHANNEL, text="t", blocks=bad)
    assert refused["error"] == "invalid_blocks"
    assert any(problem.endswith(f"[json-pointer:{pointer}]") for problem in refused["errors"]), refused["errors"]
    assert refused["response_metadata"]["messages"][0].startswith("[ERROR] ")
    ts = client.chat_postMessage(channel=CHANNEL, text="t", blocks=good)["ts"]
    assert api_error(client.chat_update, channel=CHANNEL, ts=ts, text="t", blocks=bad)["error"] == "invalid_blocks"
    assert fake.get(CHANNEL, ts)["blocks"] == good


def test_blocks_at_the_end_of_a_stream_are_checked_too(fake, client):
    root = fake.add_message(CHANNEL, "UALICE", "question?")
    ts = client.chat_startStream(channel=CHANNEL, thread_ts=root, markdown_text="answer",
                                 recipient_user_id="UALICE", recipient_team_id="T1")["ts"]
    bad = {"channel": CHANNEL, "ts": ts, "blocks": [actions(button("b" * 76))]}
    assert api_error(client.chat_stopStream, **bad)["error"] == "invalid_blocks"
    assert api_error(client.chat_stopStream, channel=CHANNEL, ts=ts,
                     metadata={"event_type": "Done", "event_payload": {}})["error"] == "invalid_metadata_format"
    assert client.chat_stopStream(channel=CHANNEL, ts=ts, blocks=[actions(button("b" * 75))])["ok"]


def test_the_bots_own_blocks_are_valid(client):
    from threadwise.slack.reply_format import final_blocks, streaming_blocks

    for blocks in (streaming_blocks(""), streaming_blocks("partial answer"), final_blocks("# Done\n\nok")):
        assert client.chat_postMessage(channel=CHANNEL, text="t", blocks=blocks)["ok"]


def test_text_over_4000_characters_is_msg_too_long_on_update(client):
    ts = client.chat_postMessage(channel=CHANNEL, text="v1")["ts"]
    assert api_error(client.chat_update, channel=CHANNEL, ts=ts, text="x" * 4001)["error"] == "msg_too_long"
    assert client.chat_update(channel=CHANNEL, ts=ts, text="x" * 4000)["ok"]


@pytest.mark.parametrize("event_type", ["AssistantReply", "assistant-reply", "assistant reply", "", "_x"])
def test_metadata_event_type_must_be_snake_case(client, event_type):
    metadata = {"event_type": event_type, "event_payload": {"a": 1}}
    assert api_error(client.chat_postMessage, channel=CHANNEL, text="t",
                     metadata=metadata)["error"] == "invalid_metadata_format"
    ts = client.chat_postMessage(channel=CHANNEL, text="t", metadata={"event_type": "assistant_reply_2",
                                                                      "event_payload": {}})["ts"]
    assert api_error(client.chat_update, channel=CHANNEL, ts=ts, text="t",
                     metadata=metadata)["error"] == "invalid_metadata_format"


# ------------------------------------------------------------------ modals and trigger ids

def modal(**changes):
    view = {"type": "modal", "title": plain("Stopped"), "close": plain("OK"),
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}]}
    view.update(changes)
    return view


MODAL_LIMITS = [
    ("title-24", {"title": plain("t" * 25)}, "/view/title/text", {"title": plain("t" * 24)}),
    ("close-24", {"close": plain("c" * 25)}, "/view/close/text", {"close": plain("c" * 24)}),
    ("submit-24", {"submit": plain("s" * 25)}, "/view/submit/text", {"submit": plain("s" * 24)}),
    ("100-blocks", {"blocks": [{"type": "divider"}] * 101}, "/view/blocks", {"blocks": [{"type": "divider"}] * 100}),
    ("private-metadata-3000", {"private_metadata": "p" * 3001}, "/view/private_metadata",
     {"private_metadata": "p" * 3000}),
    ("button-in-a-modal", {"blocks": [actions(button("b" * 76))]}, "/view/blocks/0/elements/0/text/text",
     {"blocks": [actions(button("b" * 75))]}),
]


@pytest.mark.parametrize("bad, pointer, good", [case[1:] for case in MODAL_LIMITS],
                         ids=[case[0] for case in MODAL_LIMITS])
def test_a_modal_over_a_limit_is_invalid_arguments(fake, client, bad, pointer, good):
    trigger = fake.new_trigger_id()
    refused = api_error(client.views_open, trigger_id=trigger, view=modal(**bad))
    assert refused["error"] == "invalid_arguments"
    assert any(p.endswith(f"[json-pointer:{pointer}]") for p in refused["errors"]), refused["errors"]
    assert client.views_open(trigger_id=trigger, view=modal(**good))["ok"]  # a refused view does not use it up


def test_a_modal_over_250_kb_is_view_too_large(fake, client):
    big = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 90
    assert api_error(client.views_open, trigger_id=fake.new_trigger_id(), view=modal(blocks=big))["error"] \
        == "view_too_large"


def test_a_trigger_id_opens_one_view_within_3_seconds(fake, client):
    assert api_error(client.views_open, trigger_id="12345.67890.abcdef", view=modal())["error"] \
        == "invalid_trigger_id"
    trigger = fake.new_trigger_id()
    assert client.views_open(trigger_id=trigger, view=modal())["ok"]
    assert api_error(client.views_open, trigger_id=trigger, view=modal())["error"] == "exchanged_trigger_id"
    late = fake.new_trigger_id(issued_ago=3.1)
    assert api_error(client.views_open, trigger_id=late, view=modal())["error"] == "expired_trigger_id"
    assert client.views_open(trigger_id=fake.new_trigger_id(issued_ago=2.5), view=modal())["ok"]
    assert len(fake.views) == 2


def test_an_interaction_gets_a_trigger_id_issued_as_it_is_delivered(fake):
    issued = fake.issue_trigger({"type": "message_action", "trigger_id": "trig-placeholder"})
    assert issued["trigger_id"] != "trig-placeholder"
    late = fake.new_trigger_id(issued_ago=10)
    assert fake.issue_trigger({"trigger_id": late})["trigger_id"] == late  # a test's own trigger is kept
    assert fake.issue_trigger({"type": "view_closed"}) == {"type": "view_closed"}


def test_views_update_replaces_an_open_view_by_its_id(fake, client):
    """No trigger needed (it may have expired): the view id views.open gave; checked like a new view."""
    opened = client.views_open(trigger_id=fake.new_trigger_id(), view=modal())["view"]
    updated = client.views_update(view_id=opened["id"], view=modal(title={"type": "plain_text", "text": "Done"}))
    assert updated["ok"] and updated["view"]["id"] == opened["id"] and updated["view"]["title"]["text"] == "Done"
    assert updated["view"]["hash"] != opened["hash"]
    assert fake.views[-1]["view"]["title"]["text"] == "Done"
    assert api_error(client.views_update, view_id="V0000000404", view=modal())["error"] == "not_found"
    assert api_error(client.views_update, view_id=opened["id"], view=modal(), hash=opened["hash"])["error"] \
        == "hash_conflict"  # the view changed since that hash
    big = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}] * 90
    assert api_error(client.views_update, view_id=opened["id"], view=modal(blocks=big))["error"] == "view_too_large"

"""pings.quiet and pings.stream_safe: the model's special mentions are shown, never live (issue 16, item 5)."""
from __future__ import annotations

import pytest

from standins.slack_mentions import markdown_pings, mrkdwn_pings
from threadwise.slack.pings import WORD_JOINER as J, quiet, stream_safe
from threadwise.slack.reply_format import fallback_text, final_blocks, sources_section, streaming_blocks
from threadwise.model.types import Citation

pytestmark = pytest.mark.in_process

CASES = [
    ("<!channel>", f"@{J}channel"),
    ("<!here>", f"@{J}here"),
    ("<!everyone>", f"@{J}everyone"),
    ("<!group>", f"@{J}group"),
    ("<!here|here>", f"@{J}here"),
    ("<!channel|@channel>", f"@{J}channel"),
    ("<!everyone|everyone>", f"@{J}everyone"),
    ("<!subteam^S123|@team>", f"@{J}team"),
    ("<!subteam^S123>", f"@{J}S123"),
    ("&lt;!here&gt;", f"@{J}here"),
    ("<!HERE>", f"@{J}here"),
    ("@here", f"@{J}here"),
    ("@channel!", f"@{J}channel!"),
]


@pytest.mark.parametrize("written, shown", CASES)
def test_each_special_mention_is_shown_not_live(written, shown):
    text = f"Hi {written} there"
    assert quiet(text) == f"Hi {shown} there"
    assert not mrkdwn_pings(quiet(text), link_names=True) and not markdown_pings(quiet(text))
    assert mrkdwn_pings(text, link_names=True) or markdown_pings(text)  # (it was one, as the stand-in reads it)


def test_what_is_not_a_special_mention_stays():
    kept = ("Ask <@U123> or <@U456|ada>, see <#C1|general>, <https://x.org|a link>, <!date^1392734382^{date}|Feb 18>, "
            "```html\n<!DOCTYPE html>\n<!-- note -->\n```, email ops@here.example, a < b > c, user@channel.org")
    assert quiet(kept) == kept


def test_quiet_is_idempotent_and_never_longer_than_one_joiner_a_mention():
    text = "<!here> @channel <!subteam^S1|@ops>"
    assert quiet(quiet(text)) == quiet(text)


def test_every_text_of_a_reply_is_quieted():
    assert streaming_blocks("wake <!here>")[0]["text"] == f"wake @{J}here …"
    assert streaming_blocks("", "Searching <!channel>…")[0]["text"] == f"_Searching @{J}channel…_"
    assert final_blocks("<!everyone>")[0]["text"] == f"@{J}everyone"
    assert fallback_text("<!everyone>") == f"@{J}everyone"
    assert fallback_text("<!here> " + "x" * 5000).startswith(f"@{J}here x")
    section = sources_section([Citation("https://example.org", "<!channel> news")])
    assert f"[@{J}channel news]" in final_blocks("answer" + section)[0]["text"]


@pytest.mark.parametrize("tail", ["<", "<!", "<!cha", "<!channel", "<!channel|cha", "<!subteam^S1",
                                  "<!subteam^S1|@te", "&", "&lt", "&lt;!he", "<!here&g", "@", "@ev", "@here"])
def test_a_tail_that_could_still_become_a_mention_is_held_back(tail):
    assert stream_safe("Hello " + tail) == "Hello "


@pytest.mark.parametrize("tail", ["<https://x.org", "<@U1", "<!date^1", "a < b", "@bob", "&amp; more", "email@he"])
def test_other_tails_are_not_held_back(tail):
    assert stream_safe("Hello " + tail) == "Hello " + tail


def test_streamed_pieces_only_grow_and_end_as_the_whole_quieted_text():
    text = "Note <!channel> and <!subteam^S9|@ops>; &lt;!here&gt; then @everyone. <@U1> <https://a.b|x> a<b"
    sent = ""
    for end in range(len(text) + 1):
        shown = stream_safe(text[:end])
        assert shown.startswith(sent)  # what was streamed is never taken back
        assert not markdown_pings(shown) and not mrkdwn_pings(shown, link_names=True)
        sent = shown
    assert quiet(text).startswith(sent)

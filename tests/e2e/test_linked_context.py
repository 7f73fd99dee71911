"""Context beyond the thread: the channel canvas, linked Slack messages, and where file downloads may go."""
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fenced_text import fenced
from flows import ASKER, say, wait_answer
from standins.openai_api import Script
from test_files import share

_ids = itertools.count(1)


def _channel(slack, prefix, **info):
    name = f"{prefix}{next(_ids):05d}K"
    slack.set_channel(name, name=name.lower(), **info)
    return name


def question_sent(openai_server) -> str:
    return openai_server.requests[-1].body["input"][-1]["content"]


def mention(bot, slack, channel, text):
    return say(bot, slack, channel, f"<@UBOT> {text}", channel_type="channel", event_type="app_mention")[0]


def test_the_channel_canvas_is_read_as_text(bot, slack, openai_server):
    channel = _channel(slack, "C", members=[ASKER, "UBOT"])
    slack.add_canvas(channel, "Team rules", "<html><head><style>p{color:red}</style></head><body>"
                     "<h1>Team rules</h1><p>Deploys on Tuesdays only.</p><ul><li>No Friday pushes</li></ul>"
                     "<script>steal()</script></body></html>")
    openai_server.reply = Script(text="Tuesdays.")
    ts = mention(bot, slack, channel, "when may we deploy?")
    final = wait_answer(slack, channel, ts)[-1]
    assert final["text"] == "Tuesdays."
    question = question_sent(openai_server)
    assert question.startswith("when may we deploy?\n\n[Content of the file channel canvas “Team rules” · ")
    assert fenced(question, "Content of the file channel canvas “Team rules”").startswith("Team rules\n")
    assert "Team rules\nDeploys on Tuesdays only.\n- No Friday pushes" in question
    assert "<p>" not in question and "steal()" not in question and "color:red" not in question


def test_a_dm_has_no_canvas_lookup(bot, slack, openai_server, channel):
    before = len(slack.calls_of("conversations.info"))
    ts, _ = say(bot, slack, channel, "hello")
    wait_answer(slack, channel, ts)
    assert len(slack.calls_of("conversations.info")) == before


def test_a_linked_public_message_and_its_thread_are_context(bot, slack, openai_server, channel):
    source = _channel(slack, "C", members=["UALICE", "UBOT"])  # the asker need not be in a public channel
    root = slack.add_message(source, "UALICE", "Incident: payments down")
    reply = slack.add_message(source, "UBOB", "Root cause: expired certificate", thread_ts=root)
    link = slack.permalink(source, reply, thread_ts=root)
    openai_server.reply = Script(text="An expired certificate.")
    ts, _ = say(bot, slack, channel, f"what caused <{link}|this>?")
    wait_answer(slack, channel, ts)
    question = question_sent(openai_server)
    assert "<@UALICE>: Incident: payments down" in fenced(question, f"Linked Slack message in #{source.lower()}")
    assert "<@UALICE>: Incident: payments down" in question
    assert "<@UBOB> (the linked message): Root cause: expired certificate" in question


def test_a_link_into_a_channel_the_asker_is_not_in_is_not_read(bot, slack, openai_server, channel):
    secret = _channel(slack, "G", is_private=True, members=["UBOSS", "UBOT"])
    ts_secret = slack.add_message(secret, "UBOSS", "Acquisition target: Initech")
    openai_server.reply = Script(text="I cannot see that.")
    ts, _ = say(bot, slack, channel, f"summarise {slack.permalink(secret, ts_secret)}")
    final = wait_answer(slack, channel, ts)[-1]
    assert "Initech" not in json.dumps(openai_server.requests[-1].body)
    assert final["text"].endswith("_⚠️ A linked message is in a conversation you are not in, so I did not read it._")


def test_a_private_link_is_not_brought_into_a_public_channel(bot, slack, openai_server):
    private = _channel(slack, "G", is_private=True, members=[ASKER, "UBOT"])
    ts_private = slack.add_message(private, "UALICE", "Salary bands for 2027")
    public = _channel(slack, "C", members=[ASKER, "UBOT", "UALICE"])
    link = slack.permalink(private, ts_private)
    openai_server.reply = Script(text="ok")
    ts = mention(bot, slack, public, f"summarise {link}")
    final = wait_answer(slack, public, ts)[-1]
    assert "Salary bands" not in json.dumps(openai_server.requests[-1].body)
    assert "ask me in a DM to use it" in final["text"]

    dm = _channel(slack, "D", is_im=True, members=[ASKER, "UBOT"])
    ts, _ = say(bot, slack, dm, f"summarise {link}")
    wait_answer(slack, dm, ts)
    assert "Salary bands for 2027" in question_sent(openai_server)


class _Recorder(BaseHTTPRequestHandler):
    seen = []

    def do_GET(self):
        _Recorder.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"stolen")

    def log_message(self, *args):
        pass


def test_a_file_download_never_follows_a_redirect_away_from_slack(bot, slack, openai_server, channel):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        notes = slack.add_file("notes.txt", b"real notes", "text/plain", "text")
        # "localhost" is not the Slack host the bot was given (127.0.0.1): an outside host.
        slack.redirect_file(notes, f"http://localhost:{server.server_address[1]}/grab")
        openai_server.reply = Script(text="ok")
        ts = share(bot, slack, channel, "read this", [notes])
        final = wait_answer(slack, channel, ts)[-1]
    finally:
        server.shutdown()
        server.server_close()
    assert _Recorder.seen == []
    assert "notes.txt (could not be downloaded)" in final["text"]


def test_a_canvas_added_after_a_first_question_is_read_at_the_next_one(bot, slack, openai_server):
    channel = _channel(slack, "C", members=[ASKER, "UBOT"])
    openai_server.reply = Script(text="no canvas yet")
    wait_answer(slack, channel, mention(bot, slack, channel, "first"))
    assert "[Content of the file channel canvas" not in question_sent(openai_server)
    slack.add_canvas(channel, "Fresh rules", "<p>Lunch at noon.</p>")
    openai_server.reply = Script(text="noon")
    wait_answer(slack, channel, mention(bot, slack, channel, "when is lunch?"))
    assert "Lunch at noon." in question_sent(openai_server)

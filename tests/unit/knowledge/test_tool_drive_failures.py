"""DriveSearch against the Google stand-in when something says no: the credential (tokens, refused
and missing keys), Drive's errors and timeouts, and the token kept to the API host (redirects,
links elsewhere). What it finds and keeps: test_tool_drive.py."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from threadwise.knowledge import toolbox as knowledge
from threadwise.knowledge import drive as tool_drive
from drive_fixtures import (  # noqa: F401  (fixtures)
    ANYONE, ASKER, EMAILS, by_title, google, key_file, recorder, run, tool,
)
from threadwise.knowledge.toolbox import ToolCall, ToolFailed
from standins.google_api import DOC, API_NOT_ENABLED, Recorder
from threadwise.knowledge.drive import DriveSearch


# -- the credential --------------------------------------------------------------------------------


def test_the_token_is_fetched_once_and_reused(tool, google):
    google.add_file("Handbook", DOC, "welcome", ANYONE)
    run(tool, "handbook")
    run(tool, "handbook")
    assert len(google.token_requests()) == 1
    grant = google.token_requests()[0]
    assert grant.form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert "authorization" not in grant.headers
    [token] = google.issued_tokens()
    drive = google.drive_requests()
    assert len(drive) == 4
    assert {r.authorization for r in drive} == {f"Bearer {token}"}


def test_a_revoked_token_is_replaced_once(tool, google):
    google.add_file("Handbook", DOC, "welcome", ANYONE)
    run(tool, "handbook")
    google.revoke_tokens()
    output = run(tool, "handbook")
    assert output.found[0].text == "welcome"
    assert len(google.token_requests()) == 2
    assert [r.status for r in google.drive_requests()][2:] == [401, 200, 200]


def test_a_refused_key_is_a_tool_failure_without_key_material(google, tmp_path, caplog):
    unknown_key = google.write_key_file(tmp_path / "unknown.json", register=False)
    key = json.loads(Path(unknown_key).read_text())
    tool = DriveSearch(unknown_key, google.base_url, EMAILS.get, timeout=3)
    google.add_file("Handbook", DOC, "welcome", ANYONE)

    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ToolFailed) as failed:
            run(tool, "handbook")

    assert failed.value.sentence == ("Google Drive credentials were refused; ask the operator to check "
                                     "GOOGLE_DRIVE_CREDENTIALS.")
    assert str(failed.value) == failed.value.sentence
    assert google.token_requests()[0].status == 400
    assert google.drive_requests() == []
    assertion = google.token_requests()[0].form["assertion"]
    key_body = key["private_key"].splitlines()[5]
    logged = "\n".join(r.getMessage() + json.dumps(getattr(r, "fields", {}), default=str) for r in caplog.records)
    for secret in (key_body, key["private_key_id"], assertion, assertion.split(".")[2]):
        assert secret not in failed.value.sentence
        assert secret not in logged
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_a_refused_key_reaches_the_model_as_the_sentence(google, tmp_path):
    tool = DriveSearch(google.write_key_file(tmp_path / "k.json", register=False), google.base_url, EMAILS.get,
                       timeout=3)
    result = knowledge.run_call(ToolCall("c1", tool.name, '{"query": "handbook"}'), {tool.name: tool}, ASKER, 4000)
    assert json.loads(result.output) == {
        "untrusted_data": True,
        "error": "Google Drive credentials were refused; ask the operator to check GOOGLE_DRIVE_CREDENTIALS."}


def test_a_key_without_the_drive_scope_grant_is_refused(google, key_file):
    google.scope = "https://www.googleapis.com/auth/drive.metadata"  # the stand-in now wants another scope
    with pytest.raises(ToolFailed, match="credentials were refused"):
        run(DriveSearch(key_file, google.base_url, EMAILS.get, timeout=3), "x")
    assert google.token_requests()[0].status == 400


def test_a_missing_key_file_is_a_tool_failure(google, tmp_path):
    tool = DriveSearch(str(tmp_path / "nope.json"), google.base_url, EMAILS.get, timeout=3)
    with pytest.raises(ToolFailed) as failed:
        run(tool, "x")
    assert "GOOGLE_DRIVE_CREDENTIALS" in failed.value.sentence
    assert "nope.json" not in failed.value.sentence
    assert google.requests == []


def test_default_credentials_use_application_default_credentials(google, key_file, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", key_file)
    google.add_file("Handbook", DOC, "welcome", ANYONE)
    output = run(DriveSearch("default", google.base_url, EMAILS.get, timeout=3), "handbook")
    assert output.found[0].text == "welcome"
    assert len(google.token_requests()) == 1


def test_importing_the_module_does_not_import_google_auth():
    code = "import sys, threadwise.knowledge.drive; print('google.auth' in sys.modules, 'requests' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[3]).stdout
    assert out.split() == ["False", "False"]


# -- Drive saying no -------------------------------------------------------------------------------


@pytest.mark.parametrize("status, reason, message, sentence", [
    (403, "accessNotConfigured", API_NOT_ENABLED, tool_drive.FORBIDDEN),
    (403, "insufficientPermissions", "Insufficient Permission", tool_drive.FORBIDDEN),
    (403, "userRateLimitExceeded", "User rate limit exceeded.", tool_drive.BUSY),
    (429, None, None, tool_drive.BUSY),
    (500, None, None, tool_drive.BUSY),
    (503, None, None, tool_drive.BUSY),
])
def test_drive_errors_are_tool_failures(tool, google, status, reason, message, sentence):
    google.fail_next(status, reason=reason, message=message)
    with pytest.raises(ToolFailed) as failed:
        run(tool, "anything")
    assert failed.value.sentence == sentence
    assert "ya29" not in failed.value.sentence


def test_the_api_not_enabled_sentence_points_at_the_operator():
    assert "Drive API may not be enabled" in tool_drive.FORBIDDEN
    assert "try again" in tool_drive.BUSY


def test_a_slow_drive_is_a_timeout(google, key_file):
    google.set_latency(2.0, path_contains="/drive/")
    tool = DriveSearch(key_file, google.base_url, EMAILS.get, timeout=0.5)
    with pytest.raises(ToolFailed) as failed:
        run(tool, "anything")
    assert failed.value.sentence == tool_drive.TIMED_OUT  # it gave up (the answer would come after 2 s)…
    assert len(google.drive_requests()) == 1  # …after one request, not one timeout per retry


def test_unreachable_drive_is_a_tool_failure(google, key_file):
    closed = Recorder().start()
    url = closed.url
    closed.stop()  # a port nobody listens on
    with pytest.raises(ToolFailed) as failed:
        run(DriveSearch(key_file, url, EMAILS.get, timeout=1), "anything")
    assert failed.value.sentence == tool_drive.UNREACHABLE


def test_a_missing_query_is_refused():
    tool = DriveSearch("unused.json", "https://www.googleapis.com", EMAILS.get)
    with pytest.raises(ToolFailed, match="query"):
        tool.run({}, ASKER)


# -- the token goes to the API host only ------------------------------------------------------


def test_a_redirected_search_is_not_followed(tool, google, recorder):
    google.redirect_next(recorder.url + "/drive/v3/files?stolen=1")
    with pytest.raises(ToolFailed) as failed:
        run(tool, "anything")
    assert failed.value.sentence == tool_drive.UNEXPECTED
    assert recorder.requests == []
    assert google.drive_requests()[0].status == 302


def test_a_redirected_export_is_not_followed(tool, google, recorder):
    google.add_file("Report A", DOC, "alpha", ANYONE)
    google.add_file("Report B", DOC, "beta", ANYONE)
    google.redirect_next(recorder.url + "/collect", path_contains="/export")
    found = by_title(run(tool, "report"))
    assert found["Report A"].text == "(content could not be read: HTTP 302)"
    assert found["Report B"].text == "beta"
    assert [r.headers.get("authorization") for r in recorder.requests] == []


def test_the_recorder_would_have_seen_a_followed_redirect(google, recorder):
    # The check above can fail: a client that follows redirects with its headers reaches the recorder.
    import urllib.request

    google.redirect_next(recorder.url + "/collect")
    request = urllib.request.Request(google.base_url + "/drive/v3/files", headers={"Authorization": "Bearer ya29.x"})
    urllib.request.urlopen(request, timeout=5).read()
    assert [r.headers.get("authorization") for r in recorder.requests] == ["Bearer ya29.x"]


def test_links_to_other_hosts_are_never_fetched(tool, google):
    google.add_file("Handbook", DOC, "welcome", ANYONE)
    run(tool, "handbook")
    assert all(r.path.startswith(("/drive/v3/files", "/token")) for r in google.requests)


def test_the_tool_matches_the_knowledge_interface(tool):
    assert tool.name == "search_google_drive"
    assert tool.status == "Searching Google Drive…"
    assert tool.parameters == knowledge.QUERY_PARAMETERS
    assert tool.description

"""DriveSearch over HTTP against the Google stand-in (token endpoint + Drive v3) on 127.0.0.1.

What it finds and keeps; when something says no (the credential, Drive's errors, redirects):
test_tool_drive_failures.py."""
from __future__ import annotations

import time

import requests

from threadwise.knowledge import drive as tool_drive
from drive_fixtures import (  # noqa: F401  (fixtures)
    ANYONE, ASKER, EMAILS, by_title, google, key_file, run, tool,
)
from threadwise.knowledge.toolbox import Asker
from standins.google_api import DOC, SHEET, SLIDES, parse_query
from threadwise.knowledge.drive import DriveSearch


# -- reading what was found ----------------------------------------------------------------------


def test_doc_sheet_slides_and_text_are_read_and_a_pdf_is_listed(google, key_file):
    tool = DriveSearch(key_file, google.base_url, EMAILS.get, max_files=6, timeout=3)
    doc = google.add_file("Roadmap 2025", DOC, "Ship the Drive tool.\nThen Notion.", ANYONE)
    sheet = google.add_file("Roadmap budget", SHEET, "item,cost\nservers,1200\n", ANYONE)
    slides = google.add_file("Roadmap review", SLIDES, "Slide 1: goals", ANYONE)
    text = google.add_file("roadmap-notes.txt", "text/plain", "plain notes — ünïcode", ANYONE)
    data = google.add_file("roadmap.json", "application/json", '{"phase": 2}', ANYONE)
    pdf = google.add_file("Roadmap.pdf", "application/pdf", b"%PDF-1.7 binary roadmap", ANYONE)

    output = run(tool, "roadmap")

    found = by_title(output)
    assert set(found) == {"Roadmap 2025", "Roadmap budget", "Roadmap review", "roadmap-notes.txt", "roadmap.json",
                          "Roadmap.pdf"}
    assert found["Roadmap 2025"].text == "Ship the Drive tool.\nThen Notion."  # the export's BOM removed
    assert found["Roadmap budget"].text == "item,cost\nservers,1200\n"
    assert found["Roadmap review"].text == "Slide 1: goals"
    assert found["roadmap-notes.txt"].text == "plain notes — ünïcode"
    assert found["roadmap.json"].text == '{"phase": 2}'
    assert found["Roadmap.pdf"].text == "(content not read: application/pdf)"
    assert found["Roadmap 2025"].url == doc["webViewLink"]
    assert found["Roadmap.pdf"].url == pdf["webViewLink"]
    assert {f.source for f in output.found} == {"Google Drive"}
    assert output.note is None

    reads = {r.path: r.query for r in google.drive_requests() if r.path != "/drive/v3/files"}
    assert reads == {
        f"/drive/v3/files/{doc['id']}/export": {"mimeType": "text/plain"},
        f"/drive/v3/files/{sheet['id']}/export": {"mimeType": "text/csv"},
        f"/drive/v3/files/{slides['id']}/export": {"mimeType": "text/plain"},
        f"/drive/v3/files/{text['id']}": {"alt": "media", "supportsAllDrives": "true"},
        f"/drive/v3/files/{data['id']}": {"alt": "media", "supportsAllDrives": "true"},
    }  # nothing fetched for the PDF


def test_search_request_has_the_documented_parameters(tool, google):
    google.add_file("Budget", DOC, "numbers", ANYONE)
    run(tool, "budget")
    search = google.drive_requests()[0]
    assert search.method == "GET" and search.path == "/drive/v3/files"
    assert search.query["q"] == "(name contains 'budget' or fullText contains 'budget') and trashed = false"
    assert search.query["fields"] == ("files(id,name,mimeType,webViewLink,permissions(type,role,emailAddress,"
                                      "domain)),nextPageToken")
    assert search.query["supportsAllDrives"] == "true"
    assert search.query["includeItemsFromAllDrives"] == "true"
    assert 1 <= int(search.query["pageSize"]) <= 100


def test_trashed_files_are_not_found(tool, google):
    google.add_file("Old plan", DOC, "plan", ANYONE, trashed=True)
    google.add_file("New plan", DOC, "plan", ANYONE)
    assert [f.title for f in run(tool, "plan").found] == ["New plan"]


def test_text_is_cut_at_about_8000_characters(tool, google):
    google.add_file("Long doc", DOC, "é" * 20_000, ANYONE)
    google.add_file("long.txt", "text/plain", "word " * 10_000, ANYONE)
    found = by_title(run(tool, "long"))
    for title in ("Long doc", "long.txt"):
        text = found[title].text
        assert text.endswith(" […cut]")
        assert 7_000 <= len(text) <= 8_000 + len(" […cut]")
    assert "\ufffd" not in found["Long doc"].text  # no character split by the byte bound


def test_a_huge_file_is_read_as_a_bounded_stream(tool, google):
    huge = google.add_file("huge.log", "text/plain", "log line 0123456789\n", ANYONE, endless=True)
    output = run(tool, "huge")  # (an unbounded read would never return: the endless body has no end)
    assert output.found[0].text.startswith("log line 0123456789\n")
    assert len(output.found[0].text) <= 8_000 + len(" […cut]")
    deadline = time.monotonic() + 5
    while not google.streams[huge["id"]]["done"] and time.monotonic() < deadline:
        time.sleep(0.02)
    stream = google.streams[huge["id"]]
    assert stream["done"], "the client kept the never-ending download open"
    assert stream["sent"] < 50 * 1024 * 1024  # socket buffers, not the whole body


def test_file_ids_go_into_the_path_quoted(tool, google):
    odd = google.add_file("Odd id notes", "text/plain", "reached the right file", ANYONE, file_id="1a/../b?c=d#e f")
    google.add_file("Odd id other", "text/plain", "wrong file", ANYONE, file_id="b")
    found = by_title(run(tool, "odd"))
    assert found["Odd id notes"].text == "reached the right file"
    read = [r for r in google.drive_requests() if r.query.get("alt") == "media" and r.path.endswith("e f")]
    assert read[0].raw_path == "/drive/v3/files/1a%2F..%2Fb%3Fc%3Dd%23e%20f"
    assert read[0].path == "/drive/v3/files/" + odd["id"]


def test_one_file_failing_to_export_leaves_the_others(tool, google):
    google.add_file("Report A", DOC, "alpha", ANYONE)
    google.add_file("Report B", DOC, "beta", ANYONE)
    google.fail_next(500, path_contains="/export")
    found = by_title(run(tool, "report"))
    assert found["Report A"].text == "(content could not be read: HTTP 500)"
    assert found["Report B"].text == "beta"


def test_an_export_too_large_says_so(tool, google):
    google.add_file("Giant doc", DOC, "x" * (10 * 1024 * 1024 + 1), ANYONE)
    found = run(tool, "giant").found
    assert found[0].text == "(content could not be read: the file is too large to export)"


def test_at_most_max_files_are_returned(google, key_file):
    for n in range(7):
        google.add_file(f"Minutes {n}", DOC, f"meeting {n}", ANYONE)
    tool = DriveSearch(key_file, google.base_url, EMAILS.get, max_files=3, timeout=3)
    output = run(tool, "minutes")
    assert [f.title for f in output.found] == ["Minutes 0", "Minutes 1", "Minutes 2"]
    assert len([r for r in google.drive_requests() if "/export" in r.path]) == 3


# -- only what the asker could open ------------------------------------------------------------


def add_permission_cases(google):
    google.add_file("Plan anyone", DOC, "a", [{"type": "anyone", "role": "reader"}])
    google.add_file("Plan domain", DOC, "b", [{"type": "domain", "role": "reader", "domain": "Example.com"}])
    google.add_file("Plan mine", DOC, "c", [
        {"type": "user", "role": "owner", "emailAddress": "carol@example.com"},
        {"type": "user", "role": "commenter", "emailAddress": "alice@EXAMPLE.com"}])
    google.add_file("Plan bob", DOC, "secret-bob", [
        {"type": "user", "role": "owner", "emailAddress": "bob@example.com"}])
    google.add_file("Plan other domain", DOC, "secret-other", [
        {"type": "domain", "role": "reader", "domain": "other.com"},
        {"type": "user", "role": "owner", "emailAddress": "alice@other.com"}])
    google.add_file("Plan group", DOC, "secret-group", [
        {"type": "group", "role": "reader", "emailAddress": "everyone@example.com"}])
    google.add_file("Plan hidden", DOC, "secret-hidden", None)
    google.add_file("Plan lookalike", DOC, "secret-lookalike", [
        {"type": "user", "role": "reader", "emailAddress": "alice@example.com.evil.org"},
        {"type": "domain", "role": "reader", "domain": "mail.example.com"},
        {"type": "domain", "role": "reader", "domain": "ample.com"},
        {"type": "group", "role": "reader", "emailAddress": "alice@example.com.evil.org"}])


def test_only_files_the_asker_could_open_are_kept(tool, google):
    add_permission_cases(google)
    output = run(tool, "plan")
    assert [f.title for f in output.found] == ["Plan anyone", "Plan domain", "Plan mine"]
    assert output.note == "5 results were left out because the asker's access to them could not be confirmed."
    for hidden in ("bob", "other", "group", "hidden", "lookalike"):
        assert hidden not in output.note
    # Left-out files are not read either.
    exported = {r.path for r in google.drive_requests() if r.path.endswith("/export")}
    assert len(exported) == 3


def test_files_shared_with_the_asker_alone_stay_out_of_answers_posted_in_a_channel(tool, google):
    add_permission_cases(google)
    output = run(tool, "plan", Asker(user_id=ASKER.user_id, channel="C1", private_answer=False))
    assert [f.title for f in output.found] == ["Plan anyone", "Plan domain"]
    assert output.note.startswith("6 results were left out")
    assert "this answer is posted where others read it" in output.note


def test_the_search_asks_for_permissions_and_hidden_ones_come_back_without_them(tool, google):
    hidden = google.add_file("Plan hidden", DOC, "x", None)
    session = requests.Session()
    token = get_token(google)
    body = session.get(google.base_url + "/drive/v3/files", headers={"Authorization": f"Bearer {token}"},
                       params={"q": "name contains 'plan'", "fields": "files(id,permissions(type))"}).json()
    assert body == {"files": [{"id": hidden["id"]}]}


def test_without_the_askers_email_only_files_shared_with_anyone_are_kept(tool, google):
    add_permission_cases(google)
    output = run(tool, "plan", Asker(user_id="UNOMAIL", channel="D1", private_answer=True))
    assert [f.title for f in output.found] == ["Plan anyone"]
    assert output.note == "7 results were left out because the asker's access to them could not be confirmed."


def test_an_email_lookup_that_fails_counts_as_no_email(google, key_file):
    def broken(user_id):
        raise RuntimeError("users.info failed")

    add_permission_cases(google)
    output = run(DriveSearch(key_file, google.base_url, broken, timeout=3), "plan")
    assert [f.title for f in output.found] == ["Plan anyone"]


def test_one_left_out_file_is_said_in_the_singular(tool, google):
    google.add_file("Plan hidden", DOC, "x", None)
    output = run(tool, "plan")
    assert output.found == []
    assert output.note == "1 result was left out because the asker's access to it could not be confirmed."


def test_further_pages_are_read_when_the_first_is_all_left_out(google, key_file):
    for n in range(12):
        google.add_file(f"Spec hidden {n}", DOC, "x", None)
    google.add_file("Spec shared", DOC, "the shared spec", ANYONE)
    tool = DriveSearch(key_file, google.base_url, EMAILS.get, max_files=1, timeout=3)
    output = run(tool, "spec")
    assert [f.title for f in output.found] == ["Spec shared"]
    assert output.note.startswith("12 results were left out")
    searches = [r for r in google.drive_requests() if r.path == "/drive/v3/files"]
    assert len(searches) == 2 and searches[1].query["pageToken"] == "10"


# -- the query cannot break out of its string ----------------------------------------------------


def test_a_quote_in_the_query_cannot_widen_the_search(tool, google):
    google.add_file("Payroll", DOC, "salaries", ANYONE)
    google.add_file("Vacation policy", DOC, "days off", ANYONE)
    google.add_file("Notes on x' or name contains 'y", DOC, "a real match", ANYONE)
    query = "x' or name contains '"

    output = run(tool, query)

    assert [f.title for f in output.found] == ["Notes on x' or name contains 'y"]
    q = google.drive_requests()[0].query["q"]
    assert q == ("(name contains 'x\\' or name contains \\'' or fullText contains 'x\\' or name contains \\'') "
                 "and trashed = false")
    # Unescaped, the same text would have matched every file: the stand-in takes the injection at its word.
    unescaped = f"(name contains '{query}' or fullText contains '{query}') and trashed = false"
    everything = {"name": "Payroll", "_text": "salaries", "trashed": False}
    assert parse_query(unescaped)(everything) is True
    assert parse_query(q)(everything) is False


def test_backslashes_and_apostrophes_are_escaped(tool, google):
    google.add_file("C:\\temp\\it's here", "text/plain", "found it", ANYONE)
    output = run(tool, "C:\\temp\\it's")
    assert [f.title for f in output.found] == ["C:\\temp\\it's here"]
    q = google.drive_requests()[0].query["q"]
    assert q.startswith("(name contains 'C:\\\\temp\\\\it\\'s' or ")


def test_a_trailing_backslash_does_not_escape_the_closing_quote(tool, google):
    google.add_file("Share \\", "text/plain", "backslash", ANYONE)
    assert [f.title for f in run(tool, "share \\").found] == ["Share \\"]


def test_the_stand_in_refuses_an_unescaped_quote_like_drive(google):
    token = get_token(google)
    response = requests.get(google.base_url + "/drive/v3/files", headers={"Authorization": f"Bearer {token}"},
                            params={"q": "name contains 'it's'"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Invalid Value"
    assert error["errors"][0]["location"] == "q"


def test_the_stand_in_wants_a_token_it_issued(google):
    no_token = requests.get(google.base_url + "/drive/v3/files")
    assert no_token.status_code == 401
    assert no_token.json()["error"]["status"] == "UNAUTHENTICATED"
    made_up = requests.get(google.base_url + "/drive/v3/files", headers={"Authorization": "Bearer ya29.made-up"})
    assert made_up.status_code == 401


def get_token(google) -> str:
    """A token from the stand-in the way google-auth gets one from a key file."""
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_info(
        google.service_account(), scopes=tool_drive.SCOPES)
    credentials.refresh(Request())
    return credentials.token


"""search_notion over HTTP against FakeNotion on 127.0.0.1."""
import json
import logging
import socket

import pytest
import requests

from threadwise.knowledge import toolbox as knowledge
from threadwise.knowledge.toolbox import Asker, ToolCall, ToolFailed
from standins.notion_api import FakeNotion
from threadwise.knowledge.notion import NotionSearch

TOKEN = "secret_notionTOKEN1234567890"
ASKER = Asker(user_id="U1", channel="C1", team_id="T1")


@pytest.fixture
def notion():
    with FakeNotion(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def elsewhere():
    """Another server on 127.0.0.1: the token must never reach it."""
    with FakeNotion(token="the-other-servers-token") as fake:
        yield fake


def tool(fake, **kwargs) -> NotionSearch:
    return NotionSearch(TOKEN, fake.base_url, **kwargs)


def failure(fake_tool, arguments) -> str:
    with pytest.raises(ToolFailed) as caught:
        fake_tool.run(arguments, ASKER)
    assert TOKEN not in caught.value.sentence
    return caught.value.sentence


# ------------------------------------------------------------------ results


def test_finds_pages_and_reads_their_text(notion):
    page = notion.add_page("Onboarding guide", [
        ("heading_1", "Welcome"),
        ("paragraph", "Read this first."),
        ("bulleted_list_item", "Get a laptop"),
        ("numbered_list_item", "Join #general"),
        ("to_do", "done:Sign the contract"),
        ("to_do", "Meet the team"),
        ("divider", ""),
        ("quote", "Ask questions."),
        ("callout", "VPN needed"),
        ("code", "make setup"),
        ("toggle", "More details"),
        ("image", "a caption that is not page text"),
        ("heading_3", "Contacts"),
    ])
    notion.add_page("Expense policy", [("paragraph", "Not about onboarding")])

    output = tool(notion).run({"query": "onboarding"}, ASKER)

    assert len(output.found) == 1
    found = output.found[0]
    assert (found.title, found.url, found.source) == ("Onboarding guide", page["url"], "Notion")
    assert found.text.split("\n") == [
        "Welcome", "Read this first.", "- Get a laptop", "- Join #general", "- [x] Sign the contract",
        "- [ ] Meet the team", "Ask questions.", "VPN needed", "make setup", "More details", "Contacts",
    ]
    assert output.note is None


def test_requests_follow_the_documented_api(notion):
    page = notion.add_page("Runbook", [("paragraph", "Restart the thing")])
    tool(notion, max_pages=3).run({"query": "  runbook "}, ASKER)

    search, children = notion.requests
    assert (search.method, search.path) == ("POST", "/v1/search")
    assert search.body == {"query": "runbook", "filter": {"property": "object", "value": "page"}, "page_size": 3}
    assert search.headers["Notion-Version"] == "2022-06-28"
    assert search.headers["Content-Type"] == "application/json"
    assert (children.method, children.path) == ("GET", f"/v1/blocks/{page['id']}/children")
    assert children.query == {"page_size": "100"}
    assert children.headers["Notion-Version"] == "2022-06-28"
    assert all(r.status == 200 for r in notion.requests)


def test_title_of_a_database_row_comes_from_its_title_property(notion):
    notion.add_page("Q3 roadmap", [("paragraph", "Ship it")], title_property="Name")
    found = tool(notion).run({"query": "roadmap"}, ASKER).found
    assert [f.title for f in found] == ["Q3 roadmap"]
    assert found[0].text == "Ship it"


def test_at_most_max_pages(notion):
    for i in range(7):
        notion.add_page(f"Meeting notes {i}", [("paragraph", f"notes {i}")])
    output = tool(notion, max_pages=3).run({"query": "meeting"}, ASKER)
    assert [f.title for f in output.found] == ["Meeting notes 0", "Meeting notes 1", "Meeting notes 2"]
    assert len(notion.requests_to("/v1/blocks/")) == 3


def test_archived_pages_are_left_out(notion):
    notion.add_page("Old plan", [("paragraph", "x")], archived=True)
    notion.add_page("New plan", [("paragraph", "y")])
    assert [f.title for f in tool(notion).run({"query": "plan"}, ASKER).found] == ["New plan"]


def test_nothing_found(notion):
    output = tool(notion).run({"query": "nothing like this"}, ASKER)
    assert output.found == []
    assert len(notion.requests) == 1


# --------------------------------------------------------------- pagination


def test_block_pages_are_followed_with_the_cursor(notion):
    page = notion.add_page("Long page", [("paragraph", f"line {i}") for i in range(250)])
    found = tool(notion).run({"query": "long"}, ASKER).found
    assert found[0].text.split("\n") == [f"line {i}" for i in range(250)]
    reads = notion.requests_to(f"/v1/blocks/{page['id']}/children")
    assert len(reads) == 3
    assert "start_cursor" not in reads[0].query
    assert reads[1].query["start_cursor"] and reads[2].query["start_cursor"] != reads[1].query["start_cursor"]


def test_reading_stops_at_about_8000_characters(notion):
    notion.add_page("Huge page", [("paragraph", f"{i:04d} " + "x" * 95) for i in range(1000)])
    found = tool(notion).run({"query": "huge"}, ASKER).found
    assert 7_900 <= len(found[0].text) <= 8_000
    assert found[0].text.startswith("0000 xxx")
    assert len(notion.requests_to("/v1/blocks/")) == 1  # 100 blocks of 100 characters are enough


def test_block_reads_are_bounded(notion):
    notion.add_page("Sparse page", [("paragraph", "a")] * 2000)
    tool(notion).run({"query": "sparse"}, ASKER)
    assert len(notion.requests_to("/v1/blocks/")) == 5


# ------------------------------------------------------------------- errors


def test_wrong_token(notion):
    notion.add_page("Anything", [])
    sentence = failure(NotionSearch("secret_wrong", notion.base_url), {"query": "anything"})
    assert sentence == "Notion rejected the integration token (NOTION_TOKEN)."
    assert notion.requests[0].status == 401


def test_rate_limited(notion):
    notion.fail_next(429, "rate_limited", "You have been rate limited. Please try again in a few minutes.",
                     headers={"Retry-After": "7"})
    sentence = failure(tool(notion), {"query": "x"})
    assert "rate limit" in sentence and "7 seconds" in sentence


def test_rate_limit_is_waited_out(notion):
    notion.burst = 2  # the search and the first page; the second page's read is refused once
    notion.add_page("Deploy guide", [("paragraph", "one")])
    notion.add_page("Deploy checklist", [("paragraph", "two")])
    output = tool(notion).run({"query": "deploy"}, ASKER)
    assert [(f.title, f.text) for f in output.found] == [("Deploy guide", "one"), ("Deploy checklist", "two")]
    assert output.note is None
    # Retried once, after waiting: had it asked again at once the bucket would still be empty (another 429).
    assert [r.status for r in notion.requests] == [200, 200, 429, 200]
    assert notion.requests[2].path == notion.requests[3].path


def test_a_longer_rate_limit_becomes_a_clear_result(notion):
    notion.burst, notion.rate_per_second = 1, 0.1  # Retry-After: 10 s, more than a search waits
    notion.add_page("Billing FAQ", [("paragraph", "x")])
    output = tool(notion).run({"query": "billing"}, ASKER)
    assert [(f.title, f.text) for f in output.found] == [("Billing FAQ", "")]
    assert "Billing FAQ (Notion's rate limit was reached; try again in 10 seconds.)" in output.note
    assert [r.status for r in notion.requests] == [200, 429]  # not retried
    notion.reset_limits()
    notion.burst = 0
    assert failure(tool(notion), {"query": "billing"}) == "Notion's rate limit was reached; try again in 10 seconds."


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors(notion, status):
    notion.fail_next(status)
    assert failure(tool(notion), {"query": "x"}) == f"Notion search failed (HTTP {status})."


def test_bad_request_is_a_failure_too(notion):
    notion.fail_next(400, "validation_error", "body failed validation")
    assert failure(tool(notion), {"query": "x"}) == "Notion search failed (HTTP 400)."


def test_timeout(notion):
    notion.delay = 1.0
    sentence = failure(tool(notion, timeout=0.2), {"query": "x"})
    assert sentence.startswith("Notion search failed") and "0.2 s" in sentence


def test_unreachable():
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sentence = failure(NotionSearch(TOKEN, f"http://127.0.0.1:{port}", timeout=2), {"query": "x"})
    assert sentence == "Notion search failed (Notion could not be reached)."


def test_a_page_whose_text_cannot_be_read_keeps_its_link(notion):
    notion.add_page("Design doc", [("paragraph", "first")])
    second = notion.add_page("Design review", [("paragraph", "second")])
    notion.fail_next(404, "object_not_found", "Could not find block", path="/v1/blocks/")
    output = tool(notion).run({"query": "design"}, ASKER)
    assert [(f.title, f.text) for f in output.found] == [("Design doc", ""), ("Design review", "second")]
    assert output.found[1].url == second["url"]
    assert output.note and "Design doc" in output.note and "not shared" in output.note


@pytest.mark.parametrize("arguments", [{}, {"query": ""}, {"query": "   "}, {"query": 42}, {"q": "x"}, None])
def test_bad_arguments(notion, arguments):
    sentence = failure(tool(notion), arguments)
    assert "query" in sentence
    assert notion.requests == []


# ------------------------------------------------------- where the token goes


def test_token_only_in_the_authorization_header(notion, caplog):
    caplog.set_level(logging.DEBUG)
    notion.add_page("Security notes", [("paragraph", "rotate keys")])
    notion.fail_next(500, path="/v1/blocks/")  # an error path logs too
    tool(notion).run({"query": "security"}, ASKER)
    assert notion.requests
    for request in notion.requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        others = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        assert TOKEN not in json.dumps([request.path, request.query, request.body, others])
    for record in caplog.records:
        assert TOKEN not in record.getMessage() and TOKEN not in json.dumps(getattr(record, "fields", {}), default=str)


@pytest.mark.parametrize("where", ["/v1/search", "/v1/blocks/"])
def test_redirects_are_not_followed(notion, elsewhere, where):
    notion.add_page("Plans", [("paragraph", "p")])
    notion.redirect_next(f"{elsewhere.base_url}/v1/search", path=where)
    if where == "/v1/search":
        assert failure(tool(notion), {"query": "plans"}) == "Notion search failed (HTTP 302)."
    else:
        output = tool(notion).run({"query": "plans"}, ASKER)
        assert output.found[0].text == "" and "HTTP 302" in output.note
    assert elsewhere.requests == []


def test_ids_from_a_response_never_shape_the_url(notion):
    notion.add_page("Tricky", [("paragraph", "p")])
    notion._pages[-1]["id"] = "../../v1/search?x=1"  # what a hostile or broken answer could carry
    honest = notion.add_page("Tricky honest", [("paragraph", "ok")])
    output = tool(notion).run({"query": "tricky"}, ASKER)
    assert [f.title for f in output.found] == ["Tricky honest"]
    assert [r.path for r in notion.requests] == ["/v1/search", f"/v1/blocks/{honest['id']}/children"]


# ------------------------------------------------------- the stand-in itself


def test_standin_speaks_notions_error_format(notion):
    url = f"{notion.base_url}/v1/search"
    wrong = requests.post(url, json={}, headers={"Authorization": "Bearer nope", "Notion-Version": "2022-06-28"})
    assert wrong.status_code == 401
    assert {k: wrong.json()[k] for k in ("object", "status", "code")} == {
        "object": "error", "status": 401, "code": "unauthorized"}
    unversioned = requests.post(url, json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert (unversioned.status_code, unversioned.json()["code"]) == (400, "missing_version")
    listing = requests.post(url, json={"query": ""}, headers={"Authorization": f"Bearer {TOKEN}",
                                                               "Notion-Version": "2022-06-28"}).json()
    assert {k: listing[k] for k in ("object", "results", "next_cursor", "has_more", "type", "page_or_database")} == {
        "object": "list", "results": [], "next_cursor": None, "has_more": False, "type": "page_or_database",
        "page_or_database": {}}


def _post_search(notion, body, version="2022-06-28"):
    return requests.post(f"{notion.base_url}/v1/search", json=body,
                         headers={"Authorization": f"Bearer {TOKEN}", "Notion-Version": version})


def test_standin_rate_limit_answers_429_with_retry_after(notion):
    notion.burst, notion.rate_per_second = 3, 0.5
    answers = [_post_search(notion, {"query": "x"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.headers["Retry-After"] == "2"  # a token comes back every 1 / 0.5 seconds
    assert {k: limited.json()[k] for k in ("object", "status", "code")} == {
        "object": "error", "status": 429, "code": "rate_limited"}
    notion.reset_limits()
    assert _post_search(notion, {"query": "x"}).status_code == 200


@pytest.mark.parametrize("request_kind, expected", [
    ("page_size over 100", "page_size should be a number between 1 and 100."),
    ("filter value", "body failed validation: body.filter.value should be"),
    ("block id", "path failed validation: path.block_id should be a valid uuid"),
])
def test_standin_validates_as_notion_does(notion, request_kind, expected):
    page = notion.add_page("Valid", [("paragraph", "p")])
    headers = {"Authorization": f"Bearer {TOKEN}", "Notion-Version": "2022-06-28"}
    if request_kind == "page_size over 100":
        refused = _post_search(notion, {"page_size": 101})
        accepted = _post_search(notion, {"page_size": 100})
    elif request_kind == "filter value":
        refused = _post_search(notion, {"filter": {"property": "object", "value": "block"}})
        accepted = _post_search(notion, {"filter": {"property": "object", "value": "database"}})
    else:
        refused = requests.get(f"{notion.base_url}/v1/blocks/not-a-uuid/children", headers=headers)
        accepted = requests.get(f"{notion.base_url}/v1/blocks/{page['id']}/children", headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "validation_error")
    assert refused.json()["message"].startswith(expected)
    assert accepted.status_code == 200


# ------------------------------------------------------ knowledge.run_call


def test_run_call_wraps_results_as_untrusted_data_within_the_budget(notion):
    notion.add_page("Handbook", [("paragraph", "h" * 3000)])
    notion.add_page("Handbook FAQ", [("paragraph", "f" * 3000)])
    statuses = []
    result = knowledge.run_call(ToolCall("c1", "search_notion", json.dumps({"query": "handbook"})),
                                {"search_notion": tool(notion)}, ASKER, budget_chars=1000,
                                on_status=statuses.append)
    payload = json.loads(result.output)
    assert payload["untrusted_data"] is True
    assert [r["title"] for r in payload["results"]] == ["Handbook", "Handbook FAQ"]
    assert all(r["source"] == "Notion" and r["content"].endswith("[…cut]") for r in payload["results"])
    assert sum(len(r["content"]) for r in payload["results"]) <= 1000 + 2 * len(" […cut]")
    assert [f.title for f in result.found] == ["Handbook", "Handbook FAQ"]
    assert statuses == ["Searching Notion…"]


def test_run_call_turns_a_failure_into_an_error_for_the_model(notion):
    notion.fail_next(401, "unauthorized", "API token is invalid.")
    result = knowledge.run_call(ToolCall("c1", "search_notion", '{"query": "x"}'),
                                {"search_notion": tool(notion)}, ASKER, budget_chars=1000)
    assert json.loads(result.output) == {"untrusted_data": True,
                                         "error": "Notion rejected the integration token (NOTION_TOKEN)."}
    assert TOKEN not in result.output and result.found == []

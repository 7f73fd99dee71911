"""GITHUB_ORG: a query written by the model (or by a document it read) cannot widen the search (issue 16, 7).

GitHub ORs scope qualifiers and its issue search reads OR/AND/NOT and parentheses, so what is sent must be
a conjunction whose only scope is the org (or a repository of it)."""
import re

import pytest

from standins.github_api import FakeGitHub
from threadwise.knowledge.github import GitHubSearch
from threadwise.knowledge.github_scope import scoped
from threadwise.knowledge.toolbox import Asker

pytestmark = pytest.mark.in_process
TOKEN = "ghp_SCOPEtoken0123456789abcdef"
ASKER = Asker(user_id="U1", channel="C1", team_id="T1")



def _only_the_org(q: str) -> None:
    # Every scope qualifier left names acme; no boolean operator or parenthesis; quotes balanced.
    assert not [m.group(0) for m in re.finditer(r"(?i)(?<![A-Za-z0-9_])-?(org|user|owner|repo):\"?([^\s\"/]*)", q)
                if m.group(2).lower() != "acme" and not m.group(0).startswith("-")], q
    assert not re.search(r"[()]|\b(OR|AND|NOT)\b", q, re.IGNORECASE), q
    assert q.count('"') % 2 == 0, q
    assert q.endswith(" org:acme") or q == "org:acme" or re.search(r"(?<![-\w])repo:acme/\w+", q), q


@pytest.mark.parametrize("query, expected", [
    ("(repo:other/app) login", "login org:acme"),
    ("login (org:other OR repo:other/app)", "login org:acme"),
    ("login OR (user:someone)", "login org:acme"),
    ("login REPO:other/app Org:Other", "login org:acme"),
    ('login repo:"other/app"', "login org:acme"),
    ('login org:"other"', "login org:acme"),
    ('"login repo:other/app"', '"login" org:acme'),
    ("login,repo:other/app", "login, org:acme"),
    ("login NOT org:other", "login org:acme"),  # a NOT left over would turn the org: after it into an exclusion
    ("login NOT repo:acme/web", "login repo:acme/web"),
    ('label:"x repo:acme/web" login', 'label:"x " login org:acme'),  # not a qualifier there: no repo kept
    ("login repo:acme/web OR secret", "login repo:acme/web secret"),
    ("login repo:acme/../other", "login org:acme"),
    ("login repo:acme/web,other/app", "login org:acme"),
    ('login "open phrase', 'login "open phrase" org:acme'),  # else the phrase would swallow org:acme
    ('login repo:"other/app', "login org:acme"),
    ("login owner:other -", "login org:acme"),
    ("login or secret and not x", "login secret x org:acme"),
])
def test_adversarial_queries_stay_inside_the_org(query, expected):
    scope = scoped(query, "acme")
    assert scope.q == expected
    _only_the_org(scope.q)


def test_what_was_left_out_is_named_for_the_model():
    scope = scoped("(login OR repo:other/app) org:acme user:someone", "acme")
    assert scope.dropped == ("repo:other/app", "user:someone")  # org:acme itself is no news
    assert scope.operators_dropped


def test_exclusions_and_repositories_of_the_org_narrow_and_are_kept():
    assert scoped("login -repo:acme/old -org:other", "ACME").q == "login -repo:acme/old -org:other org:ACME"
    scope = scoped("repo:ACME/web login", "acme")
    assert scope.q == "repo:ACME/web login" and scope.dropped == () and not scope.operators_dropped


def test_without_an_org_the_query_goes_as_written():
    assert scoped("(login OR x) repo:other/app", None).q == "(login OR x) repo:other/app"


@pytest.fixture
def github():
    with FakeGitHub(token=TOKEN) as fake:
        fake.add_issue("acme/web", 12, "Login fails on Safari", "Steps: open the login page.")
        fake.add_issue("other/app", 3, "Login secret leak", "Private to another org.")
        yield fake


@pytest.mark.parametrize("query", [
    "login (repo:other/app)", "login OR (org:other)", "(login) OR secret", 'login "open phrase', "login NOT x",
    'login repo:"other/app"', "login,user:other", 'login "repo:other/app"', "login REPO:Other/App",
])
def test_what_github_receives_stays_inside_the_org(github, query):
    """Through the tool, as GitHub (the stand-in) receives it: no foreign scope, no operator, quotes closed."""
    output = GitHubSearch(TOKEN, github.base_url, org="acme").run({"query": query}, ASKER)
    [request] = github.requests
    _only_the_org(request.query["q"])
    assert "other/app" not in " ".join(found.title for found in output.found)

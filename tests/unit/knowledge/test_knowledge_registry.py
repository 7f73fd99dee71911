"""The knowledge registry: which tools are on for which settings, and that its declarations hold."""
from __future__ import annotations

import ast
import itertools
import json
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from threadwise.config import KnowledgeSettings, load_settings
from threadwise.knowledge.drive import DriveSearch
from threadwise.knowledge.github import GitHubSearch
from threadwise.knowledge.notion import NotionSearch
from threadwise.knowledge.registry import SOURCES, enabled_tools
from threadwise.knowledge.slack_search import SlackSearch

pytestmark = pytest.mark.in_process

ROOT = Path(__file__).resolve().parents[3]
BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "http://slack.test/api"}
# Every source's switch, set (the tools check their credential when they run, not when built). Read from
# the registry, so that a new source is covered here without editing this file.
CREDENTIALS = {source.setting: f"{source.setting.lower()}-1" for source in SOURCES}


class Workspace:
    """What a tool may ask of the bot's Slack gateway: only Drive does, for the asker's email address."""

    def email_of(self, user_id: str) -> str | None:
        return {"U1": "ada@example.com"}.get(user_id)


def knowledge(**env: str) -> KnowledgeSettings:
    return load_settings({**BASE, **env}).knowledge


@pytest.mark.parametrize("on", [combo for n in range(len(CREDENTIALS) + 1)
                                for combo in itertools.combinations(CREDENTIALS, n)])
def test_a_tool_is_on_exactly_when_its_credential_is_set(on):
    tools = enabled_tools(knowledge(**{name: CREDENTIALS[name] for name in on}), Workspace())
    expected = [source.tool for source in SOURCES if source.setting in on]
    assert list(tools) == expected  # in the registry's order: the order the model is offered them


def test_a_blank_credential_is_unset():
    assert enabled_tools(knowledge(NOTION_TOKEN=" ", GITHUB_TOKEN=""), Workspace()) == {}


def test_each_tool_is_built_from_its_own_settings():
    tools = enabled_tools(knowledge(**CREDENTIALS, NOTION_API_URL="http://notion.test/", GITHUB_ORG="acme",
                                    GITHUB_API_URL="http://github.test", GOOGLE_API_URL="http://google.test"),
                          Workspace())
    slack, notion, github, drive = (tools[name] for name in ("search_slack", "search_notion", "search_github",
                                                             "search_google_drive"))
    assert isinstance(slack, SlackSearch) and slack._client.base_url == "http://slack.test/api/"
    assert isinstance(notion, NotionSearch) and notion._api == "http://notion.test"
    assert isinstance(github, GitHubSearch) and (github._api, github._org) == ("http://github.test", "acme")
    assert isinstance(drive, DriveSearch) and drive._api_url == "http://google.test"
    assert drive._email_of("U1") == "ada@example.com", "Drive checks files against the asker's Slack email"


def test_each_declaration_names_its_tool_and_a_setting_config_reads():
    read_by_config = "".join(p.read_text() for p in (ROOT / "threadwise" / "config").glob("*.py"))
    settings = {f.name for f in fields(KnowledgeSettings)}
    built = enabled_tools(knowledge(**CREDENTIALS), Workspace())
    for source in SOURCES:
        assert source.setting.lower() in settings and f'env, "{source.setting}"' in read_by_config
        assert built[source.tool].name == source.tool
    assert len({s.tool for s in SOURCES}) == len({s.module for s in SOURCES}) == len(SOURCES)


def test_every_knowledge_module_with_a_build_is_registered():
    """A source's module is found by its build(): one that is not in SOURCES would never be offered."""
    with_build = {f"threadwise.knowledge.{path.stem}" for path in (ROOT / "threadwise" / "knowledge").glob("*.py")
                  if any(isinstance(node, ast.FunctionDef) and node.name == "build"
                         for node in ast.parse(path.read_text()).body)}
    assert with_build == {source.module for source in SOURCES}


def test_only_the_sources_switched_on_are_imported():
    code = ("import json, sys\n"
            "from threadwise.config import load_settings\n"
            "from threadwise.knowledge.registry import SOURCES, enabled_tools\n"
            f"env = {json.dumps({**BASE, 'NOTION_TOKEN': 'n'})}\n"
            "enabled_tools(load_settings(env).knowledge, None)\n"
            "print(json.dumps([s.module for s in SOURCES if s.module in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert json.loads(out) == ["threadwise.knowledge.notion"]


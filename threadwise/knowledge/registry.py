"""Every knowledge source, declared once: the tool the model calls, the setting that turns it on, its module.

A source is on when its setting is set (a credential: nothing else to flip).
Its module is imported only then — an instance without tools never loads
them, which keeps a cold start light — and builds the tool from the knowledge
settings with its ``build(knowledge, slack)``. Adding a source (Confluence,
say) takes its module with a ``build``, its settings in ``config`` (load and
``KnowledgeSettings``), one line below, and its tests.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass

from threadwise.config import KnowledgeSettings
from threadwise.knowledge.toolbox import KnowledgeTool
from slack_client import SlackGateway


@dataclass(frozen=True)
class Source:
    tool: str  # the function name the model calls; the module's tool says the same (a test checks)
    setting: str  # the environment variable that turns it on; KnowledgeSettings holds it in lower case
    module: str  # its module, whose build(knowledge, slack) makes the tool
    # It answers everyone with the same view (the operator's token; it cannot tell what the asker may open):
    # in a channel, only when everyone there belongs to the workspace (answering/audience.py).
    workspace_wide: bool = False


# In the order the model is offered them.
SOURCES: tuple[Source, ...] = (
    Source("search_slack", "SLACK_USER_TOKEN", "threadwise.knowledge.slack_search"),
    Source("search_notion", "NOTION_TOKEN", "threadwise.knowledge.notion", workspace_wide=True),
    Source("search_github", "GITHUB_TOKEN", "threadwise.knowledge.github", workspace_wide=True),
    Source("search_google_drive", "GOOGLE_DRIVE_CREDENTIALS", "threadwise.knowledge.drive"),
)


WORKSPACE_WIDE = frozenset(source.tool for source in SOURCES if source.workspace_wide)


def is_on(source: Source, knowledge: KnowledgeSettings) -> bool:
    return bool(getattr(knowledge, source.setting.lower()))


def enabled_tools(knowledge: KnowledgeSettings, slack: SlackGateway) -> dict[str, KnowledgeTool]:
    """The tools this instance offers the model, by the name the model calls them."""
    # importlib, not a top-level import: only the sources switched on are loaded (cold start).
    tools = [importlib.import_module(source.module).build(knowledge, slack)
             for source in SOURCES if is_on(source, knowledge)]
    return {tool.name: tool for tool in tools}

"""Which knowledge tools this instance offers the model: each one whose credential is set."""
from __future__ import annotations

from threadwise.config import Settings
from threadwise.knowledge.toolbox import KnowledgeTool
from slack_client import SlackGateway


def enabled_tools(settings: Settings, slack: SlackGateway) -> dict[str, KnowledgeTool]:
    # Imported only when switched on: an instance without tools never loads them.
    tools: list[KnowledgeTool] = []
    if settings.slack_user_token:
        from threadwise.knowledge.slack_search import SlackSearch

        tools.append(SlackSearch(settings.slack_user_token, settings.slack_api_url))
    if settings.notion_token:
        from threadwise.knowledge.notion import NotionSearch

        tools.append(NotionSearch(settings.notion_token, settings.notion_api_url))
    if settings.github_token:
        from threadwise.knowledge.github import GitHubSearch

        tools.append(GitHubSearch(settings.github_token, settings.github_api_url, org=settings.github_org))
    if settings.google_drive_credentials:
        from threadwise.knowledge.drive import DriveSearch

        tools.append(DriveSearch(settings.google_drive_credentials, settings.google_api_url, slack.email_of))
    return {tool.name: tool for tool in tools}

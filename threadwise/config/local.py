"""How ``./scripts/run`` runs the bot on this machine, chosen from what is configured (``launch.py``)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Mapping

from threadwise.config.env import ConfigError, number, text

RunMode = Literal["socket", "http", "playground"]


@dataclass(frozen=True)
class LocalRun:
    """One way to run: the mode, its port, and the line that says what chose it."""

    mode: RunMode
    port: int  # the HTTP function's port, or the playground page's
    why: str   # one line for the terminal: the mode and what chose it


def local_run(env: Mapping[str, str] | None = None) -> LocalRun:
    env = os.environ if env is None else env
    port = int(number(env, "PORT", 8080, 1, 65535))
    if text(env, "SLACK_APP_TOKEN"):
        return LocalRun("socket", port, "Socket Mode (SLACK_APP_TOKEN is set): no public URL needed")
    chosen_by = [name for name in ("SLACK_SIGNING_SECRET", "ACCESS_TOKEN") if text(env, name)]
    if chosen_by == ["ACCESS_TOKEN"]:  # the HTTP function would refuse it (config/load.py): say so before
        raise ConfigError("ACCESS_TOKEN is set but SLACK_SIGNING_SECRET is not: the HTTP function needs the "
                          "signing secret (ACCESS_TOKEN is only an extra check). Set it, or unset ACCESS_TOKEN "
                          "for the offline playground.")
    if chosen_by:
        return LocalRun("http", port, f"HTTP function on http://localhost:{port}/ ({' and '.join(chosen_by)} "
                                      f"{'is' if len(chosen_by) == 1 else 'are'} set): "
                                      "Slack must reach this URL (a tunnel, or deploy)")
    return LocalRun("playground", port, "offline playground (no Slack settings): a Slack-like page on this machine")

"""Every setting, read from the environment once, validated with clear errors, grouped per concern.

Nothing else in the code reads ``os.environ``. The package's parts: ``env``
(reading one variable, ``ConfigError``), ``groups`` (the typed settings, one
group a room), ``load`` (``load_settings``: every variable, in one place),
``slack_limits`` (SLACK_RATE_LIMITS) and ``local`` (how ``./scripts/run``
runs: imported from ``threadwise.config.local`` by the launchers only, so that
a cold function instance does not load it). Config imports no room: every
room may import it.
"""
from threadwise.config.env import ConfigError
from threadwise.config.groups import (AnsweringSettings, HandoffSettings, KnowledgeSettings, ModelSettings, Settings,
                                      SlackSettings, StateSettings, UsageSettings)
from threadwise.config.load import load_settings

__all__ = ["ConfigError", "Settings", "SlackSettings", "ModelSettings", "AnsweringSettings", "HandoffSettings",
           "StateSettings", "KnowledgeSettings", "UsageSettings", "load_settings"]

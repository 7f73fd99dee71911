"""The cost-and-control settings (issue 15): ADMIN_USERS, BUDGET_*_MONTHLY_USD, BUDGET_ALERT_PERCENT and the
allowlists parse to typed values, and a wrong value refuses to start with a sentence that names the variable."""
from __future__ import annotations

from decimal import Decimal

import pytest

from threadwise.config import ConfigError, load_settings

pytestmark = pytest.mark.in_process

BASE = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}


def usage(**env: str):
    return load_settings({**BASE, **env}).usage


def test_unset_means_no_limit_everyone_and_no_admins():
    settings = usage(BUDGET_USER_MONTHLY_USD="  ")
    assert settings.budget_user_monthly_usd is None and settings.budget_channel_monthly_usd is None
    assert settings.budget_workspace_monthly_usd is None
    assert settings.allowed_channels is None and settings.allowed_users is None
    assert settings.admin_users == frozenset() and settings.budget_alert_percent == 80


def test_money_is_read_exactly():
    settings = usage(BUDGET_USER_MONTHLY_USD="12.50", BUDGET_CHANNEL_MONTHLY_USD="$50",
                     BUDGET_WORKSPACE_MONTHLY_USD="0.1")
    assert settings.budget_user_monthly_usd == Decimal("12.50")
    assert settings.budget_channel_monthly_usd == Decimal(50)
    assert settings.budget_workspace_monthly_usd == Decimal("0.1") and type(settings.budget_workspace_monthly_usd) is Decimal


@pytest.mark.parametrize("value, why", [("ten", "an amount in USD such as 50"), ("0", "above 0 (unset it for no limit)"),
                                        ("-5", "above 0"), ("NaN", "above 0"), ("Infinity", "above 0")])
def test_a_wrong_amount_names_the_variable(value, why):
    with pytest.raises(ConfigError, match=r"^BUDGET_CHANNEL_MONTHLY_USD must be .*") as error:
        usage(BUDGET_CHANNEL_MONTHLY_USD=value)
    assert why in str(error.value) and repr(value) in str(error.value)


def test_slack_ids_separated_by_commas_or_spaces():
    settings = usage(ADMIN_USERS="U012ABC, W034DEF", ALLOWED_CHANNELS="C0123 G0456,D0789", ALLOWED_USERS="U1AB")
    assert settings.admin_users == {"U012ABC", "W034DEF"}
    assert settings.allowed_channels == {"C0123", "G0456", "D0789"} and settings.allowed_users == {"U1AB"}


@pytest.mark.parametrize("name, value", [("ADMIN_USERS", "@alice"), ("ADMIN_USERS", "C0123"),
                                         ("ALLOWED_CHANNELS", "#general"), ("ALLOWED_CHANNELS", "U0123"),
                                         ("ALLOWED_USERS", "<@U0123>"), ("ALLOWED_USERS", "u0123")])
def test_a_name_or_a_mention_is_refused_not_ignored(name, value):
    with pytest.raises(ConfigError, match=rf"^{name} must list Slack IDs .* not '{value}'"):
        usage(**{name: value})


def test_the_alert_percent_is_a_whole_number_from_1_to_100():
    assert usage(BUDGET_ALERT_PERCENT="90").budget_alert_percent == 90
    assert usage(BUDGET_ALERT_PERCENT="100").budget_alert_percent == 100
    with pytest.raises(ConfigError, match=r"^BUDGET_ALERT_PERCENT must be a whole number, not 80.5$"):
        usage(BUDGET_ALERT_PERCENT="80.5")
    with pytest.raises(ConfigError, match=r"^BUDGET_ALERT_PERCENT must be between 1 and 100, not 0$"):
        usage(BUDGET_ALERT_PERCENT="0")
    with pytest.raises(ConfigError, match=r"^BUDGET_ALERT_PERCENT must be a number"):
        usage(BUDGET_ALERT_PERCENT="eighty")

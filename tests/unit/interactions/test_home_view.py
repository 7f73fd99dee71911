"""The Home view, built from month reports: a member's own numbers only, the admins' extras, Slack's
limits kept with many people, channels and models; the chart; the payloads at the edge; the manifests."""
from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path

import pytest

from home_ledger import entry
from standins.slack_home import home_view_error
from threadwise.config.groups import UsageSettings
from threadwise.interactions.home_chart import daily_cost_chart
from threadwise.interactions.home_view import budget_share, home_view, money, seat_line
from threadwise.slack.events import Ignore, Via, parse_event_body, parse_interaction
from threadwise.slack.home_events import HomeAction, HomeOpened
from threadwise.usage.report import month_report

pytestmark = pytest.mark.in_process

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime.datetime(2026, 7, 20, 12, 0, tzinfo=datetime.timezone.utc)
SETTINGS = UsageSettings(model_prices=None, admin_users=frozenset({"UADMIN"}), budget_user_monthly_usd=Decimal(10))


def report_of(*entries, month=7):
    return month_report(entries, 2026, month)


def test_money_and_budget_share():
    assert money(Decimal("1.2")) == "$1.20" and money(Decimal(0)) == "$0.00" and money(Decimal("0.004")) == "<$0.01"
    assert budget_share(Decimal("1.20"), Decimal(10)) == "$1.20 of $10.00 (12 %)"


def test_the_seat_line_is_exactly_the_issues_sentence():
    report = report_of(entry("U1", "1.00", ended=NOW), entry("U2", "0.20", ended=NOW))
    assert seat_line(report, Decimal(25)) == ("2 people used Threadwise this month; ChatGPT Business for them would "
                                              "cost $25 × 2 = $50; Threadwise cost $1.20")


def test_a_members_view_holds_no_one_elses_numbers():
    report = report_of(entry("UME", "1.00", ended=NOW), entry("UYOU", "7.77", channel="CPRIVATE", ended=NOW))
    text = json.dumps(home_view("UME", report, None, SETTINGS, NOW))
    assert "$1.00 of $10.00 (10 %)" in text
    assert "UYOU" not in text and "7.77" not in text and "CPRIVATE" not in text and "people used" not in text


def test_an_admin_without_last_months_report_sees_the_member_view_only():
    report = report_of(entry("UYOU", "7.77", ended=NOW))
    assert "UYOU" not in json.dumps(home_view("UADMIN", report, None, SETTINGS, NOW))


def test_many_people_channels_and_models_stay_within_home_limits():
    many = [entry(f"U{i:05d}", "0.10", channel=f"C{i:05d}", model=f"model-{i}" if i % 2 else f"unpriced-{i}",
                  ended=NOW) for i in range(400)]
    many = [e if i % 2 else entry(e.user, None, channel=e.channel, model=e.model, ended=NOW)
            for i, e in enumerate(many)]
    view = home_view("UADMIN", report_of(*many), report_of(month=6), SETTINGS, NOW)
    assert len(view["blocks"]) <= 100 and home_view_error(view) is None
    assert len(json.dumps(view).encode()) < 250_000
    assert json.dumps(view).count("<@U") == 5 and json.dumps(view).count("<#C") == 5


def test_the_chart_scales_to_the_highest_day_and_shows_a_cent():
    chart = daily_cost_chart([Decimal("2"), Decimal(0), Decimal("0.001"), Decimal("1")], 4, money)
    lines = chart.splitlines()
    assert lines[0].startswith("$2.00 █") and len(lines) == 5
    assert lines[-2].endswith("█ ▁█") and lines[-1].strip().startswith("1")


def test_app_home_opened_is_a_typed_value_for_the_home_tab_only():
    body = {"type": "event_callback", "event_id": "Ev1", "team_id": "T1",
            "event": {"type": "app_home_opened", "user": "U1", "channel": "D1", "tab": "home", "event_ts": "1.2",
                      "view": {"id": "V1", "hash": "h1"}}}
    assert parse_event_body(body, None) == HomeOpened("Ev1", "T1", "U1", "D1", "1.2", "h1")
    body["event"]["tab"] = "messages"
    assert isinstance(parse_event_body(body, None), Ignore)


def test_a_home_button_is_a_home_action_and_an_unregistered_one_is_ignored():
    payload = {"type": "block_actions", "user": {"id": "U1", "team_id": "T1"}, "team": {"id": "T1"},
               "container": {"type": "view", "view_id": "V1"}, "view": {"id": "V1"}, "trigger_id": "t",
               "actions": [{"action_id": "home_export_csv"}]}
    assert parse_interaction(payload, lambda via, i: via is Via.HOME) == HomeAction("home_export_csv", "T1", "U1",
                                                                                   "V1", "t")
    assert isinstance(parse_interaction(payload, lambda via, i: via is Via.BUTTON), Ignore)


@pytest.mark.parametrize("manifest", ["manifest.yaml", "manifest.socket-mode.yaml"])
def test_the_manifests_turn_the_home_tab_on_with_its_event_and_scopes(manifest):
    text = (ROOT / manifest).read_text()
    assert "    home_tab_enabled: true\n    messages_tab_enabled: true\n" in text
    assert "      - app_home_opened\n" in text.split("bot_events:")[1]
    bot_scopes = text.split("    bot:\n")[1].split("    user:")[0]
    assert "      - files:write\n" in bot_scopes and "      - im:write\n" in bot_scopes

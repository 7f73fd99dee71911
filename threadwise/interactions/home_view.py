"""The App Home view: what the bot does and a person's own usage; for admins, the workspace's.

Pure: month reports (``usage/report.py``) and settings in, a Home view (Block Kit, built with
slack_sdk's models, which check Slack's field limits) out. A member's view is built from their own
``Totals`` alone, so no one else's number can reach it; the admin part is added only for admins.
Slack's Home limits (AI_SURFACE_FACTS.md C): ≤ 100 blocks, 250 kB: the lists are capped (``TOP``).
"""
from __future__ import annotations

import datetime
from decimal import ROUND_HALF_UP, Decimal

from slack_sdk.models.blocks import (ActionsBlock, Block, ButtonElement, ContextBlock, DividerBlock, HeaderBlock,
                                     MarkdownTextObject, SectionBlock)
from slack_sdk.models.views import View

from threadwise.config.groups import UsageSettings
from threadwise.interactions.home_chart import daily_cost_chart
from threadwise.state.usage_records import UsageOutcome
from threadwise.usage.report import MonthReport, Totals

CSV_ACTION_ID = "home_export_csv"
CSV_BUTTON_TEXT = "Send me this month's CSV"
TOP = 5  # people and channels listed
TOP_MODELS = 10

HOW_TO = ("*Ask me anything.* Send me a direct message, or @mention me in a channel: I answer in the thread, "
          "and a reply in that thread continues the conversation.\n"
          "• *Stop*: the button under an answer I am still writing (or *Stop generating* in the message's ⋯ menu).\n"
          "• *Delete*: *Delete message* in the ⋯ menu of my answer removes it (only the person who asked).")


def money(amount: Decimal) -> str:
    """Dollars for people: cents, or "<$0.01" for a cost too small to show as one (never "$0.00" for some)."""
    if amount == 0:
        return "$0.00"
    if amount < Decimal("0.01"):
        return "<$0.01"
    return f"${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"


def _price(amount: Decimal) -> str:
    """A seat price: "$25", or "$25.50"."""
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else money(amount)


def _cost(totals: Totals) -> str:
    known = money(totals.cost_usd)
    return known if not totals.unpriced_answers else f"{known} + {totals.unpriced_answers} answers of unknown cost"


def budget_share(spent: Decimal, budget: Decimal) -> str:
    """ "$1.20 of $10.00 (12 %)" """
    percent = (spent / budget * 100).quantize(Decimal(1), ROUND_HALF_UP) if budget > 0 else Decimal(100)
    return f"{money(spent)} of {money(budget)} ({percent} %)"


def _month_name(report: MonthReport) -> str:
    return datetime.date(report.year, report.month, 1).strftime("%B %Y")


def _fields(totals: Totals) -> list[MarkdownTextObject]:
    return [MarkdownTextObject(text=f"*Answers*\n{totals.answers:,}"),
            MarkdownTextObject(text=f"*Tokens*\n{totals.tokens:,} ({totals.input_tokens:,} in, "
                                    f"{totals.output_tokens:,} out)"),
            MarkdownTextObject(text=f"*Cost*\n{_cost(totals)}")]


def _section(text: str) -> SectionBlock:
    return SectionBlock(text=MarkdownTextObject(text=text[:3000]))


def member_blocks(user: str, mine: Totals, report: MonthReport, settings: UsageSettings) -> list[Block]:
    fields = _fields(mine)
    if settings.budget_user_monthly_usd is not None:
        fields.append(MarkdownTextObject(
            text=f"*Your monthly budget*\n{budget_share(mine.cost_usd, settings.budget_user_monthly_usd)}"))
    return [HeaderBlock(text="Threadwise"), _section(HOW_TO), DividerBlock(),
            HeaderBlock(text=f"Your usage in {_month_name(report)}"), SectionBlock(fields=fields)]


def seat_line(report: MonthReport, seat_price: Decimal) -> str:
    people = report.people
    return (f"{people} people used Threadwise this month; ChatGPT Business for them would cost "
            f"{_price(seat_price)} × {people} = {_price(seat_price * people)}; Threadwise cost {money(report.total.cost_usd)}")


def _ranked(report: MonthReport, kind: str, mention: str, count: int) -> str:
    rows = report.top(kind, count)
    if not rows:
        return "_none yet_"
    return "\n".join(f"{index}. {mention.format(key)}: {_cost(totals)} · {totals.answers:,} answers · "
                     f"{totals.tokens:,} tokens" for index, (key, totals) in enumerate(rows, 1))


def admin_blocks(report: MonthReport, last: MonthReport, settings: UsageSettings, today: int) -> list[Block]:
    stopped = report.by_outcome.get(UsageOutcome.STOPPED, Totals())
    blocks: list[Block] = [
        DividerBlock(), HeaderBlock(text="Workspace (admins only)"),
        _section(f"*{_month_name(report)}*"), SectionBlock(fields=_fields(report.total)),
        _section(f"*{_month_name(last)}*"), SectionBlock(fields=_fields(last.total)),
        _section(f"{seat_line(report, settings.seat_price_usd)}"),
        _section(f"*Top people*\n{_ranked(report, 'user', '<@{}>', TOP)}"),
        _section(f"*Top channels*\n{_ranked(report, 'channel', '<#{}>', TOP)}"),
        _section(f"*Cost by model*\n{_ranked(report, 'model', '`{}`', TOP_MODELS)}"),
    ]
    if report.unpriced_models:
        names = ", ".join(f"`{m}`" for m in sorted(report.unpriced_models)[:TOP_MODELS])
        blocks.append(_section(f":warning: *Cost unknown* for {names}: no price in the table. Add them to the "
                               "file MODEL_PRICES names (same format as the shipped table) to see their cost."))
    blocks += [
        _section(f"*Stopped answers*: {stopped.answers:,}; Stop saved about "
                 f"{report.output_tokens_saved_by_stop:,} output tokens."),
        _section(f"*Daily cost*\n```{daily_cost_chart(report.daily_cost_usd, today, money)}```"),
        ActionsBlock(elements=[ButtonElement(text=CSV_BUTTON_TEXT, action_id=CSV_ACTION_ID,
                                             value=f"{report.year:04d}-{report.month:02d}")]),
        ContextBlock(elements=[MarkdownTextObject(
            text="The CSV of the month's ledger comes as a file in your DM with Threadwise.")]),
    ]
    return blocks


def home_view(user: str, report: MonthReport, last: MonthReport | None, settings: UsageSettings,
              now: datetime.datetime) -> dict:
    """The Home view for ``user``: ``last`` (last month) is read for admins only (None for a member)."""
    mine = report.by_user.get(user, Totals())
    blocks = member_blocks(user, mine, report, settings)
    if user in settings.admin_users and last is not None:
        blocks += admin_blocks(report, last, settings, now.day)
    blocks.append(ContextBlock(elements=[MarkdownTextObject(
        text=f"Updated {now:%Y-%m-%d %H:%M} UTC · months are UTC calendar months")]))
    return View(type="home", callback_id="threadwise_home", blocks=blocks).to_dict()

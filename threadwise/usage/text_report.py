"""The month's usage as plain text, for a terminal (``./scripts/usage``): the same figures App Home shows,
from the same ``MonthReport``, with Slack IDs as Slack gives them (a terminal has no names to show).

Money is shown rounded to cents (sums of exact decimals; a figure under a cent shows its first digits),
never a float, and an unknown cost is said to be unknown, never shown as $0.
"""
from __future__ import annotations

import calendar
from decimal import ROUND_HALF_UP, Decimal

from threadwise.state.usage_records import UsageOutcome
from threadwise.usage.report import MonthReport, Totals

TOP = 10  # users and channels listed
BAR_WIDTH = 30  # the widest day's bar, in block characters
_EIGHTHS = " ▏▎▍▌▋▊▉"


def month_name(year: int, month: int) -> str:
    return f"{calendar.month_name[month]} {year}"


def usd(amount: Decimal) -> str:
    """$1,234.57; a non-zero amount under a cent keeps two significant digits ($0.0042), so it is not $0.00."""
    if amount and abs(amount) < Decimal("0.01"):
        exponent = amount.adjusted() - 1
        return f"${amount.quantize(Decimal(1).scaleb(exponent), ROUND_HALF_UP):f}"
    return f"${amount.quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


def seat_price(amount: Decimal) -> str:
    """$25 for a whole-dollar price (as the seat line reads), $25.50 otherwise."""
    return f"${amount:,.0f}" if amount == amount.to_integral_value() else usd(amount)


def seat_line(report: MonthReport, price: Decimal) -> str:
    people = report.people
    return (f"{people} {'person' if people == 1 else 'people'} used Threadwise this month; ChatGPT Business for "
            f"them would cost {seat_price(price)} × {people} = {usd(price * people)}; "
            f"Threadwise cost {usd(report.total.cost_usd)}")


def text_report(report: MonthReport, previous_cost_usd: Decimal, seat_price_usd: Decimal) -> str:
    """The whole report. ``previous_cost_usd``: the known costs of the month before, for comparison."""
    title = f"Threadwise usage, {month_name(report.year, report.month)} (UTC)"
    lines = [title, "=" * len(title), ""]
    if not report.by_outcome:
        lines.append(f"No answers were recorded in {month_name(report.year, report.month)}.")
        lines.append(_last_month(report, previous_cost_usd))
        return "\n".join(lines) + "\n"
    total = report.total
    lines += [
        f"Answers      {total.answers:,} for {report.people:,} {'person' if report.people == 1 else 'people'}",
        f"Tokens       input {total.input_tokens:,} (cached {total.cached_input_tokens:,}), "
        f"output {total.output_tokens:,} (reasoning {total.reasoning_tokens:,})",
        f"Cost         {usd(total.cost_usd)}{' + unknown' if total.unpriced_answers else ''}",
    ]
    if total.unpriced_answers:
        lines.append(f"             {total.unpriced_answers:,} {_answers(total.unpriced_answers)} with unknown cost: "
                     f"no price for {', '.join(sorted(report.unpriced_models))} (add it with MODEL_PRICES)")
    if total.estimated_answers:
        lines.append(f"             {total.estimated_answers:,} {_answers(total.estimated_answers)} with estimated "
                     "tokens (the provider reported no usage; counted locally)")
    lines += [_last_month(report, previous_cost_usd), "", seat_line(report, seat_price_usd), ""]
    lines += _table(f"Top users (of {len(report.by_user):,})", report.top("user", TOP))
    lines += _table(f"Top channels (of {len(report.by_channel):,})", report.top("channel", TOP))
    lines += _table("Cost by model", report.top("model", len(report.by_model)))
    lines += _outcomes(report)
    lines += _daily(report)
    return "\n".join(lines).rstrip("\n") + "\n"


def _answers(count: int) -> str:
    return "answer" if count == 1 else "answers"


def _cost(totals: Totals) -> str:
    if totals.unpriced_answers == totals.answers:
        return "unknown"
    return usd(totals.cost_usd) + (" + unknown" if totals.unpriced_answers else "")


def _last_month(report: MonthReport, previous: Decimal) -> str:
    year, month = (report.year, report.month - 1) if report.month > 1 else (report.year - 1, 12)
    line = f"Last month   {usd(previous)} ({month_name(year, month)})"
    if previous and report.total.cost_usd:
        change = (report.total.cost_usd - previous) / previous * 100
        line += f", {'+' if change >= 0 else '−'}{abs(change):.0f} % this month"
    return line


def _table(heading: str, rows: list[tuple[str, Totals]]) -> list[str]:
    width = max((len(name) for name, _ in rows), default=0)
    lines = [heading]
    for name, totals in rows:
        lines.append(f"  {name:<{width}}  {_cost(totals):>18}  {totals.answers:>7,} {_answers(totals.answers):<7}  "
                     f"{totals.tokens:>13,} tokens")
    return lines + [""]


def _outcomes(report: MonthReport) -> list[str]:
    lines = ["Outcomes"]
    for outcome in UsageOutcome:  # the enum's order: completed first
        if outcome not in report.by_outcome:
            continue
        totals = report.by_outcome[outcome]
        note = ""
        if outcome is UsageOutcome.STOPPED:
            note = (f"  output {totals.output_tokens:,} tokens; Stop saved about "
                    f"{report.output_tokens_saved_by_stop:,} output tokens")
        lines.append(f"  {outcome.value:<15}{totals.answers:>7,}{note}")
    return lines + [""]


def _daily(report: MonthReport) -> list[str]:
    highest = max(report.daily_cost_usd, default=Decimal(0))
    lines = ["Daily cost (UTC)"]
    for day, cost in enumerate(report.daily_cost_usd, start=1):
        lines.append(f"  {report.month:02d}-{day:02d}  {usd(cost):>10}  {_bar(cost, highest)}".rstrip())
    return lines


def _bar(cost: Decimal, highest: Decimal) -> str:
    """Block characters, in eighths of a character: the widest day fills ``BAR_WIDTH``."""
    if not highest:
        return ""
    eighths = int(cost / highest * BAR_WIDTH * 8)
    return "█" * (eighths // 8) + _EIGHTHS[eighths % 8].strip()

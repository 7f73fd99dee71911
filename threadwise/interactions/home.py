"""The App Home tab: its view published on every visit, and the admins' CSV button.

``publish`` runs off the acknowledgement's path (the transports hand it to ``Runtime.run_soon``):
Slack sends ``app_home_opened`` on every visit and wants its 200 within 3 s. The month's ledger is
summed from the store's running totals for this workspace (``usage/report.ledger_month_report``: no entry
is read, however many the month has) and shown by ``home_view``. The CSV button re-checks that the person who clicked is an admin (a view can be
old, or forged): anyone else changes nothing and is told so.
"""
from __future__ import annotations

import datetime
import time

from threadwise import logs
from threadwise.interactions.home_view import home_view
from threadwise.interactions.services import Services
from threadwise.slack.home_calls import CallResult
from threadwise.slack.home_events import HomeAction, HomeOpened
from threadwise.usage.csv_export import ledger_csv
from threadwise.usage.report import ledger_month_report

log = logs.get(__name__)

CSV_WAIT = 1.0  # seconds the click's acknowledgement waits for the file (a small month is sent by then): inbound.HOME_WAIT
NOT_ADMIN = "Only Threadwise's admins (ADMIN_USERS) can export the usage CSV; nothing was sent."
_REFUSALS = {
    "file_uploads_disabled": "File uploads are turned off in this workspace, so I can't send the CSV. "
                             "An operator can print it with `./scripts/usage --csv`.",
    "file_type_not_allowed": "This workspace does not allow CSV files to be uploaded, so I can't send it. "
                             "An operator can print it with `./scripts/usage --csv`.",
    "storage_limit_reached": "This workspace's file storage is full, so I can't send the CSV. "
                             "An operator can print it with `./scripts/usage --csv`.",
}


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _previous(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def publish(opened: HomeOpened, services: Services) -> CallResult:
    """Build the person's Home view from the ledger and publish it (``views.publish``)."""
    started, now = time.monotonic(), _now()
    usage = services.settings.usage
    workspace = opened.team_id or None
    report = ledger_month_report(services.store, now.year, now.month, workspace)
    last = None
    if opened.user in usage.admin_users:  # last month is read only for those who may see it
        year, month = _previous(now.year, now.month)
        last = ledger_month_report(services.store, year, month, workspace)
    view = home_view(opened.user, report, last, usage, now)
    result = services.slack.publish_home(opened.user, view, opened.view_hash)
    if result.ok:
        log.info("home published", user=opened.user, admin=last is not None, answers=report.total.answers,
                 ms=round((time.monotonic() - started) * 1000, 1))
    elif result.error == "hash_conflict":  # a newer view was published meanwhile (another visit): it stands
        log.info("home not published: a newer view is there", user=opened.user)
    elif result.error == "not_enabled":
        log.warning("home not published: the Home tab is off; set features.app_home.home_tab_enabled in the "
                    "app's manifest", user=opened.user)
    else:
        log.warning("home not published", user=opened.user, error=result.error)
    return result


def export_csv(action: HomeAction, services: Services) -> None:
    """The CSV button: the month's ledger as a file in the admin's DM with the bot.

    Slack wants the click acknowledged within 3 s, and reading a busy month (10,000 answers: 2.7 s from the
    Firestore emulator) and uploading it may take longer. So the click opens a modal at once (its trigger
    lasts 3 s), the file is made and sent off the acknowledgement's path, and the modal then says how it went.
    """
    slack, usage = services.slack, services.settings.usage
    if action.user not in usage.admin_users:
        log.warning("csv export refused: not an admin", user=action.user)
        slack.open_notice(action.trigger_id, "Not available", NOT_ADMIN)
        return
    now = _now()
    month = f"{now.year:04d}-{now.month:02d}"
    notice = slack.open_notice(action.trigger_id, "Preparing the CSV",
                               f"The CSV of {month} is on its way to your DM with Threadwise.")
    services.run_soon(lambda: _send_csv(action, services, notice, now), wait=CSV_WAIT)


def _send_csv(action: HomeAction, services: Services, notice: str | None, now: datetime.datetime) -> None:
    slack = services.slack
    entries = services.store.usage_in_month(now.year, now.month, workspace=action.team_id or None)
    opened = slack.open_dm_result(action.user)
    channel = opened.data.get("channel", {}).get("id") if opened.ok else None
    if channel is None:
        return _refused(action, services, opened, notice)
    month = f"{now.year:04d}-{now.month:02d}"
    sent = slack.upload_file(channel, f"threadwise-usage-{month}.csv", ledger_csv(entries),
                             title=f"Threadwise usage {month}",
                             initial_comment=f"Threadwise's usage ledger for {month}: {len(entries):,} answers.")
    if not sent.ok:
        return _refused(action, services, sent, notice)
    log.info("csv exported", user=action.user, entries=len(entries))
    slack.update_notice(notice, "CSV sent", f"The CSV of {month} ({len(entries):,} answers) is in your DM with "
                                            "Threadwise.")


def _refused(action: HomeAction, services: Services, result: CallResult, notice: str | None) -> None:
    if result.error == "missing_scope":
        sentence = (f"I can't send the CSV: my Slack app was installed without the `{result.needed}` permission. "
                    "Please ask whoever manages Slack apps in this workspace to add it and reinstall Threadwise.")
    else:
        sentence = _REFUSALS.get(result.error or "", f"Slack refused the file ({result.error}); nothing was sent. "
                                                     "Please try again in a moment.")
    log.warning("csv export failed", user=action.user, error=result.error)
    if not services.slack.update_notice(notice, "CSV not sent", sentence):
        log.warning("csv export failure not shown: the modal is gone", user=action.user)

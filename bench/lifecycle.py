"""A benchmark run's life: signals deferred while stopping, everything started is stopped, the commit measured."""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- signals, commit
class Interrupted(Exception):
    pass


_deferring = 0
_pending: list[int] = []


def _on_signal(signum, _frame):
    if _deferring:  # inside signals_deferred(): raised when the block ends
        _pending.append(signum)
        return
    raise Interrupted(f"signal {signum}")


@contextlib.contextmanager
def signals_deferred():
    """A SIGINT/SIGTERM/SIGHUP arriving inside the block is raised (as ``Interrupted``) when it ends.

    For starting a process: its object has to be on the list of things to stop
    before anything can interrupt, or a Ctrl-C in the middle of the start would
    leave it running.
    """
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring and _pending:
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(f"signal {signum}")


@contextlib.contextmanager
def signals_ignored():
    """No second Ctrl-C/TERM in the middle of stopping things."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def stop_all(stack: list, name: str) -> None:
    """Calls every stop function, last started first, and keeps going when one fails."""
    for stop in reversed(stack):
        try:
            stop()
        except Exception as error:  # keep stopping the rest
            print(f"{name}: stopping failed: {error!r}", file=sys.stderr)


def run_main(name: str, run, args) -> int:
    """Runs ``run(args)`` with the exit statuses of the benchmarks: 130 interrupted, 2 setup failed."""
    # Explicitly, also for SIGINT: a shell starting us in the background may have it ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)
    try:
        return run(args)
    except (KeyboardInterrupt, Interrupted) as stop:
        print(f"{name}: interrupted ({stop or 'Ctrl-C'}); everything started was stopped", file=sys.stderr)
        return 130
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"{name}: setup failed; everything started was stopped", file=sys.stderr)
        return 2


def git_commit() -> str | None:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "--",
                                "*.py", ":!bench", ":!tests"], capture_output=True, text=True, timeout=10).stdout
        return (head + ("+dirty" if dirty.strip() else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def delta(before, after):
    if before is None or after is None:
        return None
    return round(after - before, 2)


# --------------------------------------------------------------------------- options and leftovers
def add_run_options(p) -> None:
    """The options of a run's life: the stand-ins' backlogs, the logs kept, the printing."""
    p.add_argument("--stock-backlog", action="store_true",
                   help="keep the stand-ins' listen backlogs (FakeOpenAI: 5) instead of raising them to 1024")
    p.add_argument("--keep-log", action="store_true", help="keep the logs and print their folder")
    p.add_argument("--json-only", action="store_true", help="print only the JSON line")


def remove_logs(log_dir: Path) -> None:
    """The run's temporary folder and everything in it (logs, claims, the Firestore emulator's files)."""
    for leftover in sorted(log_dir.rglob("*"), reverse=True):
        try:
            leftover.rmdir() if leftover.is_dir() else leftover.unlink()
        except OSError:
            pass
    try:
        log_dir.rmdir()
    except OSError:
        pass

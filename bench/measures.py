"""Numbers of the benchmarks: percentiles and summaries, /proc readings (memory, CPU), table rows."""
from __future__ import annotations

import math
import os
import statistics

# --------------------------------------------------------------------------- numbers
def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (p99 of 50 samples is the largest)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values_s: list[float]) -> dict:
    ms = [v * 1000 for v in values_s]
    if not ms:
        return {"n": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {"n": len(ms), "p50": round(pct(ms, 50), 1), "p99": round(pct(ms, 99), 1),
            "max": round(max(ms), 1), "mean": round(statistics.fmean(ms), 1)}


def fmt(value, width=9) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.1f}"


# --------------------------------------------------------------------------- processes
def proc_status(pid: int) -> dict:
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
    except OSError:
        pass
    return fields


def kib(value: str | None) -> int | None:
    return int(value.split()[0]) if value else None


def children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return sorted(set(kids))


def descendants(pid: int) -> list[int]:
    out, todo = [], children(pid)
    while todo:
        kid = todo.pop(0)
        out.append(kid)
        todo += children(kid)
    return out


def cpu_seconds(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            parts = f.read().rsplit(")", 1)[1].split()
        return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (OSError, IndexError, ValueError):
        return None


def pss_kib(pid: int) -> int | None:
    """Proportional set size now (pages shared with the other process counted half), from smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def memory_report(master: int) -> dict:
    workers = descendants(master)
    report = {"master_pid": master, "master_hwm_kib": kib(proc_status(master).get("VmHWM")),
              "master_rss_kib": kib(proc_status(master).get("VmRSS")), "workers": []}
    for pid in workers:
        status = proc_status(pid)
        report["workers"].append({"pid": pid, "hwm_kib": kib(status.get("VmHWM")),
                                  "rss_kib": kib(status.get("VmRSS")), "threads": int(status.get("Threads", "0"))})
    report["worker_hwm_kib"] = sum(w["hwm_kib"] or 0 for w in report["workers"]) or None
    report["sum_hwm_kib"] = (report["master_hwm_kib"] or 0) + (report["worker_hwm_kib"] or 0)
    return report


# --------------------------------------------------------------------------- output
def row(name: str, s: dict, extra: str = "") -> str:
    """One line of a table: name, then p50, p99 and max in ms."""
    return f"  {name:<30}{fmt(s['p50'])}{fmt(s['p99'])}{fmt(s['max'])}   {extra}".rstrip()


def mib(k) -> str:
    return "-" if not k else f"{k / 1024:.1f} MiB"


def print_latencies(rows: list[tuple[str, list[float]]], label_width: int = 48) -> None:
    """A table of n / p50 / p99 / max in milliseconds, one row per (label, seconds)."""
    print(f"{'what':<{label_width}}{'n':>4}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for label, values in rows:
        s = summary(values)
        print(f"{label:<{label_width}}{s['n']:>4}{fmt(s['p50'])}{fmt(s['p99'])}{fmt(s['max'])}")

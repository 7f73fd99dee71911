"""pubsub_bench's numbers of one phase (the sequential run or the burst) and its printed report."""
from __future__ import annotations

from common import expected_ok
from measures import mib, row, summary

EMULATOR_NOTE = (
    "NOTE: the Pub/Sub emulator pushes only 2-3 messages at a time per subscription (measured), so under a\n"
    "        burst the event -> placeholder / first text / final numbers measure the emulator's push queue,\n"
    "        not the bot. Production Pub/Sub pushes many more at once and scales slack_worker out by\n"
    "        instance; the sequential run is the single-question latency.")


# --------------------------------------------------------------------------- numbers of one phase
def in_progress(shots) -> dict:
    """How many answers were running at once (placeholder posted, final text not yet), from FakeSlack."""
    spans = [(s.placeholder_at, s.final_at) for s in shots if s.placeholder_at and s.final_at]
    if not spans:
        return {"max": None, "mean": None}
    points = sorted([(a, 1) for a, _ in spans] + [(b, -1) for _, b in spans], key=lambda p: (p[0], p[1]))
    running = peak = 0
    for _, step in points:
        running += step
        peak = max(peak, running)
    busy = max(b for _, b in spans) - min(a for a, _ in spans)
    return {"max": peak, "mean": round(sum(b - a for a, b in spans) / busy, 2) if busy > 0 else None}


def phase_numbers(shots, practice: bool, bot_log: list[dict], worker_log: list[dict], tracker_methods: dict) -> dict:
    ids = {s.event_id for s in shots}
    publish = [e["publish_ms"] / 1000 for e in bot_log
               if e.get("message") == "job published" and e.get("event_id") in ids and "publish_ms" in e]
    received = [e for e in worker_log if e.get("message") == "job received" and e.get("event_id") in ids]
    acked = [s for s in shots if s.end is not None and s.start is not None and s.error is None]
    final = [s for s in shots if s.final_at is not None]
    updates = [s.updates for s in final]
    n = len(shots)
    return {
        "n": n,
        "ack_ms": summary([s.end - s.start for s in acked]),
        "connect_ms": summary([s.connected - s.start for s in acked if s.connected]),
        "not_200": sum(1 for s in shots if s.status != 200),
        "ack_within": {f"{limit}ms": sum(1 for s in shots if s.status == 200 and (s.end - s.start) * 1000 <= limit)
                       for limit in (100, 1000, 3000)},
        "errors": sorted({s.error for s in shots if s.error}),
        "publish_ms": summary(publish),
        "placeholder_ms": summary([s.placeholder_at - s.start for s in shots if s.placeholder_at and s.start]),
        "first_text_ms": summary([s.first_text_at - s.start for s in shots if s.first_text_at and s.start]),
        "final_ms": summary([s.final_at - s.start for s in shots if s.final_at and s.start]),
        "completed": len(final),
        "exact": sum(1 for s in shots if expected_ok(s, practice)),
        "updates_per_answer": {"mean": round(sum(updates) / len(updates), 2) if updates else None,
                               "max": max(updates) if updates else None},
        "rate_limited_429": sum(s.rate_limited for s in shots),
        "auth_test_calls": tracker_methods.get("auth.test", 0),
        "pushes_received": len(received),
        "redeliveries": len(received) - len({e["event_id"] for e in received}),
        "answers_in_progress": in_progress(shots),
    }


# --------------------------------------------------------------------------- output
def render_phase(title: str, r: dict, warm: str = "", first_text_note: str = "") -> list[str]:
    n = r["n"]
    lines = [
        title,
        f"  {'':<30}{'p50':>9}{'p99':>9}{'max':>9}   (ms)",
        row("ack latency (HTTP POST)", r["ack_ms"], f"non-200: {r['not_200']}{warm}"),
        row("  of which TCP connect", r["connect_ms"]),
        f"  {'acked with 200 within':<30}100 ms: {r['ack_within']['100ms']}/{n}   1 s: "
        f"{r['ack_within']['1000ms']}/{n}   3 s (Slack's limit): {r['ack_within']['3000ms']}/{n}",
        row("publish (bot log, publish_ms)", r["publish_ms"], f"logged for {r['publish_ms']['n']}/{n}"),
        row("event -> placeholder", r["placeholder_ms"]),
        row("event -> first model text", r["first_text_ms"], first_text_note),
        row("event -> final text", r["final_ms"]),
        f"  answers: {r['completed']}/{n} completed, {r['exact']}/{n} with the exact expected text",
        f"  chat.update per answer: mean {r['updates_per_answer']['mean']}, max {r['updates_per_answer']['max']}"
        f"   429s: {r['rate_limited_429']}   auth.test: {r['auth_test_calls']}",
        f"  pushes received by slack_worker: {r['pushes_received']} (redeliveries: {r['redeliveries']})"
        f"   answers in progress at once: max {r['answers_in_progress']['max']},"
        f" mean {r['answers_in_progress']['mean']}",
    ]
    if r["errors"]:
        lines.append(f"  request errors: {r['errors'][:5]}")
    return lines


def render(r: dict, args) -> str:
    if r["model_script"]:
        m = r["model_script"]
        mode = (f"model ({args.api}): first token {m['first_token_delay'] * 1000:.0f} ms, {m['deltas']} deltas x "
                f"{m['chunk_chars']} chars every {m['delta_delay'] * 1000:.0f} ms")
    else:
        mode = f"practice mode, PRACTICE_TOKEN_DELAY={args.practice_token_delay}"
    warm = f"   warm-up ack {r['warmup_ack_ms']:.1f} ms"
    if r["warmup_publish_ms"] is not None:
        warm += f" (publish {r['warmup_publish_ms']:.1f} ms)"
    lines = [
        f"pubsub_bench  N={r['n']}  concurrency={r['concurrency']}  sequential={r['sequential']}  "
        f"STREAM_UPDATE_INTERVAL={r['interval']}  THREADS bot={r['bot_threads']} worker={r['worker_threads']}  "
        f"cpus={r['cpus']}",
        f"  {mode}" + (f", FakeSlack latency {r['slack_latency'] * 1000:.0f} ms" if r["slack_latency"] else "")
        + f"   (commit {r['commit']})",
        f"  slack_bot (DISPATCH=pubsub) -> Pub/Sub emulator -> push (ack deadline {r['ack_deadline_s']} s, "
        f"?token=) -> slack_worker;",
        "  STORE=firestore on the Firestore emulator, WORKER_AUTH=token",
        f"  {EMULATOR_NOTE}",
    ]
    if r["sequential_run"]:
        lines += render_phase(f"sequential: N=1, {r['sequential_run']['n']} times one after another",
                              r["sequential_run"], warm, "<- single-question latency (p50)")
        warm = ""
    if r["burst"]:
        b = r["burst"]
        lines += render_phase(f"burst: N={b['n']} at once", b, warm, "(capped by the emulator's pushes)")
        lines.append(f"  burst wall: acks done after {b['acks_wall_s']} s, last answer after {b['wall_s']} s")
    mem = r["memory_kib"]
    lines.append("peak RSS (VmHWM, gunicorn worker + master = sum):")
    lines += [f"  {part:<13} {mib(m['worker_hwm'])} + {mib(m['master_hwm'])} = {mib(m['sum_hwm'])}"
              for part, m in mem.items()]
    if r["cpu_s_during_burst"]:
        c = r["cpu_s_during_burst"]
        lines.append(f"CPU during the burst: slack_bot {c['slack_bot']} s, slack_worker {c['slack_worker']} s, "
                     f"bench process (clients + stand-ins) {c['bench_process']} s,")
        lines.append(f"  Pub/Sub emulator {c['pubsub_emulator']} s, Firestore emulator {c['firestore_emulator']} s"
                     f"   (over {r['burst']['wall_s']} s wall)")
    w = r["log_warnings_or_errors"]
    lines.append(f"log lines WARNING or worse: slack_bot {w['slack_bot']}, slack_worker {w['slack_worker']}")
    lines.append(f"result: {'OK' if r['ok'] else 'FAILED'}")
    return "\n".join(lines)



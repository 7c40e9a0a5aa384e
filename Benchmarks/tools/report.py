#!/usr/bin/env python3
"""Turns one scripts/bench.sh run into results.json, summary.md and two SVG
charts, copies them to Benchmarks/results/latest.*, and refreshes the part of
Docs/Benchmarks.md between its RESULTS markers.

Inputs (in --raw): percentiles/*.tsv and p90/*.p90.json exported from the
ordo-one/benchmark baseline 'latest'; baseline.jsonl (the seed's stack,
QueuePool, redis-benchmark); mix.jsonl and compare-N.json (the mixer).
No third-party packages: the charts are plain SVG.
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

PIECE_BYTES = 8820
CONCAT_STRATEGIES = [  # ordo-one name, label, colour
    ("repeatedCopy", "a = a + piece (O(n²))", "#d62728"),
    ("appendWithoutReserving", "append, no reserve", "#ff7f0e"),
    ("reserveThenAppend", "reserve then append", "#2ca02c"),
    ("preallocatedCopy", "preallocated copy", "#1f77b4"),
    ("memcpyOfTheTotal", "memcpy of the total", "#000000"),
]

# Each backend figure and its baseline: (label, ScaleKit benchmark regex,
# baseline selector, what the baseline is, physical reference selector).
COMPARISONS = [
    ("pool checkout+return, 1 task", r"checkoutReturn\.1task\..*",
     {"bench": "pool-checkout", "threads": 1}, "SQLAlchemy QueuePool, 1 thread", None),
    ("pool checkout+return, 64 tasks / 8 conns, run() active", r"checkoutReturn\.64tasks\.8connections\.ops=.*",
     {"bench": "pool-checkout", "threads": 64}, "SQLAlchemy QueuePool, 64 threads", None),
    ("pool checkout+return, 64 tasks / 8 conns, no run()", r"checkoutReturn\.64tasks\.8connections\.noRun\..*",
     {"bench": "pool-checkout", "threads": 64}, "SQLAlchemy QueuePool, 64 threads", None),
    ("Redis check-and-count, 1 connection", r"checkAndCount\.1connection\.ops=.*",
     None, "(the seed has no atomic check-and-count)",
     {"bench": "rb-check-and-count", "clients": 1}),
    ("Redis check-and-count, 1 task on the loop's executor", r"checkAndCount\.1connection\.loopExecutor\..*",
     None, "(the seed has no atomic check-and-count)",
     {"bench": "rb-check-and-count", "clients": 1}),
    ("Redis check-and-count, 16 tasks", r"checkAndCount\.16tasks\..*",
     None, "(the seed has no atomic check-and-count)",
     {"bench": "rb-check-and-count", "clients": 16}),
    ("Redis check-and-count + record outcome, 1 connection", r"checkAndCountThenRecord\.1connection\..*",
     {"bench": "redis-record+check", "threads": 1}, "seed can_make_request + record_request, 1 thread", None),
    ("Redis check-and-count + record outcome, 16 tasks", r"checkAndCountThenRecord\.16tasks\..*",
     {"bench": "redis-record+check", "threads": 16}, "seed, 16 threads", None),
    ("status merge, 1 task", r"statusMerge\.1task\.ops=.*",
     {"bench": "redis-merge", "threads": 1}, "seed WATCH/MULTI merge, 1 thread", None),
    ("status merge, 1 task on the loop's executor", r"statusMerge\.1task\.loopExecutor\..*",
     {"bench": "redis-merge", "threads": 1}, "seed WATCH/MULTI merge, 1 thread", None),
    ("status merge, 16 tasks on one key", r"statusMerge\.16tasks\..*",
     {"bench": "redis-merge", "threads": 16}, "seed WATCH/MULTI merge, 16 threads", None),
    ("PostgreSQL claim, new ids, 1 task", r"postgresClaim\.newIds\.1task\..*",
     {"bench": "pg-claim-new", "threads": 1}, "seed get_or_create_video_atomic, 1 thread", None),
    ("PostgreSQL claim, new ids, 32 tasks", r"postgresClaim\.newIds\.32tasks\..*",
     {"bench": "pg-claim-new", "threads": 32}, "seed, 32 threads", None),
    ("PostgreSQL claim, one hot id, 1 task", r"postgresClaim\.hotId\.1task\..*",
     {"bench": "pg-claim-hot", "threads": 1}, "seed, 1 thread", None),
    ("PostgreSQL claim, one hot id, 32 tasks", r"postgresClaim\.hotId\.32tasks\..*",
     {"bench": "pg-claim-hot", "threads": 32}, "seed, 32 threads", None),
    # claimNext always hands out work, as the seed's claim of a new id does (should_process);
    # the seed has no claim-next of its own.
    ("PostgreSQL claimNext, 1 task", r"postgresClaimNext\.1task\..*",
     {"bench": "pg-claim-new", "threads": 1}, "seed get_or_create_video_atomic on new ids, 1 thread", None),
    ("PostgreSQL claimNext, 32 tasks", r"postgresClaimNext\.32tasks\..*",
     {"bench": "pg-claim-new", "threads": 32}, "seed on new ids, 32 threads", None),
    # The same claims through PgBouncer (pool_mode = transaction, statement_cache=off);
    # the seed's figures are on the direct connection.
    ("PgBouncer claim, new ids, 1 task", r"pgbouncerClaim\.newIds\.1task\..*",
     {"bench": "pg-claim-new", "threads": 1}, "seed direct, 1 thread", None),
    ("PgBouncer claim, new ids, 32 tasks", r"pgbouncerClaim\.newIds\.32tasks\..*",
     {"bench": "pg-claim-new", "threads": 32}, "seed direct, 32 threads", None),
    ("PgBouncer claim, one hot id, 1 task", r"pgbouncerClaim\.hotId\.1task\..*",
     {"bench": "pg-claim-hot", "threads": 1}, "seed direct, 1 thread", None),
    ("PgBouncer claim, one hot id, 32 tasks", r"pgbouncerClaim\.hotId\.32tasks\..*",
     {"bench": "pg-claim-hot", "threads": 32}, "seed direct, 32 threads", None),
    ("PgBouncer claimNext, 1 task", r"pgbouncerClaimNext\.1task\..*",
     {"bench": "pg-claim-new", "threads": 1}, "seed direct on new ids, 1 thread", None),
    ("PgBouncer claimNext, 32 tasks", r"pgbouncerClaimNext\.32tasks\..*",
     {"bench": "pg-claim-new", "threads": 32}, "seed direct on new ids, 32 threads", None),
    ("SQLite claim, new ids, 1 task", r"sqliteClaim\.newIds\.1task\..*",
     {"bench": "pg-claim-new", "threads": 1}, "seed on PostgreSQL (it has no SQLite path), 1 thread", None),
    ("SQLite claim, new ids, 32 tasks", r"sqliteClaim\.newIds\.32tasks\..*",
     {"bench": "pg-claim-new", "threads": 32}, "seed on PostgreSQL, 32 threads", None),
    ("SQLite claim, one hot id, 1 task", r"sqliteClaim\.hotId\.1task\..*",
     {"bench": "pg-claim-hot", "threads": 1}, "seed on PostgreSQL, 1 thread", None),
    ("SQLite claim, one hot id, 32 tasks", r"sqliteClaim\.hotId\.32tasks\..*",
     {"bench": "pg-claim-hot", "threads": 32}, "seed on PostgreSQL, 32 threads", None),
]

UNIT_SCALE = {"ns": 1e-9, "μs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0,
              "K": 1e3, "M": 1e6, "G": 1e9, "#": 1.0, "": 1.0}


# ---------------------------------------------------------------- inputs
def read_swift(raw):
    """{benchmark name: {"target", metric: {"p50", "p90"}}} from the TSV export."""
    out = {}
    for path in glob.glob(os.path.join(raw, "percentiles", "*.tsv")):
        base = os.path.basename(path)
        m = re.match(r"[A-Za-z]+\.([A-Za-z]+)\.(.+)\.([A-Za-z]+)\.histogram\.percentiles\.tsv$", base)
        if not m:
            continue
        target, name, metric = m.group(1), m.group(2), m.group(3)
        with open(path, encoding="utf-8") as f:
            header = f.readline().rstrip("\n").split("\t")
            unit = re.search(r"\(([^)]*)\)\s*\*?\s*$", header[-1])
            scale = UNIT_SCALE.get(unit.group(1) if unit else "", 1.0)
            values = {}
            for line in f:
                parts = line.split("\t")
                if len(parts) >= 2:
                    values[int(float(parts[0]))] = float(parts[1]) * scale
        if values:
            entry = out.setdefault(name, {"target": target})
            entry[metric] = {"p50": values.get(50), "p90": values.get(90), "p0": values.get(0)}
    # Exact p90 counts (the TSV rounds large counts to K/M).
    for path in glob.glob(os.path.join(raw, "p90", "*.p90.json")):
        m = re.match(r"([A-Za-z]+)\.(.+)\.p90\.json$", os.path.basename(path))
        if not m:
            continue
        name = m.group(2)
        with open(path, encoding="utf-8") as f:
            p90 = json.load(f)
        if name in out and "mallocCountTotal" in p90:
            out[name].setdefault("mallocCountTotal", {})["p90"] = p90["mallocCountTotal"]
    return out


def read_lines(path):
    if not os.path.exists(path):
        return []
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return rows


def select(rows, sel):
    if not sel:
        return None
    for r in rows:
        if all(r.get(k) == v for k, v in sel.items()):
            return r
    return None


def swift_lookup(swift, pattern):
    for name, entry in swift.items():
        if re.fullmatch(pattern, name):
            return name, entry
    return None, None


def ops_per_second(name, entry):
    m = re.search(r"ops=(\d+)", name)
    wall = (entry.get("wallClock") or {}).get("p50")
    if not m or not wall:
        return None
    return int(m.group(1)) / wall


# ---------------------------------------------------------------- formatting
def fmt_time(s):
    if s is None:
        return "—"
    if s < 1e-6:
        return f"{s * 1e9:.0f} ns"
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.2f} s"


def fmt_rate(x):
    if x is None:
        return "—"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M/s"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k/s"
    return f"{x:.0f}/s"


def fmt_ratio(x):
    if x is None:
        return "—"
    return f"{x:.0f}×" if x >= 100 else (f"{x:.1f}×" if x >= 10 else f"{x:.2f}×")


# ---------------------------------------------------------------- tables
def concat_rows(swift, seed_rows):
    rows = []
    for n in (10, 100, 1000, 10000):
        row = {"n": n, "total_bytes": n * PIECE_BYTES, "strategies": {}}
        for key, _, _ in CONCAT_STRATEGIES:
            e = swift.get(f"{key}.n={n}")
            if e:
                row["strategies"][key] = {
                    "p50_s": e.get("wallClock", {}).get("p50"),
                    "p90_s": e.get("wallClock", {}).get("p90"),
                    "best_s": e.get("wallClock", {}).get("p0"),
                    "mallocs": e.get("mallocCountTotal", {}).get("p90"),
                }
        seed = select(seed_rows, {"bench": "concat", "pieces": n})
        if seed:
            row["seed_join_s"] = seed.get("join_s")
            row["seed_naive_s"] = seed.get("naive_s")
            row["seed_naive_skipped"] = seed.get("naive_skipped")
        rows.append(row)
    return rows


def concat_markdown(rows):
    out = ["| n | total | " + " | ".join(label for _, label, _ in CONCAT_STRATEGIES)
           + " | seed `b''.join` | seed `+=` | preallocated ÷ seed join | a = a + piece ÷ seed `+=` |",
           "|---:|---:|" + "---:|" * len(CONCAT_STRATEGIES) + "---:|---:|---:|---:|"]
    for r in rows:
        memcpy = r["strategies"].get("memcpyOfTheTotal", {}).get("p50_s")
        cells = []
        for key, _, _ in CONCAT_STRATEGIES:
            s = r["strategies"].get(key)
            if not s:
                cells.append("skipped: ~441 GB copied, minutes" if key == "repeatedCopy" else "—")
                continue
            cell = fmt_time(s["p50_s"])
            if memcpy and s["p50_s"] and key != "memcpyOfTheTotal":
                cell += f" ({fmt_ratio(s['p50_s'] / memcpy)})"
            if s.get("mallocs") is not None:
                cell += f", {int(s['mallocs'])} malloc" + ("s" if s["mallocs"] != 1 else "")
            cells.append(cell)
        join = r.get("seed_join_s")
        naive = r.get("seed_naive_s")
        cells.append(fmt_time(join))
        cells.append(fmt_time(naive) if naive else ("skipped" if r.get("seed_naive_skipped") else "—"))
        # The seed reports the best of its repetitions, so these use ScaleKit's best (p0) too.
        pre = r["strategies"].get("preallocatedCopy", {}).get("best_s")
        quad = r["strategies"].get("repeatedCopy", {}).get("best_s")
        cells.append(f"{pre / join:.2f}" if pre and join else "—")
        cells.append(f"{quad / naive:.2f}" if quad and naive else "—")
        out.append(f"| {r['n']:,} | {r['total_bytes'] / 1e6:.1f} MB | " + " | ".join(cells) + " |")
    out.append("")
    out.append("Times are p50 with the ratio to the memcpy of the same bytes in brackets; the last two "
               "columns compare best runs (the seed reports its best), below 1 = ScaleKit faster.")
    return "\n".join(out)


def backend_rows(swift, seed_rows):
    rows = []
    for label, pattern, sel, base_label, phys_sel in COMPARISONS:
        name, entry = swift_lookup(swift, pattern)
        base = select(seed_rows, sel)
        phys = select(seed_rows, phys_sel)
        sk = ops_per_second(name, entry) if entry else None
        row = {"label": label, "scalekit_benchmark": name, "scalekit_ops_per_s": sk,
               "baseline": base_label, "baseline_ops_per_s": base.get("ops_per_s") if base else None,
               "baseline_ok": base.get("ok") if base else None,
               "baseline_checks": base.get("checks") if base else None}
        if row["scalekit_ops_per_s"] and row["baseline_ops_per_s"]:
            row["ratio"] = row["scalekit_ops_per_s"] / row["baseline_ops_per_s"]
        if phys:
            row["physical"] = f"redis-benchmark EVALSHA, {phys.get('clients')} client(s)"
            row["physical_ops_per_s"] = phys.get("ops_per_s")
        if entry is None:
            row["missing"] = "not built in this tree"
        if entry is None and base is None:
            continue
        rows.append(row)
    return rows


def backend_markdown(rows):
    out = ["| benchmark | ScaleKit | baseline | ScaleKit / baseline | physical limit |",
           "|---|---:|---:|---:|---:|"]
    for r in rows:
        if r.get("missing"):
            out.append(f"| {r['label']} | {r['missing']} | {fmt_rate(r['baseline_ops_per_s'])} ({r['baseline']}) | — | — |")
            continue
        if not r.get("baseline_ops_per_s"):
            phys = (f"{fmt_rate(r['physical_ops_per_s'])} ({r['physical']})" if r.get("physical_ops_per_s") else "—")
            ratio = (f"{fmt_ratio(r['scalekit_ops_per_s'] / r['physical_ops_per_s'])} of the physical limit"
                     if r.get("physical_ops_per_s") and r.get("scalekit_ops_per_s") else "—")
            out.append(f"| {r['label']} | {fmt_rate(r['scalekit_ops_per_s'])} | {r['baseline']} | {ratio} | {phys} |")
            continue
        phys = (f"{fmt_rate(r['physical_ops_per_s'])} ({r['physical']})"
                if r.get("physical_ops_per_s") else "—")
        out.append(f"| {r['label']} | {fmt_rate(r['scalekit_ops_per_s'])} | "
                   f"{fmt_rate(r['baseline_ops_per_s'])} ({r['baseline']}) | "
                   f"**{fmt_ratio(r.get('ratio'))}** | {phys} |")
    return "\n".join(out)


def merge_ceiling_line(seed_rows):
    """What one round trip allows a single task's status merge against the
    seed's, from this run's own figures: a merge is one round trip, the
    seed's three (WATCH, GET, MULTI…EXEC), so no merge from one task can
    beat the seed by more than the seed's merge time over one
    redis-benchmark -c 1 round trip of the check-and-count script."""
    seed = select(seed_rows, {"bench": "redis-merge", "threads": 1})
    trip = select(seed_rows, {"bench": "rb-check-and-count", "clients": 1})
    if not (seed and trip and seed.get("ops_per_s") and trip.get("ops_per_s")):
        return ""
    return (f"A status merge is one round trip; the seed's takes three (`WATCH`, `GET`, `MULTI`…`EXEC`). "
            f"One `redis-benchmark -c 1` round trip took {fmt_time(1 / trip['ops_per_s'])} in this run and the seed's "
            f"merge from one thread {fmt_time(1 / seed['ops_per_s'])}, so a merge from one task that cost nothing "
            f"but its round trip would be {fmt_ratio(trip['ops_per_s'] / seed['ops_per_s'])} the seed here.")


def tls_line(swift):
    """The check-and-count over TLS against plain text, from this run (the
    goal: within 1.5x)."""
    parts = []
    for label, shape in [("16 tasks", "16tasks"), ("1 task", "1connection")]:
        pname, plain = swift_lookup(swift, rf".*checkAndCount\.{shape}\.ops=\d+")
        tname, tls = swift_lookup(swift, rf".*checkAndCount\.tls\.{shape}\.ops=\d+")
        if plain is None or tls is None:
            continue
        p, t = ops_per_second(pname, plain), ops_per_second(tname, tls)
        if p and t:
            parts.append(f"{label} {fmt_time(1 / t)} against {fmt_time(1 / p)} ({fmt_ratio(p / t)})")
    if not parts:
        return ""
    return "Check-and-count over TLS against plain text, per call: " + "; ".join(parts) + "."


# The same benchmark through PgBouncer and straight to PostgreSQL: (label, shape).
PGBOUNCER_PAIRS = [
    ("claim, new ids, 1 task", r"Claim\.newIds\.1task\..*"),
    ("claim, new ids, 32 tasks", r"Claim\.newIds\.32tasks\..*"),
    ("claim, one hot id, 1 task", r"Claim\.hotId\.1task\..*"),
    ("claim, one hot id, 32 tasks", r"Claim\.hotId\.32tasks\..*"),
    ("claimNext, 1 task", r"ClaimNext\.1task\..*"),
    ("claimNext, 32 tasks", r"ClaimNext\.32tasks\..*"),
]
PGBOUNCER_TARGET = 1.5  # the PgBouncer figure may be at most this many times slower


def pgbouncer_rows(swift):
    rows = []
    for label, shape in PGBOUNCER_PAIRS:
        dname, direct = swift_lookup(swift, "postgres" + shape)
        bname, bouncer = swift_lookup(swift, "pgbouncer" + shape)
        if direct is None or bouncer is None:
            continue
        d, b = ops_per_second(dname, direct), ops_per_second(bname, bouncer)
        row = {"label": label, "direct_benchmark": dname, "pgbouncer_benchmark": bname,
               "direct_ops_per_s": d, "pgbouncer_ops_per_s": b}
        if d and b:
            row["slowdown"] = d / b
            row["within_target"] = d / b <= PGBOUNCER_TARGET
        rows.append(row)
    return rows


def pgbouncer_markdown(rows):
    if not rows:
        return "_PgBouncer was not measured in this run (no SCALEKIT_BENCH_PGBOUNCER_URL)._"
    out = ["| benchmark | direct | through PgBouncer | direct ÷ PgBouncer | "
           f"within {PGBOUNCER_TARGET}× |", "|---|---:|---:|---:|---|"]
    for r in rows:
        within = "—" if "within_target" not in r else ("yes" if r["within_target"] else "**no**")
        out.append(f"| {r['label']} | {fmt_rate(r['direct_ops_per_s'])} | {fmt_rate(r['pgbouncer_ops_per_s'])} | "
                   f"{fmt_ratio(r.get('slowdown'))} | {within} |")
    out.append("")
    out.append("Both with ScaleKit's defaults otherwise; through PgBouncer the URL carries `statement_cache=off` "
               "(unnamed statements), which transaction pooling needs.")
    return "\n".join(out)


def per_op_markdown(swift):
    """Every ops= benchmark: time and allocations per operation."""
    out = ["| benchmark | per operation | allocations per operation |", "|---|---:|---:|"]
    for name in sorted(swift):
        m = re.search(r"ops=(\d+)", name)
        entry = swift[name]
        wall = (entry.get("wallClock") or {}).get("p50")
        if not m or not wall:
            continue
        ops = int(m.group(1))
        mallocs = (entry.get("mallocCountTotal") or {}).get("p90")
        per = f"{mallocs / ops:.1f}" if mallocs is not None else "—"
        out.append(f"| `{entry['target']}` {name} | {fmt_time(wall / ops)} | {per} |")
    return "\n".join(out) if len(out) > 2 else "_none_"


def merge_repeats(mix_rows):
    """One row per (clips, tool): repeated runs become their median, with
    the spread kept for the table. A failed run fails the row."""
    groups = {}
    for r in mix_rows:
        groups.setdefault((r["clips"], r["impl"]), []).append(r)
    merged = []
    for (n, impl), runs in groups.items():
        row = dict(runs[0])
        if len(runs) > 1:
            ok = all(r.get("ok") and r.get("seconds") for r in runs)
            row["ok"] = ok
            if ok:
                secs = sorted(r["seconds"] for r in runs)
                row["seconds"] = statistics.median(secs)
                row["spread"] = (secs[0], secs[-1], len(secs))
                cpus = [r["cpu_seconds"] for r in runs if r.get("cpu_seconds") is not None]
                row["cpu_seconds"] = statistics.median(cpus) if cpus else None
                row["peak_rss_mb"] = max(r.get("peak_rss_mb", 0) for r in runs)
        merged.append(row)
    return merged


def mix_markdown(mix_rows, compares):
    if not mix_rows:
        return "_The mixer was not measured in this run (no `scalekit mix` in this tree, or BENCH_MIX=0)._"
    out = ["| clips | tool | wall time | CPU (user+sys) | peak RSS | ScaleKit speed-up (tool time ÷ ScaleKit time) |",
           "|---:|---|---:|---:|---:|---:|"]
    for n in sorted({r["clips"] for r in mix_rows}):
        sk = next((r for r in mix_rows if r["clips"] == n and r["impl"] == "scalekit"), None)
        for r in [x for x in mix_rows if x["clips"] == n]:
            ratio = ""
            # Only the other renderings of the same WAV mix compare with it (not the M4A pair or the floor).
            same_job = r["impl"] in ("scalekit-one-thread", "ffmpeg-concat-demux", "pydub-overlay-join")
            if same_job and sk and sk.get("ok") and r.get("ok") and sk.get("seconds") and r.get("seconds"):
                ratio = fmt_ratio(r["seconds"] / sk["seconds"])
            ok = "" if r.get("ok") else " (failed)"
            cpu = fmt_time(r.get("cpu_seconds")) if r.get("cpu_seconds") is not None else "—"
            wall = fmt_time(r.get("seconds"))
            if r.get("spread"):
                lo, hi, runs = r["spread"]
                wall += f" (median of {runs}: {fmt_time(lo)}–{fmt_time(hi)})"
            out.append(f"| {n:,} | {r['impl']}{ok} | {wall} | {cpu} | "
                       f"{r.get('peak_rss_mb', 0):,} MB | {ratio} |")
    goals = mix_goals(mix_rows)
    if goals:
        out += ["", "| goal | measured | met |", "|---|---:|:---:|"] + goals
    notes = []
    for n, c in sorted(compares.items()):
        snr = c.get("snr_db")
        if snr is None:
            continue
        if isinstance(snr, float) and math.isinf(snr):
            notes.append(f"{n:,} clips: bit-identical to ffmpeg's rendering (compare.py: SNR ∞, max difference 0)")
        else:
            notes.append(f"{n:,} clips: SNR {snr:.1f} dB against ffmpeg's rendering, lag {c.get('lag_samples')} (compare.py)")
    if notes:
        out.append("")
        out.append("Output check: " + "; ".join(notes) + ".")
    return "\n".join(out)


def mix_goals(mix_rows):
    """The mixer's goals, each ratio from this run's rows."""
    def row(n, impl):
        r = next((x for x in mix_rows if x["clips"] == n and x["impl"] == impl), None)
        return r if r and r.get("ok") and r.get("seconds") else None

    lines = []

    def goal(text, value, shown, met):
        if value is not None:
            lines.append(f"| {text} | {shown} | {'yes' if met else 'no'} |")

    for n in (200, 1000):
        sk = row(n, "scalekit")
        for impl in ("ffmpeg-concat-demux", "pydub-overlay-join"):
            other = row(n, impl)
            if sk and other:
                r = other["seconds"] / sk["seconds"]
                goal(f"{n:,} clips: ≥ 2× faster than {impl}", r, f"{r:.2f}×", r >= 2)
    sk, floor = row(1000, "scalekit"), row(1000, "floor-ffmpeg-background")
    if sk and floor:
        r = sk["seconds"] / floor["seconds"]
        goal("1,000 clips: within 1.5× of the floor (scalekit ÷ floor)", r, f"{r:.2f}×", r <= 1.5)
    small, large = row(200, "scalekit"), row(1000, "scalekit")
    if small and large and small.get("audio_seconds") and large.get("audio_seconds"):
        a = small["seconds"] / small["audio_seconds"]
        b = large["seconds"] / large["audio_seconds"]
        goal("time per second of audio, 1,000 ÷ 200 clips, within 1.1×", b / a,
             f"{b * 1000:.2f} ÷ {a * 1000:.2f} ms = {b / a:.2f}×", b / a <= 1.1)
        if small.get("cpu_seconds") and large.get("cpu_seconds"):
            a = small["cpu_seconds"] / small["audio_seconds"]
            b = large["cpu_seconds"] / large["audio_seconds"]
            goal("CPU time per second of audio, 1,000 ÷ 200 clips, within 1.1×", b / a,
                 f"{b * 1000:.2f} ÷ {a * 1000:.2f} ms = {b / a:.2f}×", b / a <= 1.1)
    if large:
        goal("peak RSS at 1,000 clips ≤ 100 MB", large.get("peak_rss_mb"), f"{large.get('peak_rss_mb')} MB",
             large.get("peak_rss_mb", 1e9) <= 100)
    m4a, aac = row(200, "scalekit-m4a"), row(200, "ffmpeg-aac-encode-of-the-mix")
    if m4a and aac:
        r = m4a["seconds"] / aac["seconds"]
        goal("M4A: scalekit mix within 1.2× of ffmpeg's AAC encode of the finished mix", r, f"{r:.2f}×", r <= 1.2)
    return lines


# ---------------------------------------------------------------- charts
def svg_concat(rows, path):
    W, H, L, R, T, B = 760, 460, 70, 210, 30, 50
    pts = {}
    for r in rows:
        for key, _, _ in CONCAT_STRATEGIES:
            s = r["strategies"].get(key)
            if s and s.get("p50_s"):
                pts.setdefault(key, []).append((r["n"], s["p50_s"]))
        if r.get("seed_join_s"):
            pts.setdefault("seed join", []).append((r["n"], r["seed_join_s"]))
        if r.get("seed_naive_s"):
            pts.setdefault("seed +=", []).append((r["n"], r["seed_naive_s"]))
    allv = [v for series in pts.values() for _, v in series]
    if not allv:
        return False
    ymin = 10 ** math.floor(math.log10(min(allv)))
    ymax = 10 ** math.ceil(math.log10(max(allv)))
    xmin, xmax = 10, 10000

    def X(n):
        return L + (math.log10(n) - math.log10(xmin)) / (math.log10(xmax) - math.log10(xmin)) * (W - L - R)

    def Y(v):
        return T + (1 - (math.log10(v) - math.log10(ymin)) / (math.log10(ymax) - math.log10(ymin))) * (H - T - B)

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="14">Joining n pieces of 8 820 B: time (p50) against n, log-log</text>']
    e = int(math.log10(ymin))
    while 10 ** e <= ymax:
        y = Y(10 ** e)
        s.append(f'<line x1="{L}" x2="{W - R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt_time(10 ** e)}</text>')
        e += 1
    for n in (10, 100, 1000, 10000):
        x = X(n)
        s.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{T}" y2="{H - B}" stroke="#ddd"/>')
        s.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{n:,}</text>')
    s.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">pieces (n)</text>')
    styles = {key: (colour, "") for key, _, colour in CONCAT_STRATEGIES}
    styles["seed join"] = ("#9467bd", ' stroke-dasharray="6,4"')
    styles["seed +="] = ("#8c564b", ' stroke-dasharray="6,4"')
    labels = {key: label for key, label, _ in CONCAT_STRATEGIES}
    labels["seed join"] = "seed: b''.join (Python)"
    labels["seed +="] = "seed: += (Python)"
    ly = T + 10
    for key, series in pts.items():
        colour, dash = styles[key]
        d = " ".join(f"{X(n):.1f},{Y(v):.1f}" for n, v in series)
        s.append(f'<polyline points="{d}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for n, v in series:
            s.append(f'<circle cx="{X(n):.1f}" cy="{Y(v):.1f}" r="3" fill="{colour}"/>')
        s.append(f'<line x1="{W - R + 10}" x2="{W - R + 34}" y1="{ly}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/>')
        s.append(f'<text x="{W - R + 40}" y="{ly + 4}">{labels[key]}</text>')
        ly += 20
    s.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(s))
    return True


def svg_backends(rows, path):
    rows = [r for r in rows if r.get("scalekit_ops_per_s") or r.get("baseline_ops_per_s")]
    if not rows:
        return False
    vals = [v for r in rows for v in (r.get("scalekit_ops_per_s"), r.get("baseline_ops_per_s"),
                                       r.get("physical_ops_per_s")) if v]
    lo = 10 ** math.floor(math.log10(min(vals)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    L, R, T, rowh = 400, 40, 50, 44
    W = 1020
    H = T + rowh * len(rows) + 50

    def X(v):
        return L + (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * (W - L - R)

    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         '<text x="10" y="18" font-size="14">Throughput (operations/s, log scale): ScaleKit against the seed\'s stack</text>',
         '<rect x="10" y="28" width="12" height="10" fill="#1f77b4"/><text x="26" y="37">ScaleKit</text>',
         '<rect x="100" y="28" width="12" height="10" fill="#aaaaaa"/><text x="116" y="37">baseline (seed stack)</text>',
         '<line x1="290" x2="304" y1="33" y2="33" stroke="#d62728" stroke-width="2"/><text x="310" y="37">redis-benchmark running the same script (physical limit)</text>']
    e = int(math.log10(lo))
    while 10 ** e <= hi:
        x = X(10 ** e)
        s.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{T}" y2="{H - 40}" stroke="#ddd"/>')
        s.append(f'<text x="{x:.1f}" y="{H - 26}" text-anchor="middle">{fmt_rate(10 ** e)}</text>')
        e += 1
    for i, r in enumerate(rows):
        y = T + i * rowh
        s.append(f'<text x="{L - 8}" y="{y + 18}" text-anchor="end">{r["label"]}</text>')
        for j, (key, colour) in enumerate((("scalekit_ops_per_s", "#1f77b4"), ("baseline_ops_per_s", "#aaaaaa"))):
            v = r.get(key)
            if v:
                s.append(f'<rect x="{L}" y="{y + 4 + j * 16}" width="{max(1, X(v) - L):.1f}" height="14" fill="{colour}"/>')
        if r.get("ratio"):
            xr = X(max(r.get("scalekit_ops_per_s") or lo, r.get("baseline_ops_per_s") or lo))
            s.append(f'<text x="{min(xr + 4, W - R - 30):.1f}" y="{y + 16}">{fmt_ratio(r["ratio"])}</text>')
        if r.get("physical_ops_per_s"):
            xp = X(r["physical_ops_per_s"])
            s.append(f'<line x1="{xp:.1f}" x2="{xp:.1f}" y1="{y + 2}" y2="{y + 38}" stroke="#d62728" stroke-width="2"/>')
    s.append("</svg>")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(s))
    return True


def finite(x):
    """The same structure with inf/nan as strings, so results.json is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [finite(v) for v in x]
    return x


# ---------------------------------------------------------------- machine
def machine(seed_rows, end_load=None):
    info = {"cpus": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as f:
            info["memory_gb"] = round(int(f.readline().split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["swift"] = subprocess.run(["swift", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        pass
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    if end_load:  # written by bench.sh when the measurements ended
        info["loadavg_end"] = end_load
    v = select(seed_rows, {"bench": "versions"})
    if v:
        for k in ("python", "redis", "SQLAlchemy", "psycopg2-binary", "pydub", "redis_server",
                  "postgresql_server", "loadavg"):
            if k in v:
                info[("seed_" if k in ("python", "redis", "SQLAlchemy", "psycopg2-binary", "pydub") else "")
                     + k.replace("-", "_")] = v[k]
    return info


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--thresholds", default="skipped")
    ap.add_argument("--seconds-total", type=int, default=0)
    ap.add_argument("--docs")
    ap.add_argument("--latest")
    ap.add_argument("--parts", default="all", help="what bench.sh ran: all, or claims (BENCH_PARTS)")
    a = ap.parse_args()

    swift = read_swift(a.raw)
    seed_rows = read_lines(os.path.join(a.raw, "baseline.jsonl"))
    mix_rows = merge_repeats(read_lines(os.path.join(a.raw, "mix.jsonl")))
    compares = {}
    for p in glob.glob(os.path.join(a.raw, "compare-*.json")):
        try:
            compares[int(re.search(r"compare-(\d+)", p).group(1))] = json.load(open(p))
        except (ValueError, AttributeError, json.JSONDecodeError):
            pass

    concat = concat_rows(swift, seed_rows)
    backends = backend_rows(swift, seed_rows)
    bouncer = pgbouncer_rows(swift)
    end_load = None
    try:
        with open(os.path.join(a.raw, "loadavg-end.txt"), encoding="utf-8") as f:
            end_load = [float(x) for x in f.read().split()[:3]]
    except (OSError, ValueError):
        pass
    info = machine(seed_rows, end_load)
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    stamp = re.fullmatch(r"(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)\d\dZ", os.path.basename(os.path.normpath(a.out)))
    if stamp:  # the run's own start time, from its folder name
        when = "{}-{}-{} {}:{} UTC".format(*stamp.groups())
    failed_checks = [r for r in seed_rows if r.get("ok") is False]
    result = {"when": when, "machine": info, "thresholds_check": a.thresholds,
              "total_seconds": a.seconds_total, "concat": concat, "backends": backends, "pgbouncer": bouncer,
              "mix": mix_rows, "mix_compare": compares, "swift": swift, "baseline_lines": seed_rows}
    with open(os.path.join(a.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(finite(result), f, indent=1, ensure_ascii=False)

    has_concat = svg_concat(concat, os.path.join(a.out, "concat.svg"))
    has_backends = svg_backends(backends, os.path.join(a.out, "backends.svg"))

    machine_line = (f"{info.get('cpus')} vCPUs ({info.get('cpu', '?')}), {info.get('memory_gb', '?')} GB, "
                    f"Linux {info.get('kernel')}; {info.get('swift', 'Swift ?')}; seed stack on CPython "
                    f"{info.get('seed_python', '?')} with redis-py {info.get('seed_redis', '?')}, SQLAlchemy "
                    f"{info.get('seed_SQLAlchemy', '?')}, psycopg2 {info.get('seed_psycopg2_binary', '?')}; "
                    f"redis-server {info.get('redis_server', '?')}, PostgreSQL {info.get('postgresql_server', '?')}; "
                    f"load average {info.get('loadavg', '?')} at the start, {info.get('loadavg_end')} at the end")
    md = [f"Run started {when}, {a.seconds_total} s in all. Machine: {machine_line}.",
          ""]
    if a.parts != "all":
        md += [f"Parts run: **{a.parts}** only (`BENCH_PARTS={a.parts}`).", ""]
    if a.parts == "mixer":
        md += ["### Mixer: the 200- and 1 000-clip workloads", "", mix_markdown(mix_rows, compares)]
        with open(os.path.join(a.out, "summary.md"), "w", encoding="utf-8") as f:
            f.write("\n".join(md) + "\n")
        return
    md += [
          f"Threshold check of the server-less suites against `Benchmarks/Thresholds/`: **{a.thresholds}**."
          + (f" Seed checks that failed: {', '.join(r.get('bench', '?') for r in failed_checks)}." if failed_checks else
             " Every seed correctness check passed."),
          "",
          ]
    if a.parts == "all":
        md += ["### Concat: n pieces of 8 820 B (p50; ratio to the memcpy of the same bytes; allocations per join)",
               "",
               concat_markdown(concat),
               ""]
    md += ["### Backends: operations per second, ScaleKit against the seed's stack on the same servers",
          "",
          backend_markdown(backends),
          "",
          merge_ceiling_line(seed_rows),
          "",
          tls_line(swift),
          "",
          "### PgBouncer (pool_mode = transaction) against the direct connection, same run",
          "",
          pgbouncer_markdown(bouncer),
          "",
          "### Per operation (every batch benchmark; p50 time, p90 allocations)",
          "",
          per_op_markdown(swift)]
    if a.parts == "all":
        md += ["",
               "### Mixer: the 200- and 1 000-clip workloads",
               "",
               mix_markdown(mix_rows, compares)]
    summary = "\n".join(md) + "\n"
    with open(os.path.join(a.out, "summary.md"), "w", encoding="utf-8") as f:
        f.write(summary)

    if a.latest:
        for name in ("results.json", "summary.md", "concat.svg", "backends.svg"):
            src = os.path.join(a.out, name)
            if os.path.exists(src):
                stem, ext = os.path.splitext(name)
                shutil.copy(src, os.path.join(a.latest, f"latest-{stem}{ext}" if ext == ".svg" else f"latest{ext}"))
    if a.docs and os.path.exists(a.docs):
        docs_dir = os.path.dirname(a.docs)
        img = os.path.join(docs_dir, "images")
        os.makedirs(img, exist_ok=True)
        charts = []
        if has_concat:
            shutil.copy(os.path.join(a.out, "concat.svg"), os.path.join(img, "benchmarks-concat.svg"))
            charts.append("![Concat strategies, time against n](images/benchmarks-concat.svg)")
        if has_backends:
            shutil.copy(os.path.join(a.out, "backends.svg"), os.path.join(img, "benchmarks-backends.svg"))
            charts.append("![Throughput per backend against its baseline](images/benchmarks-backends.svg)")
        text = open(a.docs, encoding="utf-8").read()
        begin, end = "<!-- BEGIN RESULTS (scripts/bench.sh writes this part) -->", "<!-- END RESULTS -->"
        if begin in text and end in text:
            block = begin + "\n" + summary + "\n" + "\n\n".join(charts) + "\n" + end
            text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
            with open(a.docs, "w", encoding="utf-8") as f:
                f.write(text)
    print(summary)


if __name__ == "__main__":
    sys.exit(main())

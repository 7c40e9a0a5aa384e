#!/usr/bin/env python3
"""The seed's load scenarios against two running video-service instances.

Run by load-test.sh, which starts the servers and the instances; standard
library only. Phases share their state through a JSON file:

  scenarios      1-5: one video 5x, one video 10x, 100 videos, status across
                 instances, API counters; then starts a job on instance A
                 just before load-test.sh stops A (graceful shutdown)
  after-stop-a   the interrupted job left no claim stuck and is retried on B
  after-stop-b   no video of this run is left `processing`

Every check prints PASS or FAIL; each phase exits non-zero if one failed.
"""

import argparse
import json
import os
import random
import re
import sqlite3
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

EXTERNAL_CALLS_PER_JOB = 2  # PipelineStage.externalCallsPerJob in the service
results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def request(method, url, body=None, timeout=30):
    """Returns (status, parsed JSON or text); status 0 on a transport error."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError) as error:
        return 0, str(error)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def video_url(video_id, form=0):
    """One of the URL forms users send for the same video (form picks which)."""
    forms = [
        f"https://www.youtube.com/watch?v={video_id}",
        f"https://youtu.be/{video_id}?t=42",
        f"https://m.youtube.com/watch?v={video_id}&feature=share",
        f"https://www.youtube.com/shorts/{video_id}",
        f"https://www.youtube.com/embed/{video_id}?autoplay=1",
    ]
    return forms[form % len(forms)]


def process(base, video_id, form=0):
    return request("POST", f"{base}/api/process", {"url": video_url(video_id, form)})


def status(base, video_id):
    return request("GET", f"{base}/api/status/{video_id}")


def concurrently(calls, workers):
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda call: call(), calls))


def wait_final(bases, video_ids, seconds):
    """Polls the statuses (alternating instances) until each is completed or failed."""
    pending, final = set(video_ids), {}
    deadline = time.time() + seconds
    turn = 0
    while pending and time.time() < deadline:
        for video_id in sorted(pending):
            code, body = status(bases[turn % len(bases)], video_id)
            turn += 1
            if code == 200 and isinstance(body, dict) and body.get("status") in ("completed", "failed"):
                final[video_id] = body
        pending -= set(final)
        if pending:
            time.sleep(0.2)
    return final, pending


class Database:
    """Reads the videos table the instances share: PostgreSQL through psql, SQLite directly."""

    def __init__(self, url):
        self.url = url

    def rows(self, sql):
        if self.url.startswith("sqlite:///"):
            with sqlite3.connect(self.url[len("sqlite:///"):], timeout=30) as connection:
                return [tuple(str(v) for v in row) for row in connection.execute(sql)]
        output = subprocess.run(
            ["psql", self.url, "-X", "-q", "-t", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1", "-c", sql],
            check=True, capture_output=True, text=True).stdout
        return [tuple(line.split("|")) for line in output.splitlines() if line]

    def count(self, prefix, where="1 = 1"):
        """Rows whose id starts with `prefix`; -1 (a failed check) when the table cannot be read."""
        try:
            return int(self.rows(f"SELECT count(*) FROM videos WHERE video_id LIKE '{prefix}%' AND {where}")[0][0])
        except (sqlite3.Error, subprocess.CalledProcessError, IndexError, ValueError) as error:
            detail = getattr(error, "stderr", "") or error
            print(f"  (cannot read the videos table: {str(detail).strip()})", flush=True)
            return -1


def metric_sum(base, name):
    code, text = request("GET", f"{base}/metrics")
    if code != 200 or not isinstance(text, str):
        return None
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? ([0-9.eE+-]+)$", line)
        if match:
            total += float(match.group(2))
    return total


def scenarios(args, state):
    a, b, db, prefix = args.a, args.b, Database(args.database_url), state["prefix"]
    bases = [a, b]
    jobs_started = 0

    # 1. Five concurrent POSTs for one video, over both instances.
    video = f"{prefix}s1-0001"
    answers = concurrently([lambda i=i: process(bases[i % 2], video, i) for i in range(5)], 5)
    winners = [body for code, body in answers if code == 202]
    # The others see the winner's job running, or (on a machine slow enough
    # to let it finish before their request is read) completed: never a start.
    already = [body for code, body in answers
               if code == 200 and isinstance(body, dict) and body.get("outcome") in ("already_processing", "already_completed")]
    check("1. five concurrent POSTs for one video: exactly one starts processing",
          len(winners) == 1, f"{len(winners)} x 202 processing, codes {[c for c, _ in answers]}")
    processing = sum(1 for body in already if body.get("already_processing") is True)
    check("1. ... and the four others are told it is taken (already_processing or already_completed)",
          len(already) == 4, f"{len(already)} of 4 ({processing} already_processing)")
    check("1. ... and one video row", db.count(video) == 1, f"{db.count(video)} row(s)")
    jobs_started += len(winners)

    # 2. Ten concurrent requests (the seed's `ab -n 10 -c 10`) for one video.
    video = f"{prefix}s2-0001"
    answers = concurrently([lambda i=i: process(bases[i % 2], video, i) for i in range(10)], 10)
    errors = [(code, body) for code, body in answers if code not in (200, 202)]
    winners = [body for code, body in answers if code == 202]
    check("2. ten concurrent POSTs: no errors", not errors, f"errors: {errors[:3]}" if errors else "10 x 2xx")
    check("2. ... exactly one processing job", len(winners) == 1, f"{len(winners)} started")
    check("2. ... one video row", db.count(video) == 1, f"{db.count(video)} row(s)")
    jobs_started += len(winners)

    # 3. A hundred distinct videos spread over both instances.
    videos = [f"{prefix}s3-{i:04d}" for i in range(100)]
    started = time.time()
    answers = concurrently([lambda i=i, v=v: process(bases[i % 2], v, i) for i, v in enumerate(videos)], 20)
    created = sum(1 for code, body in answers if code == 202 and body.get("outcome") == "created")
    check("3. 100 distinct videos over both instances: 100 jobs started", created == 100,
          f"{created} created in {time.time() - started:.1f} s; codes {sorted(set(c for c, _ in answers))}")
    jobs_started += created
    final, pending = wait_final(bases, videos, args.job_timeout)
    completed = sum(1 for body in final.values() if body.get("status") == "completed")
    check("3. ... all 100 completed", completed == 100 and not pending,
          f"{completed} completed, {len(final) - completed} failed, {len(pending)} unfinished after {time.time() - started:.1f} s")
    check("3. ... 100 video rows", db.count(f"{prefix}s3-") == 100, f"{db.count(f'{prefix}s3-')} rows")
    tracks = [v for v in videos if os.path.getsize(os.path.join(args.output_dir, f"{v}.m4a")) > 1000] \
        if os.path.isdir(args.output_dir) else []
    check("3. ... each with its dubbed track mixed and encoded (FFmpeg)", len(tracks) == 100, f"{len(tracks)} .m4a files")
    twice = db.count(f"{prefix}s3-", "attempts <> 1")
    check("3. ... no video processed twice (attempts = 1 on every row)", twice == 0, f"{twice} rows with attempts <> 1")

    # 4. A job started on one instance is visible on the other.
    video = f"{prefix}s4-0001"
    code, body = process(a, video)
    seen_code, seen = status(b, video)
    shared = args.mode == "servers"
    detail = f"POST on A -> {code}; GET on B -> {seen_code} {seen}"
    visible = code == 202 and seen_code == 200 and seen.get("status") in ("processing", "completed")
    if shared:  # the status itself, written by A, read from the shared Redis tracker
        visible = visible and seen.get("instance") == "A"
    check("4. status of a job started on A is visible on B", visible, detail)
    jobs_started += 1 if code == 202 else 0
    final, _ = wait_final([b], [video], args.job_timeout)
    check("4. ... and B sees it complete", final.get(video, {}).get("status") == "completed", f"{final.get(video)}")

    # 5. The API counters agree across instances.
    (code_a, usage_a), (code_b, usage_b) = request("GET", f"{a}/api/usage"), request("GET", f"{b}/api/usage")
    keys = ("day_count", "hour_count", "total_calls", "successes", "failures", "denied")
    same = code_a == code_b == 200 and all(usage_a.get(k) == usage_b.get(k) for k in keys)
    check("5. /api/usage is the same on both instances", same, f"A {[usage_a.get(k) for k in keys]}, B {[usage_b.get(k) for k in keys]}")
    expected = jobs_started * EXTERNAL_CALLS_PER_JOB
    check(f"5. ... and counts {EXTERNAL_CALLS_PER_JOB} calls for each of the {jobs_started} jobs",
          usage_a.get("day_count") == expected and usage_a.get("successes") == expected,
          f"day_count {usage_a.get('day_count')}, successes {usage_a.get('successes')}, expected {expected}")
    started_a, started_b = metric_sum(a, "video_service_jobs_started_total"), metric_sum(b, "video_service_jobs_started_total")
    check("5. /metrics: jobs started on A + B = jobs the API started, none twice",
          started_a is not None and started_b is not None and started_a + started_b == jobs_started,
          f"A {started_a} + B {started_b}, expected {jobs_started}")
    code, health = request("GET", f"{a}/health")
    check("5. /health answers healthy", code == 200 and health.get("status") == "healthy", f"{code} {health}")

    # 6. (first half) A job on A that the shutdown will interrupt.
    video = f"{prefix}s6-0001"
    code, body = process(a, video)
    check("6. a job starts on A just before A is stopped", code == 202, f"{code}")
    state["shutdown_video"] = video


def after_stop_a(args, state):
    b, db, video = args.b, Database(args.database_url), state.get("shutdown_video")
    if video is None:
        check("6. a job was started on A before the shutdown", False, "the scenarios phase did not get that far")
        return
    left = "missing"
    for candidate in ("failed", "completed", "processing"):
        if db.count(video, f"state = '{candidate}'") == 1:
            left = candidate
    check("6. graceful shutdown of A left no claim stuck (video failed or completed, not processing)",
          left in ("failed", "completed"), f"state {left}")
    code, body = process(b, video)
    expected = {"failed": (202, "retrying_failed"), "completed": (200, "already_completed")}.get(left, (None, None))
    check("6. ... and B retries an interrupted job at once",
          (code, body.get("outcome") if isinstance(body, dict) else None) == expected, f"{code} {body}")
    final, _ = wait_final([b], [video], args.job_timeout)
    check("6. ... to completion", final.get(video, {}).get("status") == "completed", f"{final.get(video)}")


def after_stop_b(args, state):
    db, prefix = Database(args.database_url), state["prefix"]
    stuck = db.count(prefix, "state = 'processing'")
    check("7. after both instances stopped, no video of this run is left processing", stuck == 0, f"{stuck} processing")
    total = db.count(prefix)
    check("7. ... and the table holds exactly this run's 104 videos", total == 104, f"{total} rows")


SCALEKIT_SPANS = {"api_tracker.check_and_count", "status_tracker.merge", "audio.mix", "audio.join", "pool.checkout.wait",
                  "videos.claim", "videos.complete", "videos.fail"}


def otlp_spans(directory):
    """Every span of every OTLP/JSON trace export in `directory`."""
    spans = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if not name.startswith("traces-") or not name.endswith(".json"):
            continue
        with open(os.path.join(directory, name)) as file:
            export = json.load(file)
        for resource in export.get("resourceSpans", []):
            for scope in resource.get("scopeSpans", []):
                spans.extend(scope.get("spans", []))
    return spans


def is_server_span(span):
    return span.get("kind") in (2, "SPAN_KIND_SERVER")


def traces(args, state):
    prefix = state["prefix"]
    exports = os.listdir(args.otlp_dir) if os.path.isdir(args.otlp_dir) else []
    check("8. both instances exported traces over OTLP/HTTP", any(n.startswith("traces-") for n in exports),
          f"{len(exports)} exports received")
    check("8. ... and metrics", any(n.startswith("metrics-") for n in exports),
          f"{sum(1 for n in exports if n.startswith('metrics-'))} metric exports")
    spans = otlp_spans(args.otlp_dir)
    by_trace = {}
    for span in spans:
        by_trace.setdefault(span.get("traceId"), []).append(span)
    jobs = [span for span in spans if span.get("name") == "video.job"]
    check("8. every job is a video.job span", len(jobs) >= 104, f"{len(jobs)} video.job spans")
    # Every job claims and counts its API calls; a job that completed also mixed.
    needed = {"videos.claim", "api_tracker.check_and_count"} if args.mode == "servers" else {"videos.claim"}
    broken, completed = [], 0
    for job in jobs:
        trace = by_trace.get(job.get("traceId"), [])
        parent = next((s for s in trace if s.get("spanId") == job.get("parentSpanId")), None)
        names = {s.get("name") for s in trace}
        wanted = needed | ({"audio.mix"} if "videos.complete" in names else set())
        completed += "videos.complete" in names
        if parent is None or not is_server_span(parent) or not wanted <= names:
            broken.append(f"parent {parent.get('name') if parent else None}, spans {sorted(names)}")
    check("8. ... each in the trace of its HTTP request, with the backends' spans "
          f"({', '.join(sorted(needed))}, and audio.mix when it completed)", jobs and not broken,
          broken[0] if broken else f"{len(jobs)} whole traces, {completed} of them completed")
    leaked = [s.get("name") for s in spans if s.get("name") in SCALEKIT_SPANS and prefix in json.dumps(s.get("attributes", []))]
    check("8. no ScaleKit span carries a video id", not leaked, f"{len(leaked)} spans with one: {leaked[:3]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["scenarios", "after-stop-a", "after-stop-b", "traces"])
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--mode", choices=["servers", "embedded"], required=True)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--state", required=True)
    parser.add_argument("--output-dir", required=True, help="VIDEO_SERVICE_OUTPUT_DIR of both instances")
    parser.add_argument("--job-timeout", type=float, default=120)
    parser.add_argument("--otlp-dir", default="", help="where otlp_receiver.py stored the exports (traces phase)")
    args = parser.parse_args()
    state = {}
    if os.path.exists(args.state):
        with open(args.state) as file:
            state = json.load(file)
    if "prefix" not in state:  # 11-character ids: 4 random + "s3-0042"
        state["prefix"] = "".join(random.choice(string.ascii_letters) for _ in range(4))
    phase = {"scenarios": scenarios, "after-stop-a": after_stop_a, "after-stop-b": after_stop_b, "traces": traces}[args.phase]
    try:
        phase(args, state)
    except Exception as error:  # a broken scenario is a failed check, and later phases still run
        check(f"{args.phase} ran to the end", False, f"{type(error).__name__}: {error}")
    with open(args.state, "w") as file:
        json.dump(state, file)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

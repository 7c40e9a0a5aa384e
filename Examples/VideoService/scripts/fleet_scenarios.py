#!/usr/bin/env python3
"""The fleet test's driver: the seed's scenarios and the faults, against every instance at once.

Run by fleet-test.sh inside the driver's namespace, with the fleet's
description (fleet.json: the instances, the servers, the scripts that start
and stop them). Standard library only; the HTTP and database helpers come
from load_scenarios.py.

  1.  five concurrent POSTs for one video, over all instances: exactly one starts it
  2.  ten concurrent POSTs (the seed's `ab -n 10 -c 10`): no error, one job
  3.  N distinct videos through all instances at once, each completed exactly once,
      while the faults below happen one after the other
  4.  a job's status is visible from every instance, through to completion
  5.  the API counters agree with the calls the instances made
  a.  a host cut off mid-job (its switch port down): its leases expire, exactly one
      other instance takes each video over; when the link is back, the cut host's
      late writes are refused by the fence and each video ends completed once
  b.  kill -9 of an instance: its videos are taken over and completed; a new
      instance takes its place
  c.  kill -9 of the Redis master that holds the API counters: the cluster fails
      over, no acknowledged call is lost, the instances carry on
  d.  PgBouncer restarted: every instance recovers without a restart
  e.  one host reaches the servers through a slow, lossy proxy: everything holds
  q.  the last calls of the day's quota, raced for by every instance: the limit is
      reached exactly and never exceeded

Every check prints PASS or FAIL; a report follows; the exit status is 1 if any check failed.
"""

import argparse
import json
import os
import random
import re
import string
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load_scenarios as seed  # noqa: E402  (request, process, status, Database)

CALLS_PER_JOB = seed.EXTERNAL_CALLS_PER_JOB
results = []
timings = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    return ok


def log(message):
    print(f"[driver {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_until(predicate, bound, interval=0.1):
    """Polls `predicate` until it returns something truthy or `bound` seconds pass; returns its last value.

    Bounds are generous on purpose: they only stop a test that would hang."""
    deadline = time.monotonic() + bound
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class timed:
    """Records how long a scenario took, for the report."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.start = time.monotonic()
        log(f"scenario {self.name}")
        return self

    def __exit__(self, *_):
        timings.append((self.name, time.monotonic() - self.start))


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s+(\S+)$")
METRIC_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    samples = []
    for line in text.splitlines():
        match = METRIC_LINE.match(line)
        if not match or line.startswith("#"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        samples.append((match.group(1), dict(METRIC_LABEL.findall(match.group(2) or "")), value))
    return samples


def msum(samples, name, **labels):
    return sum(v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in labels.items()))


def run(command, **kwargs):
    return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120, **kwargs).stdout


def start_script(path):
    """Runs a start script of fleet-test.sh; what it starts outlives it, so no pipe is kept."""
    with open(path + ".log", "a") as output:
        subprocess.run(["bash", path], check=True, stdin=subprocess.DEVNULL, stdout=output, stderr=output, timeout=120)


def as_a_client(call, again=(503,), attempts=5, pause=0.0):
    """`call()` (returning (code, body)) made again while its code is in `again`,
    at most `attempts` times, waiting `pause`, then twice that, ... between: what
    a client does when the slow host's lossy path cut a connection to a server.
    Returns (code, body, whether it was made again)."""
    for attempt in range(attempts):
        code, body = call()
        if code not in again or attempt == attempts - 1:
            return code, body, attempt > 0
        time.sleep(pause * (attempt + 1))


class Fleet:
    """The instances, what the driver sent them, and the servers' controls."""

    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.specs = {spec["name"]: spec for spec in config["instances"]}
        self.names = [spec["name"] for spec in config["instances"]]
        self.live = set(self.names)  # instances that get new work
        self.turn = 0
        self.requests = Counter()  # by kind
        self.inflight = Counter()  # requests in progress, by instance
        self.accepted = Counter()  # 202s of the instance's current process
        self.outcomes = Counter()  # POST outcomes over the whole run
        self.dead = []  # the last metrics of killed processes, and what they may have done since
        self.db = seed.Database(config["database_url"])
        self.lease = config["lease_ms"] / 1000
        self.prefix = "".join(random.choice(string.ascii_letters) for _ in range(4))
        self.prefilled = 0

    # --- HTTP -----------------------------------------------------------------
    def http(self, name, method, path, body=None, timeout=30):
        kind = "POST /api/process" if method == "POST" else "GET " + path.split("/")[1 if path.count("/") < 2 else 2]
        with self.lock:
            self.requests[kind] += 1
            self.inflight[name] += 1
        try:
            return seed.request(method, self.specs[name]["url"] + path, body, timeout)
        finally:
            with self.lock:
                self.inflight[name] -= 1

    def post(self, name, video_id, form=0):
        code, body = self.http(name, "POST", "/api/process", {"url": seed.video_url(video_id, form)})
        outcome = body.get("outcome") if isinstance(body, dict) else None
        with self.lock:
            self.outcomes[outcome or f"http {code}"] += 1
            if code == 202:
                self.accepted[name] += 1
        return code, body

    def status(self, name, video_id):
        """GET of a job's status, asked again after a 503 (see `as_a_client`)."""
        code, body, _ = as_a_client(lambda: self.http(name, "GET", f"/api/status/{video_id}"), pause=0.2)
        return code, body

    def usage(self, name):
        code, body, _ = as_a_client(lambda: self.http(name, "GET", "/api/usage", timeout=10), pause=0.2)
        return body if code == 200 and isinstance(body, dict) else None

    def metrics(self, name, timeout=10):
        code, text = self.http(name, "GET", "/metrics", timeout=timeout)
        return parse_metrics(text) if code == 200 and isinstance(text, str) else None

    def healthy(self, name):
        code, body = self.http(name, "GET", "/health", timeout=10)
        return code == 200

    def pid(self, name):
        with open(self.specs[name]["pid_file"]) as file:
            return int(file.read().strip())

    def pick(self):
        with self.lock:
            live = [n for n in self.names if n in self.live]
            self.turn += 1
            return live[self.turn % len(live)] if live else None

    def live_names(self):
        with self.lock:
            return [n for n in self.names if n in self.live]

    # --- the database ------------------------------------------------------------
    def rows(self, ids=None, like=None):
        """{video_id: (state, attempts, lease expired by the database's clock)}."""
        where = f"video_id LIKE '{like}'" if like else "video_id IN (" + ",".join(f"'{v}'" for v in ids) + ")"
        if ids is not None and not ids:
            return {}
        try:
            rows = self.db.rows(
                "SELECT video_id, state, attempts, COALESCE(lease_expires_at <= statement_timestamp(), false) "
                f"FROM videos WHERE {where}")
        except subprocess.CalledProcessError as error:
            log(f"cannot read the videos table: {error.stderr.strip()}")
            return None
        return {r[0]: (r[1], int(r[2]), r[3] == "t") for r in rows}

    # --- instances coming and going -------------------------------------------------
    def drain(self, name, bound=120):
        """Sends `name` no more work and waits until it has none: no request, no job."""
        with self.lock:
            self.live.discard(name)

        def idle():
            if self.inflight[name]:
                return False
            samples = self.metrics(name)
            return samples is not None and msum(samples, "video_service_jobs_running") == 0 \
                and msum(samples, "video_service_jobs_started_total") == self.accepted[name]
        return wait_until(idle, bound, 0.2)

    def undrain(self, name):
        with self.lock:
            self.live.add(name)

    def start(self, name):
        start_script(self.specs[name]["start"])
        with self.lock:
            self.accepted[name] = 0
        return wait_until(lambda: self.healthy(name), 120, 0.2)

    def probe(self, names, tag, bound=120):
        """One new video through each of `names`, sent again through the same
        instance if it did not complete (the slow host's lossy path may cut a
        connection, as any client may meet); returns {name: final state}."""
        ids = {name: f"{self.prefix}{tag}{index:05d}" for index, name in enumerate(names)}
        state = {}
        for _ in range(3):
            todo = [n for n in names if state.get(n) != "completed"]
            if not todo:
                break
            sent = [n for n in todo if self.post(n, ids[n])[0] in (200, 202)]

            def finished():
                rows = self.rows([ids[n] for n in sent]) or {}
                return all(rows.get(ids[n], ("",))[0] in ("completed", "failed") for n in sent)
            wait_until(finished, bound, 0.2)
            rows = self.rows([ids[n] for n in todo]) or {}
            for name in todo:
                state[name] = rows.get(ids[name], ("refused",))[0] if name in sent else "refused"
        return state

    # --- servers ---------------------------------------------------------------
    def redis(self, port, *command):
        return run(["redis-cli", "-h", self.config["redis"]["address"], "-p", str(port), *command])

    def link(self, name, state):
        run(["ip", "-n", self.config["switch_netns"], "link", "set", name, state])


class Load(threading.Thread):
    """Scenario 3: N distinct videos through the live instances, each to completion.

    A client with bounded concurrency: at most `per_instance` jobs of this load
    on an instance at once, so a job never waits in a queue longer than its
    lease. A video whose job failed (a backend was down) or whose lease
    expired (its worker vanished) is sent again, through any live instance."""

    def __init__(self, fleet, count, per_instance, bound):
        super().__init__(daemon=True)
        self.fleet = fleet
        self.ids = [f"{fleet.prefix}m{i:06d}" for i in range(count)]
        self.todo = deque(self.ids)
        self.not_before = {}
        self.outstanding = {}  # video -> instance (the POST in flight or its job running)
        self.watch = set()  # processing, claimed by a job this client did not start (a takeover race)
        self.done = set()
        self.sent = Counter()
        self.per_instance = per_instance
        self.bound = bound
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=16)
        self.finished_at = None
        self.posts_in_flight = set()

    def submit(self, video, name):
        code, body = self.fleet.post(name, video, self.sent[video])
        outcome = body.get("outcome") if isinstance(body, dict) else None
        with self.lock:
            self.posts_in_flight.discard(video)
            if code == 202:
                return  # its job runs on `name`
            self.outstanding.pop(video, None)
            if code == 200 and outcome == "already_completed":
                self.done.add(video)
            elif code == 200 and outcome == "already_processing":
                self.watch.add(video)
            else:  # an outage (503, a dropped connection): again in a moment
                self.not_before[video] = time.monotonic() + 0.5
                self.todo.append(video)

    def refresh(self):
        with self.lock:
            tracked = [v for v in list(self.outstanding) + list(self.watch) if v not in self.posts_in_flight]
        if not tracked:
            return
        rows = self.fleet.rows(like=f"{self.fleet.prefix}m%")
        if rows is None:
            return
        with self.lock:
            for video in tracked:
                if video in self.posts_in_flight:
                    continue
                state, _, expired = rows.get(video, ("missing", 0, False))
                if state == "completed":
                    self.done.add(video)
                elif state == "failed" or (state == "processing" and expired) or state == "missing":
                    self.todo.appendleft(video)
                else:
                    continue
                self.outstanding.pop(video, None)
                self.watch.discard(video)

    def dispatch(self):
        now = time.monotonic()
        with self.lock:
            load = Counter(self.outstanding.values())
            for name in self.fleet.live_names():
                while load[name] < self.per_instance and self.todo:
                    video = self.todo.popleft()
                    if video in self.done or video in self.outstanding or video in self.watch:
                        continue
                    if self.not_before.get(video, 0) > now:
                        self.todo.append(video)
                        break
                    self.outstanding[video] = name
                    self.posts_in_flight.add(video)
                    self.sent[video] += 1
                    load[name] += 1
                    self.pool.submit(self.submit, video, name)

    def run(self):
        start = time.monotonic()
        while len(self.done) < len(self.ids) and time.monotonic() - start < self.bound:
            self.dispatch()
            time.sleep(0.25)
            self.refresh()
        self.pool.shutdown(wait=True)
        self.finished_at = time.monotonic()
        self.seconds = self.finished_at - start


# --- the seed's scenarios ----------------------------------------------------------------

def scenario_one_video(fleet, copies, number):
    names = fleet.live_names()
    video = f"{fleet.prefix}s{number}-0001"
    def send(i):
        # A 503 or a dropped connection (the slow host's lossy path) is sent again, as a client would.
        code, body, _ = as_a_client(lambda: fleet.post(names[i % len(names)], video, i), again=(0, 503))
        return code, body
    answers = seed.concurrently([lambda i=i: send(i) for i in range(copies)], copies)
    winners = [b for c, b in answers if c == 202]
    errors = [(c, b) for c, b in answers if c not in (200, 202)]
    taken = [b for c, b in answers if c == 200 and b.get("outcome") in ("already_processing", "already_completed")]
    check(f"{number}. {copies} concurrent POSTs for one video over {len(names)} instances: exactly one starts it",
          len(winners) == 1 and not errors, f"codes {sorted(c for c, _ in answers)}")
    check(f"{number}. ... the {copies - 1} others are told it is taken", len(taken) == copies - 1, f"{len(taken)}")
    rows = fleet.rows([video]) or {}
    check(f"{number}. ... one video row", video in rows, f"{rows}")
    return video


def scenario_visible_everywhere(fleet):
    names = fleet.live_names()
    video = f"{fleet.prefix}vs-0001"
    code, _ = fleet.post(names[0], video)
    seen = {n: fleet.status(n, video) for n in names[1:]}
    ok = code == 202 and all(c == 200 and b.get("status") in ("processing", "completed") and b.get("instance") == names[0]
                             for c, b in seen.values())
    check(f"4. a job started on {names[0]} is visible on {', '.join(names[1:])}", ok,
          f"POST {code}; " + "; ".join(f"{n}: {c} {b.get('status') if isinstance(b, dict) else b}" for n, (c, b) in seen.items()))

    def completed_everywhere():
        answers = [fleet.status(n, video) for n in names]
        return all(c == 200 and b.get("status") == "completed" for c, b in answers)
    check("4. ... and every instance sees it completed", wait_until(completed_everywhere, 120, 0.2))
    return video


# --- faults ---------------------------------------------------------------------------------

def start_victims(fleet, name, tag, count, label):
    ids = [f"{fleet.prefix}{tag}{i:05d}" for i in range(count)]
    answers = seed.concurrently([lambda v=v: fleet.post(name, v) for v in ids], count)
    started = [v for v, (c, b) in zip(ids, answers) if c == 202 and b.get("outcome") == "created"]
    check(f"{label}. {count} jobs start on {name}", len(started) == count, f"codes {[c for c, _ in answers]}")
    return started


TAKE_OUTCOMES = ("took_over_expired_lease", "retrying_failed")


def take_over(fleet, ids, gone, label):
    """The videos `gone` held: once their leases expire, each is POSTed through every other
    live instance at once; exactly one may take it over. Returns (held, {video: (taker, attempt)}).

    A 503 or a dropped connection is sent again, as a client would. The slow host's
    lossy path can also cut its connection after its claim committed, so that the
    winner's own answer is a 503 (the claim is then given back, or held until its
    lease expires): such a video has no taker in the answers, and is POSTed again,
    through every other instance at once, once it is free."""
    rows = fleet.rows(ids) or {}
    held = [v for v in ids if rows.get(v, ("",))[0] == "processing"]
    finished = [v for v in ids if v not in held]
    if finished:
        log(f"{label}: {finished} finished before the fault; they are not taken over")
    check(f"{label}. the instance held videos when the fault hit", len(held) > 0, f"{len(held)} of {len(ids)} in flight")
    started = time.monotonic()
    expired = wait_until(lambda: all((fleet.rows(held) or {}).get(v, ("", 0, False))[2] for v in held), fleet.lease + 60, 0.2)
    check(f"{label}. ... their leases expire (by the database's clock)", expired,
          f"after {time.monotonic() - started:.1f} s (lease {fleet.lease:.0f} s)")
    others = [n for n in fleet.live_names() if n != gone]

    def send(video, name):
        return as_a_client(lambda: fleet.post(name, video), again=(0, 503))

    def all_free(videos):
        """Each given back (failed) or held by a lease that expired."""
        rows = fleet.rows(videos) or {}
        for video in videos:
            state, _, expired = rows.get(video, ("", 0, False))
            if not (state == "failed" or (state == "processing" and expired)):
                return False
        return True

    takers, wrong, pending = {}, [], list(held)
    for _ in range(3):
        calls = [(v, n) for v in pending for n in others]
        answers = seed.concurrently([lambda v=v, n=n: send(v, n) for v, n in calls], max(1, len(calls)))
        won, troubled = {}, set()
        for (video, name), (code, body, trouble) in zip(calls, answers):
            outcome = body.get("outcome") if isinstance(body, dict) else None
            if trouble:
                troubled.add(video)
            if code == 202 and outcome in TAKE_OUTCOMES:
                attempt = (body.get("status") or {}).get("attempt")
                won.setdefault(video, []).append((name, int(attempt) if attempt is not None else None))
            elif not (code == 200 and outcome in ("already_processing", "already_completed")):
                wrong.append((video, name, code, body))
        lost = []
        for video in pending:
            winners = won.get(video, [])
            if len(winners) == 1:
                takers[video] = winners[0]
            elif not winners and video in troubled:
                lost.append(video)
            else:
                wrong.append((video, "takers", winners))
        if not lost:
            break
        log(f"{label}: the winning answer for {lost} was lost on the lossy path; they are sent again once free")
        wait_until(lambda: all_free(lost), fleet.lease + 60, 0.2)
        pending = lost
    once = all(v in takers for v in held)
    check(f"{label}. ... and exactly one other instance takes each over ({len(others)} POSTs a video at once)",
          once and not wrong, f"takers {takers}, other answers {wrong}")
    return held, takers


def await_taken_over_completion(fleet, held, takers, gone, label):
    def done():
        rows = fleet.rows(held) or {}
        return all(rows.get(v, ("",))[0] == "completed" for v in held)
    wait_until(done, 120, 0.2)
    rows = fleet.rows(held) or {}
    bad = []
    for video in held:
        state, attempts, _ = rows.get(video, ("missing", 0, False))
        taker, attempt = takers.get(video, (None, None))
        code, body = fleet.status(taker or fleet.pick(), video)
        fence = body.get("claim_fence", {}) if isinstance(body, dict) else {}
        # The taker's attempt is the second unless a winning answer was lost (above).
        if state != "completed" or attempt is None or attempt < 2 or attempts != attempt or code != 200 \
                or body.get("status") != "completed" or body.get("instance") != taker or fence.get("attempt") != attempt:
            bad.append((video, state, attempts, attempt, code, body.get("instance") if isinstance(body, dict) else body, fence))
    check(f"{label}. ... each video ends completed once, by the taker's attempt, with the taker's status "
          f"(nothing of {gone} overwrote it)", not bad and held, f"{bad}" if bad else f"{len(held)} videos")


def scenario_cut(fleet, name):
    with timed(f"a. {name} cut off mid-job"):
        fleet.drain(name)
        before = fleet.metrics(name) or []
        ids = start_victims(fleet, name, "ca", 4, "a")
        fleet.link(name, "down")
        log(f"a. {name}'s switch port is down")
        try:
            held, takers = take_over(fleet, ids, name, "a")
        finally:
            fleet.link(name, "up")
            log(f"a. {name}'s switch port is up again")

        # The cut host's jobs were waiting on the network; now their writes
        # reach the servers and are refused. How many depends on where each
        # job was when the link went (a job whose call timed out during the
        # cut may end without another write), so the check is that its jobs
        # all end, that late writes did arrive and were refused, and (below)
        # that none of them is what the database and the status hold.
        def refused():
            samples = fleet.metrics(name)
            if samples is None:
                return None
            counts = {w: msum(samples, "video_service_stale_writes_refused_total", write=w) -
                      msum(before, "video_service_stale_writes_refused_total", write=w)
                      for w in ("renew_lease", "complete", "fail", "status")}
            running = msum(samples, "video_service_jobs_running")
            return counts if running == 0 and sum(counts.values()) >= 1 else None
        counts = wait_until(refused, 120, 0.5)
        fleet.cut_refusals = counts or {}
        check(f"a. when the link is back, {name}'s jobs end and their late writes are refused by the fence",
              bool(counts),
              f"refused: {counts} ({len(held)} jobs held)" if counts else "no refused write, or jobs still running, after 120 s")
        await_taken_over_completion(fleet, held, takers, name, "a")
        check(f"a. {name} serves again once reconnected", wait_until(lambda: fleet.healthy(name), 60, 0.5)
              and fleet.probe([name], "pa")[name] == "completed")
        fleet.undrain(name)


def scenario_kill(fleet, name):
    with timed(f"b. kill -9 of {name}'s instance"):
        fleet.drain(name)
        ids = start_victims(fleet, name, "kb", 4, "b")
        last = fleet.metrics(name) or []
        pid = fleet.pid(name)
        os.kill(pid, 9)
        gone = wait_until(lambda: not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z", 30)
        log(f"b. {name}'s instance (pid {pid}) killed")
        # What the dead process may have done after its last metrics: every job it
        # had accepted and not finished may have made its calls.
        unfinished = fleet.accepted[name] - msum(last, "video_service_jobs_finished_total")
        fleet.dead.append({"name": name, "pid": pid, "samples": last, "unfinished": unfinished})
        check(f"b. {name}'s instance is gone", gone)
        held, takers = take_over(fleet, ids, name, "b")
        await_taken_over_completion(fleet, held, takers, name, "b")
    # A new instance takes its place while the next faults run.
    fleet.restart = threading.Thread(target=lambda: setattr(fleet, "restarted", fleet.start(name)), daemon=True)
    fleet.restart.start()


def replacement_joins(fleet, name):
    with timed(f"b. a new instance on {name}"):
        fleet.restart.join(180)
        ok = getattr(fleet, "restarted", False) and fleet.probe([name], "pb")[name] == "completed"
        check(f"b. a new instance on {name} starts and serves", ok)
        fleet.undrain(name)


def cluster_owner(fleet, slot, ports):
    """The port of the master serving `slot`, asked of any node that answers."""
    for port in ports:
        try:
            nodes = fleet.redis(port, "cluster", "nodes")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            continue
        for line in nodes.splitlines():
            fields = line.split()
            if len(fields) < 9 or "master" not in fields[2] or "fail" in fields[2]:
                continue
            for part in fields[8:]:
                if part.startswith("["):
                    continue
                low, _, high = part.partition("-")
                if int(low) <= slot <= int(high or low):
                    return int(fields[1].split("@")[0].rsplit(":", 1)[1])
        return None
    return None


def acknowledged_calls(fleet, names):
    """Allowed calls (acknowledged to a job) and calls that failed, by every process so far."""
    allowed = errors = 0
    for name in names:
        samples = fleet.metrics(name)
        if samples is None:
            return None
        allowed += msum(samples, "video_service_external_api_calls_total", decision="allowed")
        errors += msum(samples, "video_service_external_api_call_errors_total")
    for dead in fleet.dead:
        allowed += msum(dead["samples"], "video_service_external_api_calls_total", decision="allowed")
        errors += msum(dead["samples"], "video_service_external_api_call_errors_total")
    return allowed, errors


def scenario_redis_master(fleet):
    redis = fleet.config["redis"]
    ports = redis["ports"]
    with timed("c. kill -9 of the Redis master holding the API counters"):
        slot = int(fleet.redis(ports[0], "cluster", "keyslot", "{api_tracker}").strip())
        master = cluster_owner(fleet, slot, ports)
        names = fleet.live_names()
        before = acknowledged_calls(fleet, names)
        with open(redis["pid_file"].format(port=master)) as file:
            pid = int(file.read().strip())
        os.kill(pid, 9)
        killed_at = time.monotonic()
        log(f"c. redis-server {master} (pid {pid}, master of slot {slot}) killed")
        survivors = [p for p in ports if p != master]
        owner = wait_until(lambda: (lambda o: o if o not in (None, master) else None)(cluster_owner(fleet, slot, survivors)), 60, 0.2)
        fleet.failover_seconds = time.monotonic() - killed_at
        check("c. the cluster fails over: a replica serves the slot", owner is not None,
              f"{master} -> {owner} in {fleet.failover_seconds:.1f} s")
        # Back with its nodes.conf: it rejoins as a replica of the new master.
        start_script(redis["start"].format(port=master))

        def replica_again():
            try:
                info = fleet.redis(master, "info", "replication")
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
                return False
            return "role:slave" in info and "master_link_status:up" in info
        check(f"c. the killed node rejoins as a replica of {owner}", wait_until(replica_again, 120, 0.2))
        usage = fleet.usage(fleet.pick())
        stored = usage.get("day_count") if usage else None
        check("c. no acknowledged API call lost: the counter after the failover >= the calls acknowledged before the kill",
              before is not None and stored is not None and stored - fleet.prefilled >= before[0],
              f"stored {stored}, acknowledged before {before}")
        states = fleet.probe(fleet.live_names(), "pc")
        check("c. the instances carry on: a new video through each completes", all(s == "completed" for s in states.values()),
              f"{states}")


def scenario_pgbouncer(fleet):
    bouncer = fleet.config["pgbouncer"]
    with timed("d. PgBouncer restarted"):
        names = fleet.live_names()
        pids = {n: fleet.pid(n) for n in names}
        run(["bash", bouncer["stop"]])
        log("d. PgBouncer stopped")
        time.sleep(1.0)  # an outage of a second, on purpose
        start_script(bouncer["start"])
        log("d. PgBouncer started again")
        healthy = wait_until(lambda: all(fleet.healthy(n) for n in names), 60, 0.5)
        check("d. every instance is healthy again", healthy)
        states = fleet.probe(names, "pd")
        check("d. ... and completes a new video, without a restart (same processes)",
              all(s == "completed" for s in states.values()) and all(fleet.pid(n) == p for n, p in pids.items()), f"{states}")


def faults(fleet, load):
    names = fleet.names
    time.sleep(2)  # let the load spread over the fleet first
    for step in (lambda: scenario_cut(fleet, names[0]), lambda: scenario_kill(fleet, names[1]),
                 lambda: scenario_redis_master(fleet), lambda: scenario_pgbouncer(fleet),
                 lambda: replacement_joins(fleet, names[1])):
        try:
            step()
        except Exception as error:  # a broken scenario is a failed check; the others still run
            check("a fault scenario ran to the end", False, f"{type(error).__name__}: {error}")
            import traceback
            traceback.print_exc()


# --- the quota ------------------------------------------------------------------------------

def scenario_quota(fleet, reserve=24, videos=20):
    with timed("q. the last calls of the day's quota"):
        names = fleet.live_names()
        limit = fleet.config["daily_limit"]
        usage = fleet.usage(names[0])
        day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
        # Another worker sharing the quota has spent all of it but `reserve` calls.
        spend = limit - usage["day_count"] - reserve
        fleet.redis(fleet.config["redis"]["ports"][0], "-c", "incrby", "{api_tracker}:day:" + day, str(spend))
        fleet.prefilled += spend
        after = fleet.usage(names[0])
        if datetime.now(timezone.utc).strftime("%Y-%m-%d") != day:
            log("q. the day changed under the scenario (UTC midnight): its checks are skipped")
            return
        check(f"q. {reserve} calls left of the day's {limit}", after["remaining_today"] == reserve, f"{after['remaining_today']}")
        before = acknowledged_calls(fleet, names)
        ids = [f"{fleet.prefix}qt{i:05d}" for i in range(videos)]
        def start(i, video):
            # A 503 (a connection the slow path cut) is sent again, as a client
            # would; if the cut came after the claim, the video is already held.
            code, body, again = as_a_client(lambda: fleet.post(names[i % len(names)], video), again=(0, 503))
            if again and code == 200 and isinstance(body, dict) and body.get("outcome") == "already_processing":
                code = 202
            return code, body
        answers = seed.concurrently([lambda i=i, v=v: start(i, v) for i, v in enumerate(ids)], videos)
        check(f"q. {videos} videos through {len(names)} instances at once all start", all(c == 202 for c, _ in answers),
              f"{[c for c, _ in answers]}")
        # A job that failed for another reason than the quota (a connection the
        # slow path cut) is sent again, as a client would.
        for round in range(10):
            wait_until(lambda: all(s[0] in ("completed", "failed") for s in (fleet.rows(ids) or {"": ("",)}).values()), 120, 0.2)
            rows = fleet.rows(ids) or {}
            completed = [v for v in ids if rows.get(v, ("",))[0] == "completed"]
            failed = [v for v in ids if rows.get(v, ("",))[0] == "failed"]
            reasons, again = Counter(), []
            for index, video in enumerate(failed):
                code, body = fleet.status(names[index % len(names)], video)
                reason = body.get("error") if isinstance(body, dict) else code
                reasons[reason] += 1
                if reason != "quota_exhausted":
                    again.append(video)
            if not again:
                break
            log(f"q. sending {len(again)} videos again: {dict(reasons)}")
            seed.concurrently([lambda i=i, v=v: fleet.post(names[(i + round + 1) % len(names)], v) for i, v in enumerate(again)],
                              len(again))
        after = fleet.usage(names[0])
        now = acknowledged_calls(fleet, names)
        allowed = now[0] - before[0] if now and before else None
        check(f"q. the limit is reached exactly and never exceeded: day count {after['day_count']} of {limit}",
              after["day_count"] == limit, f"{allowed} calls allowed to the fleet for {reserve} left")
        errors = now[1] - before[1] if now and before else 0
        check(f"q. ... at most {reserve} calls allowed (exactly {reserve} unless a call failed), "
              f"{reserve // CALLS_PER_JOB} jobs at most complete, the others fail with quota_exhausted",
              allowed is not None and reserve - errors <= allowed <= reserve and len(completed) <= reserve // CALLS_PER_JOB
              and len(completed) + len(failed) == videos and set(reasons) <= {"quota_exhausted"},
              f"{allowed} allowed, {errors} failed calls; {len(completed)} jobs completed, {len(failed)} failed {dict(reasons)}")
        fleet.quota = {"completed": len(completed), "failed": len(failed), "allowed": allowed}


# --- the end --------------------------------------------------------------------------------

def final_checks(fleet, load, watcher):
    names = fleet.live_names()
    with timed("checks after the run"):
        # 3. every video of the load completed exactly once, its track mixed.
        rows = fleet.rows(like=f"{fleet.prefix}m%") or {}
        completed = [v for v in load.ids if rows.get(v, ("",))[0] == "completed"]
        check(f"3. {len(load.ids)} distinct videos through every instance: all completed",
              len(completed) == len(load.ids), f"{len(completed)} completed in {load.seconds:.0f} s")
        attempts = Counter(rows[v][1] for v in completed)
        tracks = [v for v in load.ids if os.path.exists(os.path.join(fleet.config["output_dir"], f"{v}.m4a"))
                  and os.path.getsize(os.path.join(fleet.config["output_dir"], f"{v}.m4a")) > 1000]
        check("3. ... each with its dubbed track", len(tracks) == len(load.ids), f"{len(tracks)} .m4a files")

        def read(index_video):
            index, video = index_video
            return video, fleet.status(names[index % len(names)], video)
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = dict(pool.map(read, enumerate(load.ids)))
        wrong = [(v, c, b) for v, (c, b) in statuses.items()
                 if c != 200 or b.get("status") != "completed" or b.get("claim_fence", {}).get("attempt") != rows.get(v, ("", 0))[1]]
        check("3. ... and each status, read round the instances, is the completed one written by the video's last attempt",
              not wrong, f"{wrong[:3]}" if wrong else f"{len(statuses)} statuses")
        stuck = fleet.rows(like=f"{fleet.prefix}%") or {}
        stuck = [v for v, r in stuck.items() if r[0] == "processing"]
        check("3. no video of the run is left processing", not stuck, f"{stuck[:5]}")

        # 5. the API counters.
        keys = ("day_count", "hour_count", "total_calls", "successes", "failures", "denied")
        usages = {n: fleet.usage(n) for n in names}
        same = all(u is not None for u in usages.values()) and len({tuple(u.get(k) for k in keys) for u in usages.values()}) == 1
        check("5. /api/usage is the same on every instance", same,
              "; ".join(f"{n}: {[u.get(k) for k in keys] if u else None}" for n, u in usages.items()))
        usage = usages[names[0]] or {}
        calls = acknowledged_calls(fleet, names) or (0, 0)
        slack = sum(CALLS_PER_JOB * max(0, d["unfinished"]) for d in fleet.dead)
        stored = usage.get("day_count", 0) - fleet.prefilled
        fleet.api = {"stored": stored, "acknowledged": calls[0], "errors": calls[1], "slack": slack,
                     "total_calls": usage.get("total_calls"), "max_seen": watcher.max_day, "denied": usage.get("denied")}
        check("5. the API counters agree with the calls made: acknowledged <= counted <= acknowledged + failed calls",
              calls[0] <= stored <= calls[0] + calls[1] + slack,
              f"acknowledged {calls[0]:.0f}, counted {stored}, failed {calls[1]:.0f}"
              + (f", up to {slack} more by the killed instance after its last scrape" if slack else ""))
        check("5. ... and the all-time total matches the day's count (one atomic script, across the failover)",
              usage.get("total_calls") == stored, f"total_calls {usage.get('total_calls')}, counted {stored}")
        check(f"5. the day's count never exceeded the limit ({watcher.samples} samples during the run)",
              watcher.max_day <= fleet.config["daily_limit"], f"max {watcher.max_day}")

        # e. the slow, lossy path.
        slow = fleet.config["slow_host"]
        with open(fleet.config["proxy_stats"]) as file:
            proxy = json.load(file)
        fleet.proxy = proxy
        samples = fleet.metrics(slow) or []
        slow_jobs = msum(samples, "video_service_jobs_finished_total", result="completed")
        check(f"e. {slow} works through the slow, lossy proxy: its jobs complete, connections were cut and replaced",
              slow_jobs > 0 and proxy["cut"] >= 1 and proxy["connections"] > proxy["cut"],
              f"{slow_jobs:.0f} jobs completed on {slow}; proxy: {proxy['connections']} connections, {proxy['cut']} cut")
        return attempts


class UsageWatcher(threading.Thread):
    """Reads the day's count every half second: the limit must never be exceeded, even for a moment."""

    def __init__(self, fleet):
        super().__init__(daemon=True)
        self.fleet = fleet
        self.max_day = 0
        self.samples = 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            name = self.fleet.pick()
            usage = self.fleet.usage(name) if name else None
            if usage:
                self.max_day = max(self.max_day, usage.get("day_count", 0))
                self.samples += 1


def report(fleet, load, attempts, started):
    total = time.monotonic() - started
    print("\n===== fleet test report =====", flush=True)
    print(f"instances      {len(fleet.names)} ({', '.join(fleet.names)}), lease {fleet.lease:.0f} s, "
          f"stage {fleet.config['stage_ms']} ms, at most {fleet.config['max_jobs']} jobs each")
    print(f"requests       {sum(fleet.requests.values())} HTTP requests: "
          + ", ".join(f"{k} {v}" for k, v in sorted(fleet.requests.items())))
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(fleet.outcomes.items(), key=lambda kv: -kv[1]))
    print(f"POST outcomes  {outcomes}")
    rows = fleet.rows(like=f"{fleet.prefix}%") or {}
    states = Counter(r[0] for r in rows.values())
    print(f"videos         {len(rows)} in the table ({', '.join(f'{k} {v}' for k, v in sorted(states.items()))}); "
          f"the load's {len(load.ids)}: attempts " + ", ".join(f"{k}: {v}" for k, v in sorted(attempts.items())))
    resent = sum(1 for v in load.ids if load.sent[v] > 1)
    print(f"load           {len(load.ids)} videos in {load.seconds:.0f} s ({len(load.ids) / max(load.seconds, 1):.1f}/s), "
          f"{resent} sent more than once after an outage")
    print(f"takeovers      {fleet.outcomes['took_over_expired_lease']} (POSTs answered took_over_expired_lease)")
    refusals = getattr(fleet, "refusals", {})
    print(f"refused stale writes  {sum(refusals.values()):.0f} in all: "
          + ", ".join(f"{k} {v:.0f}" for k, v in sorted(refusals.items()))
          + f"; by the cut host after its link came back: {dict((k, int(v)) for k, v in getattr(fleet, 'cut_refusals', {}).items())}")
    api = getattr(fleet, "api", {})
    print(f"API calls      counted {api.get('stored')} (all-time total {api.get('total_calls')}), "
          f"acknowledged to jobs {api.get('acknowledged', 0):.0f}, failed calls {api.get('errors', 0):.0f}, "
          f"denied {api.get('denied')}; jobs x {CALLS_PER_JOB}: see attempts")
    quota = getattr(fleet, "quota", None)
    if quota:
        print(f"quota          {quota['allowed']:.0f} last calls raced for: {quota['completed']} jobs completed, "
              f"{quota['failed']} failed quota_exhausted")
    proxy = getattr(fleet, "proxy", {})
    print(f"slow path      {proxy.get('connections')} connections through the proxy, {proxy.get('cut')} cut, "
          f"{proxy.get('bytes', 0) / 1e6:.1f} MB in {proxy.get('chunks')} delayed chunks")
    if hasattr(fleet, "failover_seconds"):
        print(f"failover       {fleet.failover_seconds:.1f} s from kill -9 to a replica serving the API counters")
    print("time per scenario:")
    for name, seconds in timings:
        print(f"  {seconds:6.1f} s  {name}")
    print(f"  {total:6.1f} s  the whole driver run")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    args = parser.parse_args()
    with open(args.config) as file:
        config = json.load(file)
    fleet = Fleet(config)
    started = time.monotonic()
    log(f"video ids start with {fleet.prefix}")
    watcher = UsageWatcher(fleet)
    watcher.start()
    load = None
    attempts = Counter()
    try:
        with timed("1, 2, 4. concurrent POSTs for one video; a status seen everywhere"):
            scenario_one_video(fleet, 5, 1)
            scenario_one_video(fleet, 10, 2)
            scenario_visible_everywhere(fleet)
        per_instance = max(1, config["max_jobs"] - 4)  # room for the faults' own jobs
        load = Load(fleet, config["videos"], per_instance, bound=600)
        with timed(f"3. {config['videos']} videos through the fleet, faults a-d during the load"):
            load.start()
            faults(fleet, load)
            load.join()
        check(f"3. the load finished within its bound", len(load.done) == len(load.ids),
              f"{len(load.done)} of {len(load.ids)} done")
        scenario_quota(fleet)
        attempts = final_checks(fleet, load, watcher)
        totals = Counter()
        for name in fleet.live_names():
            for n, labels, value in fleet.metrics(name) or []:
                if n == "video_service_stale_writes_refused_total":
                    totals[labels.get("write")] += value
        for dead in fleet.dead:
            for n, labels, value in dead["samples"]:
                if n == "video_service_stale_writes_refused_total":
                    totals[labels.get("write")] += value
        fleet.refusals = totals
    except Exception as error:
        check("the scenarios ran to the end", False, f"{type(error).__name__}: {error}")
        import traceback
        traceback.print_exc()
    watcher.stop.set()
    if load is not None and hasattr(load, "seconds"):
        report(fleet, load, attempts, started)
    failures = results.count(False)
    print(f"fleet-test: {results.count(True)} passed, {failures} failed", flush=True)
    return 1 if failures or not results else 0


if __name__ == "__main__":
    sys.exit(main())

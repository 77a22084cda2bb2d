#!/usr/bin/env python3
"""The peer of schedlite-bench: the same burst, idle-precision, list and add workloads on
APScheduler 3 (BackgroundScheduler, SQLAlchemyJobStore on a SQLite file, ThreadPoolExecutor),
so that schedlite's figures can be compared side by side on the same machine.

Run it through bench/run_peer.sh, which installs `apscheduler<4` and `sqlalchemy` into
bench/.venv first:

    bench/run_peer.sh                 # both journal modes, 3 runs each
    bench/run_peer.sh --runs 1 --journal wal
    bench/run_peer.sh --journal wal --only burst --burst 10000,100000

Job defaults match schedlite's: misfire_grace_time 60 s, coalesce, max_instances 1.
Lateness is measured inside the job function: time.time() at its start minus the instant it
was scheduled for (passed to it as an argument). The table has the same columns as
schedlite-bench's and is printed and written to bench/results/peer-latest.md.
"""

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time

import apscheduler
from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
import sqlalchemy
from sqlalchemy import create_engine, event

UTC = dt.timezone.utc
LEAD = 2.0  # seconds between the end of preparation and the first due instant

RECORDS = []  # (scheduled epoch seconds, started epoch seconds)
LOCK = threading.Lock()
DONE = threading.Event()
TARGET = [0]


def noop(scheduled):
    """The job: records when it started against when it was due."""
    started = time.time()
    with LOCK:
        RECORDS.append((scheduled, started))
        if len(RECORDS) >= TARGET[0]:
            DONE.set()


def reset(target):
    with LOCK:
        RECORDS.clear()
        TARGET[0] = target
        DONE.clear()


def pct(sorted_values, q):
    if not sorted_values:
        return math.nan
    rank = math.ceil(q * len(sorted_values))
    return sorted_values[min(max(rank, 1), len(sorted_values)) - 1]


class Report:
    def __init__(self):
        self.metrics = []  # [scenario, metric, unit, values]
        self.notes = []
        self.incomplete = []  # runs that did not finish: the exit status says so

    def add(self, scenario, metric, unit, value):
        for m in self.metrics:
            if m[0] == scenario and m[1] == metric:
                m[3].append(value)
                return
        self.metrics.append([scenario, metric, unit, [value]])

    def note(self, text):
        print(f"note: {text}", file=sys.stderr)
        self.notes.append(text)

    def markdown(self):
        out = ["| scenario | metric | median | min | max | runs | unit |",
               "|---|---|---:|---:|---:|---:|---|"]
        for scenario, metric, unit, values in self.metrics:
            v = sorted(x for x in values if not math.isnan(x))
            med = statistics.median(v) if v else math.nan
            lo = v[0] if v else math.nan
            hi = v[-1] if v else math.nan
            out.append(f"| {scenario} | {metric} | {num(med)} | {num(lo)} | {num(hi)} | {len(values)} | {unit} |")
        text = "\n".join(out) + "\n"
        if self.notes:
            text += "\n" + "".join(f"- {n}\n" for n in self.notes)
        return text


def num(v):
    if math.isnan(v):
        return "-"
    if abs(v) >= 1000:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def make_scheduler(path, journal):
    engine = create_engine(f"sqlite:///{path}")
    if journal == "wal":
        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection, _record):
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # schedlite's setting with WAL: the peer pays for the same durability, no more.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        executors={"default": ThreadPoolExecutor(10)},
        job_defaults={"misfire_grace_time": 60, "coalesce": True, "max_instances": 1},
        timezone=UTC,
    )
    missed = [0]
    scheduler.add_listener(lambda _e: missed.__setitem__(0, missed[0] + 1), EVENT_JOB_MISSED)
    return scheduler, missed


def at(epoch):
    return dt.datetime.fromtimestamp(epoch, UTC)


def burst(report, tmp, journal, n, runs):
    scenario = f"peer burst {n} (journal={journal})"
    print(f"== {scenario}", file=sys.stderr)
    for run in range(runs):
        path = os.path.join(tmp, f"burst-{journal}-{run}.db")
        scheduler, missed = make_scheduler(path, journal)
        scheduler.start(paused=True)
        # Calibrate: time 200 adds, then give the rest a generous margin before the due instant.
        t = time.time()
        probe_due = t + 3600
        for i in range(200):
            scheduler.add_job(noop, "date", run_date=at(probe_due), args=[probe_due], id=f"p{i}")
        per_add = (time.time() - t) / 200
        for i in range(200):
            scheduler.remove_job(f"p{i}")
        due = round(time.time() + per_add * n * 1.5 + LEAD, 3)
        reset(n)
        t = time.time()
        for i in range(n):
            scheduler.add_job(noop, "date", run_date=at(due), args=[due], id=f"b{i:07d}")
        added = time.time()
        if due - added < 1.0:
            report.note(f"{scenario} run {run + 1}: adding took too long; resumed only {due - added:.2f} s before due")
        scheduler.resume()
        DONE.wait(timeout=max(0.0, due - time.time()) + 120)
        scheduler.shutdown(wait=True)
        with LOCK:
            records = list(RECORDS)
        late = sorted((s - sch) * 1000 for sch, s in records)
        last = max((s for _, s in records), default=math.nan)
        last_ms = (last - due) * 1000
        rate = len(records) / (last_ms / 1000) if records else math.nan
        if len(records) < n:
            report.note(f"{scenario} run {run + 1}: {len(records)} of {n} ran, {missed[0]} missed")
            report.incomplete.append(f"{scenario} run {run + 1}")
        print(f"   run {run + 1}: {len(records)} ran, {rate:.0f}/s, last {last_ms:.0f} ms after due, "
              f"p99 {pct(late, 0.99):.0f} ms, {missed[0]} missed; add {n / (added - t):.0f}/s", file=sys.stderr)
        report.add(scenario, "occurrences run per second", "1/s", rate)
        report.add(scenario, "due → last started", "ms", last_ms)
        report.add(scenario, "lateness p50", "ms", pct(late, 0.5))
        report.add(scenario, "lateness p99", "ms", pct(late, 0.99))
        report.add(scenario, "lateness max", "ms", pct(late, 1.0))
        report.add(scenario, "missed (late beyond 60 s grace)", "", float(missed[0]))


def idle(report, tmp, journal, n, runs):
    scenario = f"peer idle {n} (journal={journal})"
    print(f"== {scenario}", file=sys.stderr)
    for run in range(runs):
        path = os.path.join(tmp, f"idle-{journal}-{run}.db")
        scheduler, _ = make_scheduler(path, journal)
        scheduler.start()
        reset(n)
        base = round(time.time() + LEAD, 3)
        for i in range(n):
            when = base + (97 * i + (i * 13) % 50) / 1000
            scheduler.add_job(noop, "date", run_date=at(when), args=[when], id=f"i{i:07d}")
        DONE.wait(timeout=60)
        scheduler.shutdown(wait=True)
        with LOCK:
            late = sorted((s - sch) * 1000 for sch, s in RECORDS)
        if len(late) < n:
            report.note(f"{scenario} run {run + 1}: {len(late)} of {n} ran")
        print(f"   p50 {pct(late, 0.5):.1f} p99 {pct(late, 0.99):.1f} max {pct(late, 1.0):.1f} ms", file=sys.stderr)
        report.add(scenario, "lateness p50", "ms", pct(late, 0.5))
        report.add(scenario, "lateness p99", "ms", pct(late, 0.99))
        report.add(scenario, "lateness max", "ms", pct(late, 1.0))


def list_and_add(report, tmp, journal, n, runs, window):
    scenario = f"peer jobs API, {n} jobs (journal={journal})"
    print(f"== {scenario}", file=sys.stderr)
    for run in range(runs):
        path = os.path.join(tmp, f"list-{journal}-{run}.db")
        scheduler, _ = make_scheduler(path, journal)
        scheduler.start()
        tomorrow = time.time() + 86400
        t = time.time()
        for i in range(n):
            scheduler.add_job(noop, "interval", seconds=86400, start_date=at(tomorrow + i * 8.64),
                              args=[0], id=f"s{i:07d}")
        add_rate = n / (time.time() - t)
        # get_jobs(): the whole list (APScheduler 3 has no paging).
        lat = []
        stop_at = time.time() + window
        while time.time() < stop_at or len(lat) < 3:
            t = time.time()
            jobs = scheduler.get_jobs()
            lat.append((time.time() - t) * 1000)
        listed = len(jobs)
        lat.sort()
        # get_job(id): one job.
        one = []
        stop_at = time.time() + window
        while time.time() < stop_at:
            i = random.randrange(n)
            t = time.time()
            job = scheduler.get_job(f"s{i:07d}")
            one.append((time.time() - t) * 1000)
            if job is None:
                report.note(f"{scenario}: get_job(s{i:07d}) found nothing")
                break
        one.sort()
        # add_job from 8 threads at once, for `window` seconds.
        counts = [0] * 8
        stop_at = time.time() + window

        def adder(k):
            j = 0
            while time.time() < stop_at:
                scheduler.add_job(noop, "interval", seconds=3600, args=[0], id=f"t{k}-{j}")
                j += 1
            counts[k] = j

        t = time.time()
        threads = [threading.Thread(target=adder, args=(k,)) for k in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        add8_rate = sum(counts) / (time.time() - t)
        scheduler.shutdown(wait=True)
        print(f"   add {add_rate:.0f}/s (8 threads {add8_rate:.0f}/s), get_jobs() of {listed}: p50 {pct(lat, 0.5):.0f} ms, "
              f"get_job p50 {pct(one, 0.5):.2f} p99 {pct(one, 0.99):.2f} ms ({len(one) / window:.0f}/s)", file=sys.stderr)
        report.add(scenario, "add_job per second, 1 thread", "1/s", add_rate)
        report.add(scenario, "add_job per second, 8 threads", "1/s", add8_rate)
        report.add(scenario, f"get_jobs() (all {listed}) latency p50", "ms", pct(lat, 0.5))
        report.add(scenario, f"get_jobs() (all {listed}) latency p99", "ms", pct(lat, 0.99))
        report.add(scenario, "get_job(id) latency p50", "ms", pct(one, 0.5))
        report.add(scenario, "get_job(id) latency p99", "ms", pct(one, 0.99))
        report.add(scenario, "get_job(id) per second, 1 thread", "1/s", len(one) / window)


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--journal", choices=["delete", "wal", "both"], default="both")
    parser.add_argument("--burst", type=lambda s: [int(x) for x in s.split(",")], default=[10_000],
                        help="burst sizes, comma-separated (schedlite-bench passes its own)")
    parser.add_argument("--json", help="also write every run's value of each metric to this JSON file")
    parser.add_argument("--list-jobs", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=3.0)
    parser.add_argument("--only", default="burst,idle,list")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "results", "peer-latest.md"))
    args = parser.parse_args()
    only = set(args.only.split(","))
    journals = ["delete", "wal"] if args.journal == "both" else [args.journal]
    report = Report()
    tmp = tempfile.mkdtemp(prefix="schedlite-peer-")
    started = time.time()
    try:
        for journal in journals:
            if "burst" in only:
                for n in args.burst:
                    burst(report, tmp, journal, n, args.runs)
            if "idle" in only:
                idle(report, tmp, journal, 50, args.runs)
            if "list" in only:
                list_and_add(report, tmp, journal, args.list_jobs, args.runs, args.window)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    head = (f"# APScheduler peer results\n\n"
            f"{dt.datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} · {machine()} · "
            f"Python {platform.python_version()}, APScheduler {apscheduler.__version__ if hasattr(apscheduler, '__version__') else '3'}, "
            f"SQLAlchemy {sqlalchemy.__version__} · {args.runs} run(s) per figure · {time.time() - started:.0f} s\n\n")
    doc = head + report.markdown()
    print(doc)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(doc)
    print(f"written to {args.out}", file=sys.stderr)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{"scenario": s, "metric": m, "unit": u, "values": v}
                       for s, m, u, v in report.metrics], f)
    if report.incomplete:
        print(f"error: incomplete runs: {', '.join(report.incomplete)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""cronq's benchmark: prints a Markdown table of medians and the ratios issue 6 sets.

    python3 benches/bench.py            # full run (a few minutes)
    python3 benches/bench.py --quick    # fewer repetitions, for a smoke test

Python 3 standard library only. It builds cronq twice: statically linked (the build
docs/install.md recommends) and the default dynamic build, creates its databases in a
temporary directory, and measures. Every figure is a median over repetitions that are
interleaved with their baseline, so a noisy neighbour slows both sides of a ratio alike.
"""

import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
NOW = "2026-11-23T09:00:00Z"
NOW_TS = 1795424400


def iso(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def build():
    host = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    triple = next(line.split(": ")[1] for line in host.splitlines() if line.startswith("host: "))
    env = dict(os.environ, RUSTFLAGS="-C target-feature=+crt-static")
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--target", triple, "--target-dir", "target/static"],
        cwd=ROOT, env=env, check=True,
    )
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return (
        os.path.join(ROOT, "target/static", triple, "release/cronq"),
        os.path.join(ROOT, "target/release/cronq"),
    )


def run(cmd, stdin=None, check=True):
    result = subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if check and result.returncode != 0:
        raise SystemExit(f"{cmd} failed: {result.stderr.decode()}")
    return result


def timed(cmd, stdin=None):
    began = time.perf_counter()
    run(cmd, stdin)
    return time.perf_counter() - began


def interleaved(commands, rounds, per_round):
    """Median seconds of each command, alternating between them round by round."""
    samples = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            for _ in range(per_round):
                samples[name].append(timed(cmd))
    return {name: statistics.median(xs) for name, xs in samples.items()}


def cronq(binary, db, *args, now=NOW):
    return [binary, "--db", db, "--now", now, *args]


def crontab(lines):
    return "".join(f"# cronq: job{i}\n{expr} true\n" for i, expr in enumerate(lines))


def import_jobs(binary, db, tmp, lines):
    path = os.path.join(tmp, "crontab")
    with open(path, "w") as f:
        f.write(crontab(lines))
    return timed(cronq(binary, db, "import", path))


def add_finished_runs(db, count, jobs, finished_at):
    conn = sqlite3.connect(db)
    rows = (
        (f"job{i % jobs}", i, "success", finished_at - 60, finished_at - 60, finished_at, 0)
        for i in range(count)
    )
    conn.executemany(
        "INSERT INTO runs (job, slot, status, due_at, created_at, finished_at, exit_code) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.commit()
    conn.close()


def fresh_copy(template, tmp, name):
    db = os.path.join(tmp, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
        if os.path.exists(template + suffix):
            shutil.copyfile(template + suffix, db + suffix)
    return db


def main():
    static, dynamic = build()
    tmp = tempfile.mkdtemp(prefix="cronq-bench-")
    rows = []
    try:
        # 1. Idle passes: one job vs 10,000 jobs and 1,000,000 finished runs.
        one = os.path.join(tmp, "one.db")
        run(cronq(static, one, "add", "solo", "--schedule", "0 3 * * *", "--", "true"))
        big = os.path.join(tmp, "big.db")
        minutes = [f"{(i * 7) % 60} {(i // 60) % 24} * * *" for i in range(10_000)]
        # Nothing is due at NOW + 1 s: the jobs start from NOW.
        import_seconds = import_jobs(static, big, tmp, minutes)
        add_finished_runs(big, 1_000_000, 10_000, NOW_TS - 86_400)
        idle_now = iso(NOW_TS + 1)
        rounds, per_round = (3, 30) if QUICK else (10, 60)
        idle = interleaved(
            {
                "true": ["/bin/true"],
                "one": cronq(static, one, "run", now=idle_now),
                "big": cronq(static, big, "run", now=idle_now),
                "one (dynamic build)": cronq(dynamic, one, "run", now=idle_now),
                "big (dynamic build)": cronq(dynamic, big, "run", now=idle_now),
            },
            rounds,
            per_round,
        )
        ms = lambda s: f"{s * 1000:.2f} ms"
        rows.append(("spawn /bin/true", ms(idle["true"]), "", ""))
        rows.append(("idle pass, 1 job", ms(idle["one"]), f"{idle['one'] / idle['true']:.2f}x true", ""))
        rows.append((
            "idle pass, 10,000 jobs + 1,000,000 runs",
            ms(idle["big"]),
            f"{idle['big'] / idle['one']:.2f}x 1 job; {idle['big'] / idle['true']:.2f}x true",
            "<= 1.3x 1 job; <= 3x true",
        ))
        rows.append((
            "  same, default dynamic build",
            ms(idle["big (dynamic build)"]),
            f"{idle['big (dynamic build)'] / idle['one (dynamic build)']:.2f}x 1 job; "
            f"{idle['big (dynamic build)'] / idle['true']:.2f}x true",
            "(for comparison)",
        ))
        rows.append(("import 10,000 crontab lines", f"{import_seconds:.2f} s", "", "a couple of seconds"))

        # 2. 10,000 jobs due in the same minute, planned by one pass (which also runs one).
        due_template = os.path.join(tmp, "due-template.db")
        import_jobs(static, due_template, tmp, ["* * * * *"] * 10_000)
        run(cronq(static, due_template, "settings", "jobs_max_portion", "1"))
        reps = 3 if QUICK else 7
        plan = []
        for _ in range(reps):
            db = fresh_copy(due_template, tmp, "due.db")
            plan.append(timed(cronq(static, db, "run", now=iso(NOW_TS + 60))))
        conn = sqlite3.connect(db)
        queued = conn.execute("SELECT count(*) FROM runs WHERE slot IS NOT NULL").fetchone()[0]
        conn.close()
        assert queued == 10_000, queued
        rows.append((
            "pass planning 10,000 due jobs (+ running 1)",
            f"{statistics.median(plan) * 1000:.0f} ms",
            "",
            "< 500 ms",
        ))

        # 3. Draining 2,000 queued `true` runs in one pass vs a shell loop of 2,000 `sh -c true`.
        drain_template = os.path.join(tmp, "drain-template.db")
        run(cronq(static, drain_template, "add", "t", "--", "true"))
        run(cronq(static, drain_template, "settings", "jobs_max_portion", "2000"))
        run(cronq(static, drain_template, "enqueue", "t", "--stdin"), stdin=b"{}\n" * 2000)
        loop = ["/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do /bin/sh -c true; i=$((i+1)); done"]
        drain, shell = [], []
        for _ in range(3 if QUICK else 5):
            db = fresh_copy(drain_template, tmp, "drain.db")
            drain.append(timed(cronq(static, db, "run")))
            shell.append(timed(loop))
        d, s = statistics.median(drain), statistics.median(shell)
        rows.append(("shell loop: 2,000 x sh -c true", f"{s:.2f} s", "", ""))
        rows.append(("one pass draining 2,000 true runs", f"{d:.2f} s", f"{d / s:.2f}x shell loop", "<= 1.5x"))

        # 4. Bulk enqueue of 100,000 runs through --stdin.
        lines = "".join(
            json.dumps({"target_id": str(i), "target_type": "Account", "data": {"n": i}}) + "\n"
            for i in range(100_000)
        ).encode()
        enqueue = []
        for _ in range(3 if QUICK else 5):
            db = fresh_copy(drain_template, tmp, "bulk.db")
            enqueue.append(timed(cronq(static, db, "enqueue", "t", "--stdin"), stdin=lines))
        e = statistics.median(enqueue)
        rows.append(("enqueue --stdin, 100,000 runs", f"{e:.2f} s", f"{100_000 / e:,.0f} runs/s", ">= 50,000 runs/s"))

        # 5. Cleanup of 1,000,000 old runs while another process keeps taking the write lock.
        clean_template = os.path.join(tmp, "clean-template.db")
        import_jobs(static, clean_template, tmp, ["0 3 * * *"] * 100)
        add_finished_runs(clean_template, 1_000_000, 100, NOW_TS - 90 * 86_400)
        db = fresh_copy(clean_template, tmp, "clean.db")
        waits, done = [], threading.Event()

        def probe():
            # Takes the write lock as a pass does: cronq's busy handler tries every 1 ms.
            conn = sqlite3.connect(db, timeout=0, isolation_level=None)
            while not done.is_set():
                began = time.perf_counter()
                while True:
                    try:
                        conn.execute("BEGIN IMMEDIATE")
                        break
                    except sqlite3.OperationalError:
                        time.sleep(0.001)
                conn.execute("COMMIT")
                waits.append(time.perf_counter() - began)
                time.sleep(0.005)
            conn.close()

        prober = threading.Thread(target=probe)
        prober.start()
        began = time.perf_counter()
        run(cronq(static, db, "run-job", "Cleanup"))
        cleanup = time.perf_counter() - began
        done.set()
        prober.join()
        conn = sqlite3.connect(db)
        left = conn.execute("SELECT count(*) FROM runs WHERE job LIKE 'job%'").fetchone()[0]
        conn.close()
        assert left == 100 * 10, left
        rows.append(("Cleanup of 1,000,000 old runs", f"{cleanup:.1f} s", f"{len(waits)} probes", ""))
        rows.append((
            "  longest wait for the write lock meanwhile",
            f"{max(waits) * 1000:.0f} ms",
            f"p99 {sorted(waits)[int(len(waits) * 0.99)] * 1000:.0f} ms",
            "<= 100 ms",
        ))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}")
    print(f"build: statically linked release (RUSTFLAGS='-C target-feature=+crt-static'), unless noted")
    print()
    print("| measurement | median | ratio | target |")
    print("| --- | ---: | --- | --- |")
    for name, value, ratio, target in rows:
        print(f"| {name} | {value} | {ratio} | {target} |")


if __name__ == "__main__":
    main()

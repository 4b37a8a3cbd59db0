#!/usr/bin/env python3
"""cronq's benchmark: prints a Markdown table of medians and the ratios issue 6 sets.

    python3 benches/bench.py            # full run (a few minutes)
    python3 benches/bench.py --quick    # fewer repetitions, for a smoke test

Python 3 standard library only. It builds cronq twice: statically linked (the build
docs/install.md recommends) and the default dynamic build, creates its databases in a
temporary directory, and measures. Every figure is a median over repetitions that are
interleaved with their baseline, so a noisy neighbour slows both sides of a ratio alike.

The PostgreSQL rows use the server the tests use (CRONQ_TEST_POSTGRES, an admin URL whose
user may create databases, else postgresql://postgres@127.0.0.1:5432/postgres), through
the psql client and cronq itself; they are skipped, with a note, when none answers. Their
databases are created for the run and dropped at its end.
"""

import glob
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


def run(cmd, stdin=None, check=True, env=None):
    result = subprocess.run(cmd, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if check and result.returncode != 0:
        raise SystemExit(f"{cmd} failed: {result.stderr.decode()}")
    return result


def timed(cmd, stdin=None, env=None):
    began = time.perf_counter()
    run(cmd, stdin, env=env)
    return time.perf_counter() - began


def interleaved(commands, rounds, per_round):
    """Median seconds of each command, alternating between them round by round. A command
    is an argument list, or (argument list, environment)."""
    samples = {name: [] for name in commands}
    for _ in range(rounds):
        for name, cmd in commands.items():
            cmd, env = cmd if isinstance(cmd, tuple) else (cmd, None)
            for _ in range(per_round):
                samples[name].append(timed(cmd, env=env))
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


# ---------------------------------------------------------------------------------------
# PostgreSQL, through psql and cronq (no Python driver)

PG_ENV = "CRONQ_TEST_POSTGRES"
PG_LOCAL = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url, name):
    """`url` with its database name replaced by `name`, keeping user, host, port and query."""
    scheme, rest = url.split("://", 1)
    cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0], default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    query = tail[tail.find("?"):] if "?" in tail else ""
    return f"{scheme}://{authority}/{name}{query}"


def psql(url, sql, check=True):
    """Runs one statement with psql; its output, or None when it failed and check is off."""
    result = subprocess.run(
        ["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, url],
        capture_output=True, text=True, env=dict(os.environ, PGCONNECT_TIMEOUT="5"),
    )
    if result.returncode != 0:
        if check:
            raise SystemExit(f"psql {sql!r} at {url} failed: {result.stderr.strip()}")
        return None
    return result.stdout.strip()


def psql_binary():
    """The psql program itself. Debian's `psql` on PATH is pg_wrapper, a Perl script that
    picks a version and then runs the real psql: its start-up would flatter cronq."""
    on_path = os.path.realpath(shutil.which("psql"))
    with open(on_path, "rb") as f:
        if f.read(2) != b"#!":
            return on_path
    found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True) \
        if shutil.which("pg_config") else None
    candidates = [os.path.join(found.stdout.strip(), "psql")] if found and found.returncode == 0 else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"),
                         key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
                         reverse=True)
    return next((c for c in candidates if os.access(c, os.X_OK)), on_path)


def find_postgres():
    """The admin URL of the server the tests use, or (None, why) when none answers."""
    if shutil.which("psql") is None:
        return None, "no psql client on PATH"
    url = os.environ.get(PG_ENV) or PG_LOCAL
    if psql(url, "SELECT 1", check=False) != "1":
        source = f"{PG_ENV}={url}" if os.environ.get(PG_ENV) else url
        return None, f"no PostgreSQL server answered at {source}"
    return url, None


class Postgres:
    """Databases of this benchmark on the server of `admin`, dropped by close()."""

    def __init__(self, admin):
        self.admin = admin
        self.names = []

    def create(self, template=None):
        name = f"cronq_bench_{os.getpid()}_{len(self.names)}"
        self.names.append(name)
        clause = f' TEMPLATE "{template}"' if template else ""
        psql(self.admin, f'CREATE DATABASE "{name}"{clause}')
        return name

    def url(self, name):
        return with_database(self.admin, name)

    def drop(self, name):
        psql(self.admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', check=False)

    def close(self):
        for name in self.names:
            self.drop(name)


def host_env(tmp, host):
    """The environment of a simulated host: its own id and state directory (its lock files)."""
    state = os.path.join(tmp, f"state-{host}")
    os.makedirs(state, mode=0o700, exist_ok=True)
    return dict(os.environ, CRONQ_HOST_ID=host, XDG_STATE_HOME=state)


def postgres_rows(static, tmp, admin, sqlite_idle, sqlite_drain):
    pg = Postgres(admin)
    rows = []
    try:
        a, b = host_env(tmp, "host-a"), host_env(tmp, "host-b")
        # (a) An idle pass against psql connecting and running one query.
        one = pg.url(pg.create())
        run(cronq(static, one, "add", "solo", "--schedule", "0 3 * * *", "--", "true"), env=a)
        rounds, per_round = (3, 20) if QUICK else (10, 40)
        client = psql_binary()
        commands = {
            "psql --version": [client, "--version"],
            "psql": [client, "-X", "-q", "-c", "SELECT 1", one],
            "pass": (cronq(static, one, "run", now=iso(NOW_TS + 1)), a),
        }
        wrapped = os.path.realpath(shutil.which("psql")) != client
        if wrapped:
            commands["psql on PATH"] = ["psql", "-X", "-q", "-c", "SELECT 1", one]
        idle = interleaved(commands, rounds, per_round)
        ms = lambda s: f"{s * 1000:.2f} ms"
        rows.append(("PostgreSQL: psql --version (its start-up alone)", ms(idle["psql --version"]), "", ""))
        rows.append(("PostgreSQL: psql -X -q -c 'SELECT 1' URL", ms(idle["psql"]), "", ""))
        if wrapped:
            rows.append((
                "  same through the psql on PATH (a wrapper script)",
                ms(idle["psql on PATH"]),
                "",
                "(for comparison)",
            ))
        rows.append((
            "PostgreSQL: idle pass, 1 job",
            ms(idle["pass"]),
            f"{idle['pass'] / idle['psql']:.2f}x psql; {idle['pass'] / sqlite_idle:.2f}x SQLite",
            "<= 1.5x psql",
        ))

        # (b) Draining 2,000 `true` runs: one host alone, then two hosts at once.
        template = pg.create()
        turl = pg.url(template)
        run(cronq(static, turl, "add", "t", "--", "true"), env=a)
        run(cronq(static, turl, "settings", "jobs_max_portion", "2000"), env=a)
        run(cronq(static, turl, "enqueue", "t", "--stdin"), stdin=b"{}\n" * 2000, env=a)
        alone, together, split = [], [], None
        for _ in range(3 if QUICK else 5):
            name = pg.create(template)
            url = pg.url(name)
            alone.append(timed(cronq(static, url, "run"), env=a))
            assert psql(url, "SELECT count(*) FROM runs WHERE status = 'success'") == "2000"
            pg.drop(name)

            name = pg.create(template)
            url = pg.url(name)
            began = time.perf_counter()
            passes = [
                subprocess.Popen(cronq(static, url, "run"), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for env in (a, b)
            ]
            for p in passes:
                _, err = p.communicate()
                if p.returncode != 0:
                    raise SystemExit(f"a pass of two hosts failed: {err.decode()}")
            together.append(time.perf_counter() - began)
            assert psql(url, "SELECT count(*) FROM runs WHERE status = 'success'") == "2000"
            split = psql(url, "SELECT string_agg(n::text, '/' ORDER BY owner_host) FROM "
                              "(SELECT owner_host, count(*) AS n FROM runs GROUP BY owner_host) c")
            pg.drop(name)
        one_host, two_hosts = statistics.median(alone), statistics.median(together)
        rows.append((
            "PostgreSQL: one host draining 2,000 true runs",
            f"{one_host:.2f} s",
            f"{one_host / sqlite_drain:.2f}x SQLite",
            "",
        ))
        rows.append((
            "PostgreSQL: two hosts draining them at once",
            f"{two_hosts:.2f} s",
            f"{two_hosts / one_host:.2f}x one host (runs split {split})",
            "<= 0.7x one host",
        ))
    finally:
        pg.close()
    return rows


def main():
    static, dynamic = build()
    tmp = tempfile.mkdtemp(prefix="cronq-bench-")
    rows, notes = [], []
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

        # 6. PostgreSQL: an idle pass against psql; draining with one host and with two.
        admin, why = find_postgres()
        if admin is None:
            notes.append(f"PostgreSQL rows skipped: {why} (set {PG_ENV} to an admin URL)")
        else:
            settings = psql(admin, "SELECT string_agg(name || ' ' || setting, ', ' ORDER BY name) "
                                   "FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')")
            version = psql(admin, "SHOW server_version")
            notes.append(f"PostgreSQL {version} at {admin} ({settings}); psql is {psql_binary()}")
            rows.extend(postgres_rows(static, tmp, admin, idle["one"], d))
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
    for note in notes:
        print()
        print(f"note: {note}")


if __name__ == "__main__":
    main()

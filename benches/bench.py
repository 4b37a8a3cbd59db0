#!/usr/bin/env python3
"""cronq's benchmark: prints a Markdown table of medians, the ratios issue 13 sets as
targets, and the peers' figures that issue quoted.

    python3 benches/bench.py                     # full run (about half an hour)
    python3 benches/bench.py --quick             # fewer repetitions
    python3 benches/bench.py --only=idle,drain   # some sections: idle, drain, scale,
                                                 # cleanup, postgres

Python 3 standard library only. It builds cronq twice: the default `cargo build
--release` (dynamically linked, what README and `cargo install` give), which every row
measures, and the statically linked build docs/install.md describes, for one comparison
row. It creates its databases in a temporary directory. Every figure is a median over
repetitions interleaved with their baseline, so a noisy neighbour slows both sides of a
ratio alike. Idle passes run as the crontab runs them (`cronq --db PATH run`, on the real
clock); the other rows pin the clock with --now.

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


def postgres_rows(binary, tmp, admin, sqlite_idle, sqlite_drain):
    pg = Postgres(admin)
    rows = []
    try:
        a, b = host_env(tmp, "host-a"), host_env(tmp, "host-b")
        # (a) An idle pass against psql connecting and running one query.
        one = pg.url(pg.create())
        ahead = time.gmtime(time.time() + 2 * 86_400)
        schedule = f"0 3 {ahead.tm_mday} {ahead.tm_mon} *"
        run([binary, "--db", one, "add", "solo", "--schedule", schedule, "--", "true"], env=a)
        run([binary, "--db", one, "run"], env=a)
        rounds, per_round = (3, 20) if QUICK else (10, 40)
        client = psql_binary()
        commands = {
            "psql --version": [client, "--version"],
            "psql": [client, "-X", "-q", "-c", "SELECT 1", one],
            "pass": ([binary, "--db", one, "run"], a),
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
            f"{idle['pass'] / idle['psql']:.2f}x psql"
            + (f"; {idle['pass'] / sqlite_idle:.2f}x SQLite" if sqlite_idle else ""),
            "<= 1.5x psql",
        ))

        # (b) Draining 4,000 `true` runs: one host alone, then two hosts at once.
        template = pg.create()
        turl = pg.url(template)
        run(cronq(binary, turl, "add", "t", "--", "true"), env=a)
        run(cronq(binary, turl, "settings", "jobs_max_portion", "4000"), env=a)
        run(cronq(binary, turl, "enqueue", "t", "--stdin"), stdin=b"{}\n" * 4000, env=a)
        alone, together, split = [], [], None
        for _ in range(3 if QUICK else 5):
            name = pg.create(template)
            url = pg.url(name)
            alone.append(timed(cronq(binary, url, "run"), env=a))
            assert psql(url, "SELECT count(*) FROM runs WHERE status = 'success'") == "4000"
            pg.drop(name)

            name = pg.create(template)
            url = pg.url(name)
            began = time.perf_counter()
            passes = [
                subprocess.Popen(cronq(binary, url, "run"), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                for env in (a, b)
            ]
            for p in passes:
                _, err = p.communicate()
                if p.returncode != 0:
                    raise SystemExit(f"a pass of two hosts failed: {err.decode()}")
            together.append(time.perf_counter() - began)
            assert psql(url, "SELECT count(*) FROM runs WHERE status = 'success'") == "4000"
            split = psql(url, "SELECT string_agg(n::text, '/' ORDER BY owner_host) FROM "
                              "(SELECT owner_host, count(*) AS n FROM runs GROUP BY owner_host) c")
            pg.drop(name)
        one_host, two_hosts = statistics.median(alone), statistics.median(together)
        rows.append((
            "PostgreSQL: one host draining 4,000 true runs",
            f"{one_host:.2f} s",
            f"{one_host / (2 * sqlite_drain):.2f}x SQLite" if sqlite_drain else "",
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


def idle_databases(binary, tmp, jobs, runs):
    """A database for idle passes on the real clock (no --now: the crontab's own command
    line), with `jobs` jobs due on one minute two days ahead and `runs` finished runs."""
    db = os.path.join(tmp, f"idle-{jobs}-{runs}.db")
    ahead = time.gmtime(time.time() + 2 * 86_400)
    when = f"{ahead.tm_mday} {ahead.tm_mon} *"
    if jobs == 1:
        run([binary, "--db", db, "add", "solo", "--schedule", f"0 3 {when}", "--", "true"])
    else:
        path = os.path.join(tmp, "idle-crontab")
        with open(path, "w") as f:
            f.write(crontab([f"{i % 60} {(i // 60) % 24} {when}" for i in range(jobs)]))
        run([binary, "--db", db, "import", path])
    if runs:
        add_finished_runs(db, runs, jobs, int(time.time()) - 86_400)
    # The first pass notes this host and settles the files; later ones are the idle ones.
    run([binary, "--db", db, "run"])
    return db


def drain_template(binary, tmp, count, **settings):
    db = os.path.join(tmp, f"drain-{count}-{len(settings)}.db")
    run(cronq(binary, db, "add", "t", "--", "true"))
    for key, value in dict(jobs_max_portion=count, **settings).items():
        run(cronq(binary, db, "settings", key, str(value)))
    run(cronq(binary, db, "enqueue", "t", "--stdin"), stdin=b"{}\n" * count)
    return db


def shell_loop(count):
    return ["/bin/sh", "-c", f"i=0; while [ $i -lt {count} ]; do /bin/sh -c true; i=$((i+1)); done"]


def drained(db, count):
    conn = sqlite3.connect(db)
    done = conn.execute("SELECT count(*) FROM runs WHERE status = 'success'").fetchone()[0]
    conn.close()
    assert done == count, f"{done} of {count} runs succeeded"


# What the issue that set the drain targets measured for peers on this kind of machine, in
# one session, as ratios to the same shell loop (or to /bin/true): printed beside ours.
PEERS = [
    ("  peer: huey's consumer, two workers (quoted)", "", "1.84x shell loop", ""),
    ("  peer: task-spooler, two slots (quoted)", "", "3.10x shell loop", ""),
    ("  peer: php -r '' (the floor under the CRM's cron.php, quoted)", "", "12x true", ""),
]


def main():
    only = next((a.split("=", 1)[1].split(",") for a in sys.argv if a.startswith("--only=")), None)
    wanted = lambda section: only is None or section in only
    static, default = build()
    tmp = tempfile.mkdtemp(prefix="cronq-bench-")
    rows, notes = [], []
    ms = lambda s: f"{s * 1000:.2f} ms"
    idle, d = {}, None
    try:
        # 1. Idle passes, as the crontab runs them: `cronq --db PATH run`, the real clock.
        if wanted("idle"):
            one = idle_databases(default, tmp, 1, 0)
            big = idle_databases(default, tmp, 10_000, 1_000_000)
            huge = idle_databases(default, tmp, 1, 10_000_000)
            rounds, per_round = (3, 30) if QUICK else (10, 60)
            idle = interleaved(
                {
                    "true": ["/bin/true"],
                    "one": [default, "--db", one, "run"],
                    "one (static)": [static, "--db", one, "run"],
                    "big": [default, "--db", big, "run"],
                    "huge": [default, "--db", huge, "run"],
                },
                rounds,
                per_round,
            )
            t = idle["true"]
            rows.append(("spawn /bin/true", ms(t), "", ""))
            rows.append((
                "idle pass, 1 job (`cargo build --release`)",
                ms(idle["one"]), f"{idle['one'] / t:.2f}x true", "<= 2.5x true",
            ))
            rows.append((
                "  same, static build of docs/install.md",
                ms(idle["one (static)"]), f"{idle['one (static)'] / t:.2f}x true", "(for comparison)",
            ))
            rows.append((
                "idle pass, 10,000 jobs + 1,000,000 runs",
                ms(idle["big"]), f"{idle['big'] / idle['one']:.2f}x 1 job", "<= 1.3x 1 job",
            ))
            rows.append((
                "idle pass, 1 job + 10,000,000 finished runs",
                ms(idle["huge"]), f"{idle['huge'] / idle['one']:.2f}x fresh", "<= 1.3x fresh",
            ))
            rows.append(PEERS[2])

        # 2. Draining 2,000 queued `true` runs in one pass, one by one and with two workers,
        # against a shell loop that runs `/bin/sh -c true` 2,000 times.
        if wanted("drain"):
            sequential = drain_template(default, tmp, 2000)
            parallel = drain_template(default, tmp, 2000, jobs_run_in_parallel="true",
                                      jobs_pool_concurrency=2)
            one_by_one, side_by_side, shell = [], [], []
            for _ in range(3 if QUICK else 7):
                db = fresh_copy(sequential, tmp, "drain.db")
                one_by_one.append(timed(cronq(default, db, "run")))
                drained(db, 2000)
                shell.append(timed(shell_loop(2000)))
                db = fresh_copy(parallel, tmp, "drain.db")
                side_by_side.append(timed(cronq(default, db, "run")))
                drained(db, 2000)
            d, p, s = (statistics.median(x) for x in (one_by_one, side_by_side, shell))
            rows.append(("shell loop: 2,000 x sh -c true", f"{s:.2f} s", "", ""))
            rows.append(("one pass draining 2,000 true runs, sequential", f"{d:.2f} s",
                         f"{d / s:.2f}x shell loop", "<= 1.3x"))
            rows.append(("  same, parallel mode, 2 workers", f"{p:.2f} s",
                         f"{p / s:.2f}x shell loop", "<= 0.8x"))
            rows.extend(PEERS[:2])

        # 3. Cost that grows no faster than the work.
        if wanted("scale"):
            if d is None:
                small = fresh_copy(drain_template(default, tmp, 2000), tmp, "drain.db")
                d = timed(cronq(default, small, "run"))
            large = drain_template(default, tmp, 100_000)
            per_run = []
            for _ in range(1 if QUICK else 2):
                db = fresh_copy(large, tmp, "drain.db")
                per_run.append(timed(cronq(default, db, "run")) / 100_000)
                drained(db, 100_000)
            big_run = statistics.median(per_run)
            rows.append((
                "one pass draining 100,000 true runs, per run",
                ms(big_run), f"{big_run / (d / 2000):.2f}x per run of 2,000", "<= 1.2x",
            ))

            for count, target in ((10_000, "< 500 ms"), (100_000, "< 5 s")):
                template = os.path.join(tmp, f"due-{count}.db")
                import_jobs(default, template, tmp, ["* * * * *"] * count)
                run(cronq(default, template, "settings", "jobs_max_portion", "1"))
                plan = []
                for _ in range(3 if QUICK else 5):
                    db = fresh_copy(template, tmp, "due.db")
                    plan.append(timed(cronq(default, db, "run", now=iso(NOW_TS + 60))))
                conn = sqlite3.connect(db)
                queued = conn.execute("SELECT count(*) FROM runs WHERE slot IS NOT NULL").fetchone()[0]
                conn.close()
                assert queued == count, queued
                rows.append((
                    f"pass planning {count:,} jobs due in one minute (+ running 1)",
                    f"{statistics.median(plan):.2f} s", "", target,
                ))

            import_seconds = import_jobs(default, os.path.join(tmp, "import.db"), tmp,
                                         [f"{(i * 7) % 60} {(i // 60) % 24} * * *" for i in range(10_000)])
            rows.append(("import 10,000 crontab lines", f"{import_seconds:.2f} s", "", "a couple of seconds"))

            bulk = drain_template(default, tmp, 1)
            lines = "".join(
                json.dumps({"target_id": str(i), "target_type": "Account", "data": {"n": i}}) + "\n"
                for i in range(100_000)
            ).encode()
            enqueue = []
            for _ in range(3 if QUICK else 5):
                db = fresh_copy(bulk, tmp, "bulk.db")
                enqueue.append(timed(cronq(default, db, "enqueue", "t", "--stdin"), stdin=lines))
            e = statistics.median(enqueue)
            rows.append(("enqueue --stdin, 100,000 runs", f"{e:.2f} s", f"{100_000 / e:,.0f} runs/s",
                         ">= 50,000 runs/s"))

        # 4. Cleanup of 1,000,000 old runs while another process keeps taking the write lock.
        if wanted("cleanup"):
            clean_template = os.path.join(tmp, "clean-template.db")
            import_jobs(default, clean_template, tmp, ["0 3 * * *"] * 100)
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
            run(cronq(default, db, "run-job", "Cleanup"))
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

        # 5. PostgreSQL: an idle pass against psql; draining with one host and with two.
        if wanted("postgres"):
            admin, why = find_postgres()
            if admin is None:
                notes.append(f"PostgreSQL rows skipped: {why} (set {PG_ENV} to an admin URL)")
            else:
                settings = psql(admin, "SELECT string_agg(name || ' ' || setting, ', ' ORDER BY name) "
                                       "FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')")
                version = psql(admin, "SHOW server_version")
                notes.append(f"PostgreSQL {version} at {admin} ({settings}); psql is {psql_binary()}")
                rows.extend(postgres_rows(default, tmp, admin, idle.get("one"), d))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}")
    print("build: `cargo build --release` (the default, dynamically linked), unless noted")
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

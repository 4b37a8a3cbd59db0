-- The cronq schema. Applied once, in one transaction, to a new database; the version
-- lives in PRAGMA user_version (set by src/store/mod.rs after this file runs). Times are
-- Unix seconds (UTC). See docs/schema.md for what each column means.

CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    command          TEXT,                      -- shell command line of a command job
    builtin          TEXT,                      -- name of the built-in a built-in job runs
    env              TEXT,                      -- JSON object: extra environment (from import)
    schedule         TEXT,                      -- cron expression; NULL: runs only when queued
    tz               TEXT NOT NULL DEFAULT 'UTC',
    timeout          INTEGER,                   -- seconds; NULL: setting job_timeout
    retries          INTEGER,                   -- NULL: setting job_retries
    catchup          TEXT NOT NULL DEFAULT 'latest' CHECK (catchup IN ('latest', 'all', 'skip')),
    overlap          TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'allow')),
    requires_target  INTEGER NOT NULL DEFAULT 0,
    active           INTEGER NOT NULL DEFAULT 1,
    last_slot        INTEGER,                   -- newest slot dealt with (or when the schedule started)
    next_slot        INTEGER,                   -- first slot after last_slot; NULL: nothing scheduled
    last_status      TEXT,                      -- status of the newest finished run
    last_finished_at INTEGER,
    last_host        TEXT,                      -- the host that ran the newest finished run
    ping             TEXT,                      -- monitoring URL pinged per run (docs/pings.md)
    created_at       INTEGER NOT NULL,
    CHECK ((command IS NULL) <> (builtin IS NULL))
);

-- An idle pass is one probe of this index: nothing walks all jobs.
CREATE INDEX jobs_next_slot ON jobs (next_slot) WHERE next_slot IS NOT NULL;

CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    job           TEXT NOT NULL,                -- job name; history outlives a removed job
    slot          INTEGER,                      -- schedule slot; NULL for enqueue and run-job
    status        TEXT NOT NULL CHECK (status IN
                      ('pending', 'running', 'success', 'failed', 'skipped', 'missed')),
    priority      INTEGER NOT NULL DEFAULT 0,
    due_at        INTEGER NOT NULL,
    attempt       INTEGER NOT NULL DEFAULT 1,
    max_attempts  INTEGER NOT NULL DEFAULT 1,
    target_id     TEXT,
    target_type   TEXT,
    data          TEXT,                         -- JSON text
    created_at    INTEGER NOT NULL,
    claimed_at    INTEGER,
    started_at    INTEGER,
    finished_at   INTEGER,
    duration_ms   INTEGER,
    exit_code     INTEGER,
    error         TEXT,                         -- why it failed, was skipped or missed
    output        TEXT,                         -- the last 64 KiB of stdout and stderr
    owner_host    TEXT,                         -- who claimed it: host, boot, pid, start time
    owner_boot_id TEXT,
    owner_pid     INTEGER,
    owner_started INTEGER,
    pgid          INTEGER,                      -- the job's process group
    pgid_started  INTEGER,                      -- start time of the group's leader
    claim         INTEGER NOT NULL DEFAULT 0,   -- fence: raised by every claim; writes name it
    started_boot  INTEGER,                      -- seconds since boot at start (CLOCK_BOOTTIME)
    interruptions INTEGER NOT NULL DEFAULT 0,   -- times a shutdown stopped it and queued it again
    stop_requested INTEGER,                     -- when an operator asked its runner to stop it
    UNIQUE (job, slot)                          -- a slot becomes at most one run, ever
);

CREATE INDEX runs_claim_order ON runs (priority DESC, due_at, id) WHERE status = 'pending';
CREATE INDEX runs_pending_due ON runs (due_at) WHERE status = 'pending';
CREATE INDEX runs_unfinished ON runs (job) WHERE status IN ('pending', 'running');
CREATE INDEX runs_running ON runs (id) WHERE status = 'running';
CREATE INDEX runs_by_job ON runs (job, id);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Access tokens of `cronq web` for addresses other than loopback: only a hash is kept.
CREATE TABLE web_tokens (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('read', 'operator')),
    hash       TEXT NOT NULL UNIQUE,            -- SHA-256 of the token, hex
    created_at INTEGER NOT NULL,
    last_used  INTEGER                          -- to the minute
) WITHOUT ROWID;

-- The earlier attempts of runs that were retried (the run's own row holds its latest
-- attempt): when each ended, how, and the last 16 KiB of its output.
CREATE TABLE attempts (
    run_id      INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    host        TEXT,                           -- the host that ran it
    started_at  INTEGER,
    finished_at INTEGER NOT NULL,
    duration_ms INTEGER,
    exit_code   INTEGER,
    error       TEXT,                           -- why it failed
    output      BLOB,                           -- the last 16 KiB of stdout and stderr
    PRIMARY KEY (run_id, attempt)
);

-- Monitoring pings of runs (`--ping`), sent after the run's result is recorded: delivered
-- (delivered_at), pending (next_try), or given up (neither). See docs/pings.md.
CREATE TABLE pings (
    id           INTEGER PRIMARY KEY,
    run_id       INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,
    kind         TEXT NOT NULL,                 -- start, log, success or fail (no CHECK: see schema.md)
    url          TEXT NOT NULL,                 -- the whole URL requested, rid included
    body         BLOB,                          -- what is POSTed: the output's tail
    created_at   INTEGER NOT NULL,
    tries        INTEGER NOT NULL DEFAULT 0,
    next_try     INTEGER,                        -- when a pass tries again; NULL: not again
    delivered_at INTEGER,
    last_error   TEXT                           -- why the last try failed
);

-- A pass asks "is a ping due?" with one probe of this index, in its one idle query.
CREATE INDEX pings_due ON pings (next_try) WHERE next_try IS NOT NULL;
CREATE INDEX pings_by_run ON pings (run_id);

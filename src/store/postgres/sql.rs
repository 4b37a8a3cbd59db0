//! PostgreSQL's text for every statement (see `store::sql::Sql`): the same parameters
//! (`$1` for SQLite's `?1`) and the same columns in the same order as SQLite's. Planning,
//! recovery and operators' writes run in a transaction whose first statement takes
//! cronq's advisory lock (`Database::write`), which serialises them across hosts as
//! `BEGIN IMMEDIATE` does on one. A run's result and the next claim do not
//! (`Database::write_fenced`): every write of theirs names the run's claim, and a claim
//! skips a run another transaction holds, so two hosts claiming at once take two runs.
//! Parameters whose type PostgreSQL cannot infer are cast.

use crate::store::sql::Sql;

macro_rules! job_columns {
    () => {
        "id, name, command, builtin, env, schedule, tz, timeout, retries, catchup, overlap, \
         requires_target, active, last_slot, next_slot, last_status, last_finished_at, \
         last_host, ping"
    };
}

macro_rules! run_columns {
    () => {
        "id, job, slot, status, priority, due_at, attempt, max_attempts, target_id, \
         target_type, data, created_at, started_at, finished_at, duration_ms, exit_code, \
         error, interruptions, owner_host"
    };
}

pub static SQL: Sql = Sql {
    job_by_name: concat!("SELECT ", job_columns!(), " FROM jobs WHERE name = $1"),
    jobs_by_name: concat!("SELECT ", job_columns!(), " FROM jobs ORDER BY name"),
    job_names: "SELECT name FROM jobs ORDER BY name",
    due_jobs: concat!(
        "SELECT ",
        job_columns!(),
        " FROM jobs WHERE next_slot <= $1 ORDER BY next_slot, id"
    ),
    insert_job: "INSERT INTO jobs (name, command, builtin, schedule, timeout, retries, catchup, \
        overlap, requires_target, active, last_slot, next_slot, created_at, env, tz) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $11, $13, $14)",
    update_job: "UPDATE jobs SET command = $2, builtin = $3, schedule = $4, timeout = $5, \
        retries = $6, catchup = $7, overlap = $8, requires_target = $9, active = $10, \
        last_slot = $11, next_slot = $12, env = $13, tz = $14 WHERE id = $1",
    delete_job: "DELETE FROM jobs WHERE id = $1",
    advance_job: "UPDATE jobs SET last_slot = $2, next_slot = $3 WHERE id = $1",
    // Not written again for a run that ends in the same second as the last with the
    // same status: hosts draining one job then rarely wait for each other on its row.
    record_last_result: "UPDATE jobs SET last_status = $2, last_finished_at = $3, last_host = $4 \
        WHERE name = $1 \
        AND (last_finished_at, last_status) IS DISTINCT FROM ($3::bigint, $2::text)",
    failing_jobs: "SELECT name, last_finished_at FROM jobs WHERE last_status = 'failed' \
        ORDER BY name",
    next_slots: "SELECT name, next_slot FROM jobs WHERE next_slot IS NOT NULL \
        ORDER BY next_slot, name LIMIT $1",

    insert_slot: "INSERT INTO runs (job, slot, status, due_at, max_attempts, error, created_at, \
        finished_at) VALUES ($1, $2, $3, $2, $4, $5, $6, $7) \
        ON CONFLICT (job, slot) DO NOTHING",
    insert_request: "INSERT INTO runs (job, status, due_at, priority, max_attempts, target_id, \
        target_type, data, created_at) VALUES ($1, 'pending', $2, $3, $4, $5, $6, $7, $8) \
        RETURNING id",
    read_back: None,
    next_due_run: "SELECT id FROM runs WHERE status = 'pending' AND due_at <= $1 \
        ORDER BY priority DESC, due_at, id LIMIT 1",
    claim: concat!(
        "UPDATE runs SET status = 'running', claim = claim + 1, claimed_at = $2, \
         started_at = $3, started_boot = $4, owner_host = $5, owner_boot_id = $6, \
         owner_pid = $7, owner_started = $8, pgid = NULL, pgid_started = NULL, \
         stop_requested = NULL WHERE id = $1 AND status = 'pending' RETURNING ",
        run_columns!(),
        ", claim"
    ),
    claim_next: Some(concat!(
        "UPDATE runs SET status = 'running', claim = claim + 1, claimed_at = $2, \
         started_at = $3, started_boot = $4, owner_host = $5, owner_boot_id = $6, \
         owner_pid = $7, owner_started = $8, pgid = NULL, pgid_started = NULL, \
         stop_requested = NULL \
         WHERE id = (SELECT id FROM runs WHERE status = 'pending' AND due_at <= $1 \
         ORDER BY priority DESC, due_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) \
         AND status = 'pending' RETURNING ",
        run_columns!(),
        ", claim"
    )),
    start: "UPDATE runs SET started_at = $4, started_boot = $5, owner_host = $6, \
        owner_boot_id = $7, owner_pid = $8, owner_started = $9 \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running' \
        AND started_at IS NULL",
    claim_state: "SELECT stop_requested IS NOT NULL FROM runs \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running'",
    // Committed without waiting for the WAL flush: `set_config(.., true)` lasts for this
    // statement's own transaction (it runs alone, `Store::write_one`), and the next
    // synchronous commit of any host flushes it anyway. Should the server crash before
    // that, the run is left without its group, as when its runner dies right after the
    // spawn, and recovery finds the job's processes by their environment
    // (`owner::liveness`): a drained run then costs one WAL flush, not two.
    set_group: "UPDATE runs SET pgid = $4, pgid_started = $5 \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running' \
        AND (SELECT set_config('synchronous_commit', 'off', true)) = 'off'",
    running: "SELECT r.id, r.job, r.claimed_at, r.started_at, coalesce(j.timeout, $1), \
        r.owner_host, r.owner_boot_id, r.owner_pid, r.owner_started, r.pgid, r.pgid_started, \
        r.claim, r.attempt, r.started_boot, r.stop_requested \
        FROM runs r LEFT JOIN jobs j ON j.name = r.job WHERE r.status = 'running'",
    interrupt: "UPDATE runs SET status = 'pending', interruptions = interruptions + 1, \
        due_at = $4, error = $5, output = $6, duration_ms = $7, claimed_at = NULL, \
        started_at = NULL, started_boot = NULL, owner_host = NULL, owner_boot_id = NULL, \
        owner_pid = NULL, owner_started = NULL, pgid = NULL, pgid_started = NULL \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running' \
        AND stop_requested IS NULL",
    requeue: "UPDATE runs SET status = 'pending', error = $4, claimed_at = NULL, \
        started_at = NULL, started_boot = NULL, owner_host = NULL, owner_boot_id = NULL, \
        owner_pid = NULL, owner_started = NULL WHERE id = $1 AND claim = $2 AND attempt = $3 \
        AND status = 'running' AND started_at IS NULL",
    finish: "UPDATE runs SET status = $4, finished_at = $5, exit_code = $6, error = $7, \
        output = $8, duration_ms = $9 \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running'",
    finish_and_retry: "UPDATE runs SET status = 'pending', attempt = attempt + 1, due_at = $4, \
        exit_code = $5, error = $6, output = $7, duration_ms = $8, claimed_at = NULL, \
        started_at = NULL, started_boot = NULL, finished_at = NULL, owner_host = NULL, \
        owner_boot_id = NULL, owner_pid = NULL, owner_started = NULL, pgid = NULL, \
        pgid_started = NULL \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running' \
        AND stop_requested IS NULL",
    // The same condition as finish_and_retry's, in the same transaction before it: an
    // attempt is kept exactly when its run is put back for the next one. `FOR UPDATE`
    // holds the row from here to the commit, so that an operator's stop cannot come
    // between the two (a result is written without cronq's lock: `write_fenced`).
    record_attempt: "INSERT INTO attempts (run_id, attempt, host, started_at, finished_at, \
        duration_ms, exit_code, error, output) \
        SELECT id, attempt, owner_host, started_at, $4::bigint, $5::bigint, $6::bigint, $7::text, $8::bytea \
        FROM runs WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running' \
        AND stop_requested IS NULL FOR UPDATE \
        ON CONFLICT (run_id, attempt) DO NOTHING",
    attempts_of: "SELECT attempt, host, started_at, finished_at, duration_ms, exit_code, error, \
        output FROM attempts WHERE run_id = $1 ORDER BY attempt",
    run_by_id: concat!("SELECT ", run_columns!(), " FROM runs WHERE id = $1"),
    output_of: "SELECT output FROM runs WHERE id = $1",
    list_runs: concat!(
        "SELECT ",
        run_columns!(),
        " FROM runs WHERE ($1::text IS NULL OR job = $1) AND ($2::text IS NULL OR status = $2) \
         AND ($4::text IS NULL OR target_id = $4) AND ($5::text IS NULL OR owner_host = $5) \
         AND ($6::bigint IS NULL OR due_at >= $6) AND ($7::bigint IS NULL OR due_at < $7) \
         ORDER BY id DESC LIMIT $3"
    ),
    job_has_runs: "SELECT count(*) FROM (SELECT 1 FROM runs WHERE job = $1 LIMIT 1) AS found",
    delete_pending_of: "DELETE FROM runs WHERE job = $1 AND status = 'pending'",
    run_counts: "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status",
    request_stop: "UPDATE runs SET stop_requested = $2 \
        WHERE id = $1 AND status = 'running' AND stop_requested IS NULL",
    stop_requested_of: "SELECT stop_requested FROM runs WHERE id = $1",
    cancel_pending: "UPDATE runs SET status = 'skipped', error = $2, finished_at = $3 \
        WHERE id = $1 AND status = 'pending'",
    recent_results_of: "SELECT id, status, duration_ms, finished_at FROM runs \
        WHERE job = $1 AND status IN ('success', 'failed') ORDER BY id DESC LIMIT $2",
    hourly_results: "SELECT finished_at / 3600, status, count(*) FROM runs \
        WHERE finished_at >= $1 AND status IN ('success', 'failed') GROUP BY 1, 2 ORDER BY 1, 2",

    insert_token: "INSERT INTO web_tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4)",
    tokens: "SELECT name, role, created_at, last_used FROM web_tokens ORDER BY name",
    delete_token: "DELETE FROM web_tokens WHERE name = $1",
    token_by_hash: "SELECT name, role, created_at, last_used FROM web_tokens WHERE hash = $1",
    touch_token: "UPDATE web_tokens SET last_used = $2 WHERE name = $1",

    settings: "SELECT key, value FROM settings",
    set_setting: "INSERT INTO settings (key, value) VALUES ($1, $2) \
        ON CONFLICT (key) DO UPDATE SET value = excluded.value",

    // Four index probes in one statement (each reads an index's first entry): an idle
    // pass asks nothing else.
    outlook: "SELECT (SELECT min(next_slot) FROM jobs WHERE next_slot IS NOT NULL), \
        (SELECT min(due_at) FROM runs WHERE status = 'pending'), \
        EXISTS (SELECT 1 FROM runs WHERE status = 'running'), \
        (SELECT min(next_try) FROM pings WHERE next_try IS NOT NULL)",

    jobs_with_runs: "SELECT DISTINCT job FROM runs",
    keep_from: "SELECT id FROM runs WHERE job = $1 \
        AND status IN ('success', 'failed', 'skipped', 'missed') \
        ORDER BY id DESC LIMIT 1 OFFSET $2",
    // The same runs as delete_old_runs, in the same transaction before it.
    delete_old_attempts: "DELETE FROM attempts WHERE run_id IN (SELECT id FROM runs WHERE job = $1 \
        AND id < $2 AND status IN ('success', 'failed', 'skipped', 'missed') \
        AND coalesce(finished_at, created_at) < $3 ORDER BY id LIMIT $4)",
    delete_old_runs: "DELETE FROM runs WHERE id IN (SELECT id FROM runs WHERE job = $1 \
        AND id < $2 AND status IN ('success', 'failed', 'skipped', 'missed') \
        AND coalesce(finished_at, created_at) < $3 ORDER BY id LIMIT $4)",
    // Monitoring pings.
    set_job_ping: "UPDATE jobs SET ping = $2 WHERE name = $1",
    insert_ping: "INSERT INTO pings (run_id, attempt, kind, url, body, created_at, tries, \
        next_try, delivered_at, last_error) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    due_pings: "SELECT id, run_id, attempt, kind, url, body, created_at, tries, next_try, \
        delivered_at, last_error FROM pings WHERE next_try <= $1 ORDER BY next_try, id LIMIT $2",
    lease_ping: "UPDATE pings SET next_try = $3 WHERE id = $1 AND next_try <= $2",
    ping_tried: "UPDATE pings SET tries = tries + 1, next_try = $2, delivered_at = $3, \
        last_error = $4 WHERE id = $1",
    pings_of: "SELECT id, run_id, attempt, kind, url, body, created_at, tries, next_try, \
        delivered_at, last_error FROM pings WHERE run_id = $1 ORDER BY id",
    delete_old_pings: "DELETE FROM pings WHERE id IN (SELECT id FROM pings \
        WHERE next_try IS NULL AND created_at < $1 ORDER BY id LIMIT $2)",
    // The output so far of a running run (`cronq show --follow`), fenced by its claim.
    write_progress: "UPDATE runs SET output = $4 \
        WHERE id = $1 AND claim = $2 AND attempt = $3 AND status = 'running'",
    // At most two: whether the oldest is the only one matters.
    unfinished_runs_of: "SELECT id, status, attempt, slot FROM runs \
        WHERE job = $1 AND status IN ('pending', 'running') ORDER BY id LIMIT 2",
    merge_into_retry: "UPDATE runs SET due_at = CASE WHEN due_at > $2 THEN $2 ELSE due_at END \
        WHERE id = $1 AND status = 'pending' AND attempt > 1",
};

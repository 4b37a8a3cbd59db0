//! The storage contract: what the queries of `store::{jobs, runs, settings}` and
//! `store::outlook` promise, checked against both backends through the library. Each
//! contract test is a function of a `Place` (an SQLite file or a fresh PostgreSQL
//! database), run once per backend by `contract!`. PostgreSQL alone: concurrent claims
//! from separate connections, and hosts opening a new database together.
//!
//! PostgreSQL comes from `common::postgres` (docs/testing.md); without one these tests
//! fail, they are never skipped.

mod common;

use anyhow::Result;
use cronq::builtin::Builtin;
use cronq::job::{Catchup, Overlap, RunStatus};
use cronq::params;
use cronq::store::jobs::{self, Definition};
use cronq::store::runs::{self, Claim, Outcome, Owner, Request, Start};
use cronq::store::sql::Conn;
use cronq::store::{outlook, postgres, settings, sqlite, Work};
use std::path::PathBuf;

/// 2026-11-23T09:00:00Z, a Monday.
const NOW: i64 = common::START;

/// Where one backend's database lives, for as long as the test runs.
enum Place {
    Sqlite(tempfile::TempDir),
    Postgres(common::postgres::TestDatabase),
}

/// One backend's open database.
enum Db {
    Sqlite(sqlite::Database),
    Postgres(Box<postgres::Database>),
}

impl Place {
    fn sqlite() -> Place {
        Place::Sqlite(tempfile::tempdir().unwrap())
    }

    fn postgres() -> Place {
        Place::Postgres(common::postgres::fresh_database())
    }

    fn sqlite_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("cronq.db")
    }

    /// Opens the database (creating it on first use), as a command would.
    fn try_open(&self, now: i64) -> Result<Db> {
        Ok(match self {
            Place::Sqlite(dir) => Db::Sqlite(sqlite::Database::open(&Self::sqlite_path(dir), now)?),
            Place::Postgres(db) => Db::Postgres(Box::new(postgres::Database::open(&db.url, now)?)),
        })
    }

    fn open(&self) -> Db {
        self.try_open(NOW).unwrap()
    }

    /// Runs SQL behind cronq's back (the same text works on both backends here).
    fn raw(&self, sql: &str) {
        match self {
            Place::Sqlite(dir) => rusqlite::Connection::open(Self::sqlite_path(dir))
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Place::Postgres(db) => db.connect().batch_execute(sql).unwrap(),
        }
    }

    /// The names of the tables in the database, sorted.
    fn tables(&self) -> Vec<String> {
        let mut names: Vec<String> = match self {
            Place::Sqlite(dir) => {
                let conn = rusqlite::Connection::open(Self::sqlite_path(dir)).unwrap();
                let mut stmt = conn
                    .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .unwrap();
                let names = stmt
                    .query_map([], |row| row.get(0))
                    .unwrap()
                    .collect::<rusqlite::Result<_>>()
                    .unwrap();
                names
            }
            Place::Postgres(db) => db
                .connect()
                .query(
                    "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|row| row.get(0))
                .collect(),
        };
        names.sort();
        names
    }
}

impl Db {
    fn conn(&self) -> &dyn Conn {
        match self {
            Db::Sqlite(db) => &db.conn,
            Db::Postgres(db) => db.conn(),
        }
    }

    fn write<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(db) => db.write(work),
            Db::Postgres(db) => db.write(work),
        }
    }

    fn write_one<T>(&self, work: impl FnOnce(&dyn Conn) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(db) => db.write_one(work),
            Db::Postgres(db) => db.write_one(work),
        }
    }
}

/// Each contract test, once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { super::$name(&super::Place::sqlite()) })*
        }
        mod postgres_backend {
            $(#[test] fn $name() { super::$name(&super::Place::postgres()) })*
        }
    };
}

contract!(
    the_schema_is_created_once_with_the_cleanup_job,
    a_second_open_finds_what_the_first_wrote,
    jobs_are_inserted_read_listed_updated_advanced_and_deleted,
    due_jobs_and_next_slots_follow_next_slot,
    inserting_a_slot_twice_does_nothing,
    requests_get_increasing_ids,
    claims_take_priority_then_due_time_then_id_and_never_twice,
    a_claims_token_fences_every_later_write,
    a_finish_with_retry_queues_the_next_attempt,
    output_keeps_every_byte_value,
    runs_are_listed_counted_and_deleted_by_job,
    failing_jobs_are_those_whose_last_result_failed,
    a_last_result_in_the_same_second_with_the_same_status_is_not_written_again,
    settings_are_set_and_loaded,
    the_outlook_answers_the_idle_pass,
    cleanup_deletes_old_finished_runs_and_keeps_the_newest,
    a_failed_write_commits_nothing,
    a_newer_schema_version_is_refused_untouched,
    a_version_2_schema_is_upgraded_in_place,
    a_foreign_database_is_refused_untouched,
);

fn owner(pid: i64) -> Owner {
    Owner {
        host: "host-a".into(),
        boot_id: "boot-1".into(),
        pid,
        started: 4242,
    }
}

fn command_job(name: &str, schedule: Option<&str>) -> Definition {
    Definition {
        name: name.into(),
        command: Some(format!("echo {name}")),
        builtin: None,
        env: None,
        schedule: schedule.map(str::to_string),
        tz: "UTC".into(),
        timeout: None,
        retries: None,
        catchup: Catchup::Latest,
        overlap: Overlap::Skip,
        requires_target: false,
        active: true,
    }
}

fn request(job: &str, due_at: i64, priority: i64) -> Request {
    Request {
        job: job.into(),
        due_at,
        priority,
        max_attempts: 1,
        ..Request::default()
    }
}

fn enqueue(db: &Db, request: &Request) -> i64 {
    db.write(|tx| runs::insert_request(tx, request, NOW))
        .unwrap()
}

fn claim_next(db: &Db, now: i64) -> Option<(runs::Run, Claim)> {
    db.write(|tx| runs::claim_next(tx, now, &owner(1), Start::Now { since_boot: 100 }))
        .unwrap()
}

fn outcome(status: RunStatus, output: &[u8]) -> Outcome {
    Outcome {
        status,
        interrupted: false,
        exit_code: Some(if status == RunStatus::Success { 0 } else { 1 }),
        error: (status == RunStatus::Failed).then(|| "exit status 1".to_string()),
        output: output.to_vec(),
        duration_ms: 12,
    }
}

fn the_schema_is_created_once_with_the_cleanup_job(place: &Place) {
    let db = place.open();
    let all = jobs::list(db.conn()).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    let cleanup = &all[0];
    assert_eq!(cleanup.name, Builtin::Cleanup.name());
    assert_eq!(cleanup.builtin.as_deref(), Some("Cleanup"));
    assert_eq!(cleanup.command, None);
    assert_eq!(
        cleanup.schedule.as_deref(),
        Some(Builtin::Cleanup.default_schedule())
    );
    assert_eq!(cleanup.tz, "UTC");
    assert!(cleanup.active && !cleanup.requires_target);
    assert_eq!(cleanup.last_slot, Some(NOW), "the schedule starts at open");
    assert!(cleanup.next_slot.is_some_and(|next| next > NOW));
    assert!(
        place.tables().iter().any(|t| t == "runs"),
        "{:?}",
        place.tables()
    );
    drop(db);
    // Opening again creates nothing twice.
    let db = place.try_open(NOW + 3600).unwrap();
    assert_eq!(jobs::names(db.conn()).unwrap(), ["Cleanup"]);
}

fn a_second_open_finds_what_the_first_wrote(place: &Place) {
    let first = place.open();
    first
        .write(|tx| jobs::insert(tx, &command_job("backup", Some("0 3 * * *")), NOW))
        .unwrap();
    let id = enqueue(&first, &request("backup", NOW, 0));
    let second = place.try_open(NOW + 60).unwrap();
    assert_eq!(jobs::names(second.conn()).unwrap(), ["Cleanup", "backup"]);
    assert_eq!(runs::get(second.conn(), id).unwrap().unwrap().job, "backup");
    // Both connections stay usable side by side.
    let id2 = enqueue(&second, &request("backup", NOW, 0));
    assert!(runs::get(first.conn(), id2).unwrap().is_some());
}

fn jobs_are_inserted_read_listed_updated_advanced_and_deleted(place: &Place) {
    let db = place.open();
    let mut def = command_job("report", Some("*/15 * * * *"));
    def.env = Some(r#"{"PATH":"/usr/bin"}"#.into());
    def.timeout = Some(600);
    def.retries = Some(3);
    def.catchup = Catchup::All;
    def.overlap = Overlap::Allow;
    db.write(|tx| jobs::insert(tx, &def, NOW)).unwrap();
    let job = jobs::get(db.conn(), "report").unwrap().unwrap();
    assert_eq!(job.command.as_deref(), Some("echo report"));
    assert_eq!(job.env, def.env);
    assert_eq!((job.timeout, job.retries), (Some(600), Some(3)));
    assert_eq!((job.catchup, job.overlap), (Catchup::All, Overlap::Allow));
    assert!(job.active && !job.requires_target);
    assert_eq!(job.last_slot, Some(NOW));
    assert_eq!(job.next_slot, Some(NOW + 15 * 60));
    assert!(jobs::get(db.conn(), "nope").unwrap().is_none());

    // A target job: no schedule, requires a target.
    let mut target = command_job("mail", None);
    target.requires_target = true;
    db.write(|tx| jobs::insert(tx, &target, NOW)).unwrap();
    let mail = jobs::get(db.conn(), "mail").unwrap().unwrap();
    assert!(mail.requires_target);
    assert_eq!(mail.next_slot, None);

    let names: Vec<String> = jobs::list(db.conn())
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(names, ["Cleanup", "mail", "report"]);
    assert_eq!(jobs::names(db.conn()).unwrap(), names);

    // A duplicate name is refused.
    assert!(db.write(|tx| jobs::insert(tx, &def, NOW)).is_err());

    // Disabling keeps the last slot and clears the next one; a new schedule restarts at now.
    let mut off = job.definition();
    off.active = false;
    db.write(|tx| jobs::update(tx, &job, &off, NOW + 60))
        .unwrap();
    let disabled = jobs::get(db.conn(), "report").unwrap().unwrap();
    assert!(!disabled.active);
    assert_eq!((disabled.last_slot, disabled.next_slot), (Some(NOW), None));
    let mut hourly = disabled.definition();
    hourly.active = true;
    hourly.schedule = Some("0 * * * *".into());
    hourly.timeout = None;
    db.write(|tx| jobs::update(tx, &disabled, &hourly, NOW + 60))
        .unwrap();
    let hourly = jobs::get(db.conn(), "report").unwrap().unwrap();
    assert_eq!(hourly.schedule.as_deref(), Some("0 * * * *"));
    assert_eq!(hourly.timeout, None);
    assert_eq!(hourly.last_slot, Some(NOW + 60));
    assert_eq!(hourly.next_slot, Some(NOW + 3600));

    db.write(|tx| jobs::advance(tx, hourly.id, NOW + 3600, Some(NOW + 7200)))
        .unwrap();
    let advanced = jobs::get(db.conn(), "report").unwrap().unwrap();
    assert_eq!(
        (advanced.last_slot, advanced.next_slot),
        (Some(NOW + 3600), Some(NOW + 7200))
    );
    db.write(|tx| jobs::advance(tx, hourly.id, NOW + 7200, None))
        .unwrap();
    assert_eq!(
        jobs::get(db.conn(), "report").unwrap().unwrap().next_slot,
        None
    );

    db.write(|tx| jobs::delete(tx, advanced.id)).unwrap();
    assert!(jobs::get(db.conn(), "report").unwrap().is_none());
    assert_eq!(jobs::names(db.conn()).unwrap(), ["Cleanup", "mail"]);
}

fn due_jobs_and_next_slots_follow_next_slot(place: &Place) {
    let db = place.open();
    for (name, schedule) in [
        ("a", "*/5 * * * *"),
        ("b", "0 * * * *"),
        ("c", "*/5 * * * *"),
    ] {
        db.write(|tx| jobs::insert(tx, &command_job(name, Some(schedule)), NOW))
            .unwrap();
    }
    assert!(jobs::due(db.conn(), NOW).unwrap().is_empty());
    let due: Vec<String> = jobs::due(db.conn(), NOW + 300)
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(due, ["a", "c"], "by next slot, then id");
    let due: Vec<String> = jobs::due(db.conn(), NOW + 3600)
        .unwrap()
        .into_iter()
        .map(|j| j.name)
        .collect();
    assert_eq!(due, ["a", "c", "b"]);
    let next = jobs::next_slots(db.conn(), 3).unwrap();
    assert_eq!(
        next,
        [
            ("a".to_string(), NOW + 300),
            ("c".to_string(), NOW + 300),
            ("b".to_string(), NOW + 3600)
        ]
    );
    assert_eq!(jobs::next_slots(db.conn(), 1).unwrap().len(), 1);
}

fn inserting_a_slot_twice_does_nothing(place: &Place) {
    let db = place.open();
    let insert = |status: RunStatus, reason: Option<&str>| {
        db.write(|tx| runs::insert_slot(tx, "backup", NOW, status, reason, 2, NOW))
            .unwrap()
    };
    assert!(insert(RunStatus::Pending, None));
    assert!(!insert(RunStatus::Pending, None));
    assert!(!insert(RunStatus::Missed, Some("late")));
    let all = runs::list(db.conn(), Some("backup"), None, 10).unwrap();
    assert_eq!(all.len(), 1);
    let run = &all[0];
    assert_eq!(run.status, RunStatus::Pending);
    assert_eq!((run.slot, run.due_at), (Some(NOW), NOW));
    assert_eq!((run.attempt, run.max_attempts), (1, 2));
    assert_eq!(run.finished_at, None);
    // Another slot, or the same slot of another job, is a new row; a decided slot is
    // finished when it is recorded.
    assert!(db
        .write(|tx| runs::insert_slot(
            tx,
            "backup",
            NOW + 60,
            RunStatus::Skipped,
            Some("overlap"),
            2,
            NOW
        ))
        .unwrap());
    assert!(db
        .write(|tx| runs::insert_slot(tx, "other", NOW, RunStatus::Pending, None, 1, NOW))
        .unwrap());
    let skipped = &runs::list(db.conn(), Some("backup"), Some(RunStatus::Skipped), 10).unwrap()[0];
    assert_eq!(skipped.error.as_deref(), Some("overlap"));
    assert_eq!(skipped.finished_at, Some(NOW));
    // Runs without a slot never collide.
    enqueue(&db, &request("backup", NOW, 0));
    enqueue(&db, &request("backup", NOW, 0));
    assert_eq!(
        runs::list(db.conn(), Some("backup"), None, 10)
            .unwrap()
            .len(),
        4
    );
}

fn requests_get_increasing_ids(place: &Place) {
    let db = place.open();
    let mut last = 0;
    for i in 0..5 {
        let mut req = request("mail", NOW + i, i);
        req.target_id = Some(format!("account-{i}"));
        req.target_type = Some("EmailAccount".into());
        req.data = Some(r#"{"n":1}"#.into());
        req.max_attempts = 3;
        let id = enqueue(&db, &req);
        assert!(id > last, "{id} after {last}");
        last = id;
        let run = runs::get(db.conn(), id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Pending);
        assert_eq!(run.slot, None);
        assert_eq!((run.due_at, run.priority), (NOW + i, i));
        assert_eq!(run.target_id, req.target_id);
        assert_eq!(run.target_type.as_deref(), Some("EmailAccount"));
        assert_eq!(run.data, req.data);
        assert_eq!((run.attempt, run.max_attempts), (1, 3));
        assert_eq!(run.created_at, NOW);
        assert_eq!(run.interruptions, 0);
    }
    assert!(runs::get(db.conn(), last + 1).unwrap().is_none());
    let unfinished = runs::unfinished_run_of(db.conn(), "mail").unwrap().unwrap();
    assert_eq!(unfinished.id, last - 4);
    assert!(
        !unfinished.pending_retry,
        "several runs of mail are unfinished"
    );
    assert!(runs::unfinished_run_of(db.conn(), "other")
        .unwrap()
        .is_none());
}

fn claims_take_priority_then_due_time_then_id_and_never_twice(place: &Place) {
    let db = place.open();
    let low_early = enqueue(&db, &request("j", NOW - 60, 0));
    let high_late = enqueue(&db, &request("j", NOW, 5));
    let low_earlier = enqueue(&db, &request("j", NOW - 120, 0));
    let low_earlier_2 = enqueue(&db, &request("j", NOW - 120, 0));
    let high_early = enqueue(&db, &request("j", NOW - 10, 5));
    let future = enqueue(&db, &request("j", NOW + 60, 9));
    let mut order = Vec::new();
    while let Some((run, claim)) = claim_next(&db, NOW) {
        assert_eq!(run.status, RunStatus::Running);
        assert_eq!(claim.run, run.id);
        assert_eq!(claim.attempt, 1);
        assert!(claim.token >= 1);
        order.push(run.id);
    }
    assert_eq!(
        order,
        [high_early, high_late, low_earlier, low_earlier_2, low_early],
        "priority DESC, due_at, id; the future run is not due"
    );
    // Claiming a given run that is no longer pending gives nothing.
    let again = db
        .write(|tx| runs::claim(tx, high_early, NOW, &owner(2), Start::Later))
        .unwrap();
    assert!(again.is_none());
    let (run, _) = claim_next(&db, NOW + 60).unwrap();
    assert_eq!(run.id, future);
    assert!(claim_next(&db, NOW + 3600).is_none());

    // What recovery sees of a running run: owner, start on both clocks, the claim.
    let running = runs::running(db.conn(), 36_000).unwrap();
    assert_eq!(running.len(), 6);
    let r = running.iter().find(|r| r.id == future).unwrap();
    assert_eq!(r.job, "j");
    assert_eq!(
        (r.claimed_at, r.started_at),
        (Some(NOW + 60), Some(NOW + 60))
    );
    assert_eq!(r.started_boot, Some(100));
    assert_eq!(r.timeout, 36_000, "no job row: the default timeout");
    assert_eq!(r.owner_host.as_deref(), Some("host-a"));
    assert_eq!(r.owner_boot_id.as_deref(), Some("boot-1"));
    assert_eq!((r.owner_pid, r.owner_started), (Some(1), Some(4242)));
    assert_eq!((r.pgid, r.pgid_started), (None, None));
}

fn a_claims_token_fences_every_later_write(place: &Place) {
    let db = place.open();
    let mut def = command_job("j", None);
    def.timeout = Some(77);
    db.write(|tx| jobs::insert(tx, &def, NOW)).unwrap();
    let id = enqueue(&db, &request("j", NOW, 0));
    // Claimed for a child process that has not started it yet.
    let (run, old) = db
        .write(|tx| runs::claim(tx, id, NOW, &owner(1), Start::Later))
        .unwrap()
        .unwrap();
    assert_eq!(run.started_at, None);
    assert_eq!(
        runs::claim_state(db.conn(), &old).unwrap(),
        runs::ClaimState::Held
    );
    // Recovery puts it back (never started: no attempt used), and another runner claims it.
    assert!(db
        .write(|tx| runs::requeue(tx, &old, "owner gone"))
        .unwrap());
    let pending = runs::get(db.conn(), id).unwrap().unwrap();
    assert_eq!(pending.status, RunStatus::Pending);
    assert_eq!(pending.error.as_deref(), Some("owner gone"));
    let (_, new) = db
        .write(|tx| runs::claim(tx, id, NOW + 5, &owner(2), Start::Later))
        .unwrap()
        .unwrap();
    assert_eq!(new.attempt, old.attempt);
    assert!(new.token > old.token, "{new:?} after {old:?}");

    // The old token changes nothing.
    let me = owner(1);
    assert_eq!(
        runs::claim_state(db.conn(), &old).unwrap(),
        runs::ClaimState::Lost
    );
    assert!(!db
        .write(|tx| runs::start(tx, &old, NOW + 6, 200, &me))
        .unwrap());
    assert!(!db
        .write_one(|tx| runs::set_group(tx, &old, 999, Some(1)))
        .unwrap());
    assert!(!db.write(|tx| runs::requeue(tx, &old, "stale")).unwrap());
    let done = outcome(RunStatus::Success, b"old");
    assert!(!db
        .write(|tx| runs::interrupt(tx, &old, &done, NOW + 7))
        .unwrap());
    assert!(!db
        .write(|tx| runs::finish(tx, &old, &done, None, NOW + 7))
        .unwrap());
    assert!(!db
        .write(|tx| runs::finish(tx, &old, &done, Some(NOW + 60), NOW + 7))
        .unwrap());
    let untouched = runs::get(db.conn(), id).unwrap().unwrap();
    assert_eq!(untouched.status, RunStatus::Running);
    assert_eq!(untouched.started_at, None);
    assert_eq!(untouched.error.as_deref(), Some("owner gone"));

    // The new token: start (once), process group, then the result.
    let child = owner(3);
    assert_eq!(
        runs::claim_state(db.conn(), &new).unwrap(),
        runs::ClaimState::Held
    );
    assert!(db
        .write(|tx| runs::start(tx, &new, NOW + 6, 200, &child))
        .unwrap());
    assert!(
        !db.write(|tx| runs::start(tx, &new, NOW + 6, 200, &child))
            .unwrap(),
        "a started run does not start again"
    );
    assert!(
        !db.write(|tx| runs::requeue(tx, &new, "x")).unwrap(),
        "a started run is not requeued"
    );
    assert!(db
        .write_one(|tx| runs::set_group(tx, &new, 4321, Some(99)))
        .unwrap());
    let running = runs::running(db.conn(), 36_000).unwrap();
    assert_eq!(running.len(), 1);
    let r = &running[0];
    assert_eq!(r.claim, new);
    assert_eq!(r.timeout, 77, "the job's own timeout");
    assert_eq!(
        (r.owner_pid, r.started_at, r.started_boot),
        (Some(3), Some(NOW + 6), Some(200))
    );
    assert_eq!((r.pgid, r.pgid_started), (Some(4321), Some(99)));

    // A shutdown puts it back with the same attempt, one interruption more.
    let stopped = Outcome {
        interrupted: true,
        error: Some("stopped by shutdown".into()),
        ..outcome(RunStatus::Failed, b"partial")
    };
    assert!(db
        .write(|tx| runs::interrupt(tx, &new, &stopped, NOW + 8))
        .unwrap());
    let back = runs::get(db.conn(), id).unwrap().unwrap();
    assert_eq!(back.status, RunStatus::Pending);
    assert_eq!(
        (back.attempt, back.interruptions, back.due_at),
        (1, 1, NOW + 8)
    );
    assert_eq!(back.started_at, None);
    assert_eq!(
        runs::claim_state(db.conn(), &new).unwrap(),
        runs::ClaimState::Lost
    );
    assert_eq!(runs::output_of(db.conn(), id).unwrap().unwrap(), b"partial");

    let (_, last) = claim_next(&db, NOW + 8).unwrap();
    assert!(last.token > new.token);
    assert!(db
        .write(|tx| runs::finish(
            tx,
            &last,
            &outcome(RunStatus::Success, b"ok"),
            None,
            NOW + 9
        ))
        .unwrap());
    let finished = runs::get(db.conn(), id).unwrap().unwrap();
    assert_eq!(finished.status, RunStatus::Success);
    assert_eq!(finished.finished_at, Some(NOW + 9));
    assert_eq!(
        (finished.exit_code, finished.duration_ms),
        (Some(0), Some(12))
    );
    assert!(
        !db.write(|tx| runs::finish(tx, &last, &outcome(RunStatus::Failed, b""), None, NOW + 10))
            .unwrap(),
        "a finished run is not finished again"
    );
    assert!(runs::running(db.conn(), 36_000).unwrap().is_empty());
}

fn a_finish_with_retry_queues_the_next_attempt(place: &Place) {
    let db = place.open();
    let mut req = request("j", NOW, 0);
    req.max_attempts = 2;
    let id = enqueue(&db, &req);
    let (_, first) = claim_next(&db, NOW).unwrap();
    let failed = outcome(RunStatus::Failed, b"boom");
    assert!(db
        .write(|tx| runs::finish(tx, &first, &failed, Some(NOW + 90), NOW + 1))
        .unwrap());
    let retry = runs::get(db.conn(), id).unwrap().unwrap();
    assert_eq!(retry.status, RunStatus::Pending);
    assert_eq!((retry.attempt, retry.due_at), (2, NOW + 90));
    assert_eq!(retry.exit_code, Some(1));
    assert_eq!(retry.error.as_deref(), Some("exit status 1"));
    assert_eq!((retry.started_at, retry.finished_at), (None, None));
    assert_eq!(
        runs::claim_state(db.conn(), &first).unwrap(),
        runs::ClaimState::Lost
    );
    assert!(
        claim_next(&db, NOW + 89).is_none(),
        "not due before its time"
    );
    let (run, second) = claim_next(&db, NOW + 90).unwrap();
    assert_eq!((run.id, run.attempt, second.attempt), (id, 2, 2));
    assert!(db
        .write(|tx| runs::finish(tx, &second, &failed, None, NOW + 91))
        .unwrap());
    let done = runs::get(db.conn(), id).unwrap().unwrap();
    assert_eq!(done.status, RunStatus::Failed);
    assert_eq!(done.finished_at, Some(NOW + 91));
}

fn output_keeps_every_byte_value(place: &Place) {
    let db = place.open();
    let id = enqueue(&db, &request("j", NOW, 0));
    let (_, claim) = claim_next(&db, NOW).unwrap();
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let result = outcome(RunStatus::Success, &bytes);
    assert!(db
        .write(|tx| runs::finish(tx, &claim, &result, None, NOW))
        .unwrap());
    assert_eq!(runs::output_of(db.conn(), id).unwrap().unwrap(), bytes);
    // No output at all is kept as empty, not as missing; an unknown run has none.
    let id = enqueue(&db, &request("j", NOW, 0));
    let (_, claim) = claim_next(&db, NOW).unwrap();
    assert!(db
        .write(|tx| runs::finish(tx, &claim, &outcome(RunStatus::Success, b""), None, NOW))
        .unwrap());
    assert_eq!(runs::output_of(db.conn(), id).unwrap().unwrap(), b"");
    assert_eq!(runs::output_of(db.conn(), id + 1).unwrap(), None);
}

fn runs_are_listed_counted_and_deleted_by_job(place: &Place) {
    let db = place.open();
    let a1 = enqueue(&db, &request("a", NOW, 0));
    let b1 = enqueue(&db, &request("b", NOW, 0));
    let a2 = enqueue(&db, &request("a", NOW, 0));
    db.write(|tx| runs::insert_slot(tx, "a", NOW - 60, RunStatus::Missed, Some("late"), 1, NOW))
        .unwrap();
    let ids = |job: Option<&str>, status: Option<RunStatus>, limit: i64| -> Vec<i64> {
        runs::list(db.conn(), job, status, limit)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect()
    };
    let all = ids(None, None, 100);
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0] > w[1]), "newest first: {all:?}");
    assert_eq!(ids(None, None, 2), all[..2]);
    assert_eq!(ids(Some("a"), Some(RunStatus::Pending), 100), [a2, a1]);
    assert_eq!(ids(None, Some(RunStatus::Pending), 100), [a2, b1, a1]);
    assert_eq!(ids(Some("b"), None, 100), [b1]);
    assert_eq!(ids(Some("c"), None, 100), Vec::<i64>::new());
    assert_eq!(
        runs::counts(db.conn()).unwrap(),
        [("missed".to_string(), 1), ("pending".to_string(), 3)]
    );
    assert!(runs::job_has_runs(db.conn(), "a").unwrap());
    assert!(!runs::job_has_runs(db.conn(), "c").unwrap());
    // Removing a job drops its queued runs and keeps its history.
    assert_eq!(db.write(|tx| runs::delete_pending_of(tx, "a")).unwrap(), 2);
    assert_eq!(ids(Some("a"), None, 100).len(), 1);
    assert!(runs::job_has_runs(db.conn(), "a").unwrap());
    assert_eq!(ids(Some("b"), None, 100), [b1]);
}

fn failing_jobs_are_those_whose_last_result_failed(place: &Place) {
    let db = place.open();
    for name in ["a", "b", "c"] {
        db.write(|tx| jobs::insert(tx, &command_job(name, None), NOW))
            .unwrap();
    }
    assert!(jobs::failing(db.conn()).unwrap().is_empty());
    db.write(|tx| {
        jobs::record_last_result(tx, "c", "failed", NOW + 2, Some("h1"))?;
        jobs::record_last_result(tx, "a", "failed", NOW + 1, None)?;
        jobs::record_last_result(tx, "b", "success", NOW + 3, Some("h2"))
    })
    .unwrap();
    assert_eq!(
        jobs::failing(db.conn()).unwrap(),
        [
            ("a".to_string(), Some(NOW + 1)),
            ("c".to_string(), Some(NOW + 2))
        ]
    );
    let b = jobs::get(db.conn(), "b").unwrap().unwrap();
    assert_eq!(
        (
            b.last_status.as_deref(),
            b.last_finished_at,
            b.last_host.as_deref()
        ),
        (Some("success"), Some(NOW + 3), Some("h2"))
    );
    db.write(|tx| jobs::record_last_result(tx, "a", "success", NOW + 4, Some("h1")))
        .unwrap();
    assert_eq!(jobs::failing(db.conn()).unwrap().len(), 1);
}

fn a_last_result_in_the_same_second_with_the_same_status_is_not_written_again(place: &Place) {
    let db = place.open();
    db.write(|tx| jobs::insert(tx, &command_job("j", None), NOW))
        .unwrap();
    let last = |db: &Db| {
        let j = jobs::get(db.conn(), "j").unwrap().unwrap();
        (j.last_status, j.last_finished_at, j.last_host)
    };
    let record = |status: &str, at: i64, host: &str| {
        db.write(|tx| jobs::record_last_result(tx, "j", status, at, Some(host)))
            .unwrap()
    };
    let expect = |status: &str, at: i64, host: &str| {
        (Some(status.to_string()), Some(at), Some(host.to_string()))
    };
    record("success", NOW, "h1");
    assert_eq!(last(&db), expect("success", NOW, "h1"));
    // Another host's success in the same second: the row stays as it is.
    record("success", NOW, "h2");
    assert_eq!(last(&db), expect("success", NOW, "h1"));
    // A failure in that second, a success the next: each is written.
    record("failed", NOW, "h2");
    assert_eq!(last(&db), expect("failed", NOW, "h2"));
    record("success", NOW + 1, "h2");
    assert_eq!(last(&db), expect("success", NOW + 1, "h2"));
    // An earlier second is written too (a clock stepped back).
    record("success", NOW - 60, "h1");
    assert_eq!(last(&db), expect("success", NOW - 60, "h1"));
}

fn settings_are_set_and_loaded(place: &Place) {
    let db = place.open();
    assert_eq!(settings::load(db.conn()).unwrap(), Default::default());
    db.write(|tx| {
        settings::set(tx, "job_timeout", "60")?;
        settings::set(tx, "jobs_run_in_parallel", "true")
    })
    .unwrap();
    db.write(|tx| settings::set(tx, "job_timeout", "90"))
        .unwrap();
    let loaded = settings::load(db.conn()).unwrap();
    assert_eq!(loaded.job_timeout, 90);
    assert!(loaded.jobs_run_in_parallel);
    assert_eq!(loaded.job_retries, 1, "unset keys keep their defaults");
}

fn the_outlook_answers_the_idle_pass(place: &Place) {
    let db = place.open();
    let work = |now| outlook(db.conn()).unwrap().work(now);
    let quiet_until = || outlook(db.conn()).unwrap().quiet_until();
    assert_eq!(work(NOW), Work::default(), "a new database has nothing due");
    let cleanup = jobs::get(db.conn(), "Cleanup").unwrap().unwrap();
    let slot = cleanup.next_slot.unwrap();
    assert_eq!(
        quiet_until(),
        Some(Some(slot)),
        "quiet until Cleanup's slot"
    );
    assert_eq!(
        work(slot),
        Work {
            due_slots: true,
            ..Work::default()
        }
    );
    enqueue(&db, &request("j", NOW + 60, 0));
    assert_eq!(work(NOW), Work::default(), "a pending run not yet due");
    assert!(work(NOW + 60).due_runs);
    assert_eq!(quiet_until(), Some(Some(slot.min(NOW + 60))));
    let (run, _) = claim_next(&db, NOW + 60).unwrap();
    assert_eq!(
        work(NOW + 60),
        Work {
            running: true,
            ..Work::default()
        }
    );
    assert_eq!(quiet_until(), None, "never quiet while a run is running");
    // A ping to try again at NOW + 120, and a delivered one, which is never due.
    let ping = |next_try, delivered_at| cronq::store::pings::Tried {
        tries: 1,
        next_try,
        delivered_at,
        last_error: None,
    };
    let kind = cronq::ping::Kind::Success;
    db.write(|tx| {
        cronq::store::pings::insert(
            tx,
            run.id,
            1,
            kind,
            "http://h/k",
            b"",
            NOW,
            &ping(None, Some(NOW)),
        )?;
        cronq::store::pings::insert(
            tx,
            run.id,
            1,
            kind,
            "http://h/k",
            b"x",
            NOW,
            &ping(Some(NOW + 120), None),
        )
    })
    .unwrap();
    assert!(!work(NOW + 119).due_pings);
    assert!(work(NOW + 120).due_pings);
    let due = cronq::store::pings::due(db.conn(), NOW + 120, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].body, b"x");
    assert!(db
        .write(|tx| cronq::store::pings::lease(tx, due[0].id, NOW + 120, NOW + 200))
        .unwrap());
    assert!(
        !db.write(|tx| cronq::store::pings::lease(tx, due[0].id, NOW + 120, NOW + 200))
            .unwrap(),
        "a leased ping is not taken twice"
    );
    assert!(!work(NOW + 199).due_pings, "a leased ping is not due");
}

fn cleanup_deletes_old_finished_runs_and_keeps_the_newest(place: &Place) {
    let db = place.open();
    let mut ids = Vec::new();
    for i in 0..5 {
        let slot = NOW - 10_000 + i * 60;
        db.write(|tx| runs::insert_slot(tx, "j", slot, RunStatus::Missed, Some("late"), 1, slot))
            .unwrap();
        ids.push(runs::list(db.conn(), Some("j"), None, 1).unwrap()[0].id);
    }
    enqueue(&db, &request("j", NOW - 20_000, 0));
    let c = db.conn();
    let sql = c.sql();
    let jobs_with_runs: Vec<String> = c
        .query(sql.jobs_with_runs, &[])
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect();
    assert_eq!(jobs_with_runs, ["j"]);
    // Keep the newest 2 finished runs: those below the 2nd newest may go.
    let keep_from = c
        .query_one(sql.keep_from, params!["j", 1i64])
        .unwrap()
        .int(0)
        .unwrap();
    assert_eq!(keep_from, ids[3]);
    assert!(c
        .query_opt(sql.keep_from, params!["j", 5i64])
        .unwrap()
        .is_none());
    // In batches of 2; the pending run stays however old, and so do runs newer than the cutoff.
    let cutoff = NOW - 10_000 + 2 * 60;
    // Earlier attempts go with their runs.
    place.raw(&format!(
        "INSERT INTO attempts (run_id, attempt, finished_at) VALUES ({}, 1, 0), ({}, 1, 0)",
        ids[0], ids[2]
    ));
    let delete = || {
        db.write(|tx| {
            let batch = params!["j", keep_from, cutoff, 2i64];
            tx.execute(tx.sql().delete_old_attempts, batch)?;
            tx.execute(tx.sql().delete_old_runs, batch)
        })
        .unwrap()
    };
    assert_eq!(delete(), 2);
    assert_eq!(delete(), 0);
    let attempts = |id: i64| {
        db.conn()
            .query_one(
                &format!("SELECT count(*) FROM attempts WHERE run_id = {id}"),
                &[],
            )
            .unwrap()
            .int(0)
            .unwrap()
    };
    assert_eq!((attempts(ids[0]), attempts(ids[2])), (0, 1));
    let left: Vec<i64> = runs::list(db.conn(), Some("j"), None, 100)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left.len(), 4);
    assert!(!left.contains(&ids[0]) && !left.contains(&ids[1]));
    db.write(|tx| {
        tx.execute(
            tx.sql().delete_old_runs,
            params!["j", i64::MAX, NOW, 100i64],
        )
    })
    .unwrap();
    assert_eq!(
        runs::counts(db.conn()).unwrap(),
        [("pending".to_string(), 1)]
    );
}

fn a_failed_write_commits_nothing(place: &Place) {
    let db = place.open();
    let result: Result<()> = db.write(|tx| {
        jobs::insert(tx, &command_job("half", None), NOW)?;
        runs::insert_request(tx, &request("half", NOW, 0), NOW)?;
        anyhow::bail!("the work failed")
    });
    assert_eq!(result.unwrap_err().to_string(), "the work failed");
    assert!(jobs::get(db.conn(), "half").unwrap().is_none());
    assert!(runs::list(db.conn(), None, None, 10).unwrap().is_empty());
    // The connection is usable afterwards, for reads and writes.
    db.write(|tx| jobs::insert(tx, &command_job("whole", None), NOW))
        .unwrap();
    assert!(jobs::get(db.conn(), "whole").unwrap().is_some());
}

fn a_newer_schema_version_is_refused_untouched(place: &Place) {
    drop(place.open());
    match place {
        Place::Sqlite(_) => place.raw("PRAGMA user_version = 4"),
        Place::Postgres(_) => place.raw("UPDATE cronq_schema SET version = 4"),
    }
    let tables = place.tables();
    let message = format!("{:#}", place.try_open(NOW).err().unwrap());
    assert!(
        message.contains("was written by a newer cronq (schema version 4; this cronq knows 3); upgrade cronq. The database was left untouched."),
        "{message}"
    );
    assert_eq!(place.tables(), tables);
}

/// Version 3 added `runs.stop_requested` and `web_tokens`: a database of version 2 gets
/// them when it is opened, keeping its rows.
fn a_version_2_schema_is_upgraded_in_place(place: &Place) {
    let db = place.open();
    db.write(|tx| jobs::insert(tx, &command_job("kept", None), NOW))
        .unwrap();
    drop(db);
    place.raw(
        "DROP TABLE web_tokens; DROP TABLE attempts; ALTER TABLE runs DROP COLUMN stop_requested; \
         DROP TABLE pings; ALTER TABLE jobs DROP COLUMN ping",
    );
    match place {
        Place::Sqlite(_) => place.raw("PRAGMA user_version = 2"),
        Place::Postgres(_) => place.raw("UPDATE cronq_schema SET version = 2"),
    }
    let db = place.open();
    assert!(jobs::get(db.conn(), "kept").unwrap().is_some());
    db.write(|tx| cronq::store::tokens::insert(tx, "t", "read", "00", NOW))
        .unwrap();
    let id = db
        .write(|tx| runs::insert_request(tx, &request("kept", NOW, 0), NOW))
        .unwrap();
    assert!(
        !db.write(|tx| runs::request_stop(tx, id, NOW)).unwrap(),
        "a pending run cannot be stopped"
    );
    db.write(|tx| jobs::set_ping(tx, "kept", Some("http://h/k")))
        .unwrap();
    let job = jobs::get(db.conn(), "kept").unwrap().unwrap();
    assert_eq!(job.ping.as_deref(), Some("http://h/k"));
    assert!(cronq::store::pings::of_run(db.conn(), id)
        .unwrap()
        .is_empty());
    assert!(
        outlook(db.conn()).unwrap().work(NOW) != Default::default(),
        "the pending run is due; the pings probe does not fail"
    );
    drop(db);
    // Opened again, the version is the new one: nothing is upgraded twice.
    assert_eq!(
        cronq::store::tokens::list(place.open().conn())
            .unwrap()
            .len(),
        1
    );
}

fn a_foreign_database_is_refused_untouched(place: &Place) {
    place.raw("CREATE TABLE jobs (id INTEGER, what TEXT); INSERT INTO jobs VALUES (1, 'theirs')");
    let message = format!("{:#}", place.try_open(NOW).err().unwrap());
    assert!(message.contains("of something else"), "{message}");
    assert!(message.contains("left untouched"), "{message}");
    assert_eq!(place.tables(), ["jobs"]);
    if let Place::Postgres(db) = place {
        let rows = db.connect().query("SELECT what FROM jobs", &[]).unwrap();
        assert_eq!(rows.len(), 1);
    }
}

/// What only PostgreSQL has: several connections (hosts) at once, the server's clock,
/// URLs, TLS modes and the connection's own behaviour.
mod postgres_only {
    use super::*;
    use cronq::store::sql::{Field, Value};
    use std::collections::HashSet;
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::{Duration, Instant};

    fn open(url: &str) -> postgres::Database {
        postgres::Database::open(url, NOW).unwrap()
    }

    #[test]
    fn three_connections_claim_every_one_of_200_runs_exactly_once() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        db.write(|tx| {
            for i in 0..200 {
                runs::insert_request(tx, &request("j", NOW - i % 7, i % 3), NOW)?;
            }
            Ok(())
        })
        .unwrap();
        let start = Arc::new(Barrier::new(3));
        let claimers: Vec<_> = (0..3)
            .map(|n| {
                let url = place.url.clone();
                let start = start.clone();
                thread::spawn(move || {
                    let db = open(&url);
                    start.wait();
                    let mut claimed = Vec::new();
                    // One claims as planning does, under the lock of all writes; the
                    // others as drains do, each in a fenced write.
                    let claim = |tx: &dyn Conn| {
                        runs::claim_next(tx, NOW, &owner(n), Start::Now { since_boot: 1 })
                    };
                    let next = || match n {
                        0 => db.write(claim),
                        _ => db.write_fenced(claim),
                    };
                    while let Some((run, claim)) = next().unwrap() {
                        assert_eq!(claim.run, run.id);
                        claimed.push(run.id);
                    }
                    claimed
                })
            })
            .collect();
        let claimed: Vec<Vec<i64>> = claimers.into_iter().map(|t| t.join().unwrap()).collect();
        let all: Vec<i64> = claimed.iter().flatten().copied().collect();
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!(
            all.len(),
            200,
            "claims per connection: {:?}",
            claimed.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert_eq!(distinct.len(), 200, "a run was claimed twice");
        assert_eq!(
            runs::counts(db.conn()).unwrap(),
            [("running".to_string(), 200)]
        );
    }

    #[test]
    fn a_fenced_write_neither_waits_for_the_lock_of_all_writes_nor_for_a_run_another_holds() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let (first, second) = db
            .write(|tx| {
                Ok((
                    runs::insert_request(tx, &request("j", NOW, 5), NOW)?,
                    runs::insert_request(tx, &request("j", NOW, 0), NOW)?,
                ))
            })
            .unwrap();
        // Another host holds cronq's lock of all writes and the first run's row (as an
        // operator's cancel does) until the fenced write has claimed: were the claim to
        // wait for either, the two would wait for each other until the 30 s lock timeout.
        let release = hold_a_write(&place.url, Write::Locked, move |tx| {
            tx.query(
                "SELECT id FROM runs WHERE id = $1 FOR UPDATE",
                &[Value::Int(first)],
            )?;
            Ok(())
        });
        let began = Instant::now();
        let claimed = db
            .write_fenced(|tx| runs::claim_next(tx, NOW, &owner(1), Start::Now { since_boot: 1 }));
        let waited = began.elapsed();
        release();
        let (run, _) = claimed.unwrap().expect("the second run was free to claim");
        assert_eq!(
            run.id, second,
            "the run another transaction held was not passed over"
        );
        assert!(
            waited < Duration::from_secs(10),
            "the claim waited {waited:?}"
        );
        // Once free, the passed-over run is claimed by the next look.
        let (run, _) = db
            .write_fenced(|tx| runs::claim_next(tx, NOW, &owner(1), Start::Later))
            .unwrap()
            .unwrap();
        assert_eq!(run.id, first);
    }

    /// A run queued and claimed (for a process that starts it later): its id and claim.
    fn queued_and_claimed(db: &postgres::Database) -> (i64, Claim) {
        let id = db
            .write(|tx| runs::insert_request(tx, &request("j", NOW, 0), NOW))
            .unwrap();
        let (_, claim) = db
            .write(|tx| runs::claim(tx, id, NOW, &owner(1), Start::Later))
            .unwrap()
            .unwrap();
        (id, claim)
    }

    /// The two kinds of write transaction: with cronq's lock of all writes (`write`), and
    /// fenced by claims without it (`write_fenced`).
    #[derive(Clone, Copy)]
    enum Write {
        Locked,
        Fenced,
    }

    /// Runs `hold` in a write of kind `kind` on a connection of its own, as another host
    /// would, and keeps that transaction open until the returned function is called, which
    /// then waits for its commit.
    fn hold_a_write(
        url: &str,
        kind: Write,
        hold: impl FnOnce(&dyn Conn) -> Result<()> + Send + 'static,
    ) -> impl FnOnce() {
        let inside = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        let holder = {
            let (url, inside, release) = (url.to_string(), inside.clone(), release.clone());
            thread::spawn(move || {
                let db = open(&url);
                let work = |tx: &dyn Conn| {
                    hold(tx)?;
                    inside.wait();
                    release.wait();
                    Ok(())
                };
                match kind {
                    Write::Locked => db.write(work),
                    Write::Fenced => db.write_fenced(work),
                }
                .unwrap();
            })
        };
        inside.wait();
        move || {
            release.wait();
            holder.join().unwrap();
        }
    }

    /// Waits until a statement of another connection to this database waits for a lock.
    fn until_another_waits_for_a_lock(db: &postgres::Database) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let waiting = db
                .conn()
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap()
                .int(0)
                .unwrap();
            if waiting > 0 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no statement ever waited for a lock"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Runs `hold` in a fenced write on a connection of its own, and `act` in a locked
    /// write on another once `hold` has written; `hold` commits once `act` waits for a
    /// row it wrote. What `act` gave back.
    fn act_while_a_fenced_write_holds_the_row<T: Send + 'static>(
        url: &str,
        hold: impl FnOnce(&dyn Conn) -> Result<()> + Send + 'static,
        act: impl FnOnce(&dyn Conn) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let release = hold_a_write(url, Write::Fenced, hold);
        let actor = {
            let url = url.to_string();
            thread::spawn(move || open(&url).write(act))
        };
        until_another_waits_for_a_lock(&open(url));
        release();
        actor.join().unwrap()
    }

    #[test]
    fn a_cancel_that_waited_for_a_drains_claim_refuses_and_says_the_run_runs() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let id = db
            .write(|tx| runs::insert_request(tx, &request("j", NOW, 0), NOW))
            .unwrap();
        let refused = act_while_a_fenced_write_holds_the_row(
            &place.url,
            |tx| {
                runs::claim_next(tx, NOW, &owner(1), Start::Later)?.expect("a due run");
                Ok(())
            },
            move |tx| cronq::control::cancel(tx, id, "a test", NOW),
        )
        .unwrap_err();
        assert!(refused.to_string().contains("is running"), "{refused}");
        let run = runs::get(db.conn(), id).unwrap().unwrap();
        assert_eq!(run.status, RunStatus::Running);
    }

    #[test]
    fn a_stop_that_waited_for_a_retry_refuses_and_says_the_run_is_pending() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let id = db
            .write(|tx| {
                let mut retried = request("j", NOW, 0);
                retried.max_attempts = 2;
                runs::insert_request(tx, &retried, NOW)
            })
            .unwrap();
        let (_, claim) = db
            .write(|tx| runs::claim(tx, id, NOW, &owner(1), Start::Now { since_boot: 1 }))
            .unwrap()
            .unwrap();
        let refused = act_while_a_fenced_write_holds_the_row(
            &place.url,
            move |tx| {
                let failed = outcome(RunStatus::Failed, b"no");
                assert!(runs::finish(tx, &claim, &failed, Some(NOW + 60), NOW)?);
                Ok(())
            },
            move |tx| cronq::control::stop(tx, id, NOW),
        )
        .unwrap_err();
        assert!(refused.to_string().contains("is pending"), "{refused}");
        let run = runs::get(db.conn(), id).unwrap().unwrap();
        assert_eq!((run.status, run.attempt), (RunStatus::Pending, 2));
        assert_eq!(runs::stop_requested_of(db.conn(), id).unwrap(), None);
    }

    #[test]
    fn hosts_opening_a_new_database_together_create_it_once() {
        let place = common::postgres::fresh_database();
        let start = Arc::new(Barrier::new(4));
        let openers: Vec<_> = (0..4)
            .map(|_| {
                let url = place.url.clone();
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    postgres::Database::open(&url, NOW).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            opener.join().unwrap().unwrap();
        }
        let db = open(&place.url);
        assert_eq!(jobs::names(db.conn()).unwrap(), ["Cleanup"]);
        let versions = place
            .connect()
            .query("SELECT version FROM cronq_schema", &[])
            .unwrap();
        assert_eq!(versions.len(), 1);
        assert_eq!(versions[0].get::<_, i64>(0), postgres::SCHEMA_VERSION);
    }

    #[test]
    fn a_write_waits_for_another_hosts_write_and_then_sees_it() {
        let place = common::postgres::fresh_database();
        let a = open(&place.url);
        let b = open(&place.url);
        let inside = Arc::new(Barrier::new(2));
        let holder = {
            let url = place.url.clone();
            let inside = inside.clone();
            thread::spawn(move || {
                let a = open(&url);
                a.write(|tx| {
                    jobs::insert(tx, &command_job("first", None), NOW)?;
                    inside.wait();
                    thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .unwrap();
            })
        };
        inside.wait();
        let waited = Instant::now();
        let seen = b.write(|tx| jobs::get(tx, "first")).unwrap();
        assert!(
            waited.elapsed() >= Duration::from_millis(200),
            "{:?}",
            waited.elapsed()
        );
        assert!(
            seen.is_some(),
            "the write after the lock sees what the holder committed"
        );
        holder.join().unwrap();
        drop(a);
    }

    #[test]
    fn a_single_row_write_does_not_wait_for_another_hosts_write_and_keeps_its_fence() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let (id, claim) = queued_and_claimed(&db);
        // Another host holds cronq's lock of all writes until this one has written: were
        // the single-row write to wait for it, the two would wait for each other until the
        // 30 s lock timeout failed the write.
        let release = hold_a_write(&place.url, Write::Locked, |tx| {
            jobs::insert(tx, &command_job("other", None), NOW)
        });
        let written = db.write_one(|tx| runs::set_group(tx, &claim, 4321, Some(7)));
        release();
        assert!(written.unwrap());
        let running = runs::running(db.conn(), 3600).unwrap();
        assert_eq!(
            (running[0].pgid, running[0].pgid_started),
            (Some(4321), Some(7))
        );

        // Taken back and claimed again: the old claim's write matches nothing.
        assert!(db
            .write(|tx| runs::requeue(tx, &claim, "taken back"))
            .unwrap());
        let (_, newer) = db
            .write(|tx| runs::claim(tx, id, NOW, &owner(3), Start::Later))
            .unwrap()
            .unwrap();
        assert!(!db
            .write_one(|tx| runs::set_group(tx, &claim, 1, Some(1)))
            .unwrap());
        assert!(db
            .write_one(|tx| runs::set_group(tx, &newer, 99, Some(9)))
            .unwrap());

        // Each statement commits on its own there, so a second one is refused unrun.
        let refused = db
            .write_one(|tx| {
                runs::set_group(tx, &newer, 5, Some(5))?;
                runs::set_group(tx, &newer, 6, Some(6))
            })
            .unwrap_err();
        assert!(
            refused.to_string().contains("second statement"),
            "{refused}"
        );
        let running = runs::running(db.conn(), 3600).unwrap();
        assert_eq!(
            (running[0].pgid, running[0].pgid_started),
            (Some(5), Some(5))
        );
    }

    #[test]
    fn the_process_group_skips_the_wal_flush_but_every_other_commit_still_waits_for_it() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let (_, claim) = queued_and_claimed(&db);
        let setting = |db: &postgres::Database| {
            db.conn()
                .query_one("SELECT current_setting('synchronous_commit')", &[])
                .unwrap()
                .text(0)
                .unwrap()
        };
        assert_eq!(setting(&db), "on");
        assert!(db
            .write_one(|tx| runs::set_group(tx, &claim, 4321, Some(7)))
            .unwrap());
        // The setting lasted for the group's own statement only: a result, a claim or a
        // slot committed next on this connection waits for the flush as before.
        assert_eq!(setting(&db), "on");
        db.write(|tx| {
            assert_eq!(
                tx.query_one("SELECT current_setting('synchronous_commit')", &[])?
                    .text(0)?,
                "on"
            );
            Ok(())
        })
        .unwrap();
        let running = runs::running(db.conn(), 3600).unwrap();
        assert_eq!(running[0].pgid, Some(4321));
    }

    #[test]
    fn a_handled_statement_error_still_fails_the_write() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let result = db.write(|tx| {
            jobs::insert(tx, &command_job("kept?", None), NOW)?;
            // A duplicate name: the statement fails and the work goes on regardless.
            assert!(jobs::insert(tx, &command_job("kept?", None), NOW).is_err());
            Ok(())
        });
        let message = format!("{:#}", result.unwrap_err());
        assert!(message.contains("nothing of it was written"), "{message}");
        assert!(jobs::get(db.conn(), "kept?").unwrap().is_none());
        db.write(|tx| jobs::insert(tx, &command_job("kept", None), NOW))
            .unwrap();
    }

    #[test]
    fn writes_do_not_nest() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let inner = db.write(|_| Ok(db.write(|_| Ok(())))).unwrap();
        assert!(format!("{:#}", inner.unwrap_err()).contains("cannot nest"));
        db.write(|tx| jobs::insert(tx, &command_job("after", None), NOW))
            .unwrap();
    }

    #[test]
    fn now_is_the_servers_clock_in_whole_seconds() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let server = db.server_time().unwrap();
        let here = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        assert!((server - here).abs() <= 2, "server {server}, here {here}");
    }

    #[test]
    fn statements_are_prepared_once_per_connection() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let prepared = || {
            db.conn()
                .query_one("SELECT count(*) FROM pg_prepared_statements", &[])
                .unwrap()
                .int(0)
                .unwrap()
        };
        jobs::list(db.conn()).unwrap();
        let before = prepared();
        for _ in 0..3 {
            jobs::list(db.conn()).unwrap();
            runs::list(db.conn(), None, None, 5).unwrap();
        }
        // runs::list and the count itself are new; the rest come from the cache.
        assert_eq!(prepared(), before + 1);
        assert_eq!(prepared(), before + 1);
    }

    #[test]
    fn values_go_in_and_come_out_by_their_type() {
        let place = common::postgres::fresh_database();
        let db = open(&place.url);
        let c = db.conn();
        let row = c
            .query_one(
                "SELECT $1::int2, $2::int4, $3::int8, $4::bool, $5::text, $6::bytea, \
                 $7::varchar, NULL::int8, 'x'::name",
                &[
                    Value::Int(-7),
                    Value::Int(70_000),
                    Value::Int(i64::MIN),
                    Value::Bool(true),
                    Value::Text("é"),
                    Value::Bytes(&[0, 255]),
                    Value::Text("v"),
                ],
            )
            .unwrap();
        assert_eq!(
            row.0,
            [
                Field::Int(-7),
                Field::Int(70_000),
                Field::Int(i64::MIN),
                Field::Bool(true),
                Field::Text("é".into()),
                Field::Bytes(vec![0, 255]),
                Field::Text("v".into()),
                Field::Null,
                Field::Text("x".into()),
            ]
        );
        let out_of_range = c
            .query("SELECT $1::int4", &[Value::Int(1 << 40)])
            .unwrap_err();
        assert!(
            format!("{out_of_range:#}").contains("out of range"),
            "{out_of_range:#}"
        );
        let wrong_type = c
            .query("SELECT $1::text", &[Value::Bool(true)])
            .unwrap_err();
        assert!(format!("{wrong_type:#}").contains("text"), "{wrong_type:#}");
        let unknown = c.query("SELECT now()", &[]).unwrap_err();
        assert!(
            format!("{unknown:#}").contains("timestamptz"),
            "{unknown:#}"
        );
        // The connection is fine after each refusal.
        assert_eq!(
            c.query_one("SELECT 1::int8", &[]).unwrap().int(0).unwrap(),
            1
        );
    }

    #[test]
    fn messages_name_the_database_without_the_password() {
        let place = common::postgres::fresh_database();
        let with_password = place.url.replacen("postgres@", "postgres:s3cret@", 1);
        assert_ne!(with_password, place.url);
        let db = open(&with_password);
        let shown = db.describe();
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.ends_with(&format!("127.0.0.1:5432/{}", place.name))
                || shown.contains(&place.name),
            "{shown}"
        );
        let e = db.conn().query("SELECT * FROM nowhere", &[]).unwrap_err();
        let message = format!("{e:#}");
        assert!(
            message.contains(&shown) && message.contains("nowhere"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[test]
    fn a_server_that_is_not_there_is_named_with_what_to_check() {
        // A port nothing listens on: refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let url = format!("postgresql://cron:s3cret@127.0.0.1:{port}/jobs?sslmode=disable");
        let e = postgres::Database::open(&url, NOW).err().unwrap();
        let message = format!("{e:#}");
        assert!(
            message.starts_with(&format!(
                "cannot connect to PostgreSQL at postgresql://cron@127.0.0.1:{port}/jobs?sslmode=disable"
            )),
            "{message}"
        );
        for hint in ["pg_hba.conf", "~/.pgpass", "sslmode"] {
            assert!(message.contains(hint), "{hint}: {message}");
        }
        assert!(!message.contains("s3cret"), "{message}");
        assert_eq!(cronq::error::exit_code(&e), 1);

        let bad = postgres::Database::open("postgresql://cron:s3cret@127.0.0.1:x/jobs", NOW)
            .err()
            .unwrap();
        assert_eq!(cronq::error::exit_code(&bad), 2, "{bad:#}");
    }

    #[test]
    fn a_database_that_does_not_exist_says_to_create_it() {
        let place = common::postgres::fresh_database();
        let url = common::postgres::with_database(&place.url, &format!("{}_missing", place.name));
        let message = format!("{:#}", postgres::Database::open(&url, NOW).err().unwrap());
        assert!(
            message.contains("does not exist") && message.contains("createdb"),
            "{message}"
        );
    }

    /// Each sslmode against the test server, whichever way it is set up: with TLS (a
    /// self-signed certificate, as Debian's default cluster has) or without.
    #[test]
    fn sslmodes_behave_as_libpq_describes_them() {
        let place = common::postgres::fresh_database();
        let tls_on: String = place.connect().query_one("SHOW ssl", &[]).unwrap().get(0);
        let tls_on = tls_on == "on";
        let with = |mode: &str| {
            let url = format!("{}?sslmode={mode}", place.url);
            postgres::Database::open(&url, NOW).map(|db| {
                let encrypted: bool = db
                    .conn()
                    .query_one(
                        "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
                        &[],
                    )
                    .unwrap()
                    .bool(0)
                    .unwrap();
                encrypted
            })
        };
        assert!(!with("disable").unwrap(), "disable: no TLS");
        assert_eq!(with("prefer").unwrap(), tls_on, "prefer: TLS when offered");
        match with("require") {
            Ok(encrypted) => assert!(tls_on && encrypted),
            Err(e) => assert!(!tls_on, "require failed with TLS on: {e:#}"),
        }
        // The URL names the host by address, and no certificate names 127.0.0.1.
        let message = format!("{:#}", with("verify-full").err().unwrap());
        assert!(message.contains("sslmode=verify-full"), "{message}");
        if tls_on {
            assert!(message.contains("certificate"), "{message}");
        }
        // verify-ca checks only the chain: whether it connects depends on whether a CA of
        // this machine's bundle signed the server's certificate (Debian's snakeoil
        // certificate is in the bundle of the machine it was made on).
        match with("verify-ca") {
            Ok(encrypted) => assert!(tls_on && encrypted),
            Err(e) => assert!(format!("{e:#}").contains("sslmode=verify-ca"), "{e:#}"),
        }
        let e = with("allow").err().unwrap();
        assert_eq!(cronq::error::exit_code(&e), 2);
        assert!(format!("{e:#}").contains("verify-full"), "{e:#}");
    }
}

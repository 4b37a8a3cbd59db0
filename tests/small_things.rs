//! Small things of the operator's view (docs/commands.md): completion of job names and
//! setting keys from the live database, `settings --json`, `edit` with nothing to change,
//! and the names `import` gives to unnamed crontab lines.

mod common;

use common::{cronq, START};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn ok(db: &Path, args: &[&str]) -> String {
    let out = cronq(db, START).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn with_jobs(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("cronq.db");
    ok(
        &db,
        &["add", "backup", "--schedule", "@daily", "--", "true"],
    );
    ok(&db, &["add", "billing", "--", "true"]);
    db
}

#[test]
fn complete_lists_job_names_and_setting_keys() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = with_jobs(dir.path());
    assert_eq!(
        ok(&db, &["__complete", "jobs"]),
        "Cleanup\nbackup\nbilling\n"
    );
    let keys = ok(&db, &["__complete", "settings"]);
    assert!(keys.lines().any(|k| k == "jobs_max_portion"), "{keys}");
    assert!(keys.lines().any(|k| k == "presume_dead_hosts"), "{keys}");
    // No database, no names and no error, and no database made.
    let missing = dir.path().join("missing.db");
    assert_eq!(ok(&missing, &["__complete", "jobs"]), "");
    assert!(!missing.exists());
}

/// Sources the bash script and completes `line` (the last word is the one being
/// completed), as bash does on TAB; the candidates.
fn bash_complete(db: &Path, line: &str) -> Vec<String> {
    let script = ok(db, &["completions", "bash"]);
    let dir = db.parent().unwrap();
    let script_file = dir.join("cronq.bash");
    std::fs::write(&script_file, script).unwrap();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cronq")).parent().unwrap();
    let words: Vec<&str> = line.split(' ').collect();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let test = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{line}'; \
         COMP_POINT=${{#COMP_LINE}}; \
         _cronq_live cronq \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script_file.display(),
        quoted.join(" "),
        words.len() - 1
    );
    let out = Command::new("bash")
        .arg("-c")
        .arg(test)
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("CRONQ_DB", db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_job_names_and_setting_keys_from_the_database() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = with_jobs(dir.path());
    assert_eq!(bash_complete(&db, "cronq run-job b"), ["backup", "billing"]);
    assert_eq!(bash_complete(&db, "cronq edit bi"), ["billing"]);
    assert_eq!(
        bash_complete(&db, "cronq disable "),
        ["Cleanup", "backup", "billing"]
    );
    assert_eq!(bash_complete(&db, "cronq runs --job ba"), ["backup"]);
    assert_eq!(
        bash_complete(&db, "cronq settings jobs_max"),
        ["jobs_max_portion"]
    );
    // The --db of the command line wins over CRONQ_DB.
    let other = dir.path().join("other.db");
    ok(&other, &["add", "only-here", "--", "true"]);
    let line = format!("cronq --db {} enable o", other.display());
    assert_eq!(bash_complete(&db, &line), ["only-here"]);
    // Elsewhere clap's completion answers: subcommands, options.
    let commands = bash_complete(&db, "cronq run-j");
    assert_eq!(commands, ["run-job"]);
    let options = bash_complete(&db, "cronq edit backup --sched");
    assert_eq!(options, ["--schedule"]);
}

#[test]
fn settings_json_gives_each_value_its_default_and_whether_it_is_the_default() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    ok(&db, &["settings", "jobs_max_portion", "20"]);
    let all: Value = serde_json::from_str(&ok(&db, &["settings", "--json"])).unwrap();
    let portion = &all["jobs_max_portion"];
    assert_eq!(portion["value"], 20);
    assert_eq!(portion["default"], 15);
    assert_eq!(portion["is_default"], false);
    let parallel = &all["jobs_run_in_parallel"];
    assert_eq!(parallel["value"], false);
    assert_eq!(parallel["is_default"], true);
    assert!(parallel["help"].as_str().unwrap().contains("parallel"));
    let plain = ok(&db, &["settings"]);
    assert_eq!(all.as_object().unwrap().len(), plain.lines().count());
}

#[test]
fn edit_with_nothing_to_change_says_so_and_exits_2() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = with_jobs(dir.path());
    let before = ok(&db, &["jobs", "--json"]);
    let out = cronq(&db, START).args(["edit", "backup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nothing to change"), "{stderr}");
    assert!(stderr.contains("--schedule"), "{stderr}");
    assert_eq!(ok(&db, &["jobs", "--json"]), before);
    // One change is enough.
    ok(&db, &["edit", "backup", "--retries", "2"]);
}

#[test]
fn import_names_lines_after_their_commands_and_counts_in_words() {
    let dir = tempfile::TempDir::new().unwrap();
    let db = dir.path().join("cronq.db");
    let one = dir.path().join("one");
    std::fs::write(&one, "CRON_TZ=UTC\n@daily /usr/local/bin/backup --all\n").unwrap();
    let out = ok(&db, &["import", one.to_str().unwrap()]);
    assert!(out.starts_with("imported 1 job;"), "{out}");
    let many = dir.path().join("many");
    let mut text = String::from("CRON_TZ=UTC\n");
    for i in 1..=11 {
        text.push_str(&format!(
            "*/5 * * * * php /srv/crm/command.php run-job Job{i}\n"
        ));
    }
    text.push_str("@hourly /usr/local/bin/backup --quick\n");
    std::fs::write(&many, text).unwrap();
    let out = cronq(&db, START)
        .args(["import", many.to_str().unwrap()])
        .output()
        .unwrap();
    // The second backup clashes with the job imported before: nothing is imported.
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 13: a job named 'backup' already exists"),
        "{stderr}"
    );
    assert_eq!(ok(&db, &["__complete", "jobs"]), "Cleanup\nbackup\n");
    // Without it, each line is named after its command and its words.
    let text = std::fs::read_to_string(&many)
        .unwrap()
        .replace("@hourly /usr/local/bin/backup --quick\n", "");
    std::fs::write(&many, text).unwrap();
    let out = ok(&db, &["import", many.to_str().unwrap()]);
    assert!(out.starts_with("imported 11 jobs;"), "{out}");
    let names = ok(&db, &["__complete", "jobs"]);
    assert!(names.contains("\ncommand-run-job-Job1\n"), "{names}");
    assert!(names.contains("\ncommand-run-job-Job11\n"), "{names}");
}

//! From a `--db postgresql://...` URL to a connection: the URL read as libpq reads it (with
//! its five `sslmode`s, which the client library alone does not know), timeouts, the
//! password file, TLS only when the mode asks for it, and errors that say what to fix.

use super::pgpass;
use super::tls::{self, SslMode};
use crate::error::usage;
use anyhow::{anyhow, Result};
use postgres::config::Host;
use postgres::{Client, Config, NoTls};
use std::error::Error as _;
use std::str::FromStr;
use std::time::Duration;

/// How long a connection attempt may take when the URL sets no `connect_timeout`.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Idle time before the first TCP keepalive probe when the URL sets no `keepalives_idle`:
/// a server host that vanished without closing the connection is noticed in minutes,
/// not after the system's default two hours.
pub const KEEPALIVES_IDLE: Duration = Duration::from_secs(60);

/// How long data sent on a connection may stay unacknowledged before the connection is
/// given up (`TCP_USER_TIMEOUT`), when the URL sets no `tcp_user_timeout`. Across a network
/// partition a statement would otherwise wait for TCP's retransmissions, about 15 minutes,
/// and a runner's look at its claim with it: under `presume_dead_hosts` the runner must
/// notice it is out of touch well within half of `host_silence`.
pub const TCP_USER_TIMEOUT: Duration = Duration::from_secs(20);

/// Keepalive probes on an idle connection: one every 10 s after `KEEPALIVES_IDLE`, three
/// unanswered ones end it.
const KEEPALIVES_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVES_RETRIES: u32 = 3;

/// A URL read and checked, ready to connect.
pub struct Target {
    pub config: Config,
    pub ssl: SslMode,
    /// The URL for messages: no password, ever.
    pub shown: String,
}

/// The URL schemes a PostgreSQL `--db` starts with.
pub const SCHEMES: [&str; 2] = ["postgresql://", "postgres://"];

/// Whether `db` names a PostgreSQL database rather than an SQLite file.
pub fn is_url(db: &str) -> bool {
    SCHEMES.iter().any(|scheme| db.starts_with(scheme))
}

/// Reads `url`. A URL that does not parse, or names an unknown `sslmode`, is a usage
/// error (exit 2); its text is not repeated, as it may hold a password.
pub fn parse(url: &str) -> Result<Target> {
    let Some(scheme) = SCHEMES.iter().find(|scheme| url.starts_with(**scheme)) else {
        return Err(usage(
            "a PostgreSQL --db must start with postgresql:// or postgres://, e.g. \
             postgresql://cronq@db.example.org:5432/cronq?sslmode=verify-full",
        ));
    };
    let (rest, params) = split_params(url);
    let mut ssl = SslMode::Prefer;
    let mut kept = Vec::new();
    let has = |key: &str| params.iter().any(|(k, _)| *k == key);
    let explicit_timeout = has("connect_timeout");
    let explicit_idle = has("keepalives_idle");
    let explicit_user_timeout = has("tcp_user_timeout");
    for (key, value) in &params {
        if *key == "sslmode" {
            ssl = SslMode::parse(value).ok_or_else(|| {
                usage(format!(
                    "--db: sslmode={value} is not a mode cronq knows; use one of {}",
                    SslMode::WORDS
                ))
            })?;
        } else {
            kept.push(format!("{key}={value}"));
        }
    }
    let bare = if kept.is_empty() {
        rest.to_string()
    } else {
        format!("{rest}?{}", kept.join("&"))
    };
    let mut config = Config::from_str(&bare).map_err(|e| {
        usage(format!(
            "--db is not a PostgreSQL URL cronq can use: {}. The form is \
             postgresql://USER@HOST:PORT/DATABASE?sslmode=MODE (sslmode: {}); \
             percent-encode special characters",
            chain(&e),
            SslMode::WORDS
        ))
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err(usage(
            "--db names no host: write postgresql://USER@HOST:PORT/DATABASE (a unix socket \
             directory as host, percent-encoded: postgresql://USER@%2Frun%2Fpostgresql/DATABASE)",
        ));
    }
    if config.get_user().is_none() {
        // The client library would use the same name; cronq needs it for the password
        // file and for messages.
        if let Some(me) = user_name() {
            config.user(&me);
        }
    }
    config.ssl_mode(ssl.negotiation());
    if !explicit_timeout {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if !explicit_idle {
        config.keepalives_idle(KEEPALIVES_IDLE);
    }
    if !has("keepalives_interval") {
        config.keepalives_interval(KEEPALIVES_INTERVAL);
    }
    if !has("keepalives_retries") {
        config.keepalives_retries(KEEPALIVES_RETRIES);
    }
    if !explicit_user_timeout {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("cronq");
    }
    let shown = describe(scheme, &config, ssl, has("sslmode"));
    if config.get_password().is_none() {
        if let Some(password) = password_from_file(&config) {
            config.password(password);
        }
    }
    Ok(Target { config, ssl, shown })
}

/// The URL's part before `?`, and its parameters. The query starts at the first `?` after
/// the user information (which ends at the first `@`), where the client library looks.
fn split_params(url: &str) -> (&str, Vec<(&str, &str)>) {
    let after_user = url.find('@').map_or(0, |at| at + 1);
    let Some(question) = url[after_user..].find('?').map(|q| after_user + q) else {
        return (url, Vec::new());
    };
    let params = url[question + 1..]
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    (&url[..question], params)
}

/// `postgresql://USER@HOST:PORT/DATABASE`, with the `sslmode` when the URL gave one:
/// what messages show of a URL. Built from what was parsed, so a password cannot slip in.
fn describe(scheme: &str, config: &Config, ssl: SslMode, explicit_ssl: bool) -> String {
    let user = config
        .get_user()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) if name.contains(':') => format!("[{name}]"),
            Host::Tcp(name) => name.clone(),
            Host::Unix(dir) => dir.display().to_string().replace('/', "%2F"),
        })
        .collect();
    if hosts.is_empty() {
        hosts = config
            .get_hostaddrs()
            .iter()
            .map(|ip| ip.to_string())
            .collect();
    }
    let hosts: Vec<String> = hosts
        .into_iter()
        .enumerate()
        .map(|(i, host)| match ports.get(i).or(ports.first()) {
            Some(port) => format!("{host}:{port}"),
            None => format!("{host}:5432"),
        })
        .collect();
    let database = config.get_dbname().or(config.get_user()).unwrap_or("");
    let query = if explicit_ssl {
        format!("?sslmode={}", ssl.as_str())
    } else {
        String::new()
    };
    format!("{scheme}{user}{}/{database}{query}", hosts.join(","))
}

/// The name of the user cronq runs as, from `/etc/passwd` (a statically linked binary
/// cannot ask the C library's NSS), or `USER`.
fn user_name() -> Option<String> {
    let uid = crate::files::effective_uid().to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid && !name.is_empty()).then(|| name.to_string())
        })
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
}

/// The password for the first host from the password file, if the file has one.
fn password_from_file(config: &Config) -> Option<String> {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        // libpq matches a socket in a default directory as "localhost".
        Some(Host::Unix(dir)) => match dir.to_str() {
            Some("/var/run/postgresql" | "/run/postgresql" | "/tmp") => "localhost".into(),
            _ => dir.display().to_string(),
        },
        None => config.get_hostaddrs().first()?.to_string(),
    };
    let user = config.get_user()?;
    pgpass::lookup(&pgpass::Target {
        host: &host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        database: config.get_dbname().unwrap_or(user),
        user,
    })
}

/// Connects; TLS is set up only when the mode may use it.
pub fn connect(target: &Target) -> Result<Client> {
    let connected = match target.ssl {
        SslMode::Disable => target.config.connect(NoTls),
        mode => target.config.connect(tls::connector(mode)?),
    };
    connected.map_err(|e| connect_error(target, &e))
}

/// Why a connection failed and what to look at, by what the server or the network said.
fn connect_error(target: &Target, e: &postgres::Error) -> anyhow::Error {
    let shown = &target.shown;
    let hint = match e.code().map(|code| code.code()) {
        // invalid_password
        Some("28P01") => "Check the password: give it in the password file ~/.pgpass \
                          (HOST:PORT:DATABASE:USER:PASSWORD, mode 0600; or the file \
                          PGPASSFILE names) rather than in --db, where every process \
                          listing shows it"
            .to_string(),
        // invalid_authorization_specification: no such role, or no pg_hba.conf line.
        Some("28000") => format!(
            "Check that the user exists on the server (createuser USER) and that the \
             server's pg_hba.conf has a line that lets this host in as this user to this \
             database{}; add one and reload the server",
            if target.ssl == SslMode::Disable {
                " without TLS (a hostssl line needs sslmode=require or stricter)"
            } else {
                ""
            }
        ),
        // invalid_catalog_name: no such database.
        Some("3D000") => "Create the database first, e.g. createdb -O USER DATABASE; cronq \
                          creates its tables in it on first use"
            .to_string(),
        _ if chain(e).contains("server does not support TLS") => format!(
            "The server does not offer TLS (ssl = off in its postgresql.conf): turn it on, \
             or choose sslmode=prefer or disable (now sslmode={})",
            target.ssl.as_str()
        ),
        _ if chain(e).contains("certificate") => format!(
            "The server's certificate was refused under sslmode={}: verify-ca needs it \
             signed by a CA of the system's bundle (or of the PEM file SSL_CERT_FILE \
             names), and verify-full also needs it to name the host as --db writes it; \
             sslmode=require encrypts without checking the certificate",
            target.ssl.as_str()
        ),
        _ => format!(
            "Check that the server runs and listens there (listen_addresses, port, a \
             firewall), that pg_hba.conf lets this host and user in, that the password is \
             right (in ~/.pgpass, mode 0600), and that sslmode fits the server: it is {} \
             ({}; the modes are {})",
            target.ssl.as_str(),
            match target.ssl {
                SslMode::Disable => "no TLS",
                SslMode::Prefer => "TLS when the server offers it",
                SslMode::Require => "TLS, certificate not checked",
                SslMode::VerifyCa => "TLS, certificate checked against the system's CAs",
                SslMode::VerifyFull =>
                    "TLS, certificate checked against the system's CAs and the host name",
            },
            SslMode::WORDS
        ),
    };
    anyhow!(
        "cannot connect to PostgreSQL at {shown}: {}. {hint}",
        chain(e)
    )
}

/// What a PostgreSQL error says: the server's message with its detail and hint, or the
/// client's error with its causes.
pub fn chain(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut text = db.message().to_string();
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; {hint}"));
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;

    fn shown(url: &str) -> String {
        parse(url).unwrap().shown
    }

    #[test]
    fn messages_show_the_url_without_its_password() {
        assert_eq!(
            shown("postgresql://cron:s3cret@db.example.org:6543/jobs?sslmode=verify-full"),
            "postgresql://cron@db.example.org:6543/jobs?sslmode=verify-full"
        );
        assert_eq!(
            shown("postgres://cron@db.example.org/jobs?password=s3cret&connect_timeout=3"),
            "postgres://cron@db.example.org:5432/jobs"
        );
        assert_eq!(
            shown("postgresql://cron@[::1]:5433,db2:5434/jobs"),
            "postgresql://cron@[::1]:5433,db2:5434/jobs"
        );
        assert_eq!(
            shown("postgresql://cron@%2Frun%2Fpostgresql/jobs"),
            "postgresql://cron@%2Frun%2Fpostgresql:5432/jobs"
        );
    }

    #[test]
    fn sslmode_takes_libpq_words_and_defaults_to_prefer() {
        let t = parse("postgresql://u@h/d").unwrap();
        assert_eq!(t.ssl, SslMode::Prefer);
        for (word, negotiation) in [
            ("disable", postgres::config::SslMode::Disable),
            ("prefer", postgres::config::SslMode::Prefer),
            ("require", postgres::config::SslMode::Require),
            ("verify-ca", postgres::config::SslMode::Require),
            ("verify-full", postgres::config::SslMode::Require),
        ] {
            let t = parse(&format!("postgresql://u@h/d?sslmode={word}")).unwrap();
            assert_eq!(t.ssl.as_str(), word);
            assert_eq!(t.config.get_ssl_mode(), negotiation);
        }
    }

    #[test]
    fn bad_urls_are_usage_errors_that_do_not_repeat_the_password() {
        for url in [
            "postgresql://u:s3cret@h/d?sslmode=allow",
            "postgresql://u:s3cret@h/d?nonsense=1",
            "postgresql://u:s3cret@h:port/d",
            "postgresql://u:s3cret@/d",
            "mysql://u:s3cret@h/d",
        ] {
            let e = parse(url).err().unwrap();
            assert_eq!(exit_code(&e), 2, "{url}: {e:#}");
            assert!(!format!("{e:#}").contains("s3cret"), "{url}: {e:#}");
        }
    }

    #[test]
    fn timeouts_default_unless_the_url_sets_them() {
        let t = parse("postgresql://u@h/d").unwrap();
        assert_eq!(t.config.get_connect_timeout(), Some(&CONNECT_TIMEOUT));
        assert!(t.config.get_keepalives());
        assert_eq!(t.config.get_keepalives_idle(), KEEPALIVES_IDLE);
        assert_eq!(t.config.get_tcp_user_timeout(), Some(&TCP_USER_TIMEOUT));
        assert_eq!(
            t.config.get_keepalives_interval(),
            Some(KEEPALIVES_INTERVAL)
        );
        assert_eq!(t.config.get_keepalives_retries(), Some(KEEPALIVES_RETRIES));
        let t = parse("postgresql://u@h/d?connect_timeout=3&keepalives_idle=7").unwrap();
        assert_eq!(
            t.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(t.config.get_keepalives_idle(), Duration::from_secs(7));
        let t = parse("postgresql://u@h/d?connect_timeout=0").unwrap();
        assert_eq!(
            t.config.get_connect_timeout(),
            None,
            "0 waits for ever, as in libpq"
        );
    }

    proptest::proptest! {
        /// Any text after the scheme is a URL or a usage error, never a panic, and a
        /// password never reaches what messages show.
        #[test]
        fn any_url_parses_or_is_refused(rest in "[a-z0-9:@/?&=%,.\\[\\]-]{0,40}") {
            for scheme in SCHEMES {
                match parse(&format!("{scheme}{rest}")) {
                    Ok(target) => proptest::prop_assert!(!target.shown.contains(":pw@")),
                    Err(e) => proptest::prop_assert_eq!(exit_code(&e), 2),
                }
                let _ = parse(&format!("{scheme}u:pw@{rest}"))
                    .map(|target| assert!(!target.shown.contains("pw@"), "{}", target.shown));
            }
        }
    }

    #[test]
    fn params_are_found_after_the_user_information() {
        let (rest, params) = split_params("postgresql://u:p?q@h/d?a=1&sslmode=require");
        assert_eq!(rest, "postgresql://u:p?q@h/d");
        assert_eq!(params, [("a", "1"), ("sslmode", "require")]);
        assert_eq!(split_params("postgresql://h/d").1, []);
    }
}

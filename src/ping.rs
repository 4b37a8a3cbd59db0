//! Monitoring pings (`cronq add/edit --ping URL`), in the convention of Healthchecks.io:
//! `URL/start` when an attempt starts, the bare URL on success, `URL/<exit status>` or
//! `URL/fail` on failure, `URL/log` for an attempt that failed and will be retried, each
//! with `rid=<UUID>` pairing them and the tail of the output as the body. This module is
//! the pure part (URLs, the run id, what to send, when to try again); `send` is the
//! network edge, `deliver` ties both to the store. See docs/pings.md.

mod deliver;
mod send;

pub use deliver::{finish, retry_due, start, Started};

use crate::time::Timestamp;

/// The longest URL `--ping` takes.
pub const MAX_URL_LEN: usize = 2048;

/// The most of the output's tail a ping carries unless the server said how much it takes
/// (Healthchecks' `Ping-Body-Limit` header on an earlier ping of the run).
pub const BODY_LIMIT: usize = 10 * 1024;

/// Never more than this, whatever a server says: a run keeps at most 64 KiB of output.
pub const MAX_BODY_LIMIT: usize = 100_000;

/// A ping is tried at most this many times...
pub const MAX_TRIES: i64 = 20;

/// ...and not after this many seconds from its run's end.
pub const GIVE_UP_AFTER: i64 = 24 * 3600;

/// Delivered and given-up pings are deleted this long after they were made.
pub const KEEP_FOR: i64 = 30 * 24 * 3600;

/// What a ping says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// An attempt started.
    Start,
    /// An attempt failed and the run will be tried again: recorded by the monitor, no
    /// change of state.
    Log,
    /// The run succeeded.
    Success,
    /// The run failed for good.
    Fail,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Log => "log",
            Kind::Success => "success",
            Kind::Fail => "fail",
        }
    }
}

impl std::str::FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Kind, String> {
        Ok(match s {
            "start" => Kind::Start,
            "log" => Kind::Log,
            "success" => Kind::Success,
            "fail" => Kind::Fail,
            _ => return Err(format!("unknown ping kind '{s}'")),
        })
    }
}

/// Checks a `--ping` URL: http or https, a host, no user name or password (they would be
/// shown by `cronq jobs` and `show`; Healthchecks puts its key in the path), no fragment,
/// printable ASCII only, at most `MAX_URL_LEN` characters. Returns it with one trailing
/// `/` of its path removed, ready for `/start` and the others to be appended.
pub fn validate_url(text: &str) -> Result<String, String> {
    if text.len() > MAX_URL_LEN {
        return Err(format!(
            "the ping URL is {} characters long; at most {MAX_URL_LEN} are accepted",
            text.len()
        ));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !c.is_ascii_graphic() || "<>\"{}|\\^`".contains(*c))
    {
        return Err(format!(
            "the ping URL contains {c:?}; percent-encode it (e.g. a space as %20)"
        ));
    }
    let lower = text.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &text[8..]
    } else if lower.starts_with("http://") {
        &text[7..]
    } else {
        return Err(format!(
            "the ping URL '{text}' must start with https:// or http://, e.g. \
             https://hc-ping.com/<uuid>"
        ));
    };
    if text.contains('#') {
        return Err("the ping URL must not have a fragment (#...)".to_string());
    }
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "the ping URL must not carry a user name or password (user@host): cronq shows \
             the URL in `cronq jobs` and `cronq show`; put the key in the path, as \
             Healthchecks does"
                .to_string(),
        );
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| !port.contains(']'))
        .map_or(authority, |(host, _)| host);
    if host.is_empty() {
        return Err(format!("the ping URL '{text}' names no host"));
    }
    let (path, query) = split_query(text);
    let path = match path.strip_suffix('/') {
        Some(stripped) if stripped.len() > text.len() - rest.len() + authority.len() => stripped,
        _ => path,
    };
    Ok(match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    })
}

fn split_query(url: &str) -> (&str, Option<&str>) {
    match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    }
}

/// The UUID that pairs a run's pings (Healthchecks' `rid`): the same for every attempt of
/// the run, so that the monitor measures each attempt from its own start. "cronq" in its
/// first bytes, the run id in its last 64 bits (version 8, RFC 9562's custom layout).
pub fn rid(run_id: i64) -> String {
    let id = run_id as u64;
    format!(
        "63726f6e-7100-8000-8{:03x}-{:012x}",
        (id >> 48) & 0xfff,
        id & 0xffff_ffff_ffff
    )
}

/// The URL one ping requests: `base` with the kind's path (`/start`, `/log`, nothing, the
/// exit status or `/fail`) and `rid`.
pub fn url_for(base: &str, kind: Kind, exit_code: Option<i64>, run_id: i64) -> String {
    let suffix = match kind {
        Kind::Start => "/start".to_string(),
        Kind::Log => "/log".to_string(),
        Kind::Success => String::new(),
        Kind::Fail => match exit_code {
            Some(code @ 1..=255) => format!("/{code}"),
            _ => "/fail".to_string(),
        },
    };
    let (path, query) = split_query(base);
    let query = match query {
        Some(query) if !query.is_empty() => format!("{query}&"),
        _ => String::new(),
    };
    format!("{path}{suffix}?{query}rid={}", rid(run_id))
}

/// The last `limit` bytes of `output`.
pub fn tail(output: &[u8], limit: usize) -> &[u8] {
    &output[output.len().saturating_sub(limit)..]
}

/// When a ping whose try number `tries` just failed is tried again: 1 minute after the
/// first, doubling up to an hour; `None` once `MAX_TRIES` tries were made or the next
/// would come more than `GIVE_UP_AFTER` seconds after the ping was made.
pub fn next_try(created_at: Timestamp, tries: i64, now: Timestamp) -> Option<Timestamp> {
    if tries >= MAX_TRIES {
        return None;
    }
    let delay = 60_i64
        .saturating_mul(1 << (tries - 1).clamp(0, 6))
        .min(3600);
    let at = now + delay;
    (at <= created_at + GIVE_UP_AFTER).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        let ok = |u: &str| validate_url(u).unwrap();
        assert_eq!(ok("https://hc-ping.com/abc"), "https://hc-ping.com/abc");
        assert_eq!(ok("https://hc-ping.com/abc/"), "https://hc-ping.com/abc");
        assert_eq!(
            ok("http://127.0.0.1:8000/p/k/s?x=1"),
            "http://127.0.0.1:8000/p/k/s?x=1"
        );
        assert_eq!(ok("http://h/"), "http://h/");
        assert_eq!(ok("HTTP://[::1]:80/x"), "HTTP://[::1]:80/x");
        for bad in [
            "ftp://h/x",
            "hc-ping.com/abc",
            "https://user:pw@h/x",
            "https://h/x#frag",
            "https://h/a b",
            "https:///x",
            "https://:80/x",
            "https://h/é",
        ] {
            assert!(validate_url(bad).is_err(), "{bad} was accepted");
        }
        let long = format!("https://h/{}", "a".repeat(MAX_URL_LEN));
        assert!(validate_url(&long).unwrap_err().contains("at most 2048"));
    }

    #[test]
    fn each_kind_has_its_path_and_the_same_rid() {
        let r = rid(7);
        assert_eq!(r, "63726f6e-7100-8000-8000-000000000007");
        assert_eq!(
            url_for("http://h/k", Kind::Start, None, 7),
            format!("http://h/k/start?rid={r}")
        );
        assert_eq!(
            url_for("http://h/k", Kind::Success, Some(0), 7),
            format!("http://h/k?rid={r}")
        );
        assert_eq!(
            url_for("http://h/k", Kind::Fail, Some(3), 7),
            format!("http://h/k/3?rid={r}")
        );
        assert_eq!(
            url_for("http://h/k", Kind::Fail, None, 7),
            format!("http://h/k/fail?rid={r}")
        );
        assert_eq!(
            url_for("http://h/k", Kind::Fail, Some(300), 7),
            format!("http://h/k/fail?rid={r}")
        );
        assert_eq!(
            url_for("http://h/k", Kind::Log, Some(1), 7),
            format!("http://h/k/log?rid={r}")
        );
        assert_eq!(
            url_for("http://h/k?a=1", Kind::Start, None, 7),
            format!("http://h/k/start?a=1&rid={r}")
        );
        assert_ne!(rid(1), rid(2));
        assert_ne!(rid(1), rid(1 + (1 << 48)));
        assert_eq!(rid(i64::MAX).len(), 36);
    }

    #[test]
    fn bodies_are_the_tail() {
        assert_eq!(tail(b"abcdef", 4), b"cdef");
        assert_eq!(tail(b"ab", 4), b"ab");
    }

    #[test]
    fn tries_back_off_and_give_up() {
        assert_eq!(next_try(0, 1, 0), Some(60));
        assert_eq!(next_try(0, 2, 100), Some(220));
        assert_eq!(next_try(0, 8, 1000), Some(4600));
        assert_eq!(next_try(0, MAX_TRIES, 0), None);
        assert_eq!(next_try(0, 3, GIVE_UP_AFTER - 10), None);
        for kind in [Kind::Start, Kind::Log, Kind::Success, Kind::Fail] {
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
        }
    }
}

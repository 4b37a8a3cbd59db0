//! Who may ask what of `cronq web`: the pure decisions on a request's Host header, its
//! origin and its credentials, made before any page is read or any state changes. Data
//! in, decisions out; `server` applies them.

use std::net::IpAddr;

/// What a request may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Read every page; change nothing.
    Read,
    /// Read, and act: run, retry, cancel, stop, edit jobs and settings.
    Operator,
}

impl Role {
    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "read" => Some(Role::Read),
            "operator" => Some(Role::Operator),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Read => "read",
            Role::Operator => "operator",
        }
    }
}

/// Whether the Host header names this server. A web page on another site can make the
/// browser send requests to a name that its DNS points at 127.0.0.1 (DNS rebinding); the
/// browser then treats this server as that site's. Such a request carries the attacker's
/// name as its Host, so only names this server is known by are served: an IP address
/// (which no rebinding can use), `localhost`, and the names given with `--host-name`.
pub fn host_is_expected(host: Option<&str>, names: &[String]) -> bool {
    let Some(host) = host else {
        return false;
    };
    let name = strip_port(host.trim());
    if name.is_empty() {
        return false;
    }
    let bracketed = name.strip_prefix('[').and_then(|n| n.strip_suffix(']'));
    if let Some(inner) = bracketed {
        return inner.parse::<std::net::Ipv6Addr>().is_ok();
    }
    if name.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = name.trim_end_matches('.');
    name.eq_ignore_ascii_case("localhost")
        || names
            .iter()
            .any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(name))
}

/// `example.com:8080` → `example.com`; `[::1]:8080` → `[::1]`; a bare IPv6 address has
/// no port to strip.
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    }
}

/// Whether a state-changing request comes from this server's own pages. Browsers say
/// where a request comes from in `Sec-Fetch-Site`; one without it (an older browser)
/// must send an `Origin` equal to this server's own scheme and host, compared as
/// strings. A request with neither is refused: cross-site forms and scripts always send
/// one of them, so the refusal only costs a script that could add the header.
pub fn same_origin(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    scheme: &str,
    host: &str,
) -> Result<(), String> {
    match (sec_fetch_site, origin) {
        (Some("same-origin"), _) => Ok(()),
        (Some(site), _) => Err(format!(
            "refused: a request that changes something must come from cronq's own pages \
             (Sec-Fetch-Site: {site})"
        )),
        (None, Some(origin)) if origin == format!("{scheme}://{host}") => Ok(()),
        (None, Some(origin)) => Err(format!(
            "refused: a request that changes something must come from cronq's own pages \
             (Origin {origin} is not {scheme}://{host})"
        )),
        (None, None) => Err(
            "refused: a request that changes something must say where it comes from \
             (Sec-Fetch-Site or Origin), as browsers do"
                .to_string(),
        ),
    }
}

/// The token in an `Authorization: Basic` header: its password (any user name goes,
/// so `curl --netrc` and a browser's login prompt both work). `None` when the header is
/// absent, of another scheme, or not valid Basic credentials.
pub fn basic_password(authorization: Option<&str>) -> Option<String> {
    use base64::Engine;
    let value = authorization?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (_user, password) = text.split_once(':')?;
    (!password.is_empty()).then(|| password.to_string())
}

/// Whether `ip` is a loopback address, where the screens need no token.
pub fn is_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn hosts_this_server_is_known_by_are_served() {
        let none = names(&[]);
        for host in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "localhost:8080",
            "LOCALHOST",
            "localhost.",
            "[::1]:8080",
            "[::1]",
            "192.0.2.7:80",
        ] {
            assert!(host_is_expected(Some(host), &none), "{host}");
        }
        let ours = names(&["cron.example.com"]);
        assert!(host_is_expected(Some("cron.example.com"), &ours));
        assert!(host_is_expected(Some("Cron.Example.com:443"), &ours));
    }

    #[test]
    fn other_names_are_refused_against_dns_rebinding() {
        let ours = names(&["cron.example.com"]);
        for host in [
            None,
            Some(""),
            Some("evil.example"),
            Some("evil.example:8080"),
            Some("localhost.evil.example"),
            Some("cron.example.com.evil.example"),
            Some("[not-an-address]"),
            Some("127.0.0.1.nip.io"),
        ] {
            assert!(!host_is_expected(host, &ours), "{host:?}");
        }
    }

    #[test]
    fn only_same_origin_requests_change_anything() {
        let ok = |site, origin| same_origin(site, origin, "http", "127.0.0.1:8080").is_ok();
        assert!(ok(Some("same-origin"), None));
        assert!(ok(Some("same-origin"), Some("http://evil.example")));
        assert!(!ok(Some("cross-site"), Some("http://127.0.0.1:8080")));
        assert!(!ok(Some("same-site"), None));
        assert!(!ok(Some("none"), None));
        assert!(ok(None, Some("http://127.0.0.1:8080")));
        assert!(!ok(None, Some("http://127.0.0.1:8081")));
        assert!(!ok(None, Some("https://127.0.0.1:8080")));
        assert!(!ok(None, Some("null")));
        assert!(!ok(None, None));
    }

    #[test]
    fn basic_credentials_give_their_password() {
        // "ops:cq_secret" and ":cq_secret"
        assert_eq!(
            basic_password(Some("Basic b3BzOmNxX3NlY3JldA==")).as_deref(),
            Some("cq_secret")
        );
        assert_eq!(
            basic_password(Some("basic OmNxX3NlY3JldA==")).as_deref(),
            Some("cq_secret")
        );
        assert_eq!(basic_password(None), None);
        assert_eq!(basic_password(Some("Bearer cq_secret")), None);
        assert_eq!(basic_password(Some("Basic !!!")), None);
        // "ops:" has no password.
        assert_eq!(basic_password(Some("Basic b3BzOg==")), None);
    }

    #[test]
    fn loopback_addresses_are_told_apart() {
        assert!(is_loopback("127.0.0.1".parse().unwrap()));
        assert!(is_loopback("127.1.2.3".parse().unwrap()));
        assert!(is_loopback("::1".parse().unwrap()));
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("0.0.0.0".parse().unwrap()));
        assert!(!is_loopback("::".parse().unwrap()));
        assert!(!is_loopback("192.0.2.1".parse().unwrap()));
    }
}

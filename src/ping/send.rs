//! The network edge of monitoring pings: one POST, bounded by a short timeout, that never
//! fails anything but itself. TLS is rustls with the `ring` provider and the system's CA
//! certificates, as for PostgreSQL, read only for an https URL.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long one ping may take, from the name lookup to the response's headers.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The environment variable with which the tests shorten `TIMEOUT`, in milliseconds.
/// Only a debug build reads it.
pub const TIMEOUT_VARIABLE: &str = "CRONQ_TEST_PING_TIMEOUT_MS";

/// `TIMEOUT`, or in a debug build what `TIMEOUT_VARIABLE` says.
pub fn timeout() -> Duration {
    if cfg!(debug_assertions) {
        let shortened = std::env::var(TIMEOUT_VARIABLE)
            .ok()
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0);
        if let Some(ms) = shortened {
            return Duration::from_millis(ms);
        }
    }
    TIMEOUT
}

/// What a server that took a ping said.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// The most body it takes (Healthchecks' `Ping-Body-Limit` header), when it said.
    pub body_limit: Option<usize>,
}

/// Why a ping was not delivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// For the `pings` table and the log.
    pub reason: String,
    /// The server answered (with a status other than 2xx): it can be reached.
    pub answered: bool,
}

/// POSTs `body` to `url`. Any status but 2xx is a failure. Redirects are not followed.
pub fn send(url: &str, body: &[u8]) -> Result<Delivered, Failure> {
    let unreached = |reason: String| Failure {
        reason,
        answered: false,
    };
    let mut config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout()))
        .max_redirects(0)
        .http_status_as_error(true)
        .user_agent(concat!("cronq/", env!("CARGO_PKG_VERSION")));
    if url
        .get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    {
        config = config.tls_config(tls().map_err(unreached)?);
    }
    let agent: ureq::Agent = config.build().into();
    let response = agent.post(url).send(body).map_err(|e| Failure {
        answered: matches!(e, ureq::Error::StatusCode(_)),
        reason: match e {
            ureq::Error::StatusCode(status) => format!("the server answered HTTP {status}"),
            ureq::Error::Timeout(_) => format!("timed out: no answer within {:?}", timeout()),
            e => e.to_string(),
        },
    })?;
    let body_limit = response
        .headers()
        .get("ping-body-limit")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    Ok(Delivered { body_limit })
}

/// rustls with `ring` and the system's CA certificates, read once per process.
fn tls() -> Result<ureq::tls::TlsConfig, String> {
    static ROOTS: OnceLock<Arc<Vec<ureq::tls::Certificate<'static>>>> = OnceLock::new();
    let roots = ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        Arc::new(
            found
                .certs
                .iter()
                .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
                .collect(),
        )
    });
    if roots.is_empty() {
        return Err(
            "no CA certificates could be read from the system to check the server's \
             (install them, e.g. apt-get install ca-certificates, or point SSL_CERT_FILE \
             at a PEM file)"
                .to_string(),
        );
    }
    Ok(ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(roots.clone()))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build())
}

//! `cronq web`: serve the admin screens until SIGTERM or SIGINT.

use super::Context;
use crate::error::usage;
use crate::web;
use anyhow::Result;
use std::net::SocketAddr;

#[derive(clap::Args)]
pub struct Args {
    /// The address and port to listen on; any address but loopback needs tokens (`cronq token`)
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:8080")]
    listen: String,
    /// A name the browser reaches this server by, besides its IP addresses and localhost
    /// (a reverse proxy's or DNS name); other Host headers are refused
    #[arg(long = "host-name", value_name = "NAME")]
    host_names: Vec<String>,
}

pub fn execute(args: Args, context: &Context) -> Result<u8> {
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        usage(format!(
            "--listen '{}' is not an address and port like 127.0.0.1:8080 or [::1]:8080",
            crate::limits::shorten(&args.listen)
        ))
    })?;
    for name in &args.host_names {
        let valid = !name.is_empty()
            && name.len() <= 253
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'));
        if !valid {
            return Err(usage(format!(
                "--host-name '{}' is not a DNS name like cron.example.com",
                crate::limits::shorten(name)
            )));
        }
    }
    web::serve(web::Options {
        listen,
        host_names: args.host_names,
        location: context.location()?,
        clock: context.clock,
    })?;
    Ok(0)
}

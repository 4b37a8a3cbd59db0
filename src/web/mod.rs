//! `cronq web`: the CRM's admin screens in the browser (Scheduled Jobs, Jobs, Job
//! Settings) and a Health page, served by the same binary on either backend. Closed by
//! default: loopback only, unless tokens are made; see docs/web.md.
//!
//! `guard` decides who may do what (pure), `routes` reads and writes the store for each
//! page and action, `pages` and `chart` turn what was read into HTML, `server` is the
//! socket.

mod assets;
mod chart;
mod forms;
pub mod guard;
mod http;
mod pages;
mod routes;
mod server;
pub mod tokens;

pub use server::{serve, Options};

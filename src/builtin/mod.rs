//! Jobs that cronq itself implements, run in-process rather than through `/bin/sh`.

pub mod cleanup;

/// A built-in job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Cleanup,
}

impl Builtin {
    pub const ALL: &'static [Builtin] = &[Builtin::Cleanup];

    pub fn name(self) -> &'static str {
        match self {
            Builtin::Cleanup => "Cleanup",
        }
    }

    /// The schedule its own job gets on a new database (the CRM's).
    pub fn default_schedule(self) -> &'static str {
        match self {
            Builtin::Cleanup => "1 1 * * 0",
        }
    }

    pub fn from_name(name: &str) -> Result<Builtin, String> {
        Builtin::ALL
            .iter()
            .copied()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Builtin::ALL.iter().map(|b| b.name()).collect();
                format!(
                    "unknown built-in job '{name}'; built-in jobs: {}",
                    names.join(", ")
                )
            })
    }
}

/// Runs a built-in in this process; returns the text recorded as its output.
pub fn run(
    builtin: Builtin,
    store: &mut crate::store::Store,
    now: crate::time::Timestamp,
    settings: &crate::settings::Settings,
) -> anyhow::Result<String> {
    match builtin {
        Builtin::Cleanup => cleanup::run(store, now, settings),
    }
}

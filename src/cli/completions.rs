//! `cronq completions SHELL`: shell completion scripts.

use super::output::emit;
use anyhow::Result;

#[derive(clap::Args)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell
    shell: clap_complete::Shell,
}

pub fn execute(args: Args) -> Result<u8> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::command(), "cronq", &mut script);
    emit(&String::from_utf8_lossy(&script))?;
    Ok(0)
}

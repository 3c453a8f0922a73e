//! The `licet` command line: one binary for vendors and installers.
//!
//! This crate parses arguments, reads and writes files and prints results; every
//! decision is made by `licet-core`. Errors go to stderr with a non-zero exit code;
//! `--format json` output is meant for scripts.

mod args;
mod commands;
mod output;

use clap::Parser;
use std::process::ExitCode;

/// Parses the command line, runs the command and turns its outcome into an exit code.
pub fn run() -> ExitCode {
    let cli = args::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

//! Tests of the `licet` binary as installers use it: real processes, real files.

// Helpers shared by tests may panic: a panic here is a test failure, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod agent;
mod catalog;
mod hosted_example;
mod import;
mod license;
mod plan;
mod replicas;
mod server;
mod usage;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) fn catalog(name: &str) -> PathBuf {
    repo()
        .join("examples/catalogs")
        .join(format!("{name}.toml"))
}

/// Runs `licet` with arguments and returns its output.
pub(crate) fn licet<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_licet"))
        .args(args)
        .output()
        .expect("run licet")
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn code(output: &Output) -> i32 {
    output.status.code().expect("exit code")
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

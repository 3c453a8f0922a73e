//! The `licet` binary: a thin shim over [`licet::run`].

fn main() -> std::process::ExitCode {
    licet::run()
}

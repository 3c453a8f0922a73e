//! The `licet` binary: a thin shim over [`licet::run`], and the allocator of a build
//! with the server.

/// The server's requests allocate on one tokio worker and free on another; glibc's
/// allocator serialises that on its arena locks (a profile of license refresh showed
/// the futex waits), mimalloc frees to the owning thread without a lock. The device
/// build (no `server` feature) keeps the system allocator and its size.
#[cfg(feature = "server")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    licet::run()
}

//! The server under test as its own process, and what `/proc` says about it and about
//! PostgreSQL.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// CPU seconds (user + system) of a process, from `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
        return 0.0;
    };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // After the command: state is field 0, utime 11, stime 12 (clock ticks, 100 a second
    // on Linux).
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every PostgreSQL process on the machine.
pub(crate) fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

pub(crate) fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    pub(crate) token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_server(
    data: &std::path::Path,
    catalogs: &std::path::Path,
    url: &str,
) -> Server {
    let binary =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/licet");
    assert!(
        binary.exists(),
        "build the server first: cargo build --release -p licet"
    );
    let config = data.join("bench.toml");
    std::fs::write(
        &config,
        "max_in_flight = 256\n[rate_limits]\nactivations_per_minute = 1000000\n\
         failed_auth_per_minute = 1000\nrequests_per_credential_per_minute = 1000000\n",
    )
    .unwrap();
    let mut child = Command::new(binary)
        .args(["server", "--data-dir"])
        .arg(data)
        .args(["--listen", "127.0.0.1:0", "--catalog-dir"])
        .arg(catalogs)
        .arg("--config")
        .arg(&config)
        .env("LICET_DATABASE_URL", url)
        .env("LICET_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut token = None;
    let base = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "the server exited"
        );
        let line = line.trim();
        if line.starts_with("lct_admin_") {
            token = Some(line.to_owned());
        }
        if let Some(rest) = line.strip_prefix("licet server listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    Server {
        child,
        base,
        token: token.expect("the first start prints the admin token"),
    }
}

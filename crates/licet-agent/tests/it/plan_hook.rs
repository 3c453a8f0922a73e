//! `on_plan_change`: the command runs with the plan when it changes, and a failing
//! command is retried (with backoff, driven here by tokio's paused time).

use crate::support::{Device, LocalApi, START, license_for, offline_agent};
use licet_core::resolve::Subscription;
use licet_host::clock::ManualClock;
use std::path::Path;
use std::sync::Arc;

/// Waits (in paused time, so the agent's retry timers advance) until `file` has `lines`.
async fn wait_for_lines(file: &Path, lines: usize) -> Vec<String> {
    for _ in 0..200_000 {
        if let Ok(text) = std::fs::read_to_string(file) {
            let found: Vec<String> = text.lines().map(str::to_owned).collect();
            if found.len() >= lines {
                return found;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        std::thread::yield_now();
    }
    panic!("{} never got {lines} lines", file.display());
}

#[tokio::test(start_paused = true)]
async fn the_plan_command_runs_on_change_and_is_retried_until_it_succeeds() {
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("hook-box");
    let log = device.dir.path().join("runs.log");
    let attempts = device.dir.path().join("attempts");
    // Fails on its first attempt, then records the profiles and the modules it was given
    // on stdin and in its environment.
    let command = format!(
        "n=$(cat {a} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {a}; \
         [ $n -ge 2 ] || exit 3; \
         modules=$(cat | python3 -c 'import json,sys; print(\",\".join(m[\"id\"] for m in json.load(sys.stdin)[\"enabled\"]))'); \
         echo \"$LICET_MODULES|$modules\" >> {log}",
        a = attempts.display(),
        log = log.display()
    );
    let agent = offline_agent(
        &device,
        "gate-control",
        Subscription::plan("basic"),
        clock.clone(),
        |c| {
            c.on_plan_change = Some(command);
        },
    );
    let api = LocalApi::start(agent.clone()).await;
    let runs = wait_for_lines(&log, 1).await;
    assert_eq!(
        std::fs::read_to_string(&attempts).unwrap().trim(),
        "2",
        "the failed first run was retried"
    );
    let (env, stdin) = runs[0].split_once('|').unwrap();
    assert_eq!(env, stdin, "environment and stdin carry the same plan");
    assert!(
        env.contains("gate.control") && !env.contains("vehicle.color"),
        "{env}"
    );

    // A new license adds modules: the command runs again with the new plan.
    let upgraded = license_for(
        &agent,
        "gate-control",
        &Subscription::plan("standard"),
        2,
        START,
    );
    agent
        .import_license(&upgraded, licet_agent::DeviceIdentity::Same)
        .unwrap();
    let runs = wait_for_lines(&log, 2).await;
    assert!(runs[1].contains("vehicle.color"), "{runs:?}");
    api.stop().await;
}

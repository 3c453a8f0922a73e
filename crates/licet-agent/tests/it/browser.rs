//! The status page in a real browser (Debian's chromium, headless): it renders, shows
//! the state and turns the trial bar amber in the last week. `.ci/run` installs
//! chromium; elsewhere the test is skipped when the browser is missing.

use crate::support::{Device, LocalApi, START, offline_agent, trial};
use licet_host::clock::ManualClock;
use std::sync::Arc;
use time::Duration;

fn chromium() -> Option<String> {
    let found = ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    match found {
        Some(name) => Some(name.to_owned()),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!(
                "CI=true but chromium is not installed: .ci/run installs it (apt-get install chromium)"
            )
        }
        None => None,
    }
}

async fn render(browser: &str, url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test]
async fn the_status_page_renders_in_a_browser_with_an_amber_bar_in_the_last_week() {
    let Some(browser) = chromium() else {
        eprintln!("chromium not installed: skipping the browser test");
        return;
    };
    let clock = Arc::new(ManualClock::new(START));
    let device = Device::new("browser-box");
    let agent = offline_agent(
        &device,
        "brinkbyte-vision",
        trial("base"),
        clock.clone(),
        |_| {},
    );
    agent.register_camera("dock-<1>", None).unwrap();
    let api = LocalApi::start(agent).await;

    let dom = render(&browser, &format!("{}/", api.base)).await;
    assert!(
        dom.contains("<span id=\"state\" class=\"state ok\">active</span>"),
        "{dom}"
    );
    assert!(dom.contains("class=\"fill ok\""), "{dom}");
    assert!(
        dom.contains("dock-&lt;1&gt;"),
        "camera ids are escaped, not markup: {dom}"
    );

    clock.advance(Duration::days(86));
    let dom = render(&browser, &format!("{}/", api.base)).await;
    assert!(
        dom.contains("id=\"trial-bar\" class=\"fill amber\""),
        "{dom}"
    );
    assert!(dom.contains("4 of 90 days left"), "{dom}");
    api.stop().await;
}

//! The status page at `/`, for the installer standing next to the device: state, why,
//! trial time left (a bar that turns amber under 7 days), modules, cameras, last sync
//! and clock warnings. Server-rendered HTML with no scripts, so it works on any browser
//! and through any proxy; every dynamic value is HTML-escaped.

use crate::api::{ApiState, camera_view, status_view};
use crate::error::ApiError;
use axum::extract::State;
use axum::response::Html;
use licet_client::wire::ErrorBody;
use std::fmt::Write as _;

/// Escapes text for HTML.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Days under which the trial bar turns amber.
pub const TRIAL_WARNING_DAYS: i64 = 7;

/// `GET /`.
#[utoipa::path(get, path = "/", tag = "status", responses((status = 200, description = "The status page", content_type = "text/html", body = String), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn status_page(State(s): State<ApiState>) -> Result<Html<String>, ApiError> {
    let view = status_view(&s.agent)?;
    let current = s.agent.current();
    let cameras = s.agent.cameras()?;
    let plan = s.agent.plan(None, None);
    let ok = matches!(view.state.as_str(), "active");
    let warn = matches!(view.state.as_str(), "stale");
    let state_class = if ok {
        "ok"
    } else if warn {
        "warn"
    } else {
        "bad"
    };

    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>Licet agent: {state}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}}
h1{{font-size:1.4rem}} table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}
td,th{{text-align:left;padding:.25rem .8rem .25rem 0;border-bottom:1px solid #ddd}}
.state{{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;color:#fff;font-weight:600}}
.ok{{background:#2e7d32}} .warn{{background:#e69500}} .bad{{background:#c62828}}
.bar{{width:20rem;height:1rem;background:#eee;border-radius:.5rem;overflow:hidden}}
.fill{{height:100%}} .fill.ok{{background:#2e7d32}} .fill.amber{{background:#ffb300}}
.note{{background:#fff3cd;padding:.5rem;border-radius:.3rem}}
</style></head><body>
<h1>Licet agent <span id="state" class="state {state_class}">{state}</span></h1>
<p id="detail">{detail}</p>
"#,
        state = esc(&view.state),
        detail = esc(&view.detail),
    );
    if let Some(behind) = view.clock_behind_seconds {
        let _ = write!(
            html,
            r#"<p id="clock-warning" class="note">The device clock is {behind} s behind the latest time this device has seen. Deadlines are measured from that time; fix the clock (NTP).</p>"#
        );
    }
    let _ = write!(html, "<table>");
    let rows = [
        ("Device", view.device_id.clone()),
        ("Product", view.product.clone()),
        ("Plan", view.plan.clone()),
        ("License", view.license_id.clone()),
        ("Term ends", view.expires_at.clone()),
        ("Next refresh", view.refresh_due_at.clone()),
        ("Offline grace until", view.degrades_at.clone()),
        ("Last sync", view.last_sync_at.clone()),
        ("Last sync error", view.last_sync_error.clone()),
        (
            "Usage waiting for upload",
            Some(format!("{} events", view.usage_backlog)),
        ),
    ];
    for (label, value) in rows {
        let _ = write!(
            html,
            "<tr><th>{label}</th><td>{}</td></tr>",
            esc(value.as_deref().unwrap_or("—"))
        );
    }
    let _ = write!(html, "</table>");

    if let (Some(trial), Some(license)) = (
        current.license.as_ref().and_then(|l| l.trial.as_ref()),
        current.license.as_ref(),
    ) {
        let left = view.trial_days_left.unwrap_or(0);
        let total = i64::from(trial.days.max(1));
        let percent = (left * 100 / total).clamp(0, 100);
        let colour = if left < TRIAL_WARNING_DAYS {
            "amber"
        } else {
            "ok"
        };
        let _ = write!(
            html,
            r#"<h2>Trial</h2><p>{left} of {total} days left (ends {ends}, plan {plan})</p>
<div class="bar"><div id="trial-bar" class="fill {colour}" style="width:{percent}%"></div></div>"#,
            ends = esc(&licet_core::time_text(trial.ends_at)),
            plan = esc(license.plan.as_str()),
        );
    }

    let _ = write!(
        html,
        "<h2>Modules</h2><table><tr><th>Module</th><th>Status</th></tr>"
    );
    for module in &plan.enabled {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>runs</td></tr>",
            esc(module.id.as_str())
        );
    }
    for refused in &plan.refused {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>refused: {}</td></tr>",
            esc(refused.id.as_str()),
            esc(&refused.reason.message())
        );
    }
    let _ = write!(html, "</table>");

    let limit = view
        .camera_limit
        .as_ref()
        .map(|v| v.to_string().trim_matches('"').to_owned())
        .unwrap_or_else(|| "no limit".into());
    let _ = write!(
        html,
        "<h2>Cameras ({} of {})</h2><table id=\"cameras\"><tr><th>Camera</th><th>Mode</th><th>Trial ends</th></tr>",
        cameras.len(),
        esc(&limit)
    );
    for camera in &cameras {
        let v = camera_view(&s.agent, &current, camera);
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.camera_id),
            esc(&v.mode),
            esc(v.trial_expires_at.as_deref().unwrap_or("—"))
        );
    }
    let _ = write!(
        html,
        "</table><p><small>As of {}</small></p></body></html>",
        esc(&view.now)
    );
    Ok(Html(html))
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_covers_markup() {
        assert_eq!(
            super::esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}

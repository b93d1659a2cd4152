//! The status page: rendered here as one HTML document with inline CSS and
//! inline SVG charts, refreshing itself (`<meta http-equiv="refresh">`);
//! nothing is fetched from anywhere else. A few lines of inline script
//! make the "Sync now" buttons post to `/api/profiles/NAME/sync`.

use std::fmt::Write as _;

use serde_json::Value;

/// How often the page reloads itself, in seconds.
pub const REFRESH_SECONDS: u32 = 5;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
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

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => esc(s),
        v => esc(&v.to_string()),
    }
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// The page for `status` (`/api/status`) and each profile's recent runs
/// (`/api/runs`, newest first).
pub fn render(status: &Value, runs: &[(String, Vec<Value>)]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mapsync run</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1d2430; background: #f7f8fa; }}
h1 {{ font-size: 1.4em; margin: 0 0 .2em; }} h2 {{ font-size: 1.15em; margin: 0; }}
.meta {{ color: #5b6475; margin-bottom: 1em; }}
.banner {{ background: #fde8e8; border: 1px solid #e0a0a0; padding: .8em 1em; margin-bottom: 1em; border-radius: 6px; }}
.banner pre {{ white-space: pre-wrap; margin: .4em 0 0; font-size: 12px; }}
.profile {{ background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 1em; margin-bottom: 1em; }}
.head {{ display: flex; gap: 1em; align-items: baseline; flex-wrap: wrap; }}
.state {{ padding: .1em .6em; border-radius: 1em; font-size: 12px; background: #e8eef8; }}
.state.running {{ background: #fff3c4; }} .state.failing {{ background: #fde8e8; }}
table {{ border-collapse: collapse; margin-top: .6em; width: 100%; }}
th, td {{ text-align: left; padding: .25em .6em; border-bottom: 1px solid #eef0f3; font-size: 13px; }}
th {{ color: #5b6475; font-weight: 600; }}
.ok {{ color: #1f7a3a; }} .partial {{ color: #a36a00; }} .failed {{ color: #b42318; }}
.failures td {{ color: #b42318; }}
button {{ font: inherit; padding: .2em .8em; border-radius: 4px; border: 1px solid #9aa5b8; background: #fff; cursor: pointer; }}
svg text {{ font-size: 10px; fill: #5b6475; }}
</style></head><body>
<h1>mapsync run</h1>
<div class="meta">project {project} · version {version} · up since {started} · configuration read every {check} · this page refreshes every {REFRESH_SECONDS} s</div>
"#,
        project = text(&status["project"]),
        version = text(&status["version"]),
        started = text(&status["started_at"]),
        check = text(&status["config_check"]),
    );
    if status["shutting_down"] == Value::Bool(true) {
        h.push_str(r#"<div class="banner">Shutting down: the runs in progress finish their items in flight, no new run starts.</div>"#);
    }
    let config = &status["config"];
    if config["status"] == "refused" {
        let _ = write!(
            h,
            r#"<div class="banner" id="refused"><strong>The last configuration reload was refused</strong> ({at}): {reason}. The previous configuration is still running.<pre>"#,
            at = text(&config["at"]),
            reason = text(&config["reason"]),
        );
        for d in config["diagnostics"].as_array().into_iter().flatten() {
            let _ = writeln!(h, "{}", esc(&crate::manager::diagnostic_line(d)));
        }
        h.push_str("</pre></div>\n");
    }
    if status["pool"].is_object() {
        h.push_str(&pool_section(&status["pool"]));
    }
    let profiles = status["profiles"].as_array().cloned().unwrap_or_default();
    if profiles.is_empty() {
        h.push_str("<p>No profile to run: give a profile a <code>schedule:</code>, or name one with <code>--profile</code>.</p>");
    }
    for p in &profiles {
        let name = p["name"].as_str().unwrap_or_default();
        let failing = num(&p["consecutive_failures"]) > 0;
        let state = p["state"].as_str().unwrap_or("idle");
        let class = if state == "running" {
            "running"
        } else if failing {
            "failing"
        } else {
            ""
        };
        let _ = write!(
            h,
            r#"<section class="profile" id="profile-{id}"><div class="head"><h2>{name}</h2><span class="state {class}">{state}</span><span>{schedule}</span><span>next run: {next}</span><span>target: {target}</span>{fails}<button onclick="syncNow('{id}')">Sync now</button></div>"#,
            id = esc(name),
            name = esc(name),
            state = esc(state),
            schedule = text(&p["schedule"]),
            next = text(&p["next_run"]),
            target = text(&p["target"]),
            fails = if failing {
                format!(
                    r#"<span class="failed">{} failed run(s) in a row</span>"#,
                    num(&p["consecutive_failures"])
                )
            } else {
                String::new()
            },
        );
        if let Some(e) = p["error"].as_str() {
            let _ = write!(
                h,
                r#"<p class="failed">This profile cannot run: {}</p>"#,
                esc(e)
            );
        }
        let list = runs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_slice())
            .unwrap_or(&[]);
        h.push_str(&chart(list));
        h.push_str(&runs_table(list));
        if let Some(last) = p["last_run"].as_object() {
            h.push_str(&failures(&last["report"]));
        } else if let Some(r) = list.first() {
            h.push_str(&failures(&r["report"]));
        }
        h.push_str("</section>\n");
    }
    h.push_str(
        r#"<script>
function syncNow(name) {
  fetch('/api/profiles/' + encodeURIComponent(name) + '/sync', { method: 'POST' })
    .then(function () { location.reload(); });
}
</script>
</body></html>
"#,
    );
    h
}

/// `mapsync run --worker`: the pool's workers, the runs they hold and
/// the queues (one per store) with their waiting jobs.
fn pool_section(pool: &Value) -> String {
    let mut h = String::new();
    let workers = pool["workers"].as_array().cloned().unwrap_or_default();
    let _ = write!(
        h,
        r#"<section class="profile" id="pool"><div class="head"><h2>Pool</h2><span>{n} worker(s)</span><span>queue database: {db}</span><span>read at {at}</span></div>"#,
        n = workers.len(),
        db = text(&pool["queue_database"]),
        at = text(&pool["read_at"]),
    );
    if let Some(e) = pool["error"].as_str() {
        let _ = write!(h, r#"<div class="banner">{}</div>"#, esc(e));
    }
    h.push_str(
        "<table><tr><th>worker</th><th>last heartbeat</th><th>since</th><th>runs held</th></tr>",
    );
    for w in &workers {
        let jobs: Vec<String> = w["jobs"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|j| {
                format!(
                    "{} ({}, attempt {})",
                    text(&j["profile"]),
                    text(&j["queue"]),
                    num(&j["attempts"])
                )
            })
            .collect();
        let mut who = text(&w["id"]);
        if w["this"] == Value::Bool(true) {
            who.push_str(" (this one)");
        }
        if w["stale"] == Value::Bool(true) {
            who.push_str(" — silent, its runs go back to the queue");
        }
        let _ = write!(
            h,
            "<tr><td>{who}</td><td>{hb}</td><td>{st}</td><td>{jobs}</td></tr>",
            hb = text(&w["last_heartbeat_at"]),
            st = text(&w["started_at"]),
            jobs = if jobs.is_empty() {
                "—".to_string()
            } else {
                jobs.join(", ")
            },
        );
    }
    h.push_str("</table><table><tr><th>queue (store)</th><th>waiting</th><th>running</th></tr>");
    for q in pool["queues"].as_array().into_iter().flatten() {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&q["queue"]),
            num(&q["waiting"]),
            num(&q["running"])
        );
    }
    h.push_str("</table></section>\n");
    h
}

fn runs_table(runs: &[Value]) -> String {
    if runs.is_empty() {
        return "<p>No run yet.</p>".into();
    }
    let mut h = String::from(
        "<table class=\"runs\"><tr><th>started</th><th>seconds</th><th>outcome</th><th>created</th><th>updated</th><th>deleted</th><th>deactivated</th><th>unchanged</th><th>invalid</th><th>failed</th><th>requests</th><th>throttled</th></tr>",
    );
    for r in runs.iter().take(10) {
        let rep = &r["report"];
        let sum = if rep["summary"].is_object() {
            &rep["summary"]
        } else {
            &r["summary"]
        };
        let outcome = rep["outcome"]
            .as_str()
            .or(r["status"].as_str())
            .unwrap_or("?");
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"{o}\">{o}{err}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(&r["started_at"]),
            rep["seconds"].as_f64().map(|s| format!("{s:.1}")).unwrap_or_else(|| "—".into()),
            num(&sum["created"]),
            num(&sum["updated"]),
            num(&sum["deleted"]),
            num(&sum["deactivated"]),
            num(&sum["unchanged"]),
            num(&sum["invalid"]),
            num(&sum["failed"]),
            num(&rep["requests"]["total"]),
            num(&rep["requests"]["throttled"]),
            o = esc(outcome),
            err = rep["error"].as_str().map(|e| {
                let short: String = e.chars().take(100).collect();
                let more = if short.len() < e.len() { "…" } else { "" };
                format!(r#"<span title="{}">: {}{more}</span>"#, esc(e), esc(&short))
            }).unwrap_or_default(),
        );
    }
    h.push_str("</table>");
    h
}

fn failures(report: &Value) -> String {
    let Some(items) = report["failed_items"].as_array().filter(|a| !a.is_empty()) else {
        return String::new();
    };
    let mut h = String::from(
        "<h3>Failed items of the last run</h3><table class=\"failures\"><tr><th>entity</th><th>key</th><th>action</th><th>SyncMsg</th></tr>",
    );
    for i in items {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"syncmsg\">{}</td></tr>",
            text(&i["entity"]),
            text(&i["key"]),
            text(&i["action"]),
            text(&i["message"]),
        );
    }
    h.push_str("</table>");
    h
}

/// Items (bars) and requests (line) per run, oldest left, as inline SVG.
fn chart(runs: &[Value]) -> String {
    if runs.is_empty() {
        return String::new();
    }
    let points: Vec<(u64, u64)> = runs
        .iter()
        .take(20)
        .rev()
        .map(|r| {
            (
                num(&r["report"]["items"]),
                num(&r["report"]["requests"]["total"]),
            )
        })
        .collect();
    let (w, hgt, pad) = (600.0_f64, 90.0_f64, 18.0_f64);
    let max_items = points.iter().map(|p| p.0).max().unwrap_or(0).max(1) as f64;
    let max_req = points.iter().map(|p| p.1).max().unwrap_or(0).max(1) as f64;
    let n = points.len() as f64;
    // A slot per run, at most 28 px wide: few runs make narrow bars.
    let step = ((w - 2.0 * pad) / n).min(28.0);
    let mut s = format!(
        r##"<svg class="chart" width="{w}" height="{total}" viewBox="0 0 {w} {total}" role="img" aria-label="items and requests per run"><rect x="0" y="0" width="{w}" height="{total}" fill="#fff"/>"##,
        total = hgt + 2.0 * pad
    );
    let mut line = String::new();
    let mut dots = String::new();
    for (i, (items, req)) in points.iter().enumerate() {
        let x = pad + step * i as f64;
        let bh = (*items as f64 / max_items) * hgt;
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" fill="#7aa2e3"><title>{items} items</title></rect>"##,
            y = pad + hgt - bh,
            bw = (step * 0.6).max(1.0),
        );
        let ly = pad + hgt - (*req as f64 / max_req) * hgt;
        let _ = write!(line, "{:.1},{ly:.1} ", x + step * 0.3);
        let _ = write!(
            dots,
            r##"<circle cx="{:.1}" cy="{ly:.1}" r="2.5" fill="#d9822b"><title>{req} requests</title></circle>"##,
            x + step * 0.3
        );
    }
    let _ = write!(
        s,
        r##"<polyline points="{line}" fill="none" stroke="#d9822b" stroke-width="2"/>{dots}<text x="{pad}" y="12">items per run (bars, max {mi}) · requests per run (line, max {mr}) · last {n} runs</text></svg>"##,
        mi = max_items as u64,
        mr = max_req as u64,
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_page_shows_profiles_failures_and_a_refused_reload() {
        let status = json!({
            "project": "/p/mapsync.yaml", "version": "0.1.0", "started_at": "2026-12-01T00:00:00Z",
            "config_check": "10m", "shutting_down": false,
            "config": { "status": "refused", "at": "2026-12-01T00:01:00Z", "reason": "mapsync.yaml has 1 error(s)",
                "diagnostics": [{ "severity": "error", "code": "schedule::cron", "message": "bad <cron>", "file": "mapsync.yaml", "line": 3, "column": 5 }] },
            "profiles": [{ "name": "shop-eu", "schedule": "every 15m", "state": "idle", "next_run": null,
                "consecutive_failures": 0,
                "last_run": { "report": { "failed_items": [{ "entity": "product", "key": "P-1", "action": "update", "message": "Price <0>" }] } } }]
        });
        let runs = vec![(
            "shop-eu".to_string(),
            vec![
                json!({ "started_at": "2026-12-01T00:00:00Z", "status": "partial",
                "report": { "outcome": "partial", "seconds": 1.5, "items": 3, "requests": { "total": 9, "throttled": 0 },
                    "summary": { "updated": 2, "failed": 1 } } }),
            ],
        )];
        let html = render(&status, &runs);
        assert!(html.contains("shop-eu"));
        assert!(html.contains("Price &lt;0&gt;"));
        assert!(html.contains("schedule::cron"));
        assert!(html.contains("bad &lt;cron&gt;"));
        assert!(html.contains("<svg"));
        assert!(html.contains("http-equiv=\"refresh\""));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn the_page_shows_the_pool_its_workers_runs_and_queues() {
        let status = json!({
            "project": "/p/mapsync.yaml", "version": "0.1.0", "started_at": "2026-12-01T00:00:00Z",
            "config_check": "10m", "shutting_down": false, "config": { "status": "ok" },
            "profiles": [], "mode": "worker",
            "pool": { "queue_database": "postgres://m@db:5432/mapsync", "read_at": "2026-12-01T00:00:02Z",
                "workers": [
                    { "id": "graphile_worker_a1", "this": true, "stale": false,
                      "last_heartbeat_at": "2026-12-01 00:00:01+00", "started_at": "2026-12-01 00:00:00+00",
                      "jobs": [{ "id": 7, "profile": "shop-<eu>", "queue": "store:gql:s1", "attempts": 2, "locked_at": "x" }] },
                    { "id": "graphile_worker_b2", "this": false, "stale": true,
                      "last_heartbeat_at": "2026-11-30 23:00:00+00", "started_at": "2026-11-30 22:00:00+00", "jobs": [] }
                ],
                "queues": [{ "queue": "store:gql:s1", "waiting": 3, "running": 1 }] }
        });
        let html = render(&status, &[]);
        assert!(html.contains(r#"id="pool""#), "{html}");
        assert!(html.contains("2 worker(s)"), "{html}");
        assert!(html.contains("graphile_worker_a1 (this one)"), "{html}");
        assert!(
            html.contains("shop-&lt;eu&gt; (store:gql:s1, attempt 2)"),
            "{html}"
        );
        assert!(html.contains("its runs go back to the queue"), "{html}");
        assert!(
            html.contains("<td>store:gql:s1</td><td>3</td><td>1</td>"),
            "{html}"
        );
    }
}

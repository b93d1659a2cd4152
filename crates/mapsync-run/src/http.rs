//! The endpoints of run.md on `run.listen`: health, readiness, metrics,
//! the status page and its JSON API. axum, like the sandbox's server.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::manager::{Shared, TriggerError};

/// The router of the manager's endpoints.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/runs", get(runs))
        .route("/api/profiles/{name}/sync", post(trigger))
        .with_state(shared)
}

async fn readyz(State(s): State<Arc<Shared>>) -> Response {
    match s.ready() {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

async fn status(State(s): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(s.status_json())
}

#[derive(Deserialize)]
struct RunsQuery {
    profile: Option<String>,
    limit: Option<u32>,
}

async fn runs(State(s): State<Arc<Shared>>, Query(q): Query<RunsQuery>) -> Response {
    let limit = q.limit.unwrap_or(20).clamp(1, 1000);
    let result =
        tokio::task::spawn_blocking(move || s.runs_json(q.profile.as_deref(), limit)).await;
    match result {
        Ok(Ok(runs)) => Json(json!({ "runs": runs })).into_response(),
        Ok(Err(e)) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn trigger(State(s): State<Arc<Shared>>, Path(name): Path<String>) -> Response {
    // `--worker`: the run is a job of the pool, run by whichever worker
    // takes it.
    let pooled = s.pool().is_some();
    let result = if pooled {
        s.trigger_pool(&name).await
    } else {
        s.trigger(&name)
    };
    match result {
        Ok(()) if pooled => (StatusCode::ACCEPTED, Json(json!({ "queued": name }))).into_response(),
        Ok(()) => (StatusCode::ACCEPTED, Json(json!({ "started": name }))).into_response(),
        Err(e @ TriggerError::Queue(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e @ TriggerError::Unknown(_)) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e @ TriggerError::Running(_)) => (
            StatusCode::CONFLICT,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
        Err(e @ TriggerError::ShuttingDown) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn page(State(s): State<Arc<Shared>>) -> Html<String> {
    let status = s.status_json();
    let me = s.clone();
    let runs = tokio::task::spawn_blocking(move || {
        me.slots()
            .iter()
            .map(|slot| {
                (
                    slot.name.clone(),
                    me.runs_json(Some(&slot.name), 20).unwrap_or_default(),
                )
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    Html(crate::page::render(&status, &runs))
}

//! The HTTP face of the sandbox: Shopify's GraphQL endpoint
//! (`POST /admin/api/{version}/graphql.json`) with token check, calculated
//! cost and the leaky bucket, fault injection, persistence before answering,
//! plus the `/__sandbox/*` control endpoints and bulk results. Runs its own
//! accept loop on hyper so a `reset` fault can drop a connection unanswered.
//! Must not hold business rules (those live in `ops`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tower::ServiceExt;

use super::cost::{self, TypeMap, MAX_COST};
use super::gql::{LegacySchema, SandboxSchema};
use super::model::Store;
use super::runtime::{lock, Core, Fault};
use super::staged::MAX_UPLOAD_BYTES;
use super::upload;
use super::FaultKind;

/// What the handlers share.
pub struct App {
    pub core: Arc<Core>,
    /// API 2026-04.
    pub schema: SandboxSchema,
    /// API 2025-01.
    pub legacy: LegacySchema,
    pub types: Arc<TypeMap>,
}

/// Lets a handler close its connection without answering (`reset`); the
/// emulated PIM (`crate::pim`) shares the accept loop and uses it too.
#[derive(Clone)]
pub(crate) struct ConnKill(pub(crate) Arc<Notify>);

/// The API version the sandbox speaks.
pub const API_VERSION: &str = "2026-04";

/// The older API version it still answers (for clients moving to 2026-04).
pub const LEGACY_API_VERSION: &str = "2025-01";

/// The schema a request runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Current,
    Legacy,
}

impl Api {
    /// The API of a version in the path: versions before 2026-04 get
    /// 2025-01, later ones and `unstable` get 2026-04.
    fn of(version: &str) -> Api {
        let dated = version.len() == 7
            && version.as_bytes()[4] == b'-'
            && version
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 4 || b.is_ascii_digit());
        if dated && version < API_VERSION {
            Api::Legacy
        } else {
            Api::Current
        }
    }

    fn pricing(self) -> cost::Pricing {
        match self {
            Api::Current => cost::Pricing::Dynamic,
            Api::Legacy => cost::Pricing::Flat,
        }
    }

    fn version(self) -> &'static str {
        match self {
            Api::Current => API_VERSION,
            Api::Legacy => LEGACY_API_VERSION,
        }
    }
}

/// Largest body of `POST /__sandbox/seed`: a store of a million products
/// is about a gigabyte of JSON.
pub const MAX_SEED_BYTES: usize = u32::MAX as usize;

/// Build the router.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route("/__sandbox/stats", get(stats))
        .route("/__sandbox/snapshot", get(snapshot))
        .route("/__sandbox/reset", post(reset_store))
        .route(
            "/__sandbox/seed",
            post(seed).layer(DefaultBodyLimit::max(MAX_SEED_BYTES)),
        )
        .route("/__sandbox/locations", post(add_locations))
        .route("/__sandbox/faults", post(script_faults))
        .route("/__sandbox/bulk/{file}", get(bulk_result))
        .route(
            "/__sandbox/staged/{token}",
            post(upload::post_form)
                .put(upload::put_raw)
                .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES + 64 * 1024)),
        )
        .route(
            "/__sandbox/staged/{token}/{filename}",
            get(upload::get_file),
        )
        .with_state(app)
}

/// Accept connections until `shutdown` flips, then let open ones finish
/// (at most `grace`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                conns.spawn(connection(stream, router.clone(), shutdown.clone(), peer));
            }
            _ = shutdown.changed() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        conns.abort_all();
    }
}

async fn connection(
    stream: tokio::net::TcpStream,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    peer: std::net::SocketAddr,
) {
    let kill = Arc::new(Notify::new());
    let k = ConnKill(kill.clone());
    let svc = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(k.clone());
        let router = router.clone();
        async move { router.oneshot(req.map(Body::new)).await }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let mut draining = *shutdown.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = kill.notified() => {
                tracing::debug!(%peer, "fault: connection reset");
                return;
            }
            changed = shutdown.changed(), if !draining => {
                let _ = changed;
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    let h = resp.headers_mut();
    h.insert(
        "content-type",
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    h.insert(
        "x-shopify-api-version",
        HeaderValue::from_static(API_VERSION),
    );
    resp
}

fn authorized(core: &Core, headers: &HeaderMap) -> bool {
    match &core.config.token {
        None => true,
        Some(t) => headers
            .get("x-shopify-access-token")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == t),
    }
}

fn unauthorized() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
    )
}

fn cost_ext(requested: u64, actual: Option<u64>, core: &Core) -> Value {
    let status = lock(&core.bucket).status();
    json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status,
        }
    })
}

fn throttled(core: &Core, requested: u64) -> Response {
    lock(&core.stats).throttled += 1;
    json_response(
        StatusCode::OK,
        &json!({
            "errors": [{
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}
            }],
            "extensions": cost_ext(requested, None, core),
        }),
    )
}

async fn graphql(
    State(app): State<Arc<App>>,
    Path(version): Path<String>,
    kill: Option<Extension<ConnKill>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let api = Api::of(&version);
    let mut resp = answer(&app, api, kill, &headers, body).await;
    resp.headers_mut().insert(
        "x-shopify-api-version",
        HeaderValue::from_static(api.version()),
    );
    resp
}

/// Answer one GraphQL request: token, parsing (a fault may target the
/// operation), faults, then the request itself.
async fn answer(
    app: &App,
    api: Api,
    kill: Option<Extension<ConnKill>>,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let core = &app.core;
    if !authorized(core, headers) {
        return unauthorized();
    }
    let prepared = prepare(app, api, headers, &body);
    let root_fields = prepared
        .as_ref()
        .and_then(|p| p.costed.as_ref())
        .map(|c| c.root_fields.as_slice())
        .unwrap_or_default();
    let fault = lock(&core.faults).draw_for(root_fields);
    {
        let mut s = lock(&core.stats);
        s.requests += 1;
        if fault.is_some() {
            s.faults += 1;
        }
    }
    if let Some(f) = fault {
        tracing::debug!(kind = ?f.kind, after = f.after, "fault injected");
        match f {
            Fault {
                kind: FaultKind::Throttle,
                ..
            } => return throttled(core, 0),
            Fault {
                kind: FaultKind::Http5xx,
                status,
                ..
            } => {
                let code =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return json_response(
                    code,
                    &json!({"errors": code.canonical_reason().unwrap_or("Error")}),
                );
            }
            Fault {
                kind: FaultKind::Timeout,
                after: false,
                ..
            } => {
                tokio::time::sleep(core.fault_delay()).await;
                return json_response(
                    StatusCode::GATEWAY_TIMEOUT,
                    &json!({"errors": "Gateway Timeout"}),
                );
            }
            Fault {
                kind: FaultKind::Reset,
                after: false,
                ..
            } => return reset(kill).await,
            Fault {
                kind: FaultKind::Concurrent,
                ..
            } => change_stock_first(core, &body),
            _ => {}
        }
    }
    let resp = match prepared {
        Some(p) => execute(app, api, p).await,
        None => bad_request(),
    };
    match fault {
        Some(Fault {
            kind: FaultKind::Timeout,
            ..
        }) => {
            tokio::time::sleep(core.fault_delay()).await;
            resp
        }
        Some(Fault {
            kind: FaultKind::Reset,
            ..
        }) => reset(kill).await,
        _ => resp,
    }
}

/// The `concurrent` fault: every quantity an `inventorySetQuantities`
/// request names (`variables.input.quantities[]`) goes up by one, as if
/// someone had changed the stock just before the request arrived.
fn change_stock_first(core: &Core, body: &Bytes) {
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let ids = |q: &serde_json::Value, key: &str| {
        q.get(key)
            .and_then(|v| v.as_str())
            .and_then(crate::model::parse_gid)
            .map(|(_, id)| id)
    };
    let targets: Vec<(u64, u64)> = request
        .pointer("/variables/input/quantities")
        .and_then(|v| v.as_array())
        .map(|qs| {
            qs.iter()
                .filter_map(|q| Some((ids(q, "inventoryItemId")?, ids(q, "locationId")?)))
                .collect()
        })
        .unwrap_or_default();
    let _ = core.mutate(|st| {
        let mut named: Vec<u64> = targets
            .iter()
            .filter_map(|(item, _)| st.products.owner_of_part(*item))
            .collect();
        named.sort_unstable();
        named.dedup();
        for pid in named {
            let Some(p) = st.products.get_mut(&pid) else {
                continue;
            };
            let p = Arc::make_mut(p);
            for v in &mut p.variants {
                for (item, location) in &targets {
                    if v.inventory_item.id != *item {
                        continue;
                    }
                    if let Some(level) = v.inventory_item.levels.get_mut(location) {
                        level.available += 1;
                        level.on_hand += 1;
                    }
                }
            }
        }
        Ok::<(), ()>(())
    });
}

async fn reset(kill: Option<Extension<ConnKill>>) -> Response {
    match kill {
        Some(Extension(k)) => {
            k.0.notify_one();
            std::future::pending::<Response>().await
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Parse the body; `None` when it is not a GraphQL request.
fn parse_request(headers: &HeaderMap, body: &Bytes) -> Option<async_graphql::Request> {
    let is_graphql = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/graphql"));
    if is_graphql {
        let text = std::str::from_utf8(body).ok()?;
        return Some(async_graphql::Request::new(text));
    }
    serde_json::from_slice::<async_graphql::Request>(body).ok()
}

fn bad_request() -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        &json!({"errors": {"query": "Required parameter missing or invalid"}}),
    )
}

/// A parsed GraphQL request with its operation's requested cost.
struct Prepared {
    req: async_graphql::Request,
    op_name: Option<String>,
    vars: async_graphql::Variables,
    doc: Option<async_graphql::parser::types::ExecutableDocument>,
    /// `None` when the document does not parse or names no operation.
    costed: Option<cost::Costed>,
}

/// Parse the body; `None` when it is not a GraphQL request.
fn prepare(app: &App, api: Api, headers: &HeaderMap, body: &Bytes) -> Option<Prepared> {
    let mut req = parse_request(headers, body)?;
    let op_name = req.operation_name.clone();
    let vars = req.variables.clone();
    let doc = req.parsed_query().ok().cloned();
    let costed = doc
        .as_ref()
        .and_then(|d| cost::requested(&app.types, d, op_name.as_deref(), &vars, api.pricing()));
    Some(Prepared {
        req,
        op_name,
        vars,
        doc,
        costed,
    })
}

async fn execute(app: &App, api: Api, p: Prepared) -> Response {
    let core = &app.core;
    let Prepared {
        req,
        op_name,
        vars,
        doc,
        costed,
    } = p;
    let requested = costed.as_ref().map(|c| c.requested).unwrap_or(0);
    if requested > MAX_COST {
        let msg = format!(
            "Query cost is {requested}, which exceeds the single query max cost limit ({MAX_COST}).\n\n\
             See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n\
             cost of a query is calculated.\n\n\
             To query larger amounts of data with fewer limits, bulk operations should be used instead.\n\
             See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
        );
        return json_response(
            StatusCode::OK,
            &json!({
                "errors": [{"message": msg, "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": MAX_COST}}],
                "extensions": cost_ext(requested, None, core),
            }),
        );
    }
    if !lock(&core.bucket).try_take(requested as f64) {
        return throttled(core, requested);
    }
    if let Some(c) = &costed {
        let mut s = lock(&core.stats);
        for f in &c.root_fields {
            *s.by_operation.entry(f.clone()).or_default() += 1;
        }
    }
    let resp = match api {
        Api::Current => app.schema.execute(req).await,
        Api::Legacy => app.legacy.execute(req).await,
    };
    let mut out = serde_json::to_value(&resp).unwrap_or_else(|_| json!({}));
    let data = out.get("data").cloned().unwrap_or(Value::Null);
    let actual = match &doc {
        Some(d) if !data.is_null() => cost::actual(
            &app.types,
            d,
            op_name.as_deref(),
            &vars,
            &data,
            api.pricing(),
        )
        .min(requested),
        _ => 0,
    };
    lock(&core.bucket).refund(requested.saturating_sub(actual) as f64);
    lock(&core.stats).cost += actual;
    // Mutations, and reads that moved a media's processing on.
    if core.config.state.is_some() {
        if let Err(e) = core.persist().await {
            tracing::error!(error = %e, "could not persist the store");
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &json!({"errors": "Internal Server Error: state not persisted"}),
            );
        }
    }
    if let Value::Object(m) = &mut out {
        let ext = m.entry("extensions").or_insert_with(|| json!({}));
        if let (Value::Object(e), Value::Object(c)) = (ext, cost_ext(requested, Some(actual), core))
        {
            e.extend(c);
        }
    }
    if !core.config.latency.is_zero() {
        tokio::time::sleep(core.config.latency).await;
    }
    json_response(StatusCode::OK, &out)
}

async fn stats(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app.core, &headers) {
        return unauthorized();
    }
    let s = lock(&app.core.stats).clone();
    json_response(StatusCode::OK, &serde_json::to_value(s).unwrap_or_default())
}

async fn snapshot(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app.core, &headers) {
        return unauthorized();
    }
    let st = app.core.snapshot();
    json_response(
        StatusCode::OK,
        &serde_json::to_value(&*st).unwrap_or_default(),
    )
}

async fn persist_then(app: &App, body: Value) -> Response {
    match app.core.persist().await {
        Ok(()) => json_response(StatusCode::OK, &body),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": e.to_string()}),
        ),
    }
}

async fn reset_store(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !authorized(&app.core, &headers) {
        return unauthorized();
    }
    let _ = app.core.mutate(|st| {
        st.clear_catalog();
        Ok::<_, ()>(())
    });
    persist_then(&app, json!({"ok": true})).await
}

async fn seed(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&app.core, &headers) {
        return unauthorized();
    }
    match serde_json::from_slice::<Store>(&body) {
        Ok(store) => {
            app.core.replace(store);
            let st = app.core.snapshot();
            persist_then(
                &app,
                json!({"ok": true, "products": st.products.len(), "collections": st.collections.len()}),
            )
            .await
        }
        Err(e) => json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": format!("invalid snapshot: {e}")}),
        ),
    }
}

/// One scripted fault: `{"kind": "reset", "after": true}`; `{"kind": "none"}`
/// lets a request through; `"operation": "inventorySetQuantities"` makes it
/// wait for the next request with that root field.
#[derive(serde::Deserialize)]
struct ScriptedFault {
    kind: String,
    #[serde(default)]
    after: bool,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    operation: Option<String>,
}

impl ScriptedFault {
    /// The queued form; an unknown kind or operation is refused.
    fn scripted(&self, types: &TypeMap) -> Result<super::runtime::Scripted, String> {
        if let Some(op) = &self.operation {
            if !types.is_root_field(op) {
                return Err(format!(
                    "unknown operation '{op}' (a root field of the query or mutation type)"
                ));
            }
        }
        let fault = match self.kind.as_str() {
            "none" => None,
            kind => Some(Fault {
                kind: kind.parse::<FaultKind>().map_err(|e| e.to_string())?,
                after: self.after,
                status: self.status.unwrap_or(500),
            }),
        };
        Ok(super::runtime::Scripted {
            fault,
            operation: self.operation.clone(),
        })
    }
}

/// `POST /__sandbox/faults`: faults of the next GraphQL requests, before
/// any random draw (for tests of lost answers). Each request takes the
/// first queued fault that applies to it: one without `operation`, or one
/// whose `operation` is a root field of the request.
async fn script_faults(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(list): Json<Vec<ScriptedFault>>,
) -> Response {
    if !authorized(&app.core, &headers) {
        return unauthorized();
    }
    let faults = match list
        .iter()
        .map(|f| f.scripted(&app.types))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(f) => f,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": e})),
    };
    let n = faults.len();
    lock(&app.core.faults).script(faults);
    json_response(StatusCode::OK, &json!({"scripted": n}))
}

#[derive(serde::Deserialize)]
struct NewLocation {
    name: String,
}

async fn add_locations(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Json(locs): Json<Vec<NewLocation>>,
) -> Response {
    if !authorized(&app.core, &headers) {
        return unauthorized();
    }
    if locs.iter().any(|l| l.name.trim().is_empty()) {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": "location name can't be blank"}),
        );
    }
    let added = app.core.mutate(|st| {
        Ok::<_, ()>(
            locs.iter()
                .map(|l| {
                    let id = st.add_location(l.name.trim());
                    json!({"id": super::model::gid("Location", id), "name": l.name.trim()})
                })
                .collect::<Vec<_>>(),
        )
    });
    match added {
        Ok((list, _)) => persist_then(&app, Value::Array(list)).await,
        Err(()) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": "failed"}),
        ),
    }
}

async fn bulk_result(State(app): State<Arc<App>>, Path(file): Path<String>) -> Response {
    let Some(id) = file
        .strip_suffix(".jsonl")
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let result = lock(&app.core.bulk).results.get(&id).cloned();
    match result {
        Some(bytes) => {
            let mut resp = Response::new(Body::from(bytes.as_ref().clone()));
            resp.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("application/jsonl"),
            );
            resp
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

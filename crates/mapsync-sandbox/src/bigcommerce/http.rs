//! The HTTP face of the emulated BigCommerce store: the API routes under
//! `/stores/{store_hash}/v3` behind one layer (store hash, `X-Auth-Token`,
//! the quota window and its headers, faults, latency, statistics), image
//! files fetched from their `image_url` or taken from a multipart upload,
//! the image files served at `/product_images/...`, and the `/__sandbox/`
//! control endpoints. Business rules live in `store`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, MatchedPath, Multipart, Path, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodFilter, MethodRouter};
use axum::Router;
use serde_json::{json, Map, Value};

use super::faults::{BcFault, BcFaultKind, Scripted, GROUPS};
use super::openapi::percent_decode;
use super::quota::QuotaState;
use super::store::{self, ApiError, Ctx, MetafieldResource, Owner, Store, Upload, MAX_IMAGE_BYTES};
use super::{Bc, BcStats};
use crate::runtime::lock;
use crate::server::ConnKill;

type App = Arc<Bc>;

/// The largest API request body (an 8 MB image in a multipart form, with room).
const BODY_LIMIT: usize = 12 * 1024 * 1024;
/// The largest body of `POST /__sandbox/seed`.
const SEED_LIMIT: usize = 1 << 30;
/// The API's prefix.
const PREFIX: &str = "/stores/{store_hash}/v3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    ListProducts,
    CreateProduct,
    UpdateProducts,
    DeleteProducts,
    GetProduct,
    UpdateProduct,
    DeleteProduct,
    ListVariants,
    CreateVariant,
    GetVariant,
    UpdateVariant,
    DeleteVariant,
    VariantImage,
    ListAllVariants,
    UpdateVariants,
    ListOptions,
    CreateOption,
    GetOption,
    UpdateOption,
    DeleteOption,
    ListOptionValues,
    CreateOptionValue,
    GetOptionValue,
    UpdateOptionValue,
    DeleteOptionValue,
    ListImages,
    CreateImage,
    GetImage,
    UpdateImage,
    DeleteImage,
    ListCustomFields,
    CreateCustomField,
    GetCustomField,
    UpdateCustomField,
    DeleteCustomField,
    ListMetafields(OwnerKind),
    CreateMetafield(OwnerKind),
    GetMetafield(OwnerKind),
    UpdateMetafield(OwnerKind),
    DeleteMetafield(OwnerKind),
    ListAllMetafields(MetafieldResource),
    CreateMetafields(MetafieldResource),
    UpdateMetafields(MetafieldResource),
    DeleteMetafields(MetafieldResource),
    ListBrands,
    CreateBrand,
    GetBrand,
    UpdateBrand,
    DeleteBrand,
    ListTrees,
    UpsertTrees,
    DeleteTrees,
    ListCategories,
    CreateCategories,
    UpdateCategories,
    DeleteCategories,
    CategoryTree,
    AdjustAbsolute,
    InventoryItems,
    LocationItems,
    ListLocations,
    CreateLocations,
    UpdateLocations,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerKind {
    Product,
    Variant,
    Category,
    Brand,
}

use Op::*;

/// Every route: method, path below `/stores/{store_hash}/v3`, operation.
const TABLE: &[(&str, &str, Op)] = &[
    ("GET", "/catalog/products", ListProducts),
    ("POST", "/catalog/products", CreateProduct),
    ("PUT", "/catalog/products", UpdateProducts),
    ("DELETE", "/catalog/products", DeleteProducts),
    ("GET", "/catalog/products/{product_id}", GetProduct),
    ("PUT", "/catalog/products/{product_id}", UpdateProduct),
    ("DELETE", "/catalog/products/{product_id}", DeleteProduct),
    (
        "GET",
        "/catalog/products/{product_id}/variants",
        ListVariants,
    ),
    (
        "POST",
        "/catalog/products/{product_id}/variants",
        CreateVariant,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/variants/{variant_id}",
        GetVariant,
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/variants/{variant_id}",
        UpdateVariant,
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/variants/{variant_id}",
        DeleteVariant,
    ),
    (
        "POST",
        "/catalog/products/{product_id}/variants/{variant_id}/image",
        VariantImage,
    ),
    ("GET", "/catalog/variants", ListAllVariants),
    ("PUT", "/catalog/variants", UpdateVariants),
    ("GET", "/catalog/products/{product_id}/options", ListOptions),
    (
        "POST",
        "/catalog/products/{product_id}/options",
        CreateOption,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/options/{option_id}",
        GetOption,
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/options/{option_id}",
        UpdateOption,
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/options/{option_id}",
        DeleteOption,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/options/{option_id}/values",
        ListOptionValues,
    ),
    (
        "POST",
        "/catalog/products/{product_id}/options/{option_id}/values",
        CreateOptionValue,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/options/{option_id}/values/{value_id}",
        GetOptionValue,
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/options/{option_id}/values/{value_id}",
        UpdateOptionValue,
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/options/{option_id}/values/{value_id}",
        DeleteOptionValue,
    ),
    ("GET", "/catalog/products/{product_id}/images", ListImages),
    ("POST", "/catalog/products/{product_id}/images", CreateImage),
    (
        "GET",
        "/catalog/products/{product_id}/images/{image_id}",
        GetImage,
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/images/{image_id}",
        UpdateImage,
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/images/{image_id}",
        DeleteImage,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/custom-fields",
        ListCustomFields,
    ),
    (
        "POST",
        "/catalog/products/{product_id}/custom-fields",
        CreateCustomField,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/custom-fields/{custom_field_id}",
        GetCustomField,
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/custom-fields/{custom_field_id}",
        UpdateCustomField,
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/custom-fields/{custom_field_id}",
        DeleteCustomField,
    ),
    (
        "GET",
        "/catalog/products/{product_id}/metafields",
        ListMetafields(OwnerKind::Product),
    ),
    (
        "POST",
        "/catalog/products/{product_id}/metafields",
        CreateMetafield(OwnerKind::Product),
    ),
    (
        "GET",
        "/catalog/products/{product_id}/metafields/{metafield_id}",
        GetMetafield(OwnerKind::Product),
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/metafields/{metafield_id}",
        UpdateMetafield(OwnerKind::Product),
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/metafields/{metafield_id}",
        DeleteMetafield(OwnerKind::Product),
    ),
    (
        "GET",
        "/catalog/products/{product_id}/variants/{variant_id}/metafields",
        ListMetafields(OwnerKind::Variant),
    ),
    (
        "POST",
        "/catalog/products/{product_id}/variants/{variant_id}/metafields",
        CreateMetafield(OwnerKind::Variant),
    ),
    (
        "GET",
        "/catalog/products/{product_id}/variants/{variant_id}/metafields/{metafield_id}",
        GetMetafield(OwnerKind::Variant),
    ),
    (
        "PUT",
        "/catalog/products/{product_id}/variants/{variant_id}/metafields/{metafield_id}",
        UpdateMetafield(OwnerKind::Variant),
    ),
    (
        "DELETE",
        "/catalog/products/{product_id}/variants/{variant_id}/metafields/{metafield_id}",
        DeleteMetafield(OwnerKind::Variant),
    ),
    (
        "GET",
        "/catalog/categories/{category_id}/metafields",
        ListMetafields(OwnerKind::Category),
    ),
    (
        "POST",
        "/catalog/categories/{category_id}/metafields",
        CreateMetafield(OwnerKind::Category),
    ),
    (
        "GET",
        "/catalog/categories/{category_id}/metafields/{metafield_id}",
        GetMetafield(OwnerKind::Category),
    ),
    (
        "PUT",
        "/catalog/categories/{category_id}/metafields/{metafield_id}",
        UpdateMetafield(OwnerKind::Category),
    ),
    (
        "DELETE",
        "/catalog/categories/{category_id}/metafields/{metafield_id}",
        DeleteMetafield(OwnerKind::Category),
    ),
    (
        "GET",
        "/catalog/brands/{brand_id}/metafields",
        ListMetafields(OwnerKind::Brand),
    ),
    (
        "POST",
        "/catalog/brands/{brand_id}/metafields",
        CreateMetafield(OwnerKind::Brand),
    ),
    (
        "GET",
        "/catalog/brands/{brand_id}/metafields/{metafield_id}",
        GetMetafield(OwnerKind::Brand),
    ),
    (
        "PUT",
        "/catalog/brands/{brand_id}/metafields/{metafield_id}",
        UpdateMetafield(OwnerKind::Brand),
    ),
    (
        "DELETE",
        "/catalog/brands/{brand_id}/metafields/{metafield_id}",
        DeleteMetafield(OwnerKind::Brand),
    ),
    (
        "GET",
        "/catalog/products/metafields",
        ListAllMetafields(MetafieldResource::Product),
    ),
    (
        "POST",
        "/catalog/products/metafields",
        CreateMetafields(MetafieldResource::Product),
    ),
    (
        "PUT",
        "/catalog/products/metafields",
        UpdateMetafields(MetafieldResource::Product),
    ),
    (
        "DELETE",
        "/catalog/products/metafields",
        DeleteMetafields(MetafieldResource::Product),
    ),
    (
        "GET",
        "/catalog/variants/metafields",
        ListAllMetafields(MetafieldResource::Variant),
    ),
    (
        "POST",
        "/catalog/variants/metafields",
        CreateMetafields(MetafieldResource::Variant),
    ),
    (
        "PUT",
        "/catalog/variants/metafields",
        UpdateMetafields(MetafieldResource::Variant),
    ),
    (
        "DELETE",
        "/catalog/variants/metafields",
        DeleteMetafields(MetafieldResource::Variant),
    ),
    (
        "GET",
        "/catalog/categories/metafields",
        ListAllMetafields(MetafieldResource::Category),
    ),
    (
        "POST",
        "/catalog/categories/metafields",
        CreateMetafields(MetafieldResource::Category),
    ),
    (
        "PUT",
        "/catalog/categories/metafields",
        UpdateMetafields(MetafieldResource::Category),
    ),
    (
        "DELETE",
        "/catalog/categories/metafields",
        DeleteMetafields(MetafieldResource::Category),
    ),
    (
        "GET",
        "/catalog/brands/metafields",
        ListAllMetafields(MetafieldResource::Brand),
    ),
    (
        "POST",
        "/catalog/brands/metafields",
        CreateMetafields(MetafieldResource::Brand),
    ),
    (
        "PUT",
        "/catalog/brands/metafields",
        UpdateMetafields(MetafieldResource::Brand),
    ),
    (
        "DELETE",
        "/catalog/brands/metafields",
        DeleteMetafields(MetafieldResource::Brand),
    ),
    ("GET", "/catalog/brands", ListBrands),
    ("POST", "/catalog/brands", CreateBrand),
    ("GET", "/catalog/brands/{brand_id}", GetBrand),
    ("PUT", "/catalog/brands/{brand_id}", UpdateBrand),
    ("DELETE", "/catalog/brands/{brand_id}", DeleteBrand),
    ("GET", "/catalog/trees", ListTrees),
    ("PUT", "/catalog/trees", UpsertTrees),
    ("DELETE", "/catalog/trees", DeleteTrees),
    ("GET", "/catalog/trees/categories", ListCategories),
    ("POST", "/catalog/trees/categories", CreateCategories),
    ("PUT", "/catalog/trees/categories", UpdateCategories),
    ("DELETE", "/catalog/trees/categories", DeleteCategories),
    ("GET", "/catalog/trees/{tree_id}/categories", CategoryTree),
    ("PUT", "/inventory/adjustments/absolute", AdjustAbsolute),
    ("GET", "/inventory/items", InventoryItems),
    (
        "GET",
        "/inventory/locations/{location_id}/items",
        LocationItems,
    ),
    ("GET", "/inventory/locations", ListLocations),
    ("POST", "/inventory/locations", CreateLocations),
    ("PUT", "/inventory/locations", UpdateLocations),
];

/// Every route the store serves: `(method, path below
/// /stores/{store_hash}/v3)`, with the OpenAPI files' parameter names.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    TABLE.iter().map(|(m, p, _)| (*m, *p)).collect()
}

fn filter_of(m: &str) -> MethodFilter {
    match m {
        "GET" => MethodFilter::GET,
        "POST" => MethodFilter::POST,
        "PUT" => MethodFilter::PUT,
        "DELETE" => MethodFilter::DELETE,
        _ => MethodFilter::PATCH,
    }
}

pub(super) fn router(bc: App) -> Router {
    let mut by_path: BTreeMap<&str, MethodRouter<App>> = BTreeMap::new();
    for (m, path, op) in TABLE {
        let op = *op;
        let handler = move |s: State<App>,
                            p: Path<HashMap<String, String>>,
                            q: RawQuery,
                            req: Request| async move {
            api(s, op, p, q, req).await
        };
        let mr = by_path.remove(path).unwrap_or_default();
        by_path.insert(path, mr.on(filter_of(m), handler));
    }
    let mut api_router = Router::new();
    for (path, mr) in by_path {
        api_router = api_router.route(&format!("{PREFIX}{path}"), mr);
    }
    let api_router = api_router
        .fallback(api_not_found)
        .route_layer(middleware::from_fn_with_state(bc.clone(), api_layer));
    let control = Router::new()
        .route("/__sandbox/stats", get(stats))
        .route("/__sandbox/snapshot", get(snapshot))
        .route("/__sandbox/reset", post(reset))
        .route("/__sandbox/seed", post(seed))
        .route(
            "/__sandbox/faults",
            post(script_faults).delete(clear_faults),
        )
        .route("/__sandbox/requests", get(requests).delete(clear_requests))
        .route("/product_images/{*path}", get(image_file));
    api_router
        .merge(control)
        .fallback(api_not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(bc)
}

// ---------------------------------------------------------------- answers

fn json_response(status: u16, body: &Value) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn refused(e: &ApiError) -> Response {
    json_response(e.status, &e.body())
}

fn no_content(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::NO_CONTENT);
    status.into_response()
}

async fn api_not_found(req: Request) -> Response {
    refused(&ApiError::new(
        404,
        format!("No route {} {}", req.method(), req.uri().path()),
    ))
}

async fn method_not_allowed(req: Request) -> Response {
    refused(&ApiError::new(
        405,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    ))
}

fn ctx(bc: &Bc, headers: &HeaderMap) -> Ctx {
    let base = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| bc.base_url.clone());
    Ctx {
        base,
        now: store::timestamp(),
    }
}

fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

// ---------------------------------------------------------------- the layer

fn record(bc: &Bc, route: &str, status: &str) {
    let mut s = lock(&bc.stats);
    s.requests += 1;
    *s.by_route
        .entry(route.to_string())
        .or_default()
        .entry(status.to_string())
        .or_default() += 1;
}

fn quota_headers(resp: &mut Response, q: &QuotaState) {
    let h = resp.headers_mut();
    for (name, v) in [
        ("x-rate-limit-requests-left", q.left as u64),
        ("x-rate-limit-requests-quota", q.quota as u64),
        ("x-rate-limit-time-reset-ms", q.reset_ms),
        ("x-rate-limit-time-window-ms", q.window_ms),
    ] {
        h.insert(name, HeaderValue::from(v));
    }
}

fn request_id(resp: &mut Response, n: u64) {
    if let Ok(v) = HeaderValue::from_str(&format!("sandbox-{n}")) {
        resp.headers_mut().insert("x-request-id", v);
    }
}

fn fault_answer(f: &BcFault) -> Response {
    match f.kind {
        BcFaultKind::TooManyRequests => refused(&ApiError::new(429, "Too many requests")),
        _ => {
            let status = StatusCode::from_u16(f.status)
                .ok()
                .filter(|s| s.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            refused(&ApiError::new(
                status.as_u16(),
                status.canonical_reason().unwrap_or("Server Error"),
            ))
        }
    }
}

async fn drop_connection(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(k) => {
            k.0.notify_one();
            std::future::pending::<Response>().await
        }
        None => refused(&ApiError::new(500, "connection reset")),
    }
}

fn token_ok(bc: &Bc, headers: &HeaderMap) -> bool {
    let given = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match &bc.config.token {
        Some(t) => given == t,
        None => !given.is_empty(),
    }
}

/// Every API route: the store hash, the token, the quota, a fault if one
/// is due (before the request, or after it was applied), latency,
/// statistics and the rate-limit headers.
async fn api_layer(
    State(bc): State<App>,
    matched: MatchedPath,
    req: Request,
    next: Next,
) -> Response {
    let template = matched
        .as_str()
        .strip_prefix(PREFIX)
        .unwrap_or(matched.as_str());
    let route = format!("{} {}", req.method(), template);
    let kill = req.extensions().get::<ConnKill>().cloned();
    let n = lock(&bc.stats).requests + 1;
    let hash_ok = req
        .uri()
        .path()
        .strip_prefix("/stores/")
        .and_then(|p| p.split('/').next())
        == Some(bc.config.store_hash.as_str());
    let now = Instant::now();
    if !hash_ok {
        record(&bc, &route, "404");
        let mut r = refused(&ApiError::new(404, "No store with this hash"));
        request_id(&mut r, n);
        return r;
    }
    if !token_ok(&bc, req.headers()) {
        record(&bc, &route, "401");
        lock(&bc.stats).unauthorized += 1;
        let q = lock(&bc.quota).peek(now);
        let mut r = refused(&ApiError::new(
            401,
            "You have not provided a valid X-Auth-Token header",
        ));
        quota_headers(&mut r, &q);
        request_id(&mut r, n);
        return r;
    }
    // The quota's lock is let go before the stats' is taken.
    let taken = lock(&bc.quota).take(now);
    let q = match taken {
        Ok(q) => q,
        Err(q) => {
            record(&bc, &route, "429");
            lock(&bc.stats).throttled += 1;
            let mut r = refused(&ApiError::new(
                429,
                "Too many requests: the quota of this window is used up",
            ));
            quota_headers(&mut r, &q);
            let secs = q.reset_ms.div_ceil(1000).max(1);
            r.headers_mut()
                .insert("x-retry-after", HeaderValue::from(secs));
            request_id(&mut r, n);
            return r;
        }
    };
    let req = if bc.config.record_requests {
        match recorded(&bc, req).await {
            Ok(r) => r,
            Err(e) => {
                record(&bc, &route, "413");
                let mut r = refused(&e);
                quota_headers(&mut r, &q);
                return r;
            }
        }
    } else {
        req
    };
    let fault = lock(&bc.faults).draw_for(&route);
    if let Some(f) = &fault {
        let mut s = lock(&bc.stats);
        s.faults += 1;
        *s.faults_by_kind.entry(f.kind.name().into()).or_default() += 1;
    }
    let timeout = bc.config.fault_timeout;
    if let Some(f) = fault.filter(|f| !f.after) {
        tracing::debug!(kind = f.kind.name(), %route, "fault injected before the request");
        match f.kind {
            BcFaultKind::Reset | BcFaultKind::Lost => {
                record(&bc, &route, "reset");
                return drop_connection(kill).await;
            }
            BcFaultKind::Timeout => {
                tokio::time::sleep(timeout).await;
                record(&bc, &route, "504");
                let mut r = refused(&ApiError::new(504, "Gateway Timeout"));
                quota_headers(&mut r, &q);
                return r;
            }
            BcFaultKind::TooManyRequests => {
                record(&bc, &route, "429");
                return fault_answer(&f);
            }
            BcFaultKind::Http5xx => {
                let mut r = fault_answer(&f);
                record(&bc, &route, r.status().as_str());
                quota_headers(&mut r, &q);
                request_id(&mut r, n);
                return r;
            }
        }
    }
    let mut resp = next.run(req).await;
    if let Some(f) = fault {
        tracing::debug!(kind = f.kind.name(), %route, "fault injected after the request");
        match f.kind {
            BcFaultKind::Reset | BcFaultKind::Lost => {
                record(&bc, &route, "reset");
                return drop_connection(kill).await;
            }
            // The answer comes, too late for a client with a shorter timeout.
            BcFaultKind::Timeout => tokio::time::sleep(timeout).await,
            _ => resp = fault_answer(&f),
        }
    }
    if !bc.config.latency.is_zero() {
        tokio::time::sleep(bc.config.latency).await;
    }
    record(&bc, &route, resp.status().as_str());
    quota_headers(&mut resp, &q);
    request_id(&mut resp, n);
    resp
}

/// Keep a request for `GET /__sandbox/requests`; the body is read and put
/// back.
async fn recorded(bc: &Bc, req: Request) -> Result<Request, ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| ApiError::new(413, "The request payload is too large"))?;
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let path = match path.find("/v3/") {
        Some(i) => path[i + 3..].to_string(),
        None => path.to_string(),
    };
    let multipart = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"));
    let (body, invalid_json) = if bytes.is_empty() || multipart {
        (None, false)
    } else {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v) => (Some(v), false),
            Err(_) => (None, true),
        }
    };
    let mut log = lock(&bc.recorded);
    if log.len() < super::MAX_RECORDED {
        log.push(super::RecordedRequest {
            method: parts.method.to_string(),
            path,
            body,
            multipart,
            invalid_json,
        });
    }
    drop(log);
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

// ---------------------------------------------------------------- the API

fn param(p: &HashMap<String, String>, name: &str) -> Result<u64, ApiError> {
    p.get(name)
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ApiError::new(
                404,
                format!("The requested resource was not found ({name})"),
            )
        })
}

async fn body_bytes(req: Request) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), BODY_LIMIT)
        .await
        .map_err(|_| ApiError::new(413, "The request payload is too large"))
}

fn json_body(b: &Bytes) -> Result<Value, ApiError> {
    if b.is_empty() {
        return Err(ApiError::new(
            422,
            "JSON data is missing or invalid: the body is empty",
        ));
    }
    serde_json::from_slice(b).map_err(|e| {
        ApiError::field(
            422,
            "JSON data is missing or invalid",
            "body",
            format!("the body is not JSON: {e}"),
        )
    })
}

/// Persist, then answer `resp`; a state file that cannot be written is a 500.
async fn persisted(bc: &Bc, resp: Response) -> Response {
    match bc.persist().await {
        Ok(()) => resp,
        Err(e) => {
            tracing::error!(error = %e, "could not persist the BigCommerce sandbox");
            refused(&ApiError::new(500, "The store could not be saved"))
        }
    }
}

type Res = Result<(u16, Value), ApiError>;

fn ok200(v: Result<Value, ApiError>) -> Res {
    v.map(|v| (200, v))
}

async fn api(
    State(bc): State<App>,
    op: Op,
    Path(params): Path<HashMap<String, String>>,
    RawQuery(raw): RawQuery,
    req: Request,
) -> Response {
    let q = query_pairs(raw.as_deref());
    let c = ctx(&bc, req.headers());
    let method = req.method().clone();
    let before = lock(&bc.store).version;
    let res: Result<Option<(u16, Value)>, ApiError> = match op {
        CreateImage | UpdateImage | VariantImage => {
            image_write(&bc, op, &params, &c, req).await.map(Some)
        }
        _ => {
            let body = if method == Method::POST
                || method == Method::PUT
                || matches!(op, DeleteMetafields(_))
            {
                body_bytes(req).await.and_then(|b| json_body(&b)).map(Some)
            } else {
                Ok(None)
            };
            match body {
                Err(e) => Err(e),
                Ok(body) => {
                    let body = body.unwrap_or(Value::Null);
                    // The `image_url`s of a product body are fetched first,
                    // out of the lock (at most 50 a request).
                    let mut files = store::Files::new();
                    if matches!(op, CreateProduct | UpdateProduct | UpdateProducts) {
                        for url in store::image_urls(&body).into_iter().take(50) {
                            let got = fetch(&bc, &url).await;
                            files.insert(url, got);
                        }
                    }
                    let mut st = lock(&bc.store);
                    run(&mut st, op, &params, &q, &c, &body, &files)
                }
            }
        }
    };
    let res = shaped(op, res);
    let resp = match res {
        Ok(Some((status, v))) => json_response(status, &v),
        Ok(None) => no_content(if op == DeleteCategories { 202 } else { 204 }),
        Err(e) => refused(&e),
    };
    let resp = match (op, resp.status().as_u16()) {
        // The tree API's answer to a delete has a body.
        (DeleteCategories, 202) => json_response(202, &json!({"meta": {}})),
        _ => resp,
    };
    if lock(&bc.store).version != before {
        return persisted(&bc, resp).await;
    }
    resp
}

/// The error bodies of the routes whose files give them another shape
/// than `{status, title, type, errors: {field: message}}`:
/// * the tree API wraps it: `422 {errors: {...}, meta}`;
/// * the batch metafield routes refuse a whole request with `400` ("Input
///   is invalid"), and list failed items in an `errors` array — but for
///   brands' `PUT`, whose `422` is one v3 body with `errors` by index.
fn shaped(
    op: Op,
    res: Result<Option<(u16, Value)>, ApiError>,
) -> Result<Option<(u16, Value)>, ApiError> {
    let tree = matches!(
        op,
        ListTrees
            | UpsertTrees
            | DeleteTrees
            | ListCategories
            | CreateCategories
            | UpdateCategories
            | DeleteCategories
            | CategoryTree
    );
    let batch_mf = matches!(
        op,
        CreateMetafields(_) | UpdateMetafields(_) | DeleteMetafields(_)
    );
    match res {
        Err(e) if tree && e.status == 422 => {
            Ok(Some((422, json!({"errors": e.body(), "meta": {}}))))
        }
        Err(mut e) if batch_mf && e.status == 422 => {
            e.status = 400;
            e.title = format!("Input is invalid: {}", e.title);
            Err(e)
        }
        Ok(Some((422, body))) if op == UpdateMetafields(MetafieldResource::Brand) => {
            let mut errors = Map::new();
            if let Some(items) = body["errors"].as_array() {
                for e in items {
                    if let Some(m) = e["errors"].as_object() {
                        errors.extend(m.clone());
                    }
                }
            }
            let mut v = ApiError::new(422, "Some metafields were not saved").body();
            v["errors"] = Value::Object(errors);
            v["data"] = body["data"].clone();
            v["meta"] = body["meta"].clone();
            Ok(Some((422, v)))
        }
        other => other,
    }
}

/// One API operation on the store (all but the image writes, which fetch
/// files first). `Ok(None)` is an answer without a body.
fn run(
    st: &mut Store,
    op: Op,
    p: &HashMap<String, String>,
    q: &[(String, String)],
    c: &Ctx,
    body: &Value,
    files: &store::Files,
) -> Result<Option<(u16, Value)>, ApiError> {
    let pid = || param(p, "product_id");
    let owner = |k: OwnerKind| -> Result<Owner, ApiError> {
        Ok(match k {
            OwnerKind::Product => Owner::Product(param(p, "product_id")?),
            OwnerKind::Variant => Owner::Variant(param(p, "product_id")?, param(p, "variant_id")?),
            OwnerKind::Category => Owner::Category(param(p, "category_id")?),
            OwnerKind::Brand => Owner::Brand(param(p, "brand_id")?),
        })
    };
    let r: Res = match op {
        ListProducts => ok200(st.list_products(c, q)),
        CreateProduct => ok200(st.create_product(c, body, files)),
        UpdateProducts => st.update_products(c, body, files),
        DeleteProducts => return st.delete_products(q).map(|_| None),
        GetProduct => ok200(st.get_product(c, pid()?, q)),
        UpdateProduct => ok200(st.update_product(c, pid()?, body, files)),
        DeleteProduct => return st.delete_product(pid()?).map(|_| None),
        ListVariants => ok200(st.list_variants(pid()?, q)),
        CreateVariant => ok200(st.create_variant(c, pid()?, body)),
        GetVariant => ok200(st.get_variant(pid()?, param(p, "variant_id")?)),
        UpdateVariant => ok200(st.update_variant(c, pid()?, param(p, "variant_id")?, body)),
        DeleteVariant => {
            return st
                .delete_variant(pid()?, param(p, "variant_id")?)
                .map(|_| None)
        }
        ListAllVariants => ok200(st.list_all_variants(q)),
        UpdateVariants => st.update_variants(c, body),
        ListOptions => ok200(st.list_options(pid()?, q)),
        CreateOption => ok200(st.create_option(pid()?, body)),
        GetOption => ok200(st.get_option(pid()?, param(p, "option_id")?)),
        UpdateOption => ok200(st.update_option(pid()?, param(p, "option_id")?, body)),
        DeleteOption => {
            return st
                .delete_option(pid()?, param(p, "option_id")?)
                .map(|_| None)
        }
        ListOptionValues => ok200(st.list_option_values(pid()?, param(p, "option_id")?, q)),
        CreateOptionValue => ok200(st.create_option_value(pid()?, param(p, "option_id")?, body)),
        GetOptionValue => {
            ok200(st.get_option_value(pid()?, param(p, "option_id")?, param(p, "value_id")?))
        }
        UpdateOptionValue => ok200(st.update_option_value(
            pid()?,
            param(p, "option_id")?,
            param(p, "value_id")?,
            body,
        )),
        DeleteOptionValue => {
            return st
                .delete_option_value(pid()?, param(p, "option_id")?, param(p, "value_id")?)
                .map(|_| None)
        }
        ListImages => ok200(st.list_images(c, pid()?, q)),
        GetImage => ok200(st.get_image(c, pid()?, param(p, "image_id")?)),
        DeleteImage => return st.delete_image(pid()?, param(p, "image_id")?).map(|_| None),
        CreateImage | UpdateImage | VariantImage => {
            Err(ApiError::new(500, "image writes are not run here"))
        }
        ListCustomFields => ok200(st.list_custom_fields(pid()?, q)),
        CreateCustomField => ok200(st.create_custom_field(c, pid()?, body)),
        GetCustomField => ok200(st.get_custom_field(pid()?, param(p, "custom_field_id")?)),
        UpdateCustomField => {
            ok200(st.update_custom_field(c, pid()?, param(p, "custom_field_id")?, body))
        }
        DeleteCustomField => {
            return st
                .delete_custom_field(pid()?, param(p, "custom_field_id")?)
                .map(|_| None)
        }
        ListMetafields(k) => ok200(st.list_metafields(owner(k)?, q)),
        CreateMetafield(k) => ok200(st.create_metafield(c, owner(k)?, body)),
        GetMetafield(k) => ok200(st.get_metafield(owner(k)?, param(p, "metafield_id")?)),
        UpdateMetafield(k) => {
            ok200(st.update_metafield(c, owner(k)?, param(p, "metafield_id")?, body))
        }
        DeleteMetafield(k) => {
            return st
                .delete_metafield(owner(k)?, param(p, "metafield_id")?)
                .map(|_| None)
        }
        ListAllMetafields(k) => ok200(st.list_all_metafields(k, q)),
        CreateMetafields(k) => st.create_metafields(c, k, body),
        UpdateMetafields(k) => st.update_metafields(c, k, body),
        DeleteMetafields(k) => st.delete_metafields(k, body),
        ListBrands => ok200(st.list_brands(q)),
        CreateBrand => ok200(st.create_brand(body)),
        GetBrand => ok200(st.get_brand(param(p, "brand_id")?)),
        UpdateBrand => ok200(st.update_brand(param(p, "brand_id")?, body)),
        DeleteBrand => return st.delete_brand(param(p, "brand_id")?).map(|_| None),
        ListTrees => ok200(st.list_trees(q)),
        UpsertTrees => ok200(st.upsert_trees(body)),
        DeleteTrees => return st.delete_trees(q).map(|_| None),
        ListCategories => ok200(st.list_categories(q)),
        CreateCategories => st.create_categories(body),
        UpdateCategories => st.update_categories(body),
        DeleteCategories => return st.delete_categories(q).map(|_| None),
        CategoryTree => ok200(st.category_tree(param(p, "tree_id")?)),
        AdjustAbsolute => ok200(st.adjust_absolute(body)),
        InventoryItems => ok200(st.inventory_items(q)),
        LocationItems => ok200(st.location_items(param(p, "location_id")?, q)),
        ListLocations => ok200(st.list_locations(q)),
        CreateLocations => ok200(st.create_locations(c, body)),
        UpdateLocations => ok200(st.update_locations(c, body)),
    };
    r.map(Some)
}

// ---------------------------------------------------------------- images

/// The fields and the file of an image write: a JSON body (`image_url`),
/// or a multipart form (`image_file` and the other fields as parts).
async fn image_input(req: Request) -> Result<(Map<String, Value>, Option<Upload>), ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if !multipart {
        let b = body_bytes(req).await?;
        return match json_body(&b)? {
            Value::Object(m) => Ok((m, None)),
            _ => Err(ApiError::new(422, "The request body must be a JSON object")),
        };
    }
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::invalid("image_file", format!("not a multipart form: {e}")))?;
    let mut fields = Map::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(ApiError::invalid(
                    "image_file",
                    format!("bad multipart form: {e}"),
                ))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::invalid(&name, format!("cannot read the part: {e}")))?;
        if name == "image_file" {
            if data.len() > MAX_IMAGE_BYTES {
                return Err(ApiError::invalid(
                    "image_file",
                    "an image file is at most 8 MB",
                ));
            }
            file = Some(Upload {
                name: file_name.unwrap_or_else(|| "upload".into()),
                bytes: data.to_vec(),
            });
        } else {
            let text = String::from_utf8_lossy(&data).into_owned();
            fields.insert(name, Value::String(text));
        }
    }
    Ok((fields, file))
}

/// A stand-in image for a URL on a name reserved for examples and tests
/// (RFC 2606 / RFC 6761: `example.com`, `example.net`, `example.org` and
/// their subdomains, `*.example`, `*.test`), which no real server answers:
/// the emulated store makes a small PNG whose bytes depend on the URL
/// instead of failing, so example catalogs sync offline. `*.invalid` is
/// fetched like any name (and fails), to test refused images.
fn placeholder_image(host: &str, url: &str) -> Option<Vec<u8>> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let reserved = ["example.com", "example.net", "example.org"]
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        || host.ends_with(".example")
        || host.ends_with(".test");
    if !reserved {
        return None;
    }
    // The PNG signature and an IHDR chunk header, then the URL: enough for
    // the store's format check, and different per URL.
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    png.extend_from_slice(&[0, 0, 0, 13]);
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(url.as_bytes());
    Some(png)
}

/// Fetch `url` (at most 8 MB).
async fn fetch(bc: &Bc, url: &str) -> Result<Upload, ApiError> {
    let bad = |m: String| ApiError::invalid("image_url", m);
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("only http and https URLs are fetched".into()));
    }
    if let Some(bytes) = parsed.host_str().and_then(|h| placeholder_image(h, url)) {
        let name = parsed
            .path_segments()
            .and_then(|mut s| s.next_back().map(str::to_string))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "image.png".into());
        return Ok(Upload { name, bytes });
    }
    let mut resp = bc
        .http
        .get(parsed.clone())
        .send()
        .await
        .map_err(|e| bad(format!("the image could not be downloaded: {e}")))?;
    if !resp.status().is_success() {
        return Err(bad(format!(
            "the image could not be downloaded: HTTP {}",
            resp.status().as_u16()
        )));
    }
    let mut bytes = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if bytes.len() + c.len() > MAX_IMAGE_BYTES {
                    return Err(bad("the image is larger than 8 MB".into()));
                }
                bytes.extend_from_slice(&c);
            }
            Ok(None) => break,
            Err(e) => return Err(bad(format!("the image could not be downloaded: {e}"))),
        }
    }
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_string))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "image".into());
    Ok(Upload { name, bytes })
}

async fn image_write(
    bc: &Bc,
    op: Op,
    p: &HashMap<String, String>,
    c: &Ctx,
    req: Request,
) -> Result<(u16, Value), ApiError> {
    let pid = param(p, "product_id")?;
    let (fields, upload) = image_input(req).await?;
    let url = match fields.get("image_url") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(_) => return Err(ApiError::invalid("image_url", "must be a non-empty string")),
    };
    if op == CreateImage {
        lock(&bc.store).precheck_image(pid, &fields)?;
    } else if op == VariantImage {
        let vid = param(p, "variant_id")?;
        lock(&bc.store).get_variant(pid, vid)?;
    } else {
        let iid = param(p, "image_id")?;
        lock(&bc.store).get_image(c, pid, iid)?;
    }
    let file = match (upload, &url) {
        (Some(f), _) => Some(f),
        (None, Some(u)) => Some(fetch(bc, u).await?),
        (None, None) => None,
    };
    let mut st = lock(&bc.store);
    match op {
        VariantImage => {
            let Some(file) = file else {
                return Err(ApiError::invalid(
                    "image_url",
                    "a variant image needs image_url or an image_file upload",
                ));
            };
            let vid = param(p, "variant_id")?;
            st.set_variant_image(c, pid, vid, file).map(|v| (200, v))
        }
        CreateImage => {
            let Some(file) = file else {
                return Err(ApiError::invalid(
                    "image_file",
                    "an image needs image_url or an image_file upload",
                ));
            };
            st.add_image(c, pid, &fields, file).map(|v| (200, v))
        }
        _ => {
            let iid = param(p, "image_id")?;
            st.update_image(c, pid, iid, &fields, file)
                .map(|v| (200, v))
        }
    }
}

/// `GET /product_images/{path}`: an image file, as the CDN serves it.
async fn image_file(State(bc): State<App>, Path(path): Path<String>) -> Response {
    match lock(&bc.store).file(&path) {
        Some((ct, bytes)) => {
            let mut r = Response::new(Body::from(bytes));
            if let Ok(v) = HeaderValue::from_str(&ct) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            r
        }
        None => refused(&ApiError::not_found("image file")),
    }
}

// ---------------------------------------------------------------- control

pub(super) fn stats_of(bc: &Bc) -> BcStats {
    let mut s = lock(&bc.stats).clone();
    s.max_in_window = lock(&bc.quota).max_used;
    s
}

/// Control endpoints need the token only when one is configured.
fn control_denied(bc: &Bc, headers: &HeaderMap) -> Option<Response> {
    bc.config.token.as_ref()?;
    if token_ok(bc, headers) {
        None
    } else {
        Some(refused(&ApiError::new(
            401,
            "You have not provided a valid X-Auth-Token header",
        )))
    }
}

async fn stats(State(bc): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    json_response(
        200,
        &serde_json::to_value(stats_of(&bc)).unwrap_or(Value::Null),
    )
}

async fn snapshot(State(bc): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    let v = serde_json::to_value(&*lock(&bc.store)).unwrap_or(Value::Null);
    json_response(200, &v)
}

async fn reset(State(bc): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    lock(&bc.store).reset();
    persisted(&bc, json_response(200, &json!({"reset": true}))).await
}

async fn seed(State(bc): State<App>, headers: HeaderMap, req: Request) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    let b = match axum::body::to_bytes(req.into_body(), SEED_LIMIT).await {
        Ok(b) => b,
        Err(_) => return refused(&ApiError::new(413, "The snapshot is too large")),
    };
    let v: Value = match serde_json::from_slice(&b) {
        Ok(v) => v,
        Err(e) => return refused(&ApiError::invalid("body", format!("not JSON: {e}"))),
    };
    match Store::from_json(v) {
        Ok(mut s) => {
            let mut st = lock(&bc.store);
            s.version = st.version + 1;
            *st = s;
        }
        Err(e) => return refused(&ApiError::invalid("body", format!("not a snapshot: {e}"))),
    }
    persisted(&bc, json_response(200, &json!({"seeded": true}))).await
}

async fn requests(State(bc): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    let log = lock(&bc.recorded).clone();
    json_response(
        200,
        &json!({"recording": bc.config.record_requests, "requests": log}),
    )
}

async fn clear_requests(State(bc): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    let n = {
        let mut log = lock(&bc.recorded);
        let n = log.len();
        log.clear();
        n
    };
    json_response(200, &json!({ "cleared": n }))
}

/// One scripted fault of `POST /__sandbox/faults`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptedFault {
    kind: String,
    #[serde(default)]
    after: bool,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    route: Option<String>,
}

fn known_target(t: &str) -> bool {
    GROUPS.contains(&t) || TABLE.iter().any(|(m, p, _)| format!("{m} {p}") == t)
}

impl ScriptedFault {
    fn scripted(&self) -> Result<Scripted, String> {
        if let Some(r) = &self.route {
            if !known_target(r) {
                return Err(format!(
                    "unknown route '{r}' (a route such as \"POST /catalog/products\", or one of {})",
                    GROUPS.join(", ")
                ));
            }
        }
        if let Some(s) = self.status {
            if !(500..=599).contains(&s) {
                return Err(format!("status {s}: a 5xx fault answers 500 to 599"));
            }
        }
        let fault = match self.kind.as_str() {
            "none" => None,
            k => {
                let kind = k.parse::<BcFaultKind>().map_err(|_| {
                    format!("unknown fault '{k}' (5xx, 429, timeout, reset, lost, none)")
                })?;
                Some(BcFault {
                    kind,
                    after: match kind {
                        BcFaultKind::Lost => true,
                        BcFaultKind::TooManyRequests => false,
                        _ => self.after,
                    },
                    status: self.status.unwrap_or(500),
                })
            }
        };
        Ok(Scripted {
            fault,
            route: self.route.clone(),
        })
    }
}

async fn script_faults(State(bc): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return refused(&ApiError::invalid("body", format!("not JSON: {e}"))),
    };
    let list: Vec<ScriptedFault> = match v {
        v @ Value::Object(_) => match serde_json::from_value(v) {
            Ok(f) => vec![f],
            Err(e) => return refused(&ApiError::invalid("body", e.to_string())),
        },
        v => match serde_json::from_value(v) {
            Ok(l) => l,
            Err(e) => return refused(&ApiError::invalid("body", e.to_string())),
        },
    };
    let faults = match list
        .iter()
        .map(ScriptedFault::scripted)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(f) => f,
        Err(e) => return refused(&ApiError::invalid("body", e)),
    };
    let n = faults.len();
    let mut q = lock(&bc.faults);
    q.script(faults);
    json_response(200, &json!({"scripted": n, "pending": q.pending()}))
}

async fn clear_faults(State(bc): State<App>, headers: HeaderMap) -> Response {
    if let Some(r) = control_denied(&bc, &headers) {
        return r;
    }
    let n = lock(&bc.faults).clear();
    json_response(200, &json!({ "cleared": n }))
}

#[cfg(test)]
mod tests {
    use super::super::faults::route_in;
    use super::*;

    #[test]
    fn routes_are_unique_and_groups_match_some() {
        let mut seen = std::collections::BTreeSet::new();
        for (m, p, _) in TABLE {
            assert!(seen.insert(format!("{m} {p}")), "{m} {p} twice");
        }
        for g in GROUPS {
            assert!(
                TABLE
                    .iter()
                    .any(|(m, p, _)| route_in(&format!("{m} {p}"), g)),
                "group {g} matches no route"
            );
        }
    }
}

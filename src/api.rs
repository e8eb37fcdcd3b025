//! The HTTP edge: routes of the contract, body limits, auth, metrics, and the one mapping
//! from engine errors to HTTP statuses and the contract's JSON error shape.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::Method;
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Extension;
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use tracing::Instrument;

use crate::access::{self, Action, Scope};
use crate::audit::Origin;
use crate::engine::{Engine, EngineError, Rejected};
use crate::model::{ContactInput, FieldDefInput, WorkspaceSettings};
use crate::search::{SearchError, SearchRequest};

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    /// When set, every route but `/health` needs `Authorization: Bearer <key>`.
    pub master_key: Option<Arc<str>>,
}

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        use StatusCode as S;
        match e {
            EngineError::Validation(v) => ApiError::new(S::BAD_REQUEST, "invalid_value", v.to_string()),
            EngineError::NotFound(m) => ApiError::new(S::NOT_FOUND, "not_found", m),
            EngineError::BadRequest(m) => ApiError::new(S::BAD_REQUEST, "bad_request", m),
            EngineError::Conflict(m) => ApiError::new(S::CONFLICT, "conflict", m),
            EngineError::Search(SearchError::BadRequest(m)) => ApiError::new(S::BAD_REQUEST, "invalid_search", m),
            EngineError::Search(e @ SearchError::BadCursor(_)) => {
                ApiError::new(S::BAD_REQUEST, "invalid_cursor", e.to_string())
            }
            EngineError::Unavailable(m) => ApiError::new(S::SERVICE_UNAVAILABLE, "unavailable", m),
            EngineError::InsufficientStorage(m) => ApiError::new(S::INSUFFICIENT_STORAGE, "insufficient_storage", m),
            EngineError::Access(access::AccessError::Unauthenticated(m)) => {
                ApiError::new(S::UNAUTHORIZED, "unauthorized", m)
            }
            EngineError::Access(access::AccessError::Forbidden(m)) => ApiError::new(S::FORBIDDEN, "forbidden", m),
            EngineError::Access(access::AccessError::BadRequest(m)) => ApiError::new(S::BAD_REQUEST, "bad_request", m),
            other => {
                tracing::error!(error = %other, "internal error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "an internal error occurred; it has been logged",
                )
            }
        }
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Who is writing, for the audit trail: `X-Actor` (e.g. `agent:ana`) and the matched route.
pub struct Who(pub Origin);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Who {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let route = parts
            .extensions
            .get::<MatchedPath>()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|| parts.uri.path().to_string());
        let actor =
            match parts.headers.get("x-actor") {
                None => None,
                Some(v) => Some(std::str::from_utf8(v.as_bytes()).map_err(|_| {
                    ApiError::new(StatusCode::BAD_REQUEST, "invalid_value", "X-Actor: is not valid UTF-8")
                })?),
            };
        Origin::new(actor, format!("{} {route}", parts.method))
            .map(Who)
            .map_err(|e| ApiError::from(EngineError::from(e)))
    }
}

/// Every route with the action it needs (`None`: any valid credential; the handler narrows).
/// The router is built from this list, so a route cannot exist without a declared action.
fn routes() -> Vec<(&'static str, Method, Option<Action>, MethodRouter<AppState>)> {
    use Action::*;
    vec![
        (
            "/v1/workspaces/{ws}/settings",
            Method::GET,
            Some(Search),
            get(get_settings),
        ),
        (
            "/v1/workspaces/{ws}/settings",
            Method::PUT,
            Some(Admin),
            put(put_settings),
        ),
        (
            "/v1/workspaces/{ws}/fields",
            Method::GET,
            Some(Search),
            get(list_fields),
        ),
        (
            "/v1/workspaces/{ws}/fields/{key}",
            Method::PUT,
            Some(Admin),
            put(put_field),
        ),
        (
            "/v1/workspaces/{ws}/contacts",
            Method::POST,
            Some(Write),
            post(create_contact),
        ),
        (
            "/v1/workspaces/{ws}/contacts/bulk",
            Method::POST,
            Some(Write),
            post(bulk),
        ),
        (
            "/v1/workspaces/{ws}/contacts/import",
            Method::POST,
            Some(Write),
            post(import_csv),
        ),
        (
            "/v1/workspaces/{ws}/contacts/export",
            Method::GET,
            Some(Search),
            get(export),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}",
            Method::GET,
            Some(Search),
            get(get_contact),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}",
            Method::PUT,
            Some(Write),
            put(put_contact),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}",
            Method::PATCH,
            Some(Write),
            patch(patch_contact),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}",
            Method::DELETE,
            Some(Write),
            delete(delete_contact),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}/history",
            Method::GET,
            Some(Search),
            get(contact_history),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}/export",
            Method::GET,
            Some(Admin),
            get(export_contact),
        ),
        (
            "/v1/workspaces/{ws}/contacts/{id}/duplicates",
            Method::GET,
            Some(Dedup),
            get(contact_duplicates),
        ),
        ("/v1/workspaces/{ws}/search", Method::POST, Some(Search), post(search)),
        (
            "/v1/workspaces/{ws}/dedup/jobs",
            Method::POST,
            Some(Dedup),
            post(start_dedup),
        ),
        (
            "/v1/workspaces/{ws}/dedup/jobs/{job}",
            Method::GET,
            Some(Dedup),
            get(get_dedup_job),
        ),
        (
            "/v1/workspaces/{ws}/dedup/jobs/{job}",
            Method::DELETE,
            Some(Dedup),
            delete(cancel_dedup_job),
        ),
        (
            "/v1/workspaces/{ws}/duplicates",
            Method::GET,
            Some(Dedup),
            get(list_duplicates),
        ),
        (
            "/v1/workspaces/{ws}/duplicates/reject",
            Method::POST,
            Some(Dedup),
            post(reject_duplicates),
        ),
        (
            "/v1/workspaces/{ws}/merges",
            Method::POST,
            Some(Merge),
            post(create_merge),
        ),
        (
            "/v1/workspaces/{ws}/merges/{merge_id}",
            Method::GET,
            Some(Merge),
            get(get_merge),
        ),
        (
            "/v1/workspaces/{ws}/merges/{merge_id}/undo",
            Method::POST,
            Some(Merge),
            post(undo_merge),
        ),
        ("/v1/keys", Method::POST, Some(Admin), post(create_key)),
        ("/v1/keys", Method::GET, Some(Admin), get(list_keys)),
        ("/v1/keys/{id}", Method::DELETE, Some(Admin), delete(revoke_key)),
        ("/v1/tokens", Method::POST, None, post(create_token)),
        ("/metrics", Method::GET, Some(Admin), get(metrics)),
    ]
}

/// (method, route, action) of every authenticated route.
pub fn route_actions() -> Vec<(Method, &'static str, Option<Action>)> {
    routes().into_iter().map(|(p, m, a, _)| (m, p, a)).collect()
}

/// Builds the router.
pub fn app(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for (path, _, _, mr) in routes() {
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => {
                let taken = std::mem::take(existing);
                *existing = taken.merge(mr);
            }
            None => by_path.push((path, mr)),
        }
    }
    let mut v1 = Router::new();
    for (path, mr) in by_path {
        v1 = v1.route(path, mr);
    }
    let v1 = v1.route_layer(middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/health", get(health))
        .merge(v1)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        "no such route; see the contract for the routes",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Request metrics and a tracing span per request.
async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let start = Instant::now();
    let span = tracing::info_span!("request", %method, route = %route);
    let resp = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let m = &st.engine.metrics;
    m.http_requests
        .with_label_values(&[route.as_str(), method.as_str(), resp.status().as_str()])
        .inc();
    m.http_latency
        .with_label_values(&[route.as_str()])
        .observe(elapsed.as_secs_f64());
    tracing::debug!(parent: &span, status = resp.status().as_u16(), ms = elapsed.as_secs_f64() * 1e3, "request done");
    resp
}

fn unauthorized(message: impl Into<String>) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

/// Authenticates the request (master key, API key or agent token; none needed when no
/// master key is configured and none is sent), checks the route's action and workspace, and
/// hands the [`Scope`] to the handler.
async fn auth(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let given = match req.headers().get(header::AUTHORIZATION) {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) {
            Some(g) if !g.is_empty() => Some(g.to_string()),
            _ => return unauthorized("the Authorization header must be `Bearer <key or token>`"),
        },
    };
    let scope = match (given, &st.master_key) {
        (None, Some(_)) => return unauthorized("this service needs an `Authorization: Bearer <key or token>` header"),
        (None, None) => Scope::full("open"),
        (Some(g), master) => {
            if master
                .as_ref()
                .is_some_and(|m| access::constant_time_eq(g.as_bytes(), m.as_bytes()))
            {
                Scope::full("master")
            } else {
                let e = st.engine.clone();
                let configured = master.is_some();
                match blocking(move || e.authenticate(&g, configured)).await {
                    Ok(s) => s,
                    Err(e) => return e.into_response(),
                }
            }
        }
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let method = req.method().clone();
    let Some(action) = route_actions()
        .into_iter()
        .find(|(m, p, _)| *m == method && *p == route)
        .map(|(_, _, a)| a)
    else {
        // deny by default: a route without a declared action is served to no one
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("{method} {route} declares no action"),
        )
        .into_response();
    };
    let ws = req
        .uri()
        .path()
        .strip_prefix("/v1/workspaces/")
        .and_then(|r| r.split('/').next())
        .map(String::from);
    if let Some(action) = action {
        if let Err(e) = scope.check(action, ws.as_deref()) {
            return ApiError::from(EngineError::from(e)).into_response();
        }
    } else if let Some(ws) = &ws {
        if !scope.may_use_workspace(ws) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("no access to workspace {ws:?}"),
            )
            .into_response();
        }
    }
    req.extensions_mut().insert(scope);
    next.run(req).await
}

/// Reads a whole body up to `limit` bytes and parses it as JSON, with errors a person can
/// act on (too large, not UTF-8, not JSON, wrong shape).
async fn read_json<T: DeserializeOwned>(body: Body, limit: usize) -> ApiResult<T> {
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is over the limit of {limit} bytes"),
        )
    })?;
    parse_json(&bytes)
}

fn parse_json<T: DeserializeOwned>(bytes: &Bytes) -> ApiResult<T> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_utf8",
            format!("the body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    serde_json::from_str(text).map_err(|e| {
        let code = if e.is_data() { "invalid_value" } else { "malformed_json" };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code,
            format!("the body is not a valid request: {e}"),
        )
    })
}

fn refresh(q: &HashMap<String, String>) -> ApiResult<bool> {
    match q.get("refresh").map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") | Some("") | Some("wait_for") => Ok(true),
        Some(o) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("refresh={o:?}: use true or false"),
        )),
    }
}

/// Runs blocking engine work off the async runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, EngineError> + Send + 'static) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "a blocking task failed");
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged",
            ))
        }
    }
}

/// Makes a write durable (and visible, when asked) before it is acknowledged.
async fn ack(st: &AppState, seq: u64, visible: bool) -> ApiResult<()> {
    let e = st.engine.clone();
    blocking(move || e.wait_durable(seq)).await?;
    if visible {
        st.engine.wait_visible(seq).await?;
    }
    Ok(())
}

async fn health(State(st): State<AppState>) -> Response {
    if st.engine.is_ready() {
        (
            StatusCode::OK,
            Json(json!({"status": "ok", "visible_seq": st.engine.visible_seq()})),
        )
            .into_response()
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "starting",
            "the index is catching up with the store",
        )
        .into_response()
    }
}

async fn metrics(State(st): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        st.engine.metrics.render(),
    )
        .into_response()
}

async fn get_settings(State(st): State<AppState>, Path(ws): Path<String>) -> ApiResult<Json<WorkspaceSettings>> {
    let e = st.engine.clone();
    Ok(Json(blocking(move || e.get_settings(&ws)).await?))
}

async fn put_settings(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    body: Body,
) -> ApiResult<Json<WorkspaceSettings>> {
    let s: WorkspaceSettings = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let e = st.engine.clone();
    let (s, seq) = blocking(move || e.put_settings(&ws, s)).await?;
    ack(&st, seq, false).await?;
    Ok(Json(s))
}

async fn list_fields(State(st): State<AppState>, Path(ws): Path<String>) -> ApiResult<Json<Value>> {
    let e = st.engine.clone();
    let fields = blocking(move || e.list_fields(&ws)).await?;
    Ok(Json(json!({"fields": fields})))
}

async fn put_field(
    State(st): State<AppState>,
    Path((ws, key)): Path<(String, String)>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let input: FieldDefInput = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let e = st.engine.clone();
    let (def, seq) = blocking(move || e.put_field(&ws, &key, input)).await?;
    ack(&st, seq, false).await?;
    Ok(Json(serde_json::to_value(def).unwrap_or(Value::Null)))
}

async fn get_contact(
    State(st): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    ensure_visible(&st, &scope, &ws, &id).await?;
    let e = st.engine.clone();
    let c = blocking(move || e.get_contact(&ws, &id)).await?;
    Ok(Json(redacted(&scope, c.to_api())))
}

/// A contact document without the fields the credential may not see.
fn redacted(scope: &Scope, mut doc: Value) -> Value {
    scope.redact(&mut doc);
    doc
}

/// For a credential with a mandatory filter: 404 unless the contact passes it (existence
/// itself must not leak).
async fn ensure_visible(st: &AppState, scope: &Scope, ws: &str, id: &str) -> ApiResult<()> {
    let Some(filter) = scope.filter.clone() else {
        return Ok(());
    };
    let e = st.engine.clone();
    let (ws2, id2) = (ws.to_string(), id.to_string());
    let live = blocking(move || e.get_contact(&ws2, &id2).map(|c| c.id)).await;
    let target = match live {
        Ok(live) => live,
        Err(err) if err.status == StatusCode::NOT_FOUND => return Ok(()), // the route answers 404 itself
        Err(err) => return Err(err),
    };
    let e = st.engine.clone();
    let ws2 = ws.to_string();
    if blocking(move || e.visible(&ws2, &target, &filter)).await? {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("contact {id:?} does not exist in workspace {ws:?}"),
        ))
    }
}

/// Routes that read or write across the workspace (bulk, import, dedup, merges) are not
/// open to a credential with a mandatory filter: it could not be held to it.
fn refuse_filtered(scope: &Scope, what: &str) -> ApiResult<()> {
    if scope.filter.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("an agent token with a filter cannot {what}; use an API key"),
        ));
    }
    Ok(())
}

async fn put_contact(
    State(st): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Response> {
    let visible = refresh(&q)?;
    let input: ContactInput = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    ensure_visible(&st, &scope, &ws, &id).await?;
    let e = st.engine.clone();
    let (c, created, seq) = blocking(move || e.upsert_contact(&ws, &id, input, false, &origin)).await?;
    ack(&st, seq, visible).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(redacted(&scope, c.to_api()))).into_response())
}

async fn create_contact(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Response> {
    let visible = refresh(&q)?;
    let input: ContactInput = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let id = input
        .id
        .clone()
        .unwrap_or_else(|| format!("cdx-{}", uuid::Uuid::new_v4().simple()));
    let e = st.engine.clone();
    let (c, _, seq) = blocking(move || e.upsert_contact(&ws, &id, input, true, &origin)).await?;
    ack(&st, seq, visible).await?;
    Ok((StatusCode::CREATED, Json(redacted(&scope, c.to_api()))).into_response())
}

async fn patch_contact(
    State(st): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let visible = refresh(&q)?;
    let patch: Map<String, Value> = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    ensure_visible(&st, &scope, &ws, &id).await?;
    if let Err(e) = scope.refuse_hidden(patch.keys().map(String::as_str), "write") {
        return Err(EngineError::from(e).into());
    }
    let e = st.engine.clone();
    let (c, seq) = blocking(move || e.patch_contact(&ws, &id, patch, &origin)).await?;
    ack(&st, seq, visible).await?;
    Ok(Json(redacted(&scope, c.to_api())))
}

async fn delete_contact(
    State(st): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    let visible = refresh(&q)?;
    ensure_visible(&st, &scope, &ws, &id).await?;
    let erase = match q.get("erase").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("erase={v:?}: use true or false"),
            ))
        }
    };
    if erase {
        scope
            .check(Action::Admin, Some(&ws))
            .map_err(|e| ApiError::from(EngineError::from(e)))?;
        // Erasure is synchronous: answered once the data is gone from the store and the index.
        let e = st.engine.clone();
        let id2 = id.clone();
        let erased = blocking(move || e.erase_contact(&ws, &id2, &origin)).await?;
        return Ok(Json(json!({"id": id, "erased": erased, "index_purged": true})));
    }
    let e = st.engine.clone();
    let id2 = id.clone();
    let seq = blocking(move || e.delete_contact(&ws, &id2, &origin)).await?;
    ack(&st, seq, visible).await?;
    Ok(Json(json!({"id": id, "deleted": true})))
}

/// Refuses a streamed body whose declared length is over the limit before reading it.
fn declared_length_within(headers: &HeaderMap, limit: usize, what: &str) -> ApiResult<()> {
    let len = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match len {
        Some(len) if len > limit => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the {what} body is {len} bytes; the limit is {limit}"),
        )),
        _ => Ok(()),
    }
}

/// Waits for a streamed write's worker, acknowledges what it stored (durable, and visible
/// with `?refresh=true`), and reports a body failure with the count stored before it.
async fn finish_streamed(
    st: &AppState,
    worker: tokio::task::JoinHandle<Result<crate::engine::BulkOutcome, EngineError>>,
    visible: bool,
    failure: Option<ApiError>,
) -> ApiResult<crate::engine::BulkOutcome> {
    let out = match worker.await {
        Ok(r) => r.map_err(ApiError::from)?,
        Err(e) => {
            tracing::error!(error = %e, "a streamed write's worker failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged",
            ));
        }
    };
    if out.seq > 0 {
        ack(st, out.seq, visible && failure.is_none()).await?;
    }
    if let Some(mut f) = failure {
        f.message = format!("{} ({} accepted)", f.message, out.accepted);
        return Err(f);
    }
    Ok(out)
}

/// `POST …/contacts/bulk`: NDJSON, streamed; each bad line is reported with its line number
/// and never sinks its neighbours. Lines flow from the body into [`Engine::bulk`] on a
/// blocking thread (which parses the next chunk while it stores the previous one). Answered
/// after every accepted line is durable.
async fn bulk(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let visible = refresh(&q)?;
    refuse_filtered(&scope, "write in bulk")?;
    let limit = st.engine.cfg.server.max_bulk_bytes;
    declared_length_within(&headers, limit, "bulk")?;
    crate::model::validate_workspace_id(&ws).map_err(EngineError::from)?;
    // lines go to the worker in batches (those of one body chunk), not one message each
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<(usize, String)>>(64);
    let engine = st.engine.clone();
    let ws2 = ws.clone();
    let worker = tokio::task::spawn_blocking(move || {
        engine.bulk(&ws2, std::iter::from_fn(move || rx.blocking_recv()).flatten(), &origin)
    });
    let mut stream = body.into_data_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut rejected: Vec<Rejected> = Vec::new();
    let mut line_no = 0usize;
    let mut total = 0usize;
    let mut failure: Option<ApiError> = None;
    let mut lines: Vec<(usize, String)> = Vec::new();
    loop {
        let done = match stream.next().await {
            Some(Ok(bytes)) => {
                total += bytes.len();
                if total > limit {
                    failure = Some(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the bulk body went over the limit of {limit} bytes; the lines before the limit were stored"),
                    ));
                    true
                } else {
                    buf.extend_from_slice(&bytes);
                    false
                }
            }
            Some(Err(e)) => {
                failure = Some(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    format!("reading the body failed: {e}"),
                ));
                true
            }
            None => true,
        };
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            line_no += 1;
            push_line(&mut lines, &mut rejected, line_no, &buf[start..start + pos]);
            start += pos + 1;
        }
        buf.drain(..start);
        if done && failure.is_none() && !buf.is_empty() {
            line_no += 1;
            let rest = std::mem::take(&mut buf);
            push_line(&mut lines, &mut rejected, line_no, &rest);
        }
        if !lines.is_empty() {
            // a send fails only when the worker stopped on an error; it is returned below
            let _ = tx.send(std::mem::take(&mut lines)).await;
        }
        if done {
            break;
        }
    }
    drop(tx);
    let out = finish_streamed(&st, worker, visible, failure).await?;
    rejected.extend(out.rejected);
    rejected.sort_by_key(|r| r.line);
    Ok(Json(json!({"accepted": out.accepted, "rejected": rejected})))
}

fn push_line(lines: &mut Vec<(usize, String)>, rejected: &mut Vec<Rejected>, n: usize, raw: &[u8]) {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    match std::str::from_utf8(raw) {
        Ok(s) if s.trim().is_empty() => {}
        Ok(s) => lines.push((n, s.to_string())),
        Err(e) => rejected.push(Rejected::new(
            n,
            None,
            format!("the line is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )),
    }
}

/// `GET …/contacts/export?format=csv|ndjson[&q=…][&filter=<json>]`: every contact the filter
/// selects, in id order, streamed page by page (never held whole).
async fn export(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Response> {
    let format = q.get("format").map(String::as_str).unwrap_or("ndjson").to_string();
    if format != "csv" && format != "ndjson" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("format={format:?}: use csv or ndjson"),
        ));
    }
    let filter: Option<Value> = match q.get("filter") {
        Some(f) => Some(serde_json::from_str(f).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                format!("the filter parameter is not valid JSON: {e}"),
            )
        })?),
        None => None,
    };
    let text = q.get("q").cloned();
    let mut scoped = SearchRequest {
        filter,
        ..Default::default()
    };
    scope
        .scope_search(&mut scoped)
        .map_err(|e| ApiError::from(EngineError::from(e)))?;
    let (filter, hidden) = (scoped.filter, scoped.hidden);
    // The first page runs before the answer starts, so a bad filter or workspace is a 4xx.
    let e = st.engine.clone();
    let (ws2, f2, t2) = (ws.clone(), filter.clone(), text.clone());
    let first = blocking(move || e.export_page(&ws2, t2, f2, None, 1000, hidden)).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let engine = st.engine.clone();
    let csv = format == "csv";
    tokio::task::spawn_blocking(move || {
        let (mut contacts, defs, mut cursor) = first;
        let mut first_page = true;
        // columns the credential may see
        let keep: Vec<bool> = crate::transfer::csv_header(&defs)
            .iter()
            .map(|c| {
                let field = match c.as_str() {
                    "phone" => "phones",
                    "email" => "emails",
                    other => other,
                };
                !scope.hides(field)
            })
            .collect();
        let visible_cols = |row: Vec<String>| -> Vec<String> {
            row.into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(v, _)| v)
                .collect()
        };
        loop {
            let mut buf = Vec::new();
            if csv {
                let mut rows = Vec::with_capacity(contacts.len() + 1);
                if first_page {
                    rows.push(visible_cols(crate::transfer::csv_header(&defs)));
                }
                rows.extend(
                    contacts
                        .iter()
                        .map(|c| visible_cols(crate::transfer::csv_row(c, &defs))),
                );
                buf = crate::transfer::csv_bytes(&rows);
            } else {
                for c in &contacts {
                    buf.extend_from_slice(redacted(&scope, c.to_api()).to_string().as_bytes());
                    buf.push(b'\n');
                }
            }
            first_page = false;
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return; // the client went away
            }
            let Some(c) = cursor.take() else { return };
            match engine.export_page(&ws, text.clone(), filter.clone(), Some(c), 1000, hidden) {
                Ok((next, _, next_cursor)) => {
                    contacts = next;
                    cursor = next_cursor;
                }
                Err(e) => {
                    tracing::error!(error = %e, "export page failed");
                    let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
                    return;
                }
            }
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let ctype = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/x-ndjson"
    };
    Ok(([(header::CONTENT_TYPE, ctype)], Body::from_stream(stream)).into_response())
}

/// Reads a body chunk by chunk on a blocking thread (the CSV reader wants `std::io::Read`).
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    cur: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        self.cur = self.cur.slice(n..);
        Ok(n)
    }
}

/// `POST …/contacts/import`: a CSV body, streamed into [`Engine::import_csv`]. Every bad row
/// is reported with its row number (the header is row 1), line, column and reason.
async fn import_csv(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let visible = refresh(&q)?;
    refuse_filtered(&scope, "write in bulk")?;
    let limit = st.engine.cfg.server.max_bulk_bytes;
    declared_length_within(&headers, limit, "import")?;
    crate::model::validate_workspace_id(&ws).map_err(EngineError::from)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let engine = st.engine.clone();
    let reader = ChannelReader { rx, cur: Bytes::new() };
    let worker = tokio::task::spawn_blocking(move || engine.import_csv(&ws, reader, &origin));
    let mut stream = body.into_data_stream();
    let mut total = 0usize;
    let mut failure: Option<ApiError> = None;
    while let Some(chunk) = stream.next().await {
        let item = match chunk {
            Ok(bytes) => {
                total += bytes.len();
                if total > limit {
                    failure = Some(ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        format!("the import body went over the limit of {limit} bytes; the rows before the limit were stored"),
                    ));
                    Err(std::io::Error::other("body over the limit"))
                } else {
                    Ok(bytes)
                }
            }
            Err(e) => {
                failure = Some(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "bad_body",
                    format!("reading the body failed: {e}"),
                ));
                Err(std::io::Error::other("body read failed"))
            }
        };
        let stop = item.is_err();
        if tx.send(item).await.is_err() || stop {
            break; // the worker stopped (its error is returned below) or the body failed
        }
    }
    drop(tx);
    let out = finish_streamed(&st, worker, visible, failure).await?;
    let rejected: Vec<Value> = out
        .rejected
        .iter()
        .map(|r| {
            let mut v = json!({"row": r.line, "line": r.at_line.unwrap_or(r.line), "error": r.error});
            if let Some(id) = &r.id {
                v["id"] = json!(id);
            }
            if let Some(c) = &r.column {
                v["column"] = json!(c);
            }
            v
        })
        .collect();
    Ok(Json(json!({"accepted": out.accepted, "rejected": rejected})))
}

async fn create_merge(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Json<Value>> {
    let visible = refresh(&q)?;
    refuse_filtered(&scope, "merge contacts")?;
    let input: crate::merge::MergeInput = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let e = st.engine.clone();
    let (record, c, seq) = blocking(move || e.merge(&ws, input, &origin)).await?;
    ack(&st, seq, visible).await?;
    Ok(Json(json!({
        "merge_id": record["merge_id"],
        "contact": redacted(&scope, c.to_api()),
        "merged": record["merged"],
    })))
}

async fn get_merge(State(st): State<AppState>, Path((ws, merge_id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let e = st.engine.clone();
    Ok(Json(blocking(move || e.get_merge(&ws, &merge_id)).await?))
}

async fn undo_merge(
    State(st): State<AppState>,
    Path((ws, merge_id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Who(origin): Who,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    let visible = refresh(&q)?;
    refuse_filtered(&scope, "undo merges")?;
    let e = st.engine.clone();
    let (mut answer, survivor, seq) = blocking(move || e.undo_merge(&ws, &merge_id, &origin)).await?;
    ack(&st, seq, visible).await?;
    answer["contact"] = survivor.map(|c| redacted(&scope, c.to_api())).unwrap_or(Value::Null);
    Ok(Json(answer))
}

/// `GET …/contacts/{id}/history?limit=&cursor=`: newest first.
async fn contact_history(
    State(st): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    let limit = usize_param(&q, "limit", 50, 1000)?.max(1);
    let cursor = q.get("cursor").cloned();
    ensure_visible(&st, &scope, &ws, &id).await?;
    let e = st.engine.clone();
    let id2 = id.clone();
    let (mut entries, next) = blocking(move || e.history(&ws, &id2, cursor.as_deref(), limit)).await?;
    for en in &mut entries {
        scope.redact_history(en);
    }
    Ok(Json(json!({"id": id, "entries": entries, "next_cursor": next})))
}

/// `GET …/contacts/{id}/export`: everything held about the contact (GDPR access).
async fn export_contact(State(st): State<AppState>, Path((ws, id)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let e = st.engine.clone();
    Ok(Json(blocking(move || e.export_contact(&ws, &id)).await?))
}

async fn create_key(State(st): State<AppState>, Extension(scope): Extension<Scope>, body: Body) -> ApiResult<Response> {
    let input: access::KeyInput = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let e = st.engine.clone();
    let (mut record, key) = blocking(move || e.create_key(input, &scope)).await?;
    record["key"] = json!(key);
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

/// Listing and revoking keys spans every workspace: only an all-workspace admin may.
fn all_workspaces(scope: &Scope) -> ApiResult<()> {
    if scope.workspaces.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "listing or revoking keys needs a credential for every workspace (\"*\")",
        ));
    }
    Ok(())
}

async fn list_keys(State(st): State<AppState>, Extension(scope): Extension<Scope>) -> ApiResult<Json<Value>> {
    all_workspaces(&scope)?;
    let e = st.engine.clone();
    Ok(Json(json!({"keys": blocking(move || e.list_keys()).await?})))
}

async fn revoke_key(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    all_workspaces(&scope)?;
    let e = st.engine.clone();
    let id2 = id.clone();
    blocking(move || e.revoke_key(&id2)).await?;
    Ok(Json(json!({"id": id, "revoked": true})))
}

async fn create_token(
    State(st): State<AppState>,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Response> {
    let input: access::TokenInput = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let e = st.engine.clone();
    let (token, claims) = blocking(move || e.create_token(input, &scope)).await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"token": token, "workspace": claims["ws"], "actions": claims["actions"],
                    "hidden_fields": claims["hidden"], "filter": claims["filter"], "expires_at_unix": claims["exp"]}),
        ),
    )
        .into_response())
}

async fn search(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Json<crate::engine::SearchResponse>> {
    let mut req: SearchRequest = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    scope
        .scope_search(&mut req)
        .map_err(|e| ApiError::from(EngineError::from(e)))?;
    let e = st.engine.clone();
    let mut out = blocking(move || e.search(&ws, &req)).await?;
    if scope.narrows() {
        for h in &mut out.hits {
            scope.redact(&mut h.contact);
            if let Some(ex) = &mut h.explain {
                ex.retain(|x| x["field"].as_str().is_none_or(|f| scope.shows_field(f)));
            }
        }
    }
    Ok(Json(out))
}

async fn start_dedup(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Response> {
    refuse_filtered(&scope, "start a dedup job")?;
    let e = st.engine.clone();
    let job = blocking(move || e.start_dedup_job(&ws)).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"job_id": job.id, "status": job.status()})),
    )
        .into_response())
}

async fn get_dedup_job(State(st): State<AppState>, Path((ws, job)): Path<(String, String)>) -> ApiResult<Json<Value>> {
    let e = st.engine.clone();
    Ok(Json(blocking(move || e.dedup_job(&ws, &job)).await?.to_json()))
}

async fn cancel_dedup_job(
    State(st): State<AppState>,
    Path((ws, job)): Path<(String, String)>,
) -> ApiResult<Json<Value>> {
    let e = st.engine.clone();
    let j = blocking(move || e.cancel_dedup_job(&ws, &job)).await?;
    Ok(Json(j.to_json()))
}

fn usize_param(q: &HashMap<String, String>, name: &str, default: usize, max: usize) -> ApiResult<usize> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("{name}={v:?}: use a number up to {max}"),
            )),
        },
    }
}

/// `GET …/duplicates?limit=&cursor=`: the last dedup job's proposals that still stand.
/// Drops per-field reasons about hidden fields, wherever they sit in an answer.
fn redact_reasons(scope: &Scope, v: &mut Value) {
    if scope.hidden.is_empty() {
        return;
    }
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(rs)) = m.get_mut("reasons") {
                rs.retain(|r| r["field"].as_str().is_none_or(|f| scope.shows_field(f)));
            }
            if let Some(c) = m.get_mut("contact") {
                scope.redact(c);
            }
            for (_, x) in m.iter_mut() {
                redact_reasons(scope, x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| redact_reasons(scope, x)),
        _ => {}
    }
}

async fn list_duplicates(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    let limit = usize_param(&q, "limit", 50, 1000)?;
    let offset = usize_param(&q, "cursor", 0, usize::MAX)?;
    refuse_filtered(&scope, "read duplicate proposals")?;
    let e = st.engine.clone();
    let (clusters, next, total) = blocking(move || e.duplicates(&ws, offset, limit.max(1))).await?;
    let mut v = json!({"clusters": clusters, "next_cursor": next.map(|n| n.to_string()), "total_proposed": total});
    redact_reasons(&scope, &mut v);
    Ok(Json(v))
}

async fn contact_duplicates(
    State(st): State<AppState>,
    Path((ws, id)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    Extension(scope): Extension<Scope>,
) -> ApiResult<Json<Value>> {
    let limit = usize_param(&q, "limit", 10, 100)?;
    refuse_filtered(&scope, "check duplicates")?;
    let e = st.engine.clone();
    let id2 = id.clone();
    let found = blocking(move || e.contact_duplicates(&ws, &id2, limit)).await?;
    let mut v = json!({"id": id, "duplicates": found});
    redact_reasons(&scope, &mut v);
    Ok(Json(v))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    ids: Vec<String>,
}

async fn reject_duplicates(
    State(st): State<AppState>,
    Path(ws): Path<String>,
    Extension(scope): Extension<Scope>,
    body: Body,
) -> ApiResult<Json<Value>> {
    refuse_filtered(&scope, "reject duplicate proposals")?;
    let b: RejectBody = read_json(body, st.engine.cfg.server.max_body_bytes).await?;
    let e = st.engine.clone();
    let ids = b.ids.clone();
    blocking(move || e.reject_duplicates(&ws, &ids)).await?;
    Ok(Json(json!({"rejected": b.ids})))
}

/// Serves `app` on `listener` until `shutdown` resolves; in-flight requests finish first
/// (up to `drain`). Each connection is served by hyper with a header read timeout
/// (`server.header_read_timeout_secs`): a client that trickles its headers is cut off.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    let header_timeout = Duration::from_secs(state.engine.cfg.server.header_read_timeout_secs.max(1));
    let router = app(state);
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // e.g. out of file descriptors: back off instead of spinning
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let svc = hyper_util::service::TowerToHyperService::new(router.clone());
                let mut close = close_rx.clone();
                conns.spawn(async move {
                    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    builder
                        .http1()
                        .timer(TokioTimer::new())
                        .header_read_timeout(header_timeout);
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc);
                    let mut conn = std::pin::pin!(conn);
                    tokio::select! {
                        r = conn.as_mut() => {
                            if let Err(e) = r {
                                tracing::debug!(error = %e, "connection ended with an error");
                            }
                            return;
                        }
                        _ = close.changed() => {}
                    }
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                });
                while conns.try_join_next().is_some() {}
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = close_tx.send(true);
    let drained = tokio::time::timeout(drain, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!("requests still in flight after the drain period; stopping anyway");
        conns.abort_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_declares_its_action_once() {
        let routes = route_actions();
        let mut seen = std::collections::HashSet::new();
        for (m, p, a) in &routes {
            assert!(seen.insert((m.clone(), *p)), "{m} {p} is declared twice");
            // only token creation is open to any credential (the parent's scope decides)
            assert!(a.is_some() || *p == "/v1/tokens", "{m} {p} declares no action");
        }
        assert!(routes
            .iter()
            .any(|(m, p, a)| *m == Method::GET && *p == "/metrics" && *a == Some(Action::Admin)));
    }
}

//! The routes: OFREP's two evaluation endpoints, health and metrics.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use flagcore::serde_json::{self, json, Map, Value as Json};
use flagcore::{Evaluation, Exposures, Scratch, User, UserData};
use flagcore_openfeature::context::{user_from_context, ContextError};
use flagcore_openfeature::resolve::{
    kind_label, resolve, FlagValue, LayerExposure, MetaValue, ResolveError,
};

use crate::Sidecar;

pub(crate) fn router(sidecar: Arc<Sidecar>) -> Router {
    Router::new()
        .route("/ofrep/v1/evaluate/flags/{key}", post(single))
        .route("/ofrep/v1/evaluate/flags", post(bulk))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(sidecar)
}

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// A request's failure before any flag is evaluated.
struct Failure {
    status: StatusCode,
    code: &'static str,
    details: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, details: impl Into<String>) -> Failure {
        Failure {
            status,
            code,
            details: details.into(),
        }
    }

    /// The OFREP body: `evaluationFailure` / `flagNotFound` (with `key`) or
    /// `bulkEvaluationFailure` (without).
    fn response(self, key: Option<&str>) -> Response {
        let mut body = Map::new();
        if let Some(k) = key {
            body.insert("key".into(), k.into());
        }
        body.insert("errorCode".into(), self.code.into());
        body.insert("errorDetails".into(), self.details.into());
        json_response(self.status, Json::Object(body).to_string().into_bytes())
    }
}

/// The request's context as a user.
fn user(sidecar: &Sidecar, body: &[u8]) -> Result<UserData, Failure> {
    let request: Json = serde_json::from_slice(body).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "PARSE_ERROR",
            format!("request body: {e}"),
        )
    })?;
    let Json::Object(mut request) = request else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "PARSE_ERROR",
            "request body must be a JSON object",
        ));
    };
    let Some(Json::Object(context)) = request.remove("context") else {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "INVALID_CONTEXT",
            "the request needs a `context` object",
        ));
    };
    user_from_context(context, sidecar.context).map_err(|e| {
        let code = match e {
            ContextError::TargetingKeyMissing => "TARGETING_KEY_MISSING",
            _ => "INVALID_CONTEXT",
        };
        Failure::new(StatusCode::BAD_REQUEST, code, e.to_string())
    })
}

fn not_ready() -> Failure {
    Failure::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "PROVIDER_NOT_READY",
        "no ruleset is installed yet",
    )
}

/// What one request evaluates with.
struct Eval<'r> {
    sidecar: &'r Sidecar,
    view: &'r flagcore::View,
    catalog: &'r flagcore_openfeature::resolve::Catalog,
    user: User<'r>,
}

/// One flag's result: a success object or a failure object, written into `out`.
fn write_flag(
    r: &Eval<'_>,
    scratch: &mut Scratch,
    key: &str,
    exposures: Exposures,
    out: &mut Map<String, Json>,
) -> StatusCode {
    let (sidecar, view, catalog, user) = (r.sidecar, r.view, r.catalog, &r.user);
    let log_layer = |u: &User<'_>, e: &Evaluation<'_>, p: &str| {
        if let Some(l) = &sidecar.logger {
            l.log_layer_parameter(u, e, p);
        }
    };
    let layer_exposure: Option<LayerExposure<'_>> =
        sidecar.logger.as_ref().map(|_| &log_layer as _);
    out.insert("key".into(), key.into());
    match resolve(
        view,
        scratch,
        Some(catalog),
        user,
        key,
        exposures,
        layer_exposure,
    ) {
        Ok(r) => {
            let value = match r.value {
                FlagValue::Bool(b) => Json::Bool(b),
                FlagValue::Object(o) => Json::Object(o.to_map()),
                FlagValue::Json(j) => j.clone(),
            };
            out.insert("value".into(), value);
            out.insert("reason".into(), r.reason.as_str().into());
            out.insert("variant".into(), r.variant().into());
            let metadata: Map<String, Json> = r
                .metadata()
                .map(|(k, MetaValue::Str(v))| (k.to_owned(), v.into()))
                .collect();
            out.insert("metadata".into(), Json::Object(metadata));
            sidecar
                .metrics
                .evaluated(kind_label(r.evaluation.kind()), r.reason.as_str());
            StatusCode::OK
        }
        Err(e) => {
            let status = match e {
                ResolveError::FlagNotFound(_) => StatusCode::NOT_FOUND,
                ResolveError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            let kind = catalog
                .target(key)
                .map_or("unknown", |t| kind_label(t.kind));
            sidecar.metrics.evaluated(kind, e.code());
            out.insert("errorCode".into(), e.code().into());
            out.insert("errorDetails".into(), e.to_string().into());
            status
        }
    }
}

async fn single(
    State(sidecar): State<Arc<Sidecar>>,
    Path(key): Path<String>,
    body: Bytes,
) -> Response {
    let data = match user(&sidecar, &body) {
        Ok(d) => d,
        Err(f) => {
            sidecar.metrics.evaluated("unknown", f.code);
            return f.response(Some(&key));
        }
    };
    let snapshot = sidecar.store.snapshot();
    let Some(catalog) = sidecar.catalogs.get(&snapshot) else {
        sidecar.metrics.evaluated("unknown", "PROVIDER_NOT_READY");
        return not_ready().response(Some(&key));
    };
    let mut scratch = Scratch::new();
    let mut out = Map::new();
    let eval = Eval {
        sidecar: &sidecar,
        view: &snapshot,
        catalog: &catalog,
        user: data.view(),
    };
    let status = write_flag(&eval, &mut scratch, &key, Exposures::Log, &mut out);
    json_response(status, Json::Object(out).to_string().into_bytes())
}

/// Whether `If-None-Match` names `etag` (or is `*`); weak tags compare weakly.
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

async fn bulk(State(sidecar): State<Arc<Sidecar>>, headers: HeaderMap, body: Bytes) -> Response {
    let data = match user(&sidecar, &body) {
        Ok(d) => d,
        Err(f) => return f.response(None),
    };
    let snapshot = sidecar.store.snapshot();
    let Some(catalog) = sidecar.catalogs.get(&snapshot) else {
        return not_ready().response(None);
    };
    let eval = Eval {
        sidecar: &sidecar,
        view: &snapshot,
        catalog: &catalog,
        user: data.view(),
    };
    let mut scratch = Scratch::new();
    let flags: Vec<Json> = catalog
        .keys()
        .iter()
        .map(|key| {
            let mut out = Map::new();
            write_flag(&eval, &mut scratch, key, Exposures::Suppress, &mut out);
            Json::Object(out)
        })
        .collect();
    let time = snapshot.ruleset().map_or(0, flagcore::Ruleset::time);
    let body = json!({"flags": flags, "metadata": {"rulesetTime": time}})
        .to_string()
        .into_bytes();
    let etag = format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(&body));
    let Ok(etag_value) = HeaderValue::from_str(&etag) else {
        return json_response(StatusCode::OK, body);
    };
    if matches(&headers, &etag) {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag_value)],
            Body::empty(),
        )
            .into_response();
    }
    let mut response = json_response(StatusCode::OK, body);
    response.headers_mut().insert(header::ETAG, etag_value);
    response
}

async fn healthz(State(sidecar): State<Arc<Sidecar>>) -> Response {
    let time = sidecar.store.ruleset().map(|r| r.time());
    let mut body = Map::new();
    body.insert(
        "status".into(),
        if time.is_some() { "ready" } else { "not_ready" }.into(),
    );
    if let Some(t) = time {
        body.insert("rulesetTime".into(), t.into());
        let age = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH + std::time::Duration::from_millis(t))
            .unwrap_or_default()
            .as_secs_f64();
        body.insert("rulesetAgeSeconds".into(), age.into());
    }
    if let Some(rx) = &sidecar.status {
        let s = rx.borrow();
        let since = |t: Option<std::time::SystemTime>| {
            t.and_then(|t| t.elapsed().ok())
                .map(|d| Json::from(d.as_secs_f64()))
        };
        body.insert(
            "source".into(),
            json!({
                "attempts": s.attempts,
                "consecutiveFailures": s.consecutive_failures,
                "secondsSinceLastSuccess": since(s.last_success),
                "lastError": s.last_error.as_ref().map(|e| e.1.clone()),
            }),
        );
    }
    let status = if time.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json_response(status, Json::Object(body).to_string().into_bytes())
}

async fn metrics(State(sidecar): State<Arc<Sidecar>>) -> Response {
    let time = sidecar.store.ruleset().map(|r| r.time());
    let stats = sidecar.logger.as_ref().map(|l| l.stats());
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        sidecar.metrics.render(time, stats),
    )
        .into_response()
}

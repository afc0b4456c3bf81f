use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;
use flagcore_serve::{start, Running, ServeArgs, Sidecar};
use serde_json::{json, Value};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../flagcore-openfeature/tests/data")
        .join(name)
}

/// A copy of `small.json` in a fresh directory (tests that rewrite it).
fn temp_payload(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flagcore-serve-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("dcs.json");
    std::fs::copy(data("small.json"), &path).expect("copy");
    path
}

async fn serve_file(path: PathBuf, edit: impl FnOnce(&mut ServeArgs)) -> Running {
    let mut args = ServeArgs::file("127.0.0.1:0".parse().expect("addr"), path);
    edit(&mut args);
    start(args).await.expect("starts")
}

pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) etag: Option<String>,
    pub(super) body: Value,
}

async fn post(addr: &Running, path: &str, body: &str, if_none_match: Option<&str>) -> Answer {
    let mut req = reqwest::Client::new()
        .post(format!("http://{}{path}", addr.local_addr()))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(tag) = if_none_match {
        req = req.header("if-none-match", tag);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let etag = resp
        .headers()
        .get("etag")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let bytes = resp.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    Answer { status, etag, body }
}

pub(super) async fn flag(addr: &Running, key: &str, context: Value) -> Answer {
    post(
        addr,
        &format!("/ofrep/v1/evaluate/flags/{key}"),
        &json!({ "context": context }).to_string(),
        None,
    )
    .await
}

async fn get(addr: &Running, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{}{path}", addr.local_addr()))
        .await
        .expect("request");
    (resp.status().as_u16(), resp.text().await.expect("text"))
}

#[tokio::test]
async fn single_flag_answers_with_value_reason_variant_and_metadata() {
    let s = serve_file(data("small.json"), |_| {}).await;
    let u = json!({"targetingKey": "u1"});

    let a = flag(&s, "on", u.clone()).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        json!({"key": "on", "value": true, "reason": "TARGETING_MATCH", "variant": "everyone",
            "metadata": {"kind": "gate", "name": "on", "ruleId": "everyone", "idType": "userID",
                "statsigReason": "Recognized"}})
    );
    // A disabled gate is a successful evaluation with reason DISABLED.
    let a = flag(&s, "off", u.clone()).await;
    assert_eq!((a.status, &a.body["value"]), (200, &json!(false)));
    assert_eq!(a.body["reason"], "DISABLED");
    assert_eq!(a.body["metadata"]["ruleId"], "disabled");
    // No rule matched: the default.
    let a = flag(&s, "acme_only", u.clone()).await;
    assert_eq!(
        (&a.body["value"], &a.body["reason"]),
        (&json!(false), &json!("DEFAULT"))
    );
    // An experiment group is a SPLIT, its variant the group name.
    let a = flag(&s, "button", u.clone()).await;
    assert_eq!(a.body["value"], json!({"color": "green"}));
    assert_eq!(
        (&a.body["reason"], &a.body["variant"]),
        (&json!("SPLIT"), &json!("Test"))
    );
    assert_eq!(a.body["metadata"]["groupName"], "Test");
    assert_eq!(a.body["metadata"]["kind"], "experiment");
    // A config's value object, and one parameter of it, typed.
    let nz = json!({"targetingKey": "u1", "country": "NZ"});
    let a = flag(&s, "pricing", nz.clone()).await;
    assert_eq!(
        a.body["value"],
        json!({"currency": "NZD", "discount": 5, "rate": 1.5})
    );
    assert_eq!(a.body["metadata"]["ruleId"], "rule_nz");
    let a = flag(&s, "pricing.discount", nz.clone()).await;
    assert_eq!((a.status, &a.body["value"]), (200, &json!(5)));
    assert_eq!(a.body["metadata"]["parameter"], "discount");
    assert_eq!(flag(&s, "pricing.rate", nz).await.body["value"], json!(1.5));
    // A layer, whole and by parameter.
    let a = flag(&s, "layer:page.title", u.clone()).await;
    assert_eq!((a.status, &a.body["value"]), (200, &json!("Hello")));
    assert_eq!(a.body["metadata"]["kind"], "layer");
    // Bare names: gate first, then config; prefixes choose.
    assert_eq!(
        flag(&s, "shared", u.clone()).await.body["value"],
        json!(false)
    );
    assert_eq!(
        flag(&s, "config:shared", u.clone()).await.body["value"],
        json!({"from": "config"})
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn context_maps_to_the_user() {
    let s = serve_file(data("small.json"), |_| {}).await;
    let v = |a: Answer| a.body["value"].clone();
    assert_eq!(
        v(flag(
            &s,
            "acme_only",
            json!({"targetingKey": "u", "email": "ana@acme.com"})
        )
        .await),
        json!(true)
    );
    // Any other key is a custom attribute, at top level or inside `custom`.
    assert_eq!(
        v(flag(&s, "pro_plan", json!({"targetingKey": "u", "plan": "pro"})).await),
        json!(true)
    );
    assert_eq!(
        v(flag(
            &s,
            "pro_plan",
            json!({"targetingKey": "u", "custom": {"plan": "pro"}})
        )
        .await),
        json!(true)
    );
    assert_eq!(
        v(flag(&s, "pro_plan", json!({"targetingKey": "u", "plan": "free"})).await),
        json!(false)
    );
    // Custom IDs.
    assert_eq!(
        v(flag(
            &s,
            "company_gate",
            json!({"targetingKey": "u", "customIDs": {"companyID": "acme"}})
        )
        .await),
        json!(true)
    );
    assert_eq!(
        v(flag(
            &s,
            "company_gate",
            json!({"targetingKey": "u", "customIDs": {"companyID": "other"}})
        )
        .await),
        json!(false)
    );
    // No targetingKey: still a user (Statsig evaluates users without a userID).
    assert_eq!(flag(&s, "on", json!({})).await.status, 200);
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn errors_have_ofrep_codes_and_statuses() {
    let s = serve_file(data("small.json"), |_| {}).await;
    let a = flag(&s, "missing", json!({"targetingKey": "u"})).await;
    assert_eq!(a.status, 404);
    assert_eq!(a.body["key"], "missing");
    assert_eq!(a.body["errorCode"], "FLAG_NOT_FOUND");
    assert!(a.body["errorDetails"].is_string());
    let a = flag(&s, "pricing.nope", json!({"targetingKey": "u"})).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (404, &json!("FLAG_NOT_FOUND"))
    );

    let single = "/ofrep/v1/evaluate/flags/on";
    let a = post(&s, single, "{not json", None).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (400, &json!("PARSE_ERROR"))
    );
    let a = post(&s, single, "{}", None).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (400, &json!("INVALID_CONTEXT"))
    );
    let a = post(&s, single, r#"{"context": {"customIDs": "x"}}"#, None).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (400, &json!("INVALID_CONTEXT"))
    );
    let a = post(&s, "/ofrep/v1/evaluate/flags", "[1]", None).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (400, &json!("PARSE_ERROR"))
    );
    assert!(
        a.body.get("key").is_none(),
        "a bulk failure has no key: {}",
        a.body
    );
    s.shutdown().await.expect("shutdown");

    let s = serve_file(data("small.json"), |a| a.require_targeting_key = true).await;
    let a = flag(&s, "on", json!({"email": "a@b.c"})).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (400, &json!("TARGETING_KEY_MISSING"))
    );
    assert_eq!(
        flag(&s, "on", json!({"targetingKey": "u"})).await.status,
        200
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn bulk_evaluates_everything_with_an_etag_and_304() {
    let s = serve_file(data("small.json"), |_| {}).await;
    let bulk = "/ofrep/v1/evaluate/flags";
    let body = json!({"context": {"targetingKey": "u1", "country": "NZ"}}).to_string();
    let a = post(&s, bulk, &body, None).await;
    assert_eq!(a.status, 200);
    let keys: Vec<&str> = a.body["flags"]
        .as_array()
        .expect("flags")
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect();
    assert_eq!(
        keys,
        [
            "acme_only",
            "button",
            "company_gate",
            "config:shared",
            "nulls",
            "off",
            "on",
            "page",
            "pricing",
            "pro_plan",
            "shared"
        ]
    );
    let pricing = &a.body["flags"][8];
    assert_eq!(pricing["value"]["currency"], "NZD");
    // Each entry answers what the single endpoint answers.
    for f in a.body["flags"].as_array().expect("flags") {
        let one = post(
            &s,
            &format!("{bulk}/{}", f["key"].as_str().expect("key")),
            &body,
            None,
        )
        .await;
        assert_eq!(&one.body, f);
    }
    let etag = a.etag.expect("an ETag");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

    let again = post(&s, bulk, &body, Some(&etag)).await;
    assert_eq!(again.status, 304);
    assert_eq!(again.body, Value::Null, "304 has no body");
    assert_eq!(again.etag.as_deref(), Some(&*etag));
    let listed = post(&s, bulk, &body, Some(&format!("\"x\", W/{etag}"))).await;
    assert_eq!(listed.status, 304);
    let stale = post(&s, bulk, &body, Some("\"stale\"")).await;
    assert_eq!((stale.status, stale.etag.as_deref()), (200, Some(&*etag)));
    // Another context, other answers, another tag.
    let other = json!({"context": {"targetingKey": "u1", "country": "US"}}).to_string();
    let b = post(&s, bulk, &other, Some(&etag)).await;
    assert_eq!(b.status, 200);
    assert_ne!(b.etag.as_deref(), Some(&*etag));
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn health_and_not_ready() {
    let s = Sidecar::new(Arc::new(Store::new()))
        .bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("binds");
    let (status, body) = get(&s, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let a = flag(&s, "on", json!({"targetingKey": "u"})).await;
    assert_eq!(
        (a.status, &a.body["errorCode"]),
        (503, &json!("PROVIDER_NOT_READY"))
    );
    s.shutdown().await.expect("shutdown");

    let s = serve_file(data("small.json"), |_| {}).await;
    let (status, body) = get(&s, "/healthz").await;
    assert_eq!(status, 200, "{body}");
    let h: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(h["status"], "ready");
    assert_eq!(h["rulesetTime"], 1764000000000u64);
    assert!(h["rulesetAgeSeconds"].as_f64().expect("age") > 0.0);
    assert_eq!(h["source"]["consecutiveFailures"], 0);
    s.shutdown().await.expect("shutdown");
}

fn metric(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in\n{text}"))
        .trim()
        .parse()
        .expect("a number")
}

#[tokio::test]
async fn metrics_count_evaluations_ages_and_sync_errors() {
    let path = temp_payload("metrics");
    let s = serve_file(path.clone(), |a| a.poll_interval = 0.05).await;
    for _ in 0..3 {
        flag(&s, "on", json!({"targetingKey": "u"})).await;
    }
    flag(&s, "off", json!({"targetingKey": "u"})).await;
    flag(&s, "missing", json!({"targetingKey": "u"})).await;
    let (status, text) = get(&s, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &text,
            r#"flagcore_evaluations_total{kind="gate",outcome="TARGETING_MATCH"} "#
        ),
        3.0
    );
    assert_eq!(
        metric(
            &text,
            r#"flagcore_evaluations_total{kind="gate",outcome="DISABLED"} "#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &text,
            r#"flagcore_evaluations_total{kind="unknown",outcome="FLAG_NOT_FOUND"} "#
        ),
        1.0
    );
    assert!(metric(&text, "flagcore_ruleset_age_seconds ") > 0.0);
    assert_eq!(metric(&text, "flagcore_sync_errors_total "), 0.0);

    // A broken payload: the source fails, the old ruleset keeps serving.
    std::fs::write(&path, b"{ broken").expect("write");
    let mut errors = 0.0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        errors = metric(&get(&s, "/metrics").await.1, "flagcore_sync_errors_total ");
        if errors > 0.0 {
            break;
        }
    }
    assert!(errors >= 1.0, "sync errors not counted");
    assert_eq!(
        flag(&s, "on", json!({"targetingKey": "u"})).await.body["value"],
        json!(true)
    );
    s.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn the_file_source_reloads_and_exposures_are_logged() {
    let path = temp_payload("reload");
    let log = path.with_file_name("exposures.jsonl");
    let s = serve_file(path.clone(), |a| {
        a.poll_interval = 0.05;
        a.exposures = Some(log.display().to_string());
    })
    .await;
    let u = json!({"targetingKey": "ana"});
    assert_eq!(flag(&s, "on", u.clone()).await.body["value"], json!(true));
    // Bulk evaluation logs nothing; a layer parameter read logs a layer exposure.
    post(
        &s,
        "/ofrep/v1/evaluate/flags",
        &json!({ "context": u }).to_string(),
        None,
    )
    .await;
    flag(&s, "page.title", u.clone()).await;

    // Turn the gate off in the file (Statsig's servers send a disabled spec without its
    // rules): the sidecar follows.
    let mut payload: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    payload["feature_gates"]["on"]["enabled"] = json!(false);
    payload["feature_gates"]["on"]["rules"] = json!([]);
    payload["time"] = json!(1764000000001u64);
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, payload.to_string()).expect("write");
    std::fs::rename(&tmp, &path).expect("rename");
    let mut reason = json!(null);
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reason = flag(&s, "on", u.clone()).await.body["reason"].clone();
        if reason == "DISABLED" {
            break;
        }
    }
    assert_eq!(reason, "DISABLED");
    s.shutdown().await.expect("shutdown");

    let events: Vec<Value> = std::fs::read_to_string(&log)
        .expect("exposure log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["eventName"].as_str().unwrap_or(""),
                e["metadata"]["gate"]
                    .as_str()
                    .or(e["metadata"]["config"].as_str())
                    .unwrap_or(""),
            )
        })
        .collect();
    assert!(
        names.contains(&("statsig::gate_exposure", "on")),
        "{names:?}"
    );
    assert!(
        names.contains(&("statsig::layer_exposure", "page")),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|(_, n)| *n == "pricing"),
        "bulk logged exposures: {names:?}"
    );
}

/// What the loopback "Statsig" received.
#[derive(Default)]
pub(super) struct FakeStatsig {
    specs_requests: std::sync::atomic::AtomicUsize,
    secret_seen: std::sync::Mutex<Option<String>>,
    events: std::sync::Mutex<Vec<Value>>,
}

pub(super) async fn fake_statsig() -> (std::net::SocketAddr, Arc<FakeStatsig>) {
    use axum::body::Bytes;
    use axum::extract::{Path, State};
    use axum::http::HeaderMap;
    use axum::routing::{get, post};
    use std::io::Read;

    async fn specs(
        State(s): State<Arc<FakeStatsig>>,
        Path(file): Path<String>,
        headers: HeaderMap,
    ) -> Vec<u8> {
        s.specs_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *s.secret_seen.lock().expect("lock") = headers
            .get("statsig-api-key")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .or(Some(file));
        std::fs::read(data("small.json")).expect("payload")
    }
    async fn log_event(
        State(s): State<Arc<FakeStatsig>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> &'static str {
        let mut text = Vec::new();
        if headers.get("content-encoding").is_some_and(|v| v == "gzip") {
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut text)
                .expect("gzip");
        } else {
            text = body.to_vec();
        }
        let batch: Value = serde_json::from_slice(&text).expect("JSON batch");
        s.events
            .lock()
            .expect("lock")
            .extend(batch["events"].as_array().cloned().unwrap_or_default());
        "{\"success\": true}"
    }
    let state = Arc::new(FakeStatsig::default());
    let app = axum::Router::new()
        .route("/v2/download_config_specs/{file}", get(specs))
        .route("/v1/log_event", post(log_event))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_statsig_source_and_exposures_to_statsig() {
    let (statsig, fake) = fake_statsig().await;
    let mut args = ServeArgs::file("127.0.0.1:0".parse().expect("addr"), "unused");
    args.file = None;
    args.server_secret = Some("secret-test".into());
    args.api_url = Some(format!("http://{statsig}/v2/download_config_specs"));
    args.events_url = Some(format!("http://{statsig}/v1/log_event"));
    let s = start(args).await.expect("starts");
    assert!(
        fake.specs_requests
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    assert_eq!(
        fake.secret_seen.lock().expect("lock").as_deref(),
        Some("secret-test")
    );
    let a = flag(&s, "on", json!({"targetingKey": "ana"})).await;
    assert_eq!((a.status, &a.body["value"]), (200, &json!(true)));
    assert_eq!(get(&s, "/healthz").await.0, 200);
    // Shutting down flushes the exposures to Statsig's log_event.
    s.shutdown().await.expect("shutdown");
    let events = fake.events.lock().expect("lock").clone();
    assert!(
        events
            .iter()
            .any(|e| e["eventName"] == "statsig::gate_exposure"
                && e["metadata"]["gate"] == "on"
                && e["user"]["userID"] == "ana"),
        "{events:?}"
    );
}

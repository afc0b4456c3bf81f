//! `--events DCS [TIER] < script.jsonl`: runs a script of evaluations and parameter reads
//! through the official core with exposure logging on, and prints what it read and every
//! event it would send to Statsig.
//!
//! Each script line is `{"user", "kind": gate|config|experiment|layer, "name",
//! "log": auto|off|manual, "reads": [[bool|f64|i64|str|raw, parameter, fallback], ...]}`
//! (or a custom event: `{"user", "kind": "event", "name", "value": string|number|null,
//! "metadata": {string: string}|null}`, logged with `log_event` or
//! `log_event_with_number`; its `value` line is `null`):
//! - `auto`: the plain getter (`get_feature_gate`, `get_dynamic_config`, `get_experiment`,
//!   `get_layer`), which logs (layers: on each successful parameter read);
//! - `off`: the `*_with_options` getter with `disable_exposure_logging` (counted in the
//!   `statsig::non_exposed_checks` summary);
//! - `manual`: as `off`, then the official `manually_log_*_exposure` call (layers: after each
//!   parameter read, `manually_log_layer_parameter_exposure` for that parameter).
//!
//! Reads use the official typed getters (`get_bool`, `get_f64`, `get_i64`, `get_string`,
//! with the fallback) and `raw` the untyped one (`get_raw_value` on layers, the value map on
//! configs and experiments), `null` when absent.
//!
//! Output, one JSON object per line: for each script line `{"line", "value", "reads"}`
//! (`value`: the gate's bool, else the rule id), then `{"event": …}` for every event the
//! core hands its event logging adapter, in the order of the batches it sends and of the
//! events in them. The adapter is this program's own (`Capture`): it receives exactly the
//! request the HTTP adapter would serialize and POST (`LogEventRequest.payload.events`),
//! and answers success. The logger runs as the SDK runs it (no `disable_all_logging`).
//! The specs come over HTTP, from a server on loopback that answers every request with
//! the DCS file: the SDK's own HTTP specs adapter fetches them, so reasons read
//! `Network:…` as they do in production (a bootstrap would say `Bootstrap:…`).
use serde_json::{json, Value};
use statsig_rust::log_event_payload::LogEventRequest;
use statsig_rust::{
    DynamicConfigEvaluationOptions, EventLoggingAdapter, ExperimentEvaluationOptions,
    FeatureGateEvaluationOptions, LayerEvaluationOptions, Statsig, StatsigErr, StatsigOptions,
    StatsigRuntime, StatsigUser, StatsigUserData,
};
use std::future::Future;
use std::io::{BufRead, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Records every request the logger sends; answers success.
#[derive(Default)]
struct Capture {
    requests: Mutex<Vec<LogEventRequest>>,
}

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, StatsigErr>> + Send + 'a>>;

// The trait is declared with `async_trait`; this is its expansion, written by hand so the
// oracle needs no dependency beyond the core.
impl EventLoggingAdapter for Capture {
    fn start<'a, 'b, 'c>(&'a self, _rt: &'b Arc<StatsigRuntime>) -> Answer<'c, ()>
    where
        'a: 'c,
        'b: 'c,
        Self: 'c,
    {
        Box::pin(async { Ok(()) })
    }

    fn log_events<'a, 'c>(&'a self, request: LogEventRequest) -> Answer<'c, bool>
    where
        'a: 'c,
        Self: 'c,
    {
        Box::pin(async move {
            self.requests.lock().unwrap().push(request);
            Ok(true)
        })
    }

    fn shutdown<'a, 'c>(&'a self) -> Answer<'c, ()>
    where
        'a: 'c,
        Self: 'c,
    {
        Box::pin(async { Ok(()) })
    }

    fn should_schedule_background_flush(&self) -> bool {
        true
    }
}

/// Answers every HTTP request on a loopback port with `body` (JSON); returns the address.
fn serve(body: String) -> std::net::SocketAddr {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            // Read the request head (the SDK sends GET or POST with a small body).
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head).to_lowercase();
            let length: usize = text
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let start = head.windows(4).position(|w| w == b"\r\n\r\n").map_or(head.len(), |p| p + 4);
            let mut have = head.len() - start;
            while have < length {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => have += n,
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    addr
}

pub async fn events(args: &[String]) {
    let Some(dcs_path) = args.first() else {
        eprintln!("usage: statsig-oracle --events DCS.json [TIER] < script.jsonl");
        std::process::exit(2)
    };
    let raw = std::fs::read_to_string(dcs_path).expect("read DCS file");
    let capture = Arc::new(Capture::default());
    let mut options = StatsigOptions::new();
    options.specs_url = Some(format!("http://{}/v2/download_config_specs", serve(raw)));
    options.init_timeout_ms = Some(10_000);
    options.event_logging_adapter = Some(capture.clone());
    options.environment = args.get(1).cloned();
    options.disable_country_lookup = Some(true);
    options.wait_for_user_agent_init = Some(true);
    options.output_log_level = Some(statsig_rust::output_logger::LogLevel::None);
    let statsig = Statsig::new("secret-key", Some(Arc::new(options)));
    statsig.initialize().await.expect("initialize");

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let step: Value = serde_json::from_str(&line.expect("stdin")).expect("script JSON");
        let data: StatsigUserData = serde_json::from_value(step["user"].clone()).expect("user");
        let user = StatsigUser::new(data);
        let name = step["name"].as_str().expect("name");
        let log = step["log"].as_str().expect("log");
        let off = log != "auto";
        let reads: Vec<(&str, &str, &Value)> = step["reads"]
            .as_array()
            .expect("reads")
            .iter()
            .map(|r| (r[0].as_str().unwrap(), r[1].as_str().unwrap(), &r[2]))
            .collect();
        let mut values = vec![];
        // The typed getters of configs and experiments (they never log).
        macro_rules! typed {
            ($e:expr, $t:expr, $p:expr, $fb:expr) => {
                match $t {
                    "bool" => json!($e.get_bool($p, $fb.as_bool().unwrap())),
                    "f64" => json!($e.get_f64($p, $fb.as_f64().unwrap())),
                    "i64" => json!($e.get_i64($p, $fb.as_i64().unwrap())),
                    "str" => json!($e.get_string($p, $fb.as_str().unwrap().to_string())),
                    _ => $e.value.get($p).cloned().unwrap_or(Value::Null),
                }
            };
        }
        let value = match step["kind"].as_str().expect("kind") {
            "event" => {
                let metadata: Option<std::collections::HashMap<String, String>> =
                    serde_json::from_value(step["metadata"].clone()).expect("string metadata");
                match &step["value"] {
                    Value::Number(n) => statsig.log_event_with_number(&user, name, n.as_f64(), metadata),
                    Value::String(v) => statsig.log_event(&user, name, Some(v.clone()), metadata),
                    _ => statsig.log_event(&user, name, None, metadata),
                }
                Value::Null
            }
            "layer" => {
                let options = LayerEvaluationOptions { disable_exposure_logging: off, ..Default::default() };
                let layer = statsig.get_layer_with_options(&user, name, options);
                for (t, p, fb) in &reads {
                    values.push(match *t {
                        "bool" => json!(layer.get_bool(p, fb.as_bool().unwrap())),
                        "f64" => json!(layer.get_f64(p, fb.as_f64().unwrap())),
                        "i64" => json!(layer.get_i64(p, fb.as_i64().unwrap())),
                        "str" => json!(layer.get_string(p, fb.as_str().unwrap().to_string())),
                        _ => layer.get_raw_value(p).unwrap_or(Value::Null),
                    });
                    if log == "manual" {
                        statsig.manually_log_layer_parameter_exposure(&user, name, p.to_string());
                    }
                }
                json!(layer.rule_id)
            }
            "gate" => {
                let options = FeatureGateEvaluationOptions { disable_exposure_logging: off };
                let gate = statsig.get_feature_gate_with_options(&user, name, options);
                if log == "manual" {
                    statsig.manually_log_gate_exposure(&user, name);
                }
                json!(gate.value)
            }
            "config" => {
                let options = DynamicConfigEvaluationOptions { disable_exposure_logging: off };
                let config = statsig.get_dynamic_config_with_options(&user, name, options);
                if log == "manual" {
                    statsig.manually_log_dynamic_config_exposure(&user, name);
                }
                values.extend(reads.iter().map(|(t, p, fb)| typed!(config, *t, *p, fb)));
                json!(config.rule_id)
            }
            _ => {
                let options = ExperimentEvaluationOptions { disable_exposure_logging: off, ..Default::default() };
                let experiment = statsig.get_experiment_with_options(&user, name, options);
                if log == "manual" {
                    statsig.manually_log_experiment_exposure(&user, name);
                }
                values.extend(reads.iter().map(|(t, p, fb)| typed!(experiment, *t, *p, fb)));
                json!(experiment.rule_id)
            }
        };
        writeln!(out, "{}", json!({"line": i, "value": value, "reads": values})).unwrap();
    }
    let _ = statsig.shutdown().await;
    let requests = std::mem::take(&mut *capture.requests.lock().unwrap());
    for request in requests {
        for event in request.payload.events.as_array().expect("an events array") {
            writeln!(out, "{}", json!({"event": event})).unwrap();
        }
    }
    out.flush().unwrap();
}

//! Interop: the official core (statsig-rust) on a real Redis, through its own `DataStoreTrait`,
//! with the layout of Statsig's Redis data adapter (`statsig-node-redis`): one hash
//! (`statsig-redis`) whose fields are the official core's keys and whose values are
//! base64(zlib(value)), and a second hash (`statsig-redis-time`) with the time given to `set`.
//!
//!   interop write REDIS_URL SECRET DCS.json LISTS_DIR < users.jsonl > expected.jsonl
//!     serves DCS.json and the ID lists of LISTS_DIR (`<name>` files of `+hash` lines, and
//!     `manifest.json`: {name: {creationTime, fileID}}) on a loopback Statsig stand-in, starts
//!     the official core with the data store (it initializes from the network and writes what
//!     it got), waits for its writes, prints the two hashes to stderr as JSON (`--dump FILE`
//!     writes them to FILE) and the official answers for the users to stdout.
//!   interop read REDIS_URL SECRET DCS.json < users.jsonl > answers.jsonl
//!     starts the official core with the data store and no reachable network: it must
//!     initialize from Redis (specs and ID lists); prints its answers for the users.
//!
//!   interop load REDIS_URL DUMP.json
//!     writes a dump (as `write --dump` makes, or flagcore's test with
//!     FLAGCORE_INTEROP_DUMP) into Redis, for `read`.
//!
//! DCS.json only names the entities to evaluate in `read` (their definitions come from Redis).
use async_trait::async_trait;
use base64::Engine as _;
use serde_json::{json, Value};
use statsig_rust::data_store_interface::{
    DataStoreFeature, DataStoreResponse, DataStoreTrait, RequestPath,
};
use statsig_rust::{Statsig, StatsigErr, StatsigOptions, StatsigUser, StatsigUserData};
use std::collections::BTreeMap;
use std::io::{BufRead, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HASH: &str = "statsig-redis";
const TIME_HASH: &str = "statsig-redis-time";

fn fail(e: impl std::fmt::Display) -> StatsigErr {
    StatsigErr::DataStoreFailure(e.to_string())
}

fn compress(value: &[u8]) -> String {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(value).expect("zlib in memory");
    base64::engine::general_purpose::STANDARD.encode(z.finish().expect("zlib in memory"))
}

fn decompress(stored: &str) -> Result<String, StatsigErr> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .map_err(fail)?;
    let mut out = String::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .read_to_string(&mut out)
        .map_err(fail)?;
    Ok(out)
}

/// The official `DataStoreTrait` on Redis, in the adapter's layout.
struct RedisDataStore {
    conn: redis::aio::MultiplexedConnection,
    poll: bool,
    log: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl DataStoreTrait for RedisDataStore {
    async fn initialize(&self) -> Result<(), StatsigErr> {
        Ok(())
    }

    async fn shutdown(&self) -> Result<(), StatsigErr> {
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<DataStoreResponse, StatsigErr> {
        self.log.lock().unwrap().push(format!("get {key}"));
        let mut c = self.conn.clone();
        let (value, time): (Option<String>, Option<u64>) = redis::pipe()
            .hget(HASH, key)
            .hget(TIME_HASH, key)
            .query_async(&mut c)
            .await
            .map_err(fail)?;
        let result = value.map(|v| decompress(&v)).transpose()?;
        Ok(DataStoreResponse { result, time })
    }

    async fn set(&self, key: &str, value: &str, time: Option<u64>) -> Result<(), StatsigErr> {
        self.log.lock().unwrap().push(format!("set {key} ({} bytes)", value.len()));
        let mut c = self.conn.clone();
        let mut pipe = redis::pipe();
        pipe.atomic().hset(HASH, key, compress(value.as_bytes()));
        if let Some(t) = time {
            pipe.hset(TIME_HASH, key, t);
        }
        let () = pipe.query_async(&mut c).await.map_err(fail)?;
        Ok(())
    }

    async fn support_polling_updates_for(&self, _path: RequestPath) -> bool {
        self.poll
    }

    async fn supports_feature(&self, _feature: DataStoreFeature) -> bool {
        true
    }

    async fn support_polling_updates_for_feature(&self, _f: DataStoreFeature) -> Option<bool> {
        Some(self.poll)
    }
}

fn names(dcs: &Value, key: &str) -> Vec<(String, String)> {
    let entity = |s: &Value| s["entity"].as_str().unwrap_or("").to_string();
    let mut out: Vec<(String, String)> = match &dcs[key] {
        Value::Array(a) => a
            .iter()
            .filter_map(|s| Some((s["name"].as_str()?.to_string(), entity(s))))
            .collect(),
        Value::Object(o) => o.iter().map(|(k, s)| (k.clone(), entity(s))).collect(),
        _ => vec![],
    };
    out.sort();
    out
}

fn pick(full: &Value, kind: &str, name: &str, u: usize) -> Value {
    let ev = &full["__evaluation"];
    json!({
        "u": u, "kind": kind, "name": name,
        "value": full["value"].clone(),
        "rule_id": full["rule_id"].clone(),
        "group_name": full.get("group_name").cloned().unwrap_or(Value::Null),
        "secondary_exposures": ev.get("secondary_exposures").cloned().unwrap_or(json!([])),
        "undelegated_secondary_exposures": ev.get("undelegated_secondary_exposures").cloned().unwrap_or(Value::Null),
        "allocated_experiment": full.get("allocated_experiment_name").cloned().unwrap_or(Value::Null),
    })
}

fn evaluate(statsig: &Statsig, dcs: &Value) {
    let gates = names(dcs, "feature_gates");
    let configs = names(dcs, "dynamic_configs");
    let layers = names(dcs, "layer_configs");
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for (u, line) in std::io::stdin().lock().lines().enumerate() {
        let data: StatsigUserData = serde_json::from_str(&line.expect("stdin")).expect("user");
        let user = StatsigUser::new(data);
        for (g, _) in &gates {
            let r = serde_json::to_value(statsig.get_feature_gate(&user, g)).unwrap();
            writeln!(out, "{}", pick(&r, "gate", g, u)).unwrap();
        }
        for (c, entity) in &configs {
            let (kind, r) = if entity == "experiment" {
                ("experiment", serde_json::to_value(statsig.get_experiment(&user, c)).unwrap())
            } else {
                ("config", serde_json::to_value(statsig.get_dynamic_config(&user, c)).unwrap())
            };
            writeln!(out, "{}", pick(&r, kind, c, u)).unwrap();
        }
        for (l, _) in &layers {
            let layer = statsig.get_layer(&user, l);
            let mut r = serde_json::to_value(&layer).unwrap();
            r["value"] = serde_json::to_value(&layer.__value).unwrap();
            writeln!(out, "{}", pick(&r, "layer", l, u)).unwrap();
        }
    }
    out.flush().unwrap();
}

fn base_options(store: Arc<RedisDataStore>, base: &str) -> StatsigOptions {
    let mut o = StatsigOptions::new();
    o.data_store = Some(store);
    o.specs_url = Some(format!("{base}/v2/download_config_specs"));
    o.id_lists_url = Some(format!("{base}/v1/get_id_lists"));
    o.log_event_url = Some(format!("{base}/v1/log_event"));
    o.enable_id_lists = Some(true);
    o.disable_all_logging = Some(true);
    o.disable_country_lookup = Some(true);
    o.wait_for_user_agent_init = Some(true);
    o.specs_sync_interval_ms = Some(3_600_000);
    o.id_lists_sync_interval_ms = Some(3_600_000);
    o.output_log_level = Some(statsig_rust::output_logger::LogLevel::None);
    o
}

/// The two hashes, sorted.
async fn dump(conn: &mut redis::aio::MultiplexedConnection) -> Value {
    let mut out = serde_json::Map::new();
    for h in [HASH, TIME_HASH] {
        let m: BTreeMap<String, String> = redis::cmd("HGETALL").arg(h).query_async(conn).await.unwrap();
        out.insert(h.to_string(), json!(m));
    }
    Value::Object(out)
}

struct Stand {
    dcs: Vec<u8>,
    secret: String,
    lists: BTreeMap<String, (Value, Vec<u8>)>,
}

async fn serve(listener: tokio::net::TcpListener, stand: Arc<Stand>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else { return };
        let stand = stand.clone();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = match sock.read(&mut chunk).await { Ok(0) | Err(_) => return, Ok(n) => n };
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") { break i + 4; }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let mut lines = head.lines();
            let request = lines.next().unwrap_or("").to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            while buf.len() < head_end + len {
                let n = match sock.read(&mut chunk).await { Ok(0) | Err(_) => break, Ok(n) => n };
                buf.extend_from_slice(&chunk[..n]);
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let path = path.split('?').next().unwrap_or("").to_string();
            eprintln!("stand-in: {request}");
            let (status, body): (&str, Vec<u8>) = if path == format!("/v2/download_config_specs/{}.json", stand.secret) {
                ("200 OK", stand.dcs.clone())
            } else if path == "/v1/get_id_lists" {
                let manifest: serde_json::Map<String, Value> = stand.lists.iter().map(|(name, (meta, file))| {
                    (name.clone(), json!({
                        "name": name, "size": file.len(),
                        "url": format!("http://127.0.0.1:{port}/id_list/{name}"),
                        "creationTime": meta["creationTime"], "fileID": meta["fileID"],
                    }))
                }).collect();
                ("200 OK", serde_json::to_vec(&manifest).unwrap())
            } else if let Some(name) = path.strip_prefix("/id_list/") {
                match stand.lists.get(name) {
                    Some((_, file)) => {
                        let start: usize = headers.iter().find(|(k, _)| k == "range")
                            .and_then(|(_, v)| v.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()).unwrap_or(0);
                        ("200 OK", file[start.min(file.len())..].to_vec())
                    }
                    None => ("404 Not Found", vec![]),
                }
            } else {
                ("200 OK", b"{\"success\":true}".to_vec())
            };
            let resp = format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
            let _ = sock.write_all(resp.as_bytes()).await;
            let _ = sock.write_all(&body).await;
            let _ = sock.shutdown().await;
        });
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: interop write REDIS_URL SECRET DCS.json LISTS_DIR [--dump FILE] | read REDIS_URL SECRET DCS.json  (users on stdin)";
    if args.len() < 4 && !(args.len() == 3 && args[0] == "load") {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    if args.len() == 3 && args[0] == "load" {
        let client = redis::Client::open(args[1].as_str()).expect("redis url");
        let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis");
        let dumped: BTreeMap<String, BTreeMap<String, String>> =
            serde_json::from_slice(&std::fs::read(&args[2]).expect("read dump")).expect("dump JSON");
        for (hash, fields) in dumped {
            for (field, value) in fields {
                let () = redis::cmd("HSET").arg(&hash).arg(field).arg(value).query_async(&mut conn).await.unwrap();
            }
        }
        return;
    }
    let (mode, url, secret, dcs_path) = (&args[0], &args[1], &args[2], &args[3]);
    let raw = std::fs::read(dcs_path).expect("read DCS");
    let dcs: Value = serde_json::from_slice(&raw).expect("DCS is JSON");
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("connect to redis");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    match mode.as_str() {
        "write" => {
            let dir = std::path::Path::new(args.get(4).expect(usage));
            let manifest: BTreeMap<String, Value> =
                serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest.json")).unwrap();
            let lists = manifest.into_iter().map(|(name, meta)| {
                let file = std::fs::read(dir.join(&name)).expect("list file");
                (name, (meta, file))
            }).collect::<BTreeMap<_, _>>();
            let expected_keys = 2 + lists.len();
            let stand = Arc::new(Stand { dcs: raw.clone(), secret: secret.clone(), lists });
            tokio::spawn(serve(listener, stand));
            let store = Arc::new(RedisDataStore { conn: conn.clone(), poll: false, log: Default::default() });
            let statsig = Statsig::new(secret, Some(Arc::new(base_options(store.clone(), &base))));
            let details = statsig.initialize_with_details().await.expect("initialize");
            eprintln!("initialized: {}", serde_json::to_string(&details).unwrap_or_default());
            let started = Instant::now();
            loop {
                let n: usize = redis::cmd("HLEN").arg(HASH).query_async(&mut conn).await.unwrap();
                if n >= expected_keys || started.elapsed() > Duration::from_secs(15) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            evaluate(&statsig, &dcs);
            let _ = statsig.shutdown().await;
            let dumped = serde_json::to_string_pretty(&dump(&mut conn).await).unwrap();
            match args.iter().position(|a| a == "--dump") {
                Some(i) => std::fs::write(&args[i + 1], dumped + "\n").expect("write dump"),
                None => eprintln!("{dumped}"),
            }
            eprintln!("data store calls: {:#?}", store.log.lock().unwrap());
        }
        "read" => {
            // Nothing listens there: the network is down.
            drop(listener);
            let store = Arc::new(RedisDataStore { conn: conn.clone(), poll: true, log: Default::default() });
            let statsig = Statsig::new(secret, Some(Arc::new(base_options(store.clone(), &base))));
            let details = statsig.initialize_with_details().await.expect("initialize");
            eprintln!("initialized: {}", serde_json::to_string(&details).unwrap_or_default());
            evaluate(&statsig, &dcs);
            eprintln!("data store calls: {:#?}", store.log.lock().unwrap());
            let _ = statsig.shutdown().await;
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

//! Interoperability with the official core on one Redis, in the layout of Statsig's Redis
//! data adapter (`RedisLayout::adapter()`): `tests/data/redis_interop/official_wrote.json`
//! holds what the official core (statsig-rust, through its own `DataStoreTrait`) wrote after
//! it initialized from a Statsig stand-in serving `dcs.json` and the lists of `lists/`, and
//! `expected.jsonl` its answers for `users.jsonl`; `README.md` there says how they were made.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use flagcore::{Exposures, Kind, Scratch, Store, UserData};
use flagcore_sync::{
    DataStore, DataStoreOptions, DataStoreSync, IdListOptions, RedisLayout, RedisOptions,
    RedisStore, StatsigOptions,
};
use serde_json::{json, Value as Json};

use super::super::server::{until, Reply, Server};
use super::harness::RedisServer as Redis;
use super::TICK;

const SECRET: &str = "secret-interop";
const VALUES: &str = "statsig-redis";
const TIMES: &str = "statsig-redis-time";

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/redis_interop")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

type Dump = BTreeMap<String, BTreeMap<String, String>>;

fn official_wrote() -> Dump {
    serde_json::from_slice(&read("official_wrote.json")).expect("official_wrote.json")
}

fn dump(redis: &Redis) -> Dump {
    [VALUES, TIMES]
        .into_iter()
        .map(|h| {
            let fields: BTreeMap<String, String> = redis.query(redis::cmd("HGETALL").arg(h));
            (h.to_owned(), fields)
        })
        .collect()
}

fn adapter_store(redis: &Redis) -> Arc<dyn DataStore> {
    let options = RedisOptions::default().layout(RedisLayout::adapter());
    Arc::new(RedisStore::with_options(&redis.url(), options).expect("a Redis URL"))
}

/// The adapter's encoding undone: zlib of base64.
fn decode(stored: &str) -> Vec<u8> {
    use base64::Engine as _;
    use std::io::Read as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored)
        .expect("base64");
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .read_to_end(&mut out)
        .expect("zlib");
    out
}

/// Which of the official core's keys a field is: its path.
fn path_of(key: &str) -> &str {
    key.split('|').nth(1).expect("a statsig|<path>|… key")
}

/// The answers of flagcore for the users, compared with the official core's: value, rule
/// id and secondary exposures of every line of `expected.jsonl`.
fn assert_answers_as_the_official_core(store: &Store) {
    let users: Vec<UserData> = String::from_utf8(read("users.jsonl"))
        .unwrap()
        .lines()
        .map(|l| UserData::from_json(l.as_bytes()).expect("a user"))
        .collect();
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let mut compared = 0;
    for line in String::from_utf8(read("expected.jsonl")).unwrap().lines() {
        let want: Json = serde_json::from_str(line).expect("an expected line");
        let u = want["u"].as_u64().unwrap() as usize;
        let name = want["name"].as_str().unwrap();
        let kind = match want["kind"].as_str().unwrap() {
            "gate" => Kind::Gate,
            "config" => Kind::DynamicConfig,
            "experiment" => Kind::Experiment,
            _ => Kind::Layer,
        };
        let user = users[u].view();
        let e = snapshot.evaluate(&mut scratch, &user, kind, name, Exposures::Suppress);
        let value = match kind {
            Kind::Gate => json!(e.value()),
            _ => Json::Object(e.json().to_map()),
        };
        let exposures: Vec<Json> = e
            .secondary_exposures()
            .iter()
            .map(|s| json!({"gate": s.gate, "gateValue": s.gate_value.to_string(), "ruleID": s.rule_id}))
            .collect();
        let got = json!({"value": value, "rule_id": e.rule_id(), "secondary_exposures": exposures});
        let want = json!({"value": want["value"], "rule_id": want["rule_id"],
            "secondary_exposures": want["secondary_exposures"]});
        assert_eq!(got, want, "user {u}, {name}");
        compared += 1;
    }
    assert_eq!(compared, users.len() * 4, "every line compared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_reads_what_the_official_core_wrote_and_answers_as_it_did() {
    let redis = Redis::start();
    let (store, sync) = synced_follower(&redis).await;
    assert_answers_as_the_official_core(&store);
    let status = sync.store_status();
    assert_eq!(status.store_errors, 0, "{:?}", status.last_store_error);
    sync.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_writes_the_keys_and_shapes_the_official_core_wrote() {
    let server = Server::start();
    let dcs = read("dcs.json");
    server.set_specs(Reply::Serve(dcs.clone()));
    let lists: BTreeMap<String, Json> =
        serde_json::from_slice(&read("lists/manifest.json")).expect("lists/manifest.json");
    let mut manifest = serde_json::Map::new();
    for (name, meta) in &lists {
        let file = read(&format!("lists/{name}"));
        let path = format!("/id_list/{name}");
        server.set_file(&path, &file);
        manifest.insert(
            name.clone(),
            json!({"name": name, "url": format!("{}{path}", server.base()), "size": file.len(),
                "creationTime": meta["creationTime"], "fileID": meta["fileID"]}),
        );
    }
    server.set_manifest(Reply::Serve(serde_json::to_vec(&manifest).unwrap()));

    let redis = Redis::start();
    let statsig = StatsigOptions::new(SECRET).specs_url(server.specs_url());
    let options = DataStoreOptions::writer(statsig)
        .interval(TICK)
        .id_lists(IdListOptions::new(SECRET).manifest_url(server.manifest_url()));
    let store = Arc::new(Store::new());
    let sync = DataStoreSync::start(store.clone(), adapter_store(&redis), options).expect("start");
    until("the payload and the ID lists written", || {
        sync.store_status().writes >= 2
    })
    .await;
    let wrote = dump(&redis);
    if let Ok(path) = std::env::var("FLAGCORE_INTEROP_DUMP") {
        // For the check by hand: the official core reads this (README.md).
        std::fs::write(path, serde_json::to_string_pretty(&wrote).unwrap() + "\n").unwrap();
    }

    let official = official_wrote();
    for hash in [VALUES, TIMES] {
        let keys = |d: &Dump| d[hash].keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&wrote), keys(&official), "the fields of {hash}");
    }
    for (key, theirs) in &official[VALUES] {
        let ours = decode(&wrote[VALUES][key]);
        let theirs = decode(theirs);
        match path_of(key) {
            "/v1/get_id_lists" => {
                // The same manifest but for the lists' URLs (each stand-in had its own port).
                let without_urls = |bytes: &[u8]| {
                    let mut v: Json = serde_json::from_slice(bytes).expect("a JSON manifest");
                    for entry in v.as_object_mut().expect("an object manifest").values_mut() {
                        entry["url"] = json!("");
                    }
                    v
                };
                assert_eq!(without_urls(&ours), without_urls(&theirs), "{key}");
            }
            _ => assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{key}"
            ),
        }
    }
    for (key, time) in &wrote[TIMES] {
        assert!(
            time.parse::<u64>().is_ok(),
            "{key}: a time in ms, not {time:?}"
        );
    }
    sync.shutdown().await;

    // And a flagcore follower of it answers as the official core did.
    let follower = Arc::new(Store::new());
    let options = DataStoreOptions::follower(SECRET)
        .interval(TICK)
        .id_lists(IdListOptions::new(SECRET));
    let sync =
        DataStoreSync::start(follower.clone(), adapter_store(&redis), options).expect("start");
    until("the payload and both ID lists", || {
        follower.ruleset().is_some() && follower.id_lists().list_names().count() == 2
    })
    .await;
    assert_answers_as_the_official_core(&follower);
    sync.shutdown().await;
}

/// The fixture's keys in Redis, and a follower that has synced them.
async fn synced_follower(redis: &Redis) -> (Arc<Store>, DataStoreSync) {
    for (hash, fields) in official_wrote() {
        for (field, value) in fields {
            let () = redis.query(redis::cmd("HSET").arg(&hash).arg(field).arg(value));
        }
    }
    let store = Arc::new(Store::new());
    let options = DataStoreOptions::follower(SECRET)
        .interval(TICK)
        .id_lists(IdListOptions::new(SECRET));
    let sync = DataStoreSync::start(store.clone(), adapter_store(redis), options).expect("start");
    until("the payload and both ID lists", || {
        store.ruleset().is_some() && store.id_lists().list_names().count() == 2
    })
    .await;
    (store, sync)
}

fn field(path: &str) -> String {
    official_wrote()[VALUES]
        .keys()
        .find(|k| path_of(k) == path)
        .unwrap_or_else(|| panic!("no {path} key in the fixture"))
        .clone()
}

/// What a fault does to the store, and the fault.
type Fault<'a> = (&'static str, Box<dyn Fn() + 'a>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_incomplete_id_list_snapshot_keeps_the_lists_serving() {
    let redis = Redis::start();
    let (store, sync) = synced_follower(&redis).await;
    let manifest = field("/v1/get_id_lists");
    let beta = field("id_list::beta_users");
    let error_at = |sync: &DataStoreSync| sync.status().last_error.map(|(at, _)| at);
    // Each fault is announced by a new manifest time (the marker followers poll).
    let faults: [Fault<'_>; 3] = [
        (
            "a child that is not the adapter's encoding",
            Box::new(|| {
                let () = redis.query(
                    redis::cmd("HSET")
                        .arg(VALUES)
                        .arg(&beta)
                        .arg("%%% not base64"),
                );
            }),
        ),
        (
            "a child with a line that is not a member",
            Box::new(|| {
                use base64::Engine as _;
                use std::io::Write as _;
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(b"+AR457+Il\n-WFCgPoAf\n").unwrap();
                let bad = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
                let () = redis.query(redis::cmd("HSET").arg(VALUES).arg(&beta).arg(bad));
            }),
        ),
        (
            "a child gone",
            Box::new(|| {
                let () = redis.query(redis::cmd("HDEL").arg(VALUES).arg(&beta));
            }),
        ),
    ];
    for (i, (what, fault)) in faults.iter().enumerate() {
        let before = error_at(&sync);
        fault();
        let () = redis.query(
            redis::cmd("HSET")
                .arg(TIMES)
                .arg(&manifest)
                .arg(2_000_000_000_000u64 + i as u64),
        );
        until(what, || error_at(&sync) > before).await;
        assert_answers_as_the_official_core(&store);
        assert_eq!(
            store.id_lists().len("beta_users"),
            3,
            "{what}: the lists stay"
        );
        // Repaired: the official core's value again, read at the next tick.
        let () = redis.query(
            redis::cmd("HSET")
                .arg(VALUES)
                .arg(&beta)
                .arg(&official_wrote()[VALUES][&beta]),
        );
        let () = redis.query(
            redis::cmd("HSET")
                .arg(TIMES)
                .arg(&manifest)
                .arg(3_000_000_000_000u64 + i as u64),
        );
        let attempts = sync.status().attempts;
        until("the repaired snapshot read", || {
            let s = sync.status();
            s.attempts >= attempts + 2 && s.consecutive_failures == 0
        })
        .await;
    }
    sync.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_payload_in_the_adapter_layout_keeps_the_ruleset_serving() {
    let redis = Redis::start();
    let (store, sync) = synced_follower(&redis).await;
    let dcs = field("/v2/download_config_specs");
    let original = official_wrote()[VALUES][&dcs].clone();
    // Not the adapter's encoding; then a truncated encoding; each with no time (the marker
    // is then the value's SHA-1).
    let () = redis.query(redis::cmd("HDEL").arg(TIMES).arg(&dcs));
    for bad in [
        "{\"not\": \"base64 zlib\"}",
        &original[..original.len() / 2],
    ] {
        let before = sync.status().last_error.map(|(at, _)| at);
        let () = redis.query(redis::cmd("HSET").arg(VALUES).arg(&dcs).arg(bad));
        until("the bad value read", || {
            sync.status().last_error.map(|(at, _)| at) > before
        })
        .await;
        assert_answers_as_the_official_core(&store);
    }
    let error = sync.status().last_error.expect("an error").1;
    assert!(error.contains("adapter layout"), "{error}");
    sync.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_that_cannot_reach_statsigs_id_lists_keeps_the_stores_snapshot() {
    let redis = Redis::start();
    let (follower, sync) = synced_follower(&redis).await;
    let server = Server::start();
    server.set_specs(Reply::Serve(read("dcs.json")));
    server.set_manifest(Reply::Status(503, None));
    let statsig = StatsigOptions::new(SECRET).specs_url(server.specs_url());
    let options = DataStoreOptions::writer(statsig)
        .interval(TICK)
        .id_lists(IdListOptions::new(SECRET).manifest_url(server.manifest_url()));
    let writer = Arc::new(Store::new());
    let wsync =
        DataStoreSync::start(writer.clone(), adapter_store(&redis), options).expect("start");
    until("the writer tried the lists", || {
        wsync
            .status()
            .last_error
            .is_some_and(|(_, e)| e.contains("503"))
    })
    .await;
    let manifest = field("/v1/get_id_lists");
    let stored: String = redis.query(redis::cmd("HGET").arg(VALUES).arg(&manifest));
    assert_eq!(
        stored,
        official_wrote()[VALUES][&manifest],
        "the snapshot stays"
    );
    assert_answers_as_the_official_core(&follower);
    // The writer itself serves the lists it read from the store.
    assert_answers_as_the_official_core(&writer);
    wsync.shutdown().await;
    sync.shutdown().await;
}

//! A fleet on a real `redis-server` (started by the tests on a free loopback port) and the
//! fake Statsig: writers, followers, the lease, faults, and the official core's layout.
//! These run in real time (Redis is real); every wait has a bound, every bound is a
//! property of the design (a tick, the lease time), not of the machine's speed.

mod harness;
mod interop;

use std::sync::Arc;
use std::time::{Duration, Instant};

use flagcore::{Store, User};
use flagcore_sync::{
    store_key, DataStore, DataStoreOptions, DataStoreSync, Fence, IdListOptions, InitSource,
    KeySchema, RedisStore, Role, StatsigOptions, StorePath, SyncError, WriteMeta, Written,
};

use super::server::{payload, settle, until, Reply, Server, SPECS};
use harness::{RedisServer as Redis, Relay};

const SECRET: &str = "secret-fleet-test";
/// A follower's interval.
const TICK: Duration = Duration::from_millis(100);
const LEASE: Duration = Duration::from_millis(900);
const STATSIG_INTERVAL: Duration = Duration::from_millis(400);

fn statsig(server: &Server) -> StatsigOptions {
    StatsigOptions::new(SECRET)
        .specs_url(server.specs_url())
        .interval(STATSIG_INTERVAL)
        .timeout(Duration::from_secs(2))
        .retry_base(Duration::from_millis(50))
}

fn writer(server: &Server, name: &str) -> DataStoreOptions {
    DataStoreOptions::writer(statsig(server))
        .holder(name)
        .interval(TICK)
        .lease_ttl(LEASE)
}

fn follower() -> DataStoreOptions {
    DataStoreOptions::follower(SECRET).interval(TICK)
}

fn redis_store(url: &str) -> Arc<dyn DataStore> {
    Arc::new(RedisStore::open(url).expect("a Redis URL"))
}

/// An instance: its store and its sync.
struct Instance {
    store: Arc<Store>,
    sync: DataStoreSync,
}

fn instance(url: &str, options: DataStoreOptions) -> Instance {
    let store = Arc::new(Store::new());
    let sync = DataStoreSync::start(store.clone(), redis_store(url), options).expect("start");
    Instance { store, sync }
}

/// An instance on a runtime of its own, so that a test can kill it as a crash would: the
/// runtime stops and its tasks vanish mid-flight, with no chance to give the lease up.
struct Doomed {
    runtime: tokio::runtime::Runtime,
    instance: Instance,
}

fn doomed(url: &str, options: DataStoreOptions) -> Doomed {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let instance = {
        let _inside = runtime.enter();
        instance(url, options)
    };
    Doomed { runtime, instance }
}

impl Doomed {
    fn crash(self) {
        self.runtime.shutdown_background();
        drop(self.instance);
    }
}

/// Gate `g` for a user, `None` without a ruleset.
fn gate(store: &Store) -> Option<bool> {
    store
        .ruleset()
        .map(|_| store.check_gate(&User::with_user_id("u"), "g"))
}

fn time(store: &Store) -> Option<u64> {
    store.ruleset().map(|r| r.time())
}

fn data_key() -> String {
    store_key(StorePath::Rulesets, SECRET, KeySchema::Hashed)
}

async fn wait_role(instances: &[Instance], what: &str) -> usize {
    let mut writer = None;
    until(what, || {
        writer = instances
            .iter()
            .position(|i| i.sync.store_status().role == Role::Writer);
        writer.is_some()
    })
    .await;
    writer.expect("a writer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_and_followers_converge_on_a_new_payload() {
    let redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let fleet: Vec<Instance> = std::iter::once(instance(&redis.url(), writer(&server, "w")))
        .chain((0..4).map(|_| instance(&redis.url(), follower())))
        .collect();
    until("everyone serves the first payload", || {
        fleet.iter().all(|i| gate(&i.store) == Some(true))
    })
    .await;
    // What the writer wrote: the forward proxy's hash under the official core's key.
    let fields: Vec<(String, Vec<u8>)> = redis.query(redis::cmd("HGETALL").arg(data_key()));
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
    };
    assert_eq!(field("encoding"), b"plain_text");
    assert_eq!(field("lcut"), b"1");
    assert_eq!(
        field("config"),
        payload(1, true),
        "the payload as Statsig sent it"
    );

    server.set_specs(Reply::Serve(payload(2, false)));
    until("everyone serves the new payload", || {
        fleet.iter().all(|i| gate(&i.store) == Some(false))
    })
    .await;
    let followers = &fleet[1..];
    for f in followers {
        let s = f.sync.store_status();
        assert_eq!(
            (s.role, s.writes, s.statsig.attempts),
            (Role::Follower, 0, 0),
            "{s:?}"
        );
        assert_eq!(s.payload_reads, 2, "one download per payload: {s:?}");
    }
    assert_eq!(fleet[0].sync.store_status().writes, 2);
    for i in fleet {
        i.sync.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_writer_is_replaced_within_the_lease_time_and_no_answer_changes() {
    let redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let mut writers: Vec<Doomed> = ["a", "b", "c"]
        .iter()
        .map(|n| doomed(&redis.url(), writer(&server, n)))
        .collect();
    let followers: Vec<Instance> = (0..3).map(|_| instance(&redis.url(), follower())).collect();
    let serving = |writers: &[Doomed]| {
        writers
            .iter()
            .map(|d| &d.instance)
            .chain(&followers)
            .all(|i| gate(&i.store) == Some(true))
    };
    until("everyone serves", || serving(&writers)).await;
    let roles = |writers: &[Doomed]| -> Vec<Role> {
        writers
            .iter()
            .map(|d| d.instance.sync.store_status().role)
            .collect()
    };
    let mut first = None;
    until("a writer", || {
        first = roles(&writers).iter().position(|r| *r == Role::Writer);
        first.is_some()
    })
    .await;
    let holders = roles(&writers);
    assert_eq!(
        holders.iter().filter(|r| **r == Role::Writer).count(),
        1,
        "one writer: {holders:?}"
    );
    let before = server.count(SPECS);

    // The writer crashes: its tasks vanish, the lease is not given up.
    writers.remove(first.expect("a writer")).crash();
    let died = Instant::now();
    let mut took_over = None;
    until("another writer", || {
        assert!(serving(&writers), "an answer changed during the takeover");
        if took_over.is_none() && roles(&writers).contains(&Role::Writer) {
            took_over = Some(died.elapsed());
        }
        took_over.is_some()
    })
    .await;
    let took = took_over.expect("a takeover");
    // The lease lapses at most LEASE after the dead writer's last renewal, which is before
    // its death; a standby sees it at its next tick.
    println!("takeover after {took:?} (lease {LEASE:?}, tick {TICK:?})");
    assert!(took <= LEASE + TICK * 2, "takeover took {took:?}");
    let new = roles(&writers)
        .iter()
        .position(|r| *r == Role::Writer)
        .expect("the new writer");
    until("the new writer polls Statsig", || {
        server.count(SPECS) > before
    })
    .await;
    // It serves a change.
    server.set_specs(Reply::Serve(payload(2, false)));
    let everyone = || writers.iter().map(|d| &d.instance).chain(&followers);
    until("everyone follows the new writer", || {
        everyone().all(|i| gate(&i.store) == Some(false))
    })
    .await;
    assert!(writers[new].instance.sync.store_status().writes >= 1);
    for d in writers {
        d.crash();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_keep_serving_while_redis_restarts_then_resume() {
    let mut redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let fleet: Vec<Instance> = std::iter::once(instance(&redis.url(), writer(&server, "w")))
        .chain((0..3).map(|_| instance(&redis.url(), follower())))
        .collect();
    until("everyone serves", || {
        fleet.iter().all(|i| gate(&i.store) == Some(true))
    })
    .await;

    redis.stop();
    until("the followers notice", || {
        fleet[1..]
            .iter()
            .all(|i| i.sync.status().consecutive_failures >= 2)
    })
    .await;
    for i in &fleet {
        assert_eq!(gate(&i.store), Some(true), "the last good ruleset serves");
        let s = i.sync.store_status();
        assert!(s.store_errors >= 1 && s.last_store_error.is_some(), "{s:?}");
    }
    // A writer that cannot reach the store does not poll Statsig on its own.
    let writer = fleet[0].sync.store_status();
    assert_eq!(writer.role, Role::Standby, "{writer:?}");

    // Redis comes back empty: the writer writes the ruleset back, and changes flow again.
    redis.restart();
    until("the write-back", || {
        redis.query::<bool>(redis::cmd("HEXISTS").arg(data_key()).arg("config"))
    })
    .await;
    let config: Vec<u8> = redis.query(redis::cmd("HGET").arg(data_key()).arg("config"));
    assert_eq!(config, payload(1, true));
    server.set_specs(Reply::Serve(payload(2, false)));
    until("everyone resumes", || {
        fleet.iter().all(|i| gate(&i.store) == Some(false))
    })
    .await;
    for i in &fleet {
        assert_eq!(i.sync.status().consecutive_failures, 0);
    }
    for i in fleet {
        i.sync.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_truncated_value_is_rejected_and_the_last_good_ruleset_serves() {
    let redis = Redis::start();
    let key = data_key();
    let hset = |lcut: u64, config: &[u8]| {
        let _: () = redis.query(
            redis::cmd("HSET")
                .arg(&key)
                .arg("encoding")
                .arg("plain_text")
                .arg("lcut")
                .arg(lcut)
                .arg("config")
                .arg(config),
        );
    };
    hset(1, &payload(1, true));
    let f = instance(&redis.url(), follower());
    until("the follower serves", || gate(&f.store) == Some(true)).await;

    let good = payload(2, false);
    type Fault<'a> = (&'a str, Box<dyn Fn() + 'a>);
    let faults: Vec<Fault> = vec![
        ("truncated", Box::new(|| hset(2, &good[..good.len() / 2]))),
        (
            "html",
            Box::new(|| hset(3, b"<html><body>502</body></html>")),
        ),
        (
            "wrong types",
            Box::new(|| hset(4, br#"{"feature_gates": [], "time": "now"}"#)),
        ),
        ("empty", Box::new(|| hset(5, b""))),
        (
            "another encoding",
            Box::new(|| {
                let _: () = redis.query(redis::cmd("HSET").arg(&key).arg("encoding").arg("gzip"));
            }),
        ),
        (
            "another type",
            Box::new(|| {
                let _: () = redis.query(redis::cmd("DEL").arg(&key));
                let _: () = redis.query(redis::cmd("RPUSH").arg(&key).arg("x"));
            }),
        ),
        (
            "a string of garbage",
            Box::new(|| {
                let _: () = redis.query(redis::cmd("DEL").arg(&key));
                let _: () = redis.query(redis::cmd("SET").arg(&key).arg("{\"feature_gates\""));
            }),
        ),
    ];
    for (what, fault) in &faults {
        let before = f.sync.status().last_error;
        fault();
        until(what, || f.sync.status().last_error != before).await;
        assert_eq!(
            gate(&f.store),
            Some(true),
            "{what}: the last good ruleset serves"
        );
        assert_eq!(time(&f.store), Some(1), "{what}");
    }
    // A value rejected is not downloaded again while it stays as it is.
    let reads = f.sync.store_status().payload_reads;
    settle().await;
    tokio::time::sleep(TICK * 3).await;
    assert_eq!(f.sync.store_status().payload_reads, reads);
    // A good value (here a plain string, as another adapter may write it) installs.
    let _: () = redis.query(redis::cmd("SET").arg(&key).arg(&good));
    until("the good value", || gate(&f.store) == Some(false)).await;
    f.sync.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_former_writer_cannot_overwrite() {
    let redis = Redis::start();
    let store = redis_store(&redis.url());
    let (key, lease) = (data_key(), "test::lease".to_owned());
    let short = Duration::from_millis(200);
    let fence = |holder: &str, token: u64| Some(Fence::new(lease.clone(), holder, token));
    let meta = |time: u64, fence: Option<Fence>| {
        let mut m = WriteMeta::default();
        m.time = time;
        m.fence = fence;
        m
    };
    let a = store
        .acquire_lease(&lease, "a", short)
        .await
        .expect("lease");
    let ta = a.token.expect("a holds the lease");
    assert_eq!(
        store
            .acquire_lease(&lease, "b", short)
            .await
            .expect("lease")
            .token,
        None,
        "one holder at a time"
    );
    let stored = store
        .set(&key, &payload(10, true), &meta(10, fence("a", ta)))
        .await;
    assert!(matches!(stored, Ok(Written::Stored(_))), "{stored:?}");

    // A pauses past its lease; B takes over and writes.
    tokio::time::sleep(short + Duration::from_millis(100)).await;
    let tb = store
        .acquire_lease(&lease, "b", Duration::from_secs(30))
        .await
        .expect("lease")
        .token
        .expect("b holds the lease");
    assert!(tb > ta);
    let stored = store
        .set(&key, &payload(20, false), &meta(20, fence("b", tb)))
        .await;
    assert!(matches!(stored, Ok(Written::Stored(_))), "{stored:?}");

    // A wakes up with a newer payload in hand: refused, whatever its payload's time.
    let stale = store
        .set(&key, &payload(30, true), &meta(30, fence("a", ta)))
        .await;
    assert!(
        matches!(&stale, Err(SyncError::Fenced { by: Some(b) }) if b == "b"),
        "{stale:?}"
    );
    let renewed = store
        .acquire_lease(&lease, "a", short)
        .await
        .expect("lease");
    assert_eq!(
        (renewed.token, renewed.holder.as_deref()),
        (None, Some("b"))
    );
    let config: Vec<u8> = redis.query(redis::cmd("HGET").arg(&key).arg("config"));
    assert_eq!(config, payload(20, false), "B's payload stays");

    // Even with the lease free again, A's old token is below the stored one.
    store.release_lease(&lease, "b").await.expect("release");
    let _: () = redis.query(redis::cmd("SET").arg(&lease).arg("a"));
    let stale = store
        .set(&key, &payload(30, true), &meta(30, fence("a", ta)))
        .await;
    assert!(matches!(stale, Err(SyncError::Fenced { .. })), "{stale:?}");
    // A fresh lease draws a fresh token, and an older payload never replaces a newer one.
    let _: () = redis.query(redis::cmd("DEL").arg(&lease));
    let tc = store
        .acquire_lease(&lease, "a", short)
        .await
        .expect("lease")
        .token
        .expect("a holds the lease again");
    assert!(tc > tb);
    let kept = store
        .set(&key, &payload(15, true), &meta(15, fence("a", tc)))
        .await;
    assert!(matches!(kept, Ok(Written::KeptNewer(_))), "{kept:?}");
    let config: Vec<u8> = redis.query(redis::cmd("HGET").arg(&key).arg("config"));
    assert_eq!(config, payload(20, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_statsig_and_redis_both_down_a_start_serves_the_disk_copy() {
    let mut redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(7, true)));
    let dir = std::env::temp_dir().join(format!("flagcore-redis-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let (writer_file, follower_file) = (dir.join("writer.json"), dir.join("follower.json"));
    let w = instance(
        &redis.url(),
        writer(&server, "w").last_good_file(&writer_file),
    );
    let f = instance(&redis.url(), follower().last_good_file(&follower_file));
    until("both serve", || {
        gate(&w.store) == Some(true) && gate(&f.store) == Some(true)
    })
    .await;
    until("both saved", || {
        follower_file.exists() && writer_file.exists()
    })
    .await;
    w.sync.shutdown().await;
    f.sync.shutdown().await;

    // Everything is down: Redis, and Statsig (it refuses connections).
    let restarted = [
        (follower().last_good_file(&follower_file), &follower_file),
        (
            writer(&server, "w2").last_good_file(&writer_file),
            &writer_file,
        ),
    ];
    redis.stop();
    let url = redis.url();
    drop(server);
    for (options, file) in restarted {
        assert!(file.exists());
        let store = Arc::new(Store::new());
        let (sync, report) = DataStoreSync::initialize(
            store.clone(),
            redis_store(&url),
            options,
            Duration::from_secs(3),
        )
        .await
        .expect("start");
        assert_eq!(report.source, InitSource::LastGood, "{report:?}");
        assert_eq!(report.ruleset_time, Some(7));
        assert!(
            !report.network_ok && report.network_error.is_some(),
            "{report:?}"
        );
        assert_eq!(gate(&store), Some(true));
        sync.shutdown().await;
    }
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_in_steady_state_reads_only_the_version() {
    let redis = Redis::start();
    let server = Server::start();
    // A payload of some size, so that a download would show.
    let mut big: serde_json::Value = serde_json::from_slice(&payload(1, true)).unwrap();
    for n in 0..200 {
        big["feature_gates"][format!("gate_{n}")] = big["feature_gates"]["g"].clone();
    }
    let big = serde_json::to_vec(&big).unwrap();
    server.set_specs(Reply::Serve(big.clone()));
    let w = instance(&redis.url(), writer(&server, "w"));
    let relay = Relay::start(redis.port());
    let f = instance(&relay.url(), follower());
    until("the follower serves", || gate(&f.store) == Some(true)).await;
    let start = (relay.bytes_read(), f.sync.status().attempts);
    // Statsig answers "no updates" from now on: nothing changes in the store.
    server.set_specs(Reply::Serve(br#"{"has_updates": false}"#.to_vec()));
    tokio::time::sleep(TICK * 20).await;
    let end = (relay.bytes_read(), f.sync.status().attempts);
    let (bytes, ticks) = (end.0 - start.0, end.1 - start.1);
    assert!(ticks >= 10, "{ticks} ticks");
    let per_tick = bytes / ticks;
    println!(
        "steady state: {bytes} bytes read over {ticks} ticks ({per_tick} per tick); payload {} bytes",
        big.len()
    );
    assert!(per_tick < 200, "{per_tick} bytes per tick");
    assert!(bytes < big.len() as u64, "no payload download");
    assert_eq!(f.sync.store_status().payload_reads, 1);
    w.sync.shutdown().await;
    f.sync.shutdown().await;
}

/// The fleet of the issue: 200 followers on one Redis, writers among them; exactly one
/// Statsig request per interval for the whole fleet; a flipped gate is served everywhere
/// within one follower interval plus 100 ms of the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measures latencies of 200 instances: needs the process to itself; .ci/run runs it alone"]
async fn a_fleet_of_200_polls_statsig_once_per_interval_and_follows_a_flip_quickly() {
    const FOLLOWERS: usize = 200;
    const INTERVAL: Duration = Duration::from_millis(500);
    const STATSIG: Duration = Duration::from_secs(1);
    let redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let writers: Vec<Instance> = (0..3)
        .map(|n| {
            let options = DataStoreOptions::writer(statsig(&server).interval(STATSIG))
                .holder(format!("writer-{n}"))
                .interval(INTERVAL)
                .lease_ttl(Duration::from_secs(3));
            instance(&redis.url(), options)
        })
        .collect();
    let followers: Vec<Instance> = (0..FOLLOWERS)
        .map(|_| {
            instance(
                &redis.url(),
                DataStoreOptions::follower(SECRET).interval(INTERVAL),
            )
        })
        .collect();
    until("the fleet serves", || {
        followers.iter().all(|i| gate(&i.store) == Some(true))
    })
    .await;
    // Statsig answers "no updates" for a few intervals, then the gate flips.
    server.set_specs(Reply::Serve(br#"{"has_updates": false}"#.to_vec()));
    let counted_from = server.count(SPECS);
    let window = Instant::now();
    tokio::time::sleep(STATSIG * 4).await;
    let requests = server.count(SPECS) - counted_from;
    let elapsed = window.elapsed();
    server.set_specs(Reply::Serve(payload(2, false)));
    let writer = wait_role(&writers, "a writer").await;
    until("the writer writes the flip", || {
        writers[writer].sync.store_status().writes >= 2
    })
    .await;
    let written = writers[writer]
        .sync
        .store_status()
        .last_write
        .expect("a write");
    until("the fleet serves the flip", || {
        followers.iter().all(|i| gate(&i.store) == Some(false))
    })
    .await;
    let mut lags: Vec<Duration> = followers
        .iter()
        .map(|i| {
            let installed = i.sync.status().last_install.expect("installed");
            installed.duration_since(written).unwrap_or_default()
        })
        .collect();
    lags.sort();
    let pct = |p: usize| lags[(lags.len() * p / 100).min(lags.len() - 1)];
    println!(
        "fleet: {FOLLOWERS} followers, {} Statsig requests in {elapsed:?} (interval {STATSIG:?}); \
         flip served after p50 {:?}, p99 {:?}, max {:?} (follower interval {INTERVAL:?})",
        requests,
        pct(50),
        pct(99),
        lags[lags.len() - 1]
    );
    // One poller: a request per interval (the interval runs from the end of the previous
    // request, so a window of 4 intervals holds 4, or 3 when it starts right after one).
    let intervals = elapsed.as_millis() / STATSIG.as_millis();
    assert!(
        requests as u128 == intervals || requests as u128 + 1 == intervals,
        "{requests} Statsig requests in {elapsed:?}"
    );
    assert!(
        followers
            .iter()
            .all(|i| i.sync.store_status().statsig.attempts == 0),
        "followers never poll Statsig"
    );
    let slowest = lags[lags.len() - 1];
    assert!(
        slowest <= INTERVAL + Duration::from_millis(100),
        "a follower served the flip {slowest:?} after the write"
    );
    for i in writers.into_iter().chain(followers) {
        drop(i);
    }
}

/// ID lists flow from the writer (synced from Statsig) to followers through the store, in
/// the forward-proxy layout; appended members follow, and a Redis that lost its data gets
/// the lists written back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_lists_flow_from_the_writer_to_followers_and_are_written_back() {
    let mut redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let manifest = |file: &[u8]| {
        let entry = serde_json::json!({"name": "l", "url": format!("{}/list_l", server.base()),
            "size": file.len(), "creationTime": 1, "fileID": "f1"});
        Reply::Serve(serde_json::to_vec(&serde_json::json!({ "l": entry })).unwrap())
    };
    let mut file = b"+aaaaaaaa\n".to_vec();
    server.set_file("/list_l", &file);
    server.set_manifest(manifest(&file));
    let lists = || {
        IdListOptions::new(SECRET)
            .manifest_url(server.manifest_url())
            .interval(STATSIG_INTERVAL)
    };
    let fleet = [
        instance(&redis.url(), writer(&server, "w").id_lists(lists())),
        instance(&redis.url(), follower().id_lists(lists())),
    ];
    let members = |i: &Instance| i.store.id_lists().len("l");
    until("both hold the list", || {
        fleet.iter().all(|i| members(i) == 1)
    })
    .await;
    assert!(fleet[1].store.id_lists().contains_hashed("l", "aaaaaaaa"));

    file.extend_from_slice(b"+bbbbbbbb\n-aaaaaaaa\n+cccccccc\n");
    server.set_file("/list_l", &file);
    server.set_manifest(manifest(&file));
    until("the follower follows the append", || {
        let l = fleet[1].store.id_lists();
        l.len("l") == 2 && l.contains_hashed("l", "cccccccc") && !l.contains_hashed("l", "aaaaaaaa")
    })
    .await;

    redis.restart();
    let key = store_key(StorePath::IdLists, SECRET, KeySchema::Hashed);
    until("the lists written back", || {
        redis.query::<bool>(redis::cmd("HEXISTS").arg(&key).arg("config"))
    })
    .await;
    let late = instance(&redis.url(), follower().id_lists(lists()));
    until("a new follower gets them", || members(&late) == 2).await;
    assert_eq!(*late.store.id_lists(), *fleet[0].store.id_lists());
    for i in fleet.into_iter().chain([late]) {
        i.sync.shutdown().await;
    }
}

/// With notices (Redis pub/sub), a follower whose poll is far apart serves a write as soon
/// as the writer made it, and again after Redis restarted (the subscription comes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_notices_a_follower_serves_a_write_at_once_and_after_a_restart() {
    let mut redis = Redis::start();
    let server = Server::start();
    server.set_specs(Reply::Serve(payload(1, true)));
    let w = instance(&redis.url(), writer(&server, "w"));
    let poll = Duration::from_secs(30);
    let f = instance(
        &redis.url(),
        DataStoreOptions::follower(SECRET)
            .interval(poll)
            .notices(true),
    );
    // The first read is at once, after the subscription.
    until("the follower serves", || gate(&f.store) == Some(true)).await;

    for (at, on) in [(2, false), (3, true)] {
        if at == 3 {
            // Redis restarts empty: the writer writes back, then the new payload.
            redis.restart();
        }
        let writes = w.sync.store_status().writes;
        server.set_specs(Reply::Serve(payload(at, on)));
        until("the writer wrote", || {
            w.sync.store_status().writes > writes && time(&w.store) == Some(at)
        })
        .await;
        let wrote = Instant::now();
        until("the follower serves the write", || {
            gate(&f.store) == Some(on)
        })
        .await;
        let lag = wrote.elapsed();
        println!("payload {at}: served {lag:?} after the write (poll interval {poll:?})");
        assert!(
            lag < Duration::from_secs(2),
            "{lag:?}: a notice, not the poll"
        );
    }
    for i in [w, f] {
        i.sync.shutdown().await;
    }
}

//! One instance of a fleet that shares its ruleset through Redis: a follower reads Redis
//! only; a writer also contends for the lease and, holding it, polls Statsig and writes
//! what it got. Prints the role, the lease holder and the ruleset once a second.
//!
//! ```text
//! STATSIG_SERVER_SECRET=secret-… REDIS_URL=redis://127.0.0.1:6379/ \
//!   [WRITER=1] [STATSIG_SPECS_URL=https://…/v2/download_config_specs] \
//!   [LAST_GOOD_FILE=flags.json] [RUN_SECONDS=0] [ID_LISTS=1] [NOTICES=1] \
//!   [REDIS_LAYOUT=adapter] \
//!   cargo run -p flagcore-sync --features redis --example redis_fleet
//! ```
//!
//! `ID_LISTS` syncs ID lists through Redis too, `NOTICES` subscribes to change notices, and
//! `REDIS_LAYOUT=adapter` keeps values where Statsig's Redis data adapter keeps them (to
//! share a Redis with official SDKs that use it).

use std::sync::Arc;
use std::time::Duration;

use flagcore::Store;
use flagcore_sync::{
    DataStoreOptions, DataStoreSync, IdListOptions, RedisLayout, RedisOptions, RedisStore,
    StatsigOptions,
};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (Some(secret), Some(url)) = (env("STATSIG_SERVER_SECRET"), env("REDIS_URL")) else {
        eprintln!("set STATSIG_SERVER_SECRET and REDIS_URL (and optionally WRITER, STATSIG_SPECS_URL, LAST_GOOD_FILE, RUN_SECONDS)");
        std::process::exit(2);
    };
    let mut options = if env("WRITER").is_some() {
        let mut statsig = StatsigOptions::new(&secret);
        if let Some(specs) = env("STATSIG_SPECS_URL") {
            statsig = statsig.specs_url(specs);
        }
        DataStoreOptions::writer(statsig)
    } else {
        DataStoreOptions::follower(&secret)
    };
    if let Some(path) = env("LAST_GOOD_FILE") {
        options = options.last_good_file(path);
    }
    if env("ID_LISTS").is_some() {
        options = options.id_lists(IdListOptions::new(&secret));
    }
    options = options.notices(env("NOTICES").is_some());
    let mut redis_options = RedisOptions::default();
    if env("REDIS_LAYOUT").as_deref() == Some("adapter") {
        redis_options = redis_options.layout(RedisLayout::adapter());
    }
    let run_for = Duration::from_secs(env("RUN_SECONDS").and_then(|v| v.parse().ok()).unwrap_or(0));
    let redis = Arc::new(RedisStore::with_options(&url, redis_options).expect("a Redis URL"));
    let store = Arc::new(Store::new());
    let (sync, report) =
        DataStoreSync::initialize(store.clone(), redis, options, Duration::from_secs(5))
            .await
            .expect("an HTTP client");
    println!(
        "initialised in {:?}: source {:?}",
        report.duration, report.source
    );
    if let Some(e) = &report.network_error {
        println!("  store error: {e}");
    }
    let started = tokio::time::Instant::now();
    loop {
        let s = sync.store_status();
        let ruleset = store.ruleset();
        println!(
            "role {:?}, lease holder {:?}, ruleset time {:?} ({} gates), writes {}, store errors {}",
            s.role,
            s.lease_holder,
            ruleset.as_ref().map(|r| r.time()),
            ruleset.as_ref().map_or(0, |r| r.gate_names().count()),
            s.writes,
            s.store_errors,
        );
        if !run_for.is_zero() && started.elapsed() >= run_for {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    sync.shutdown().await;
}

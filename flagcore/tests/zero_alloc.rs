//! Evaluation allocates nothing once warmed up: a counting global allocator watches every
//! gate, config, experiment and layer of the `eval_proj` fixture for every user.
#![allow(unsafe_code)]
// Tests read fixtures from the conformance corpus; the no-IO rule (clippy.toml) is for the library.
#![allow(clippy::disallowed_methods)] // A global allocator is `unsafe` to implement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flagcore::{
    Exposure, ExposureSink, Exposures, Kind, Options, Ruleset, Scratch, Store, UserData,
};

struct Counting;

thread_local! {
    /// Allocations made by this thread (each test thread counts its own).
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the slot may be gone while the thread exits.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System`, which upholds the `GlobalAlloc` contract; the
// counter touches only a `const`-initialised thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations this thread makes while running `f`.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

struct Fixture {
    dcs: Vec<u8>,
    users: Vec<UserData>,
}

/// A fixture of the conformance corpus (`conformance/fixtures/<name>` in the repository).
fn fixture(name: &str) -> Fixture {
    fixture_in(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance/fixtures")
            .join(name),
    )
}

/// One of the project's own conformance cases (`examples/tests/data/<name>`).
fn own_case(name: &str) -> Fixture {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/tests/data")
        .join(name);
    fixture_in(&dir)
}

fn fixture_in(dir: &Path) -> Fixture {
    assert!(
        dir.is_dir(),
        "{} is missing: the conformance corpus is part of the repository",
        dir.display()
    );
    let dcs = std::fs::read(dir.join("dcs.json")).expect("dcs.json");
    let users = std::fs::read_to_string(dir.join("users.jsonl"))
        .expect("users.jsonl")
        .lines()
        .map(|l| UserData::from_json(l.as_bytes()).expect("user JSON"))
        .collect();
    Fixture { dcs, users }
}

fn entities(rs: &Ruleset) -> Vec<(Kind, String)> {
    let mut out: Vec<(Kind, String)> = rs.gate_names().map(|n| (Kind::Gate, n.into())).collect();
    out.extend(rs.config_names().map(|(n, entity)| {
        let kind = if entity == "experiment" {
            Kind::Experiment
        } else {
            Kind::DynamicConfig
        };
        (kind, n.to_owned())
    }));
    out.extend(rs.layer_names().map(|n| (Kind::Layer, n.into())));
    out
}

/// Runs every evaluation path once for every user and entity of `kind`.
fn evaluate_all(
    store: &Store,
    scratch: &mut Scratch,
    fx: &Fixture,
    ents: &[(Kind, String)],
    kind: Kind,
) -> usize {
    let snapshot = store.snapshot();
    let mut n = 0;
    for data in &fx.users {
        let user = data.view();
        for (k, name) in ents.iter().filter(|(k, _)| *k == kind) {
            for exposures in [Exposures::Suppress, Exposures::Log] {
                let e = snapshot.evaluate(scratch, &user, *k, name, exposures);
                std::hint::black_box(e.rule_id());
                n += 1;
            }
            let value = match k {
                Kind::Gate => snapshot.check_gate(&user, name),
                Kind::DynamicConfig => snapshot.dynamic_config(&user, name).value(),
                Kind::Experiment => snapshot.experiment(&user, name).value(),
                Kind::Layer => snapshot.layer(&user, name).value(),
            };
            std::hint::black_box(value);
            if *k == Kind::Gate {
                std::hint::black_box(store.check_gate(&user, name));
            }
            n += 1;
        }
    }
    n
}

/// `every_kind`: the fixture must have entities of every kind.
fn assert_zero_allocations(store: &Store, fx: &Fixture, every_kind: bool) {
    let ents = entities(&store.ruleset().expect("ruleset"));
    let mut scratch = Scratch::new();
    for kind in [
        Kind::Gate,
        Kind::DynamicConfig,
        Kind::Experiment,
        Kind::Layer,
    ] {
        let warm = evaluate_all(store, &mut scratch, fx, &ents, kind);
        if warm == 0 && !every_kind {
            continue;
        }
        let mut evaluated = 0;
        let allocations = allocations_in(|| {
            evaluated = evaluate_all(store, &mut scratch, fx, &ents, kind);
        });
        assert_eq!(evaluated, warm);
        assert!(evaluated > 0, "no {kind:?} in the fixture");
        assert_eq!(
            allocations, 0,
            "{kind:?}: {allocations} heap allocations in {evaluated} evaluations"
        );
        println!("{kind:?}: {evaluated} evaluations, 0 allocations");
    }
}

#[test]
fn evaluation_allocates_nothing_after_warm_up() {
    let fx = fixture("eval_proj");
    let store = Store::new();
    store.load_json(&fx.dcs).expect("eval_proj loads");
    assert_zero_allocations(&store, &fx, true);
}

#[test]
fn multi_rule_layers_and_config_mapping_allocate_nothing() {
    // Merged layer values (`useNewLayerEval`), per-parameter rule ids and mapped specs.
    for case in ["layers_new_eval", "config_mapping"] {
        let fx = own_case(case);
        let store = Store::new();
        store.load_json(&fx.dcs).expect("case loads");
        assert_zero_allocations(&store, &fx, false);
        let snapshot = store.snapshot();
        let mut scratch = Scratch::new();
        let rs = store.ruleset().expect("ruleset");
        let layers: Vec<String> = rs.layer_names().map(str::to_owned).collect();
        let mut read = || {
            let mut n = 0;
            for data in &fx.users {
                let user = data.view();
                for name in &layers {
                    let e =
                        snapshot.evaluate(&mut scratch, &user, Kind::Layer, name, Exposures::Log);
                    for (param, value) in e.json().iter() {
                        std::hint::black_box((value, e.exposure_rule_id(param)));
                        n += 1;
                    }
                    std::hint::black_box(e.override_config_name());
                }
            }
            n
        };
        read();
        let mut parameters = 0;
        let allocations = allocations_in(|| parameters = read());
        assert!(parameters > 0);
        assert_eq!(
            allocations, 0,
            "{case}: {allocations} allocations reading layer parameters"
        );
    }
}

#[test]
fn a_staging_tier_allocates_nothing_either() {
    let fx = fixture("eval_proj_staging");
    let tier = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../conformance/fixtures/eval_proj_staging/environment"),
    )
    .expect("environment");
    let store = Store::with_options(Options {
        environment: Some(tier.trim().to_owned()),
        ..Options::default()
    });
    store.load_json(&fx.dcs).expect("payload loads");
    assert_zero_allocations(&store, &fx, true);
}

#[derive(Default)]
struct CountingSink {
    exposures: AtomicU64,
    secondary: AtomicU64,
}

impl ExposureSink for CountingSink {
    fn log(&self, exposure: &Exposure<'_>) {
        self.exposures.fetch_add(1, Ordering::Relaxed);
        let n = exposure.evaluation.secondary_exposures().len() as u64;
        self.secondary.fetch_add(n, Ordering::Relaxed);
    }
}

#[test]
fn exposure_records_reach_the_sink_without_allocating() {
    let fx = fixture("eval_proj");
    let sink = Arc::new(CountingSink::default());
    let store = Store::with_options(Options {
        exposure_sink: Some(sink.clone()),
        ..Options::default()
    });
    store.load_json(&fx.dcs).expect("eval_proj loads");
    let ents = entities(&store.ruleset().expect("ruleset"));
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let mut run = || {
        let mut logged = 0u64;
        for data in &fx.users {
            let user = data.view();
            for (kind, name) in &ents {
                snapshot.evaluate(&mut scratch, &user, *kind, name, Exposures::Log);
                snapshot.evaluate(&mut scratch, &user, *kind, name, Exposures::Suppress);
                // A layer is exposed per parameter read, not by its evaluation.
                logged += u64::from(*kind != Kind::Layer);
            }
        }
        logged
    };
    run();
    let before = sink.exposures.load(Ordering::Relaxed);
    let mut logged = 0;
    let allocations = allocations_in(|| logged = run());
    assert_eq!(allocations, 0, "{allocations} allocations with a sink");
    assert_eq!(sink.exposures.load(Ordering::Relaxed) - before, logged);
    assert!(
        sink.secondary.load(Ordering::Relaxed) > 0,
        "no secondary exposures seen"
    );
}

/// A client initialize response written into a reused buffer allocates nothing once the
/// buffer has grown: every hash option, and the client-key filter.
#[test]
fn client_initialize_responses_allocate_nothing_in_a_reused_buffer() {
    use flagcore::{ClientInitOptions, HashAlgorithm};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/fixtures");
    let key = std::fs::read_to_string(root.join("demo_proj/client_key")).expect("client_key");
    for (name, options) in [
        ("eval_proj", ClientInitOptions::default()),
        (
            "eval_proj",
            ClientInitOptions::default().hash(HashAlgorithm::Sha256),
        ),
        (
            "eval_proj",
            ClientInitOptions::default().hash(HashAlgorithm::None),
        ),
        (
            "demo_proj",
            ClientInitOptions::default().client_key(key.trim()),
        ),
    ] {
        let fx = fixture(name);
        let store = Store::new();
        store.load_json(&fx.dcs).expect("fixture loads");
        let snapshot = store.snapshot();
        let mut body = Vec::new();
        for data in fx.users.iter().take(50) {
            let user = data.view();
            body.clear();
            snapshot.client_initialize_response(&user, &options, &mut body);
            let first_len = body.len();
            let n = allocations_in(|| {
                body.clear();
                snapshot.client_initialize_response(&user, &options, &mut body);
            });
            assert_eq!(
                body.len(),
                first_len,
                "{name}: the same user, the same response"
            );
            assert_eq!(
                n, 0,
                "{name} ({:?}): a second response allocated {n} times",
                options.hash
            );
        }
    }
}

/// Every typed read of every parameter of every result (each type tried on each parameter,
/// so both the value and the fallback paths run).
fn read_every_parameter(
    store: &Store,
    scratch: &mut Scratch,
    fx: &Fixture,
    ents: &[(Kind, String)],
) -> (u64, f64) {
    let snapshot = store.snapshot();
    let (mut reads, mut sum) = (0u64, 0.0);
    for data in &fx.users {
        let user = data.view();
        for (kind, name) in ents {
            let e = snapshot.evaluate(scratch, &user, *kind, name, Exposures::Suppress);
            for key in e.json().keys() {
                sum += f64::from(u8::from(e.get_bool(key, false)));
                sum += e.get_f64(key, 0.5);
                sum += e.get_i64(key, 1) as f64;
                sum += e.get_str(key, "fallback").len() as f64;
                sum += f64::from(u8::from(e.get_bool("no such parameter", true)));
                reads += 5;
            }
        }
    }
    (reads, sum)
}

#[test]
fn typed_parameter_reads_allocate_nothing() {
    let fx = fixture("eval_proj");
    let store = Store::new();
    store.load_json(&fx.dcs).expect("eval_proj loads");
    let mut scratch = Scratch::new();
    let ents = entities(&store.ruleset().expect("ruleset"));
    let warm = read_every_parameter(&store, &mut scratch, &fx, &ents);
    let mut measured = (0, 0.0);
    let allocations =
        allocations_in(|| measured = read_every_parameter(&store, &mut scratch, &fx, &ents));
    assert_eq!(measured.0, warm.0);
    assert!(warm.0 > 1000, "only {} typed reads", warm.0);
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {} typed reads",
        warm.0
    );
    println!("{} typed reads, 0 allocations", warm.0);
}

/// Layer parameter reads through the convenience API, each handing a layer exposure to the
/// sink: allocation-free too.
#[test]
fn layer_parameter_reads_with_exposures_allocate_nothing() {
    let fx = fixture("eval_proj");
    let sink = Arc::new(CountingSink::default());
    let store = Store::with_options(Options {
        exposure_sink: Some(sink.clone()),
        ..Options::default()
    });
    store.load_json(&fx.dcs).expect("eval_proj loads");
    let layers: Vec<String> = store
        .ruleset()
        .expect("ruleset")
        .layer_names()
        .map(str::to_owned)
        .collect();
    let snapshot = store.snapshot();
    let run = || {
        let (mut reads, mut sum) = (0u64, 0.0);
        for data in &fx.users {
            let user = data.view();
            for name in &layers {
                let layer = snapshot.layer(&user, name);
                for key in layer.json().keys() {
                    sum += layer.get_f64(key, 0.5) + layer.get_str(key, "x").len() as f64;
                    sum += f64::from(u8::from(layer.get_bool(key, false)));
                    reads += u64::from(layer.get(key).is_some());
                }
            }
        }
        (reads, sum)
    };
    run();
    let before = sink.exposures.load(Ordering::Relaxed);
    let mut measured = (0, 0.0);
    let allocations = allocations_in(|| measured = run());
    assert!(
        measured.0 > 100,
        "only {} layer parameter reads",
        measured.0
    );
    assert!(
        sink.exposures.load(Ordering::Relaxed) - before >= measured.0,
        "every raw read is an exposure"
    );
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {} layer reads",
        measured.0
    );
}

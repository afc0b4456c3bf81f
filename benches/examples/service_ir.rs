//! The `service` bench's workloads as a plain loop, for instruction counts: run it under
//! callgrind twice with different call counts; the difference over the difference in calls
//! is the instructions of one call (set-up and warm-up cancel out).
//!
//! ```text
//! cargo build --release -p flagcore-benches --example service_ir
//! for n in 100000 300000; do
//!   valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/service_ir rollout_50 $n 2>&1 | grep refs
//! done
//! ```
//!
//! Workloads: `rollout_50`, `targeting_30`, `unknown`, `test_50_50`,
//! `experiment_3way_param`, `held_snapshot` (`rollout_50` through one snapshot), `floor`
//! (the whole bucketing input hashed), `floor_midstate` (the salts' block absorbed once).

use std::hint::black_box;

use flagcore::hash::{sha256_u64, Prefix};
use flagcore::{Store, User};
use flagcore_benches::service::{self, Cycle, Users, USERS};

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().expect("a workload name");
    let calls: usize = args
        .next()
        .map_or(100_000, |n| n.parse().expect("a call count"));
    let (synthetic, eval_proj) = service::stores();
    let users = Users::new(USERS);
    let views = users.views();
    let ids: Vec<&str> = users.ids().collect();
    let (gate_salt, rule_salt) = service::ROLLOUT_SALTS;
    let prefix = format!("{gate_salt}.{rule_salt}.");
    let midstate = Prefix::new(prefix.as_bytes());

    let gate = |store: &Store, name: &str, u: &User<'_>| store.check_gate(u, black_box(name));
    let held = synthetic.snapshot();
    let mut run: Box<dyn FnMut(usize) -> usize> = match workload.as_str() {
        "rollout_50" => Box::new(|i| gate(&synthetic, service::ROLLOUT_50, &views[i]) as usize),
        "targeting_30" => Box::new(|i| gate(&synthetic, service::TARGETING_30, &views[i]) as usize),
        "unknown" => Box::new(|i| gate(&synthetic, "no_such_gate", &views[i]) as usize),
        "test_50_50" => Box::new(|i| gate(&eval_proj, "test_50_50", &views[i]) as usize),
        "experiment_3way_param" => Box::new(|i| {
            synthetic
                .snapshot()
                .experiment(&views[i], black_box(service::EXPERIMENT_3WAY))
                .get_str(black_box(service::PARAMETER), "none")
                .len()
        }),
        "held_snapshot" => {
            Box::new(|i| held.check_gate(&views[i], black_box(service::ROLLOUT_50)) as usize)
        }
        "floor" => Box::new(|i| {
            let id = ids[i].as_bytes();
            let mut input = [0u8; 128];
            input[..prefix.len()].copy_from_slice(prefix.as_bytes());
            input[prefix.len()..prefix.len() + id.len()].copy_from_slice(id);
            (sha256_u64(black_box(&input[..prefix.len() + id.len()])) % 10_000 < 5_000) as usize
        }),
        "floor_midstate" => Box::new(|i| {
            (midstate.hash_u64(black_box(ids[i].as_bytes())) % 10_000 < 5_000) as usize
        }),
        other => panic!("unknown workload {other:?}"),
    };
    let mut next = Cycle::new(USERS);
    let mut total = 0;
    for _ in 0..calls {
        total += run(next.next());
    }
    println!("{workload}: {calls} calls, {total} true");
}

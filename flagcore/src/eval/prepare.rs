//! What evaluation precomputes over a freshly compiled ruleset: rules whose conditions are all
//! `public`, gates with one value for everyone, and `user_bucket` conditions tabulated per
//! bucket.

use crate::load::{BucketTable, CondKind, Condition, Op, Ruleset, Target};
use crate::user::User;
use crate::value::UVal;

use super::env::Env;
use super::evaluator::Evaluator;

/// Precomputes what evaluation reads from `rs` (called once by [`Ruleset::from_json_with_limits`]).
pub(crate) fn prepare(rs: &mut Ruleset) {
    tabulate_user_buckets(rs);
    mark_public_rules(rs);
}

/// Flags rules whose conditions are all `public`, so evaluation skips them.
fn mark_public_rules(rs: &mut Ruleset) {
    let conditions = &rs.conditions;
    let is_public = |&ci: &u32| {
        conditions
            .get(ci as usize)
            .is_some_and(|c| matches!(c.kind, CondKind::Public))
    };
    for specs in [&mut rs.gates, &mut rs.configs, &mut rs.layers] {
        for spec in &mut specs.list {
            for rule in &mut spec.rules {
                rule.public_only = rule.conditions.iter().all(is_public);
            }
            spec.constant_value = spec.value_for_everyone();
        }
    }
}

/// A `user_bucket` condition's result depends only on the bucket (0..1000), except for
/// ID-list operators: tabulate it once, so evaluation is one hash and one bit test.
fn tabulate_user_buckets(rs: &mut Ruleset) {
    let tables: Vec<Option<Box<BucketTable>>> = rs
        .conditions
        .iter()
        .map(|c| match (&c.kind, c.op) {
            (CondKind::UserBucket(_, None), op) if !op.needs_environment() => {
                Some(Box::new(bucket_table(rs, c)))
            }
            _ => None,
        })
        .collect();
    for (c, t) in rs.conditions.iter_mut().zip(tables) {
        if let (CondKind::UserBucket(_, table), Some(t)) = (&mut c.kind, t) {
            *table = Some(t);
        }
    }
}

/// The result of a `user_bucket` condition for every bucket (see `tabulate_user_buckets`).
fn bucket_table(rs: &Ruleset, c: &Condition) -> BucketTable {
    // `any`/`none` over a list of bucket numbers (how Statsig allocates layers): the text of
    // bucket `b` is its decimal form, so only keys in that exact form can match.
    let keys: Option<Vec<&str>> = match (c.op, &c.target) {
        (Op::Any | Op::None, Target::Object(o)) => Some(o.keys.iter().map(|k| &*k.0).collect()),
        (Op::Any | Op::None, Target::Array(a)) => {
            Some(a.entries.iter().map(|e| &*e.lower).collect())
        }
        _ => None,
    };
    if let Some(keys) = keys {
        return crate::load::bucket_table_of_keys(keys.into_iter(), c.op);
    }
    let user = User::new();
    let env = Env::bare();
    let mut sec = Vec::new();
    let ev = Evaluator::new(rs, &user, &env, &mut sec);
    let passes = |bucket: usize| ev.apply(c, UVal::Int(bucket as i64));
    let mut table = [0u64; 16];
    // in bounds: `bucket` < 1000, so `bucket / 64` < 16.
    let mut set = |bucket: usize| table[bucket / 64] |= 1 << (bucket % 64);
    // A numeric comparison with one target passes a prefix (`lt`, `lte`) or a suffix (`gt`,
    // `gte`) of the buckets: find its end by bisection instead of trying all 1000.
    let monotone = match c.op {
        Op::Lt | Op::Lte => Some(true),
        Op::Gt | Op::Gte => Some(false),
        _ => None,
    };
    match monotone {
        Some(prefix) => {
            let (mut lo, mut hi) = (0usize, 1000usize);
            // Invariant: buckets below `lo` are on the prefix side, from `hi` on the other.
            while lo < hi {
                let mid = (lo + hi) / 2;
                if passes(mid) == prefix {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            let range = if prefix { 0..lo } else { lo..1000 };
            range.for_each(&mut set);
        }
        None => (0..1000).filter(|&b| passes(b)).for_each(&mut set),
    }
    table
}

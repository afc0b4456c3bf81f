//! # Performance
//!
//! A check is a handful of pointer reads, one hash-table probe and, for percentage rollouts
//! and experiments, SHA-256 over the unit id: Statsig buckets users with
//! `sha256("salt.ruleSalt.unitID")`, so an answer that agrees with Statsig's SDKs cannot
//! avoid it. What can be avoided is done at load time:
//!
//! - Operator strings become enums; numbers, versions, times, regexes and lower-cased string
//!   sets are parsed once; every name is indexed (xxh3, open addressing).
//! - The constant `salt.ruleSalt.` prefix of every bucketing hash is compressed once
//!   ([`crate::hash::Prefix`]), so a check usually hashes a single 64-byte block.
//! - A `user_bucket` condition depends only on the bucket, so it becomes a 1000-bit table;
//!   repeated bucket hashes within one evaluation (an experiment's groups) are remembered.
//! - Rules whose conditions are all `public` skip condition evaluation, and a gate whose
//!   value is the same for every user (its first rule is public and passes everyone, or no
//!   one) is answered by `check_gate` from a constant computed at load time.
//! - `check_gate` computes the boolean only, without the result record; the convenience
//!   methods (`gate`, `dynamic_config`, `experiment`, `layer`) collect secondary exposures
//!   only when an exposure sink will read them. The `shortcuts` test holds each of these
//!   paths to the general [`crate::View::evaluate`] on every fixture.
//!
//! Evaluation allocates nothing once a thread has warmed up: users are borrowed views,
//! results borrow from the snapshot, and secondary exposures go to a caller-owned
//! [`crate::Scratch`] (the convenience methods use a per-thread buffer when a sink is
//! installed; `check_gate` needs none). The `zero_alloc` test proves it with a counting
//! global allocator.
//!
//! Readers never lock, and a snapshot per call is nearly free: each thread caches the
//! state of the store it last read (one entry per thread), and [`crate::Store::snapshot`]
//! checks it with one atomic load of the store's generation, counting its reference on a
//! thread-local count; only after a write (or when the thread switches stores) does it
//! reload the state from the store's `arc-swap` cell. No shared reference count is touched
//! on the fast path, so two threads scale about 2× while a writer installs rulesets.
//!
//! Memory: a replaced ruleset is freed once every snapshot of it is dropped and every
//! thread that cached it has taken a snapshot again (of any store) or exited. An idle
//! thread therefore keeps at most one state alive, of one store, however many rulesets
//! are installed meanwhile; dropping a store releases the dropping thread's entry at once,
//! and other threads' entries at their next snapshot. Hold a snapshot for a request, not
//! for ever: it keeps its ruleset alive.
//!
//! The `service` bench measures the shape a service runs: a snapshot per call, 100,000
//! distinct users, beside the SHA-256 floor.
//!
//! A client initialize response evaluates every gate, config, experiment and layer for one
//! user and writes them all, so on a large payload most of its bytes are return values
//! that are the same for every user. The first response from a ruleset writes the JSON of
//! every return value (and, for SHA-256 responses, every hashed name) once; every response
//! after it copies those bytes, and is left with evaluation and the per-user parts (bench
//! `client_init`; a response allocates nothing beyond the output buffer's growth).
//!
//! Measure with `cargo bench -p flagcore-benches`; the `baseline/sha256_one_block` bench
//! shows the hashing floor under rollout and experiment checks on your machine.

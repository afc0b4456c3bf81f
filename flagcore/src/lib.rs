//! # flagcore
//!
//! Evaluates Statsig feature gates, dynamic configs, experiments and layers **inside your
//! service**, from a `download_config_specs` payload held in memory, with the same answers as
//! Statsig's official SDKs: the same value, rule id, group name and exposure data for the same
//! ruleset and user.
//!
//! - **Fast and allocation-free**: a check costs nanoseconds and performs no heap allocation
//!   once warmed up. The payload is compiled once into a [`Ruleset`] (operators become enums,
//!   numbers, versions, times, regexes and lower-cased string sets are pre-parsed, names are
//!   indexed, the constant prefix of every SHA-256 bucketing hash is pre-absorbed).
//! - **Lock-free**: the [`Store`] holds the active ruleset behind an atomic pointer
//!   ([`arc_swap`]); installing a new one never blocks a reader, and a [`Snapshot`] gives a
//!   reader one consistent view.
//! - **Never the cause of an outage**: loading untrusted bytes is bounded by [`Limits`] and
//!   returns a [`LoadError`] that says where the payload is wrong; the current ruleset keeps
//!   serving. Loading and evaluation do not panic.
//! - **Pure**: no IO, no threads, no async. Fetching rulesets and shipping exposures is the
//!   job of `flagcore-sync`; other languages use the C ABI of `flagcore-ffi`.
//!
//! ## Design
//!
//! ```text
//!  payload bytes ──► Ruleset::from_json ──► Store (ArcSwap) ──► snapshot() ──► evaluate
//!  (from flagcore-sync,   parse + compile       install never     one atomic    value, rule id, group,
//!   a file, or tests)     once; Err keeps        blocks readers    load          reason, exposures
//!                         the old ruleset                                          │
//!                                                                   ExposureSink ◄─┘ (optional)
//! ```
//!
//! ## What it does not do
//!
//! No IO: it does not fetch rulesets, sync ID lists or send exposure events (that is
//! `flagcore-sync`), and it reads the time only through an injectable [`Clock`]. It does not
//! bundle Statsig's IP-to-country table ([`CountryLookup`] is pluggable) and does not run
//! contextual bandits (CMAB), which are non-deterministic.
//!
//! ## Getting started
//!
//! ```
//! use flagcore::{Store, User};
//!
//! let store = Store::new();
//! store.load_json(br#"{
//!   "feature_gates": {"new_checkout": {"type": "feature_gate", "entity": "feature_gate",
//!     "salt": "a81e", "enabled": true, "defaultValue": false, "idType": "userID",
//!     "rules": [{"id": "rollout", "name": "50%", "passPercentage": 50, "conditions": ["c"],
//!                "returnValue": true, "idType": "userID"}]}},
//!   "dynamic_configs": {}, "layer_configs": {},
//!   "condition_map": {"c": {"type": "public", "idType": "userID"}},
//!   "experiment_to_layer": {}, "has_updates": true, "time": 1764000000000
//! }"#)?;
//!
//! let snapshot = store.snapshot(); // one consistent view, e.g. per request
//! let user = User::with_user_id("user-42").email("ana@example.com");
//! let result = snapshot.gate(&user, "new_checkout");
//! println!("{} by rule {}", result.value(), result.rule_id());
//! assert_eq!(result.rule_id(), "rollout");
//! # Ok::<(), flagcore::LoadError>(())
//! ```
//!
//! ## Concepts
//!
//! - [`Ruleset`]: one compiled payload (`dcs-v2`, or the legacy v1 shape, which evaluates
//!   exactly like its v2 equivalent). Immutable. [`Ruleset::to_json`] writes it back as a
//!   canonical `dcs-v2` payload (v1 → v2 conversion, bootstrap files).
//! - [`Store`]: the active ruleset plus ID lists ([`IdLists`]) and local overrides, swapped
//!   atomically; configured once with [`Options`] (environment tier, IP-to-country lookup,
//!   clock, [`ExposureSink`]).
//! - [`Snapshot`] ([`Store::snapshot`]): one consistent state, borrowed, the cheapest; an
//!   [`OwnedSnapshot`] ([`Store::snapshot_owned`]) is `'static` and `Send`, to hold across
//!   `.await`. Both dereference to [`View`], which has the evaluation methods.
//! - [`User`]: a borrowed view of a user, built without allocating; [`UserData`] is the owned
//!   form deserialised from Statsig's user JSON.
//! - [`Evaluation`]: a result borrowed from the snapshot: value, JSON object, rule id, group,
//!   secondary exposures, [`Reason`]. [`View::evaluate`] with a reusable [`Scratch`]
//!   also returns the secondary exposures; the convenience methods
//!   ([`View::check_gate`], [`View::experiment`], …) report them only to the sink.
//! - [`View::explain`]: the same evaluation with a [`Trace`] of every step (rules visited,
//!   conditions with the user's values and where they were read, nested gates, delegated
//!   experiments, pass-percentage buckets): JSON through serde, text through `Display`. It
//!   allocates; the normal evaluation runs the same code with a tracer that compiles to
//!   nothing.
//!
//! - **Client SDKs**: [`View::client_initialize_response`] writes the document Statsig's
//!   client SDKs bootstrap from (every entity evaluated for one user, names hashed with
//!   [`HashAlgorithm`], filtered by the client key's app; [`ClientInitOptions`]) into a
//!   buffer you reuse; [`View::parameter_store`] reads parameter stores ([`ParameterStore`]:
//!   typed getters with fallbacks, parameters that point at gates, configs, experiments and
//!   layers).
//!
//! ```
//! use flagcore::{ClientInitOptions, HashAlgorithm, Store, User};
//!
//! let store = Store::new();
//! store.load_json(br#"{"feature_gates": {}, "dynamic_configs": {}, "layer_configs": {},
//!   "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1,
//!   "param_stores": {"web": {"parameters": {
//!     "page_size": {"ref_type": "static", "param_type": "number", "value": 20}}}}}"#)?;
//! let snapshot = store.snapshot();
//! let user = User::with_user_id("u1");
//!
//! // A bootstrap document for a web client: one buffer per worker, reused.
//! let mut body = Vec::new();
//! let options = ClientInitOptions::default().hash(HashAlgorithm::Djb2);
//! snapshot.client_initialize_response(&user, &options, &mut body);
//! assert!(body.starts_with(b"{\"feature_gates\""));
//!
//! // A parameter store on the server.
//! let web = snapshot.parameter_store("web").expect("defined");
//! assert_eq!(web.get_i64(&user, "page_size", 10), 20);
//! # Ok::<(), flagcore::LoadError>(())
//! ```
//!
//! - **Sticky assignments**: [`View::experiment_sticky`] and [`View::layer_sticky`] keep a
//!   user in the group first assigned after the allocation changes, from values the caller
//!   persisted (Statsig's persistent storage; [`sticky`]). The core does no IO: it returns
//!   the [`sticky::Change`] to store; `flagcore_sync::sticky` has storages.
//!
//! ## Semantics
//!
//! Evaluation follows Statsig's server core: rules in order, conditions ANDed without
//! short-circuit, SHA-256 bucketing, nested gates with secondary exposures, segments,
//! holdouts, layer delegation, multi-rule layers (`useNewLayerEval`), config mapping
//! (`overrides`), every condition type and operator. Unknown condition types
//! and operators give [`Reason::Unsupported`] results shaped exactly as Statsig shapes them.
//! The `evaluate` example in `flagcore-examples` checks this against the official core's
//! answers. More in [`docs::semantics`] and [`docs::performance`]; [`docs::migration`] maps each call
//! of Statsig's server SDK to its flagcore equivalent.
//!
//! ## Features
//!
//! None: the crate has no optional features.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client_init;
pub mod docs;

mod eval;
mod groups;
pub mod hash;
mod index;
mod load;
mod overrides;
mod param_store;
mod ruleset;
mod store;
pub mod ua;
mod user;
mod value;

pub use client_init::{ClientInitOptions, HashAlgorithm};
pub use eval::sticky;
pub use eval::{
    Answer, Clock, ConditionTrace, CountryLookup, Evaluation, FixedClock, IdLists, InstallListener,
    JsonObject, Kind, MappingTrace, Options, PercentageTrace, Reason, RuleTrace, RulesetUpdate,
    SecondaryExposure, SecondaryExposures, SpecTrace, SystemClock, Trace, TraceStep,
};
pub use groups::{ExperimentGroup, ExperimentGroups};
pub use load::{DroppedSpec, Format, Limits, LoadError, Ruleset, SamplingMode, SdkConfigs};
pub use param_store::ParameterStore;
pub use store::{
    Exposure, ExposureSink, Exposures, Layer, OwnedSnapshot, Scratch, Snapshot, Store, View,
};
pub use user::{Attributes, User, UserData, Value};

/// The `serde_json` this crate's API uses ([`Evaluation::get`] returns its `Value`, local
/// overrides take its `Map`), re-exported so that callers need not match its version.
pub use serde_json;

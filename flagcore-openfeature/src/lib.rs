//! # flagcore-openfeature
//!
//! An [OpenFeature](https://openfeature.dev) provider over a flagcore [`Store`](flagcore::Store): services on
//! the OpenFeature API get Statsig's answers, evaluated in process, without a network hop.
//! The flag-key scheme, reasons, variants, metadata and context mapping live here once and
//! are shared with the OFREP sidecar (`flagcore-serve`), so an OpenFeature client in
//! process and one over OFREP see the same resolution.
//!
//! ```text
//!  OpenFeature client ──► FlagcoreProvider ──► context::user_from_context ──► UserData
//!   (hooks see the                │
//!    flag metadata)               └──► resolve::resolve ──► Store snapshot ──► evaluate
//!                                          key → gate / config / experiment / layer (.param)
//! ```
//!
//! ## What it does not do
//!
//! It does not fetch rulesets (that is `flagcore-sync`) and does not expose secondary
//! exposures in the metadata (they go to the store's exposure sink). OpenFeature values
//! have no `null`: a `null` field of a config value is left out of the struct, a `null`
//! array element is a `PARSE_ERROR`.
//!
//! ## Getting started
//!
//! ```
//! use std::sync::Arc;
//! use flagcore::Store;
//! use flagcore_openfeature::FlagcoreProvider;
//! use open_feature::{EvaluationContext, OpenFeature};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let store = Arc::new(Store::new());
//! store.load_json(br#"{"feature_gates": {"on": {"type": "feature_gate", "entity":
//!   "feature_gate", "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID",
//!   "rules": [{"id": "all", "name": "all", "passPercentage": 100, "conditions": ["c"], "returnValue": true,
//!   "idType": "userID"}]}}, "dynamic_configs": {}, "layer_configs": {},
//!   "condition_map": {"c": {"type": "public", "idType": "userID"}},
//!   "experiment_to_layer": {}, "has_updates": true, "time": 1}"#).unwrap();
//!
//! let mut api = OpenFeature::default();
//! api.set_provider(FlagcoreProvider::new(store)).await;
//! let client = api.create_client();
//! let context = EvaluationContext::default().with_targeting_key("user-42");
//! let details = client.get_bool_details("on", Some(&context), None).await.unwrap();
//! assert!(details.value);
//! assert_eq!(details.variant.as_deref(), Some("all"));    // the rule id
//! # }
//! ```
//!
//! ## Features
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod context;
mod provider;
pub mod resolve;

pub use provider::{struct_to_json, FlagcoreProvider};

/// Re-exported so that callers need not match its version.
pub use open_feature;

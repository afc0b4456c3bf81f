//! Loading: a `download_config_specs` payload becomes a compiled [`Ruleset`].
//!
//! ```text
//!  bytes ──► wire (parse: the payload as sent) ──► compile ──► model (the Ruleset evaluation reads)
//!                                                               │
//!                                              canonical ◄──────┘ (Ruleset::to_json)
//! ```
//!
//! Loading knows nothing of evaluation: what the evaluator precomputes over a fresh ruleset
//! lives in `eval::prepare`, and [`Ruleset::from_json`] (in `crate::ruleset`) runs both.

mod canonical;
pub(crate) mod client;
mod compile;
mod error;
mod model;
mod sdk_configs;
mod text;
mod wire;

pub(crate) use compile::{bucket_table_of_keys, compile};
pub use error::{Limits, LoadError};
pub(crate) use model::*;
pub use model::{DroppedSpec, Format, Ruleset};
pub use sdk_configs::{SamplingMode, SdkConfigs};
pub(crate) use text::{NameText, ValueText};

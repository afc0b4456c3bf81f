//! flagcore: Statsig-compatible feature-gate and experiment evaluation.
#![forbid(unsafe_code)]

mod env;
mod error;
mod eval;
pub mod hash;
mod index;
mod result;
mod ruleset;
mod store;
pub mod ua;
mod user;
mod value;

pub use env::{Clock, CountryLookup, FixedClock, IdLists, Options, SystemClock};
pub use error::{Limits, LoadError};
pub use eval::Kind;
pub use result::{Evaluation, Reason, SecondaryExposure, SecondaryExposures};
pub use ruleset::{DroppedSpec, Format, Ruleset};
pub use store::{Exposure, ExposureSink, Exposures, Scratch, Snapshot, Store};
pub use user::{Attributes, User, UserData, Value};

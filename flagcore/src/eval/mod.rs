//! Evaluation: a compiled [`Ruleset`](crate::Ruleset), a user and an environment give a
//! result record (spec sections 4 to 9).
//!
//! ```text
//!  env (tier, clock, ID lists, country) ─┐
//!  user ─────────────────────────────────┼─► evaluator ──► record ──► result (Evaluation)
//!  Ruleset (+ what prepare precomputed) ─┘   (operators,             (borrowed from the ruleset)
//!                                             nested gates, layers)
//!                                                │
//!                                             tracer (a no-op, or the steps of a Trace)
//! ```

mod env;
mod evaluator;
mod prepare;
mod record;
mod result;
pub mod sticky;
mod trace;

pub(crate) use env::Env;
pub use env::{
    Clock, CountryLookup, FixedClock, IdLists, InstallListener, Options, RulesetUpdate, SystemClock,
};
pub(crate) use evaluator::Evaluator;
pub(crate) use prepare::prepare;
pub use record::Kind;
pub(crate) use record::{Abort, Found, RawExposure, Record};
pub(crate) use result::{typed_as, typed_bool, typed_f64, typed_i64, typed_str, ValueShape};
pub use result::{Evaluation, JsonObject, Reason, SecondaryExposure, SecondaryExposures};
pub use trace::{
    Answer, ConditionTrace, MappingTrace, PercentageTrace, RuleTrace, SpecTrace, Trace, TraceStep,
};
pub(crate) use trace::{NoTrace, TraceBuilder, Tracer};

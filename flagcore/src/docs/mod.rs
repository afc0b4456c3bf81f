//! Documentation only: the longer rationale behind the API.

pub mod migration;
pub mod performance;
pub mod semantics;

//! Documentation only: the longer rationale behind the API.

pub mod performance;
pub mod semantics;

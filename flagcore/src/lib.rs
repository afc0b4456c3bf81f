//! flagcore: Statsig-compatible feature-gate and experiment evaluation.
//!
//! Work in progress: this crate currently provides the hashing primitives Statsig uses to
//! bucket users. Loading and evaluation land next.

pub mod hash;

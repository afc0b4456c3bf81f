//! Benchmarks of flagcore live in `benches/`; run them with `cargo bench -p flagcore-benches`.

//! The sidecar over real HTTP: a server on 127.0.0.1:0 and reqwest.

mod api {
    #[cfg(feature = "redis")]
    mod redis;
    mod sidecar;
}

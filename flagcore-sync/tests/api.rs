//! Tests of flagcore-sync against real sources: an HTTP server on 127.0.0.1 speaking the
//! `download_config_specs` protocol (with injected faults), and real files.

mod api {
    mod blocking;
    mod events;
    mod exposures;
    mod file;
    mod id_lists;
    mod network;
    #[cfg(feature = "redis")]
    mod redis;
    pub(crate) mod server;
    mod statsig;
    mod sticky;
}

//! The sidecar over real HTTP: a server on 127.0.0.1:0 and reqwest.

mod api {
    mod sidecar;
}

//! Connection settings: every outgoing request goes through the configured proxy, and
//! extra CA certificates are taken (or refused when they are not certificates).

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::{
    Destination, EventLogger, LoggerOptions, Network, StatsigOptions, StatsigPoller, SyncError,
};

use super::server::{payload, until, Conn, Reply, Server};

/// A host that does not resolve: only a proxy can reach it.
const FAR: &str = "http://flagcore-proxy-test.invalid";

#[tokio::test]
async fn the_logger_and_the_poller_go_through_the_proxy() {
    let proxy = Server::start();
    let network = Network::new().proxy(proxy.base());
    let logger = EventLogger::start(
        LoggerOptions::new(Destination::base_url(&format!("{FAR}/v1"), "secret-test"))
            .compress(false)
            .network(network.clone()),
    )
    .expect("client");
    logger.log_event(&User::with_user_id("u1"), "tick", 1, &[]);
    logger.shutdown(Duration::from_secs(5)).await;
    let posts = proxy.requests(&format!("{FAR}/v1/log_event"));
    assert_eq!(posts.len(), 1, "the batch reached the proxy");
    assert_eq!(posts[0].json()["events"][0]["eventName"], "tick");

    let options = StatsigOptions::new("secret-test")
        .specs_url(format!("{FAR}/v2/download_config_specs"))
        .network(network);
    let poller = StatsigPoller::start(Arc::new(Store::new()), options).expect("client");
    let target = format!("{FAR}/v2/download_config_specs/secret-test.json");
    until("the poll reaches the proxy", || proxy.count(&target) > 0).await;
    poller.shutdown().await;
}

#[test]
fn ca_certificates_are_taken_and_what_is_not_one_is_refused() {
    let pem = tls_file("ca.pem");
    let runtime = flagcore_sync::BlockingRuntime::new().expect("runtime");
    let start = |network: Network| {
        runtime.start_event_logger(
            LoggerOptions::new(Destination::statsig("secret-test")).network(network),
        )
    };
    start(Network::new().ca_certificates_pem(pem)).expect("a valid CA certificate");
    let none = start(Network::new().ca_certificates_pem(b"not a certificate".to_vec()));
    assert!(matches!(none, Err(SyncError::NoCertificate)), "{none:?}");
    let broken = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec();
    let broken = start(Network::new().ca_certificates_pem(broken));
    assert!(matches!(broken, Err(SyncError::Client(_))), "{broken:?}");
    let proxy = start(Network::new().proxy("not a url"));
    assert!(matches!(proxy, Err(SyncError::Client(_))), "{proxy:?}");
    runtime.shutdown(Duration::from_secs(1));
}

/// The test material of `tests/data/tls` (made by `gen.sh` there): a private CA, and a
/// certificate for 127.0.0.1 it signed, as a corporate proxy that re-signs TLS has.
fn tls_file(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/tls/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fake Statsig over TLS, with the certificate the private CA signed.
fn tls_server() -> Server {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&tls_file("server.pem"))
            .collect::<Result<_, _>>()
            .expect("server.pem");
    let key = PrivateKeyDer::from_pem_slice(&tls_file("server.key")).expect("server.key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    Server::start_with(
        "https",
        Box::new(move |tcp| {
            let acceptor = acceptor.clone();
            Box::pin(async move {
                // A client that does not trust the CA aborts the handshake: no connection.
                let tls = acceptor.accept(tcp).await.ok()?;
                Some(Box::new(tls) as Box<dyn Conn>)
            })
        }),
    )
}

/// A real TLS handshake: with the private CA added, the poller loads over HTTPS and the
/// logger's batch arrives; without it, the same server is refused as untrusted and nothing
/// loads (the last good ruleset, here none, keeps serving).
#[tokio::test]
async fn a_private_ca_is_trusted_for_https_and_nothing_else_is() {
    let server = tls_server();
    server.set_specs(Reply::Serve(payload(1, true)));
    assert!(server.base().starts_with("https://127.0.0.1:"));
    let trusted = Network::new().ca_certificates_pem(tls_file("ca.pem"));

    let store = Arc::new(Store::new());
    let options = StatsigOptions::new("secret-test")
        .specs_url(server.specs_url())
        .network(trusted.clone());
    let poller = StatsigPoller::start(store.clone(), options).expect("client");
    until("the ruleset loads over HTTPS", || store.ruleset().is_some()).await;
    poller.shutdown().await;

    let logger = EventLogger::start(
        LoggerOptions::new(Destination::Statsig {
            url: server.log_url(),
            server_secret: "secret-test".into(),
        })
        .network(trusted),
    )
    .expect("client");
    logger.log_event(&User::with_user_id("u1"), "tick", 1, &[]);
    logger.shutdown(Duration::from_secs(5)).await;
    let events = server.events();
    assert_eq!(events.len(), 1, "the batch arrived over HTTPS");
    assert_eq!(events[0]["eventName"], "tick");

    let untrusting = Arc::new(Store::new());
    let options = StatsigOptions::new("secret-test").specs_url(server.specs_url());
    let poller = StatsigPoller::start(untrusting.clone(), options).expect("client");
    until("the untrusted poll fails", || {
        poller.status().last_error.is_some()
    })
    .await;
    let error = poller.status().last_error.expect("an error");
    let chain = format!("{error:?}");
    assert!(
        chain.to_lowercase().contains("certificate"),
        "the error names the certificate: {chain}"
    );
    assert!(untrusting.ruleset().is_none());
    poller.shutdown().await;
}

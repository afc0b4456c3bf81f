//! Connection settings: every outgoing request goes through the configured proxy, and
//! extra CA certificates are taken (or refused when they are not certificates).

use std::sync::Arc;
use std::time::Duration;

use flagcore::{Store, User};
use flagcore_sync::{
    Destination, EventLogger, LoggerOptions, Network, StatsigOptions, StatsigPoller, SyncError,
};

use super::server::{until, Server};

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
    let pem = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/test-ca.pem"
    ))
    .expect("tests/data/test-ca.pem");
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

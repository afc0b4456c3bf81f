//! What the HTTP sources share: the client, Statsig's request headers, bounded bodies,
//! `Retry-After`, and backoff with jitter.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::SyncError;

/// `STATSIG-SDK-TYPE` and `sdkType`.
pub(crate) const SDK_TYPE: &str = "flagcore";
/// `STATSIG-SDK-VERSION` and `sdkVersion`.
pub(crate) const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// An HTTP client for one source. Redirects are followed only within the same origin: the
/// server secret travels in a header that a redirect to another host must not receive.
pub(crate) fn client(
    timeout: Duration,
    network: &crate::Network,
) -> Result<reqwest::Client, SyncError> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(reqwest::Url::origin);
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if first.is_some_and(|o| o == attempt.url().origin()) {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    let builder = reqwest::Client::builder();
    network
        .apply(builder)?
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(policy)
        .user_agent(concat!("flagcore-sync/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(SyncError::Client)
}

/// The headers every Statsig request carries (spec 10.1).
pub(crate) fn statsig_headers(
    request: reqwest::RequestBuilder,
    key: &str,
) -> reqwest::RequestBuilder {
    request
        .header("STATSIG-API-KEY", key)
        .header("STATSIG-SDK-TYPE", SDK_TYPE)
        .header("STATSIG-SDK-VERSION", SDK_VERSION)
        .header("STATSIG-SERVER-SESSION-ID", session_id())
        .header("STATSIG-CLIENT-TIME", now_ms().to_string())
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// 64 random bits (SipHash keyed by the OS's randomness through `RandomState`).
pub(crate) fn random_u64() -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(now_ms());
    h.finish()
}

/// One random (version 4) UUID per process, as Statsig's `STATSIG-SERVER-SESSION-ID`.
pub(crate) fn session_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let (a, b) = (random_u64(), random_u64());
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000; // variant 10
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000; // version 4
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    })
}

/// Sends `request` and reads the body of a successful answer, refusing bodies over `limit`
/// bytes before they are held in memory. HTTP 401 and 403 are [`SyncError::Unauthorized`];
/// another HTTP error status is an error carrying the server's `Retry-After`.
pub(crate) async fn fetch(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<Vec<u8>, SyncError> {
    fetch_with_status(request, limit)
        .await
        .map(|(_, body)| body)
}

/// [`fetch`], with the (successful) status code.
pub(crate) async fn fetch_with_status(
    request: reqwest::RequestBuilder,
    limit: usize,
) -> Result<(u16, Vec<u8>), SyncError> {
    let mut response = request.send().await.map_err(request_error)?;
    let status = response.status();
    if matches!(status.as_u16(), 401 | 403) {
        return Err(SyncError::Unauthorized {
            status: status.as_u16(),
        });
    }
    if !status.is_success() {
        return Err(SyncError::Status {
            status: status.as_u16(),
            retry_after: retry_after(response.headers(), SystemTime::now()),
        });
    }
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Err(SyncError::TooLarge { limit });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > limit {
            return Err(SyncError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok((status.as_u16(), body))
}

/// A request error without its URL: Statsig's URLs carry the server secret, and errors end
/// up in logs and status pages.
fn request_error(e: reqwest::Error) -> SyncError {
    SyncError::Request(e.without_url())
}

/// The delay a `Retry-After` header asks for: seconds, or an HTTP date (RFC 9110, 10.2.3).
pub(crate) fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: SystemTime,
) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// Capped exponential backoff with jitter: after `n` consecutive failures the next attempt
/// waits `base · 2^(n-1)`, drawn uniformly from its upper half ("equal jitter"), and never
/// more than `cap`.
#[derive(Debug)]
pub(crate) struct Backoff {
    pub(crate) base: Duration,
    pub(crate) cap: Duration,
}

impl Backoff {
    pub(crate) fn delay(&self, failures: u32) -> Duration {
        self.delay_with(failures, random_u64())
    }

    fn delay_with(&self, failures: u32, random: u64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20));
        let full = exp.min(self.cap);
        // Uniform in [full/2, full].
        let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
        full.mul_f64(0.5 + unit / 2.0).min(self.cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
        };
        for (failures, full_ms) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (7, 6_400),
            (8, 10_000),
            (60, 10_000),
        ] {
            let full = Duration::from_millis(full_ms);
            assert_eq!(b.delay_with(failures, u64::MAX), full, "{failures}");
            assert_eq!(b.delay_with(failures, 0), full / 2, "{failures}");
            for _ in 0..100 {
                let d = b.delay(failures);
                assert!(d >= full / 2 && d <= full, "{failures}: {d:?}");
            }
        }
        // Draws differ.
        let draws: std::collections::HashSet<Duration> = (0..50).map(|_| b.delay(5)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(RETRY_AFTER, HeaderValue::from_str(v).unwrap());
            retry_after(&h, now)
        };
        assert_eq!(with("120"), Some(Duration::from_secs(120)));
        assert_eq!(with(" 7 "), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(with(&later), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(with(&past), Some(Duration::ZERO));
        assert_eq!(with("soon"), None);
        assert_eq!(with("-3"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn the_session_id_is_a_version_4_uuid() {
        let id = session_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, session_id());
    }
}

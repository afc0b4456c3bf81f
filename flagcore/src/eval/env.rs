//! What an evaluation sees besides the ruleset and the user: the SDK environment tier, the
//! clock, the IP-to-country lookup and the ID lists.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sha2::{Digest, Sha256};

/// Maps an IPv4 address to an ISO 3166 country code, for `ip_based` conditions on `country`.
///
/// flagcore ships no IP data (Statsig's table is Statsig's own). Without a lookup, an
/// `ip_based` country condition sees only the user's `country` field, and results carry
/// [`Reason::CountryLookupNotLoaded`](crate::Reason::CountryLookupNotLoaded) when an IP would
/// have been looked up.
///
/// ```
/// struct OnlyLocalhostIsGb;
/// impl flagcore::CountryLookup for OnlyLocalhostIsGb {
///     fn country(&self, ipv4: u32) -> Option<&str> {
///         (ipv4 == 0x7f00_0001).then_some("GB")
///     }
/// }
/// ```
pub trait CountryLookup: Send + Sync {
    /// The country code of `ipv4` (host byte order, `a.b.c.d` = `a<<24 | b<<16 | c<<8 | d`),
    /// or `None` when unknown.
    fn country(&self, ipv4: u32) -> Option<&str>;
}

/// A source of the current time, injectable so tests can pin `now`.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place the core reads the system time: the default `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that always says the same time (for tests and reproducible runs).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub i64);

impl Clock for FixedClock {
    fn now_ms(&self) -> i64 {
        self.0
    }
}

/// The contents of Statsig ID lists, for `in_segment_list` / `not_in_segment_list`.
///
/// Statsig stores each member as the first 8 characters of the base64 of its SHA-256; add ids
/// with [`IdLists::insert_id`] or, as synced from Statsig, with [`IdLists::insert_hashed`].
///
/// ```
/// let mut lists = flagcore::IdLists::default();
/// lists.insert_id("beta_testers", "123");
/// assert!(lists.contains_id("beta_testers", "123"));
/// assert!(lists.contains_hashed("beta_testers", "pmWkWSBC"));
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IdLists {
    lists: HashMap<String, HashSet<[u8; 8]>>,
}

impl IdLists {
    /// Adds a raw id (it is hashed the way Statsig hashes list members).
    pub fn insert_id(&mut self, list: &str, id: &str) {
        let h = hashed_id(id);
        self.lists.entry(list.to_owned()).or_default().insert(h);
    }

    /// Adds an already hashed member (the 8-character form in Statsig's list files).
    /// Returns `false` (and adds nothing) when `hashed` is not 8 bytes long.
    pub fn insert_hashed(&mut self, list: &str, hashed: &str) -> bool {
        let Ok(h) = <[u8; 8]>::try_from(hashed.as_bytes()) else {
            return false;
        };
        self.lists.entry(list.to_owned()).or_default().insert(h);
        true
    }

    /// Removes an already hashed member; returns whether it was there.
    pub fn remove_hashed(&mut self, list: &str, hashed: &str) -> bool {
        let Ok(h) = <[u8; 8]>::try_from(hashed.as_bytes()) else {
            return false;
        };
        self.lists.get_mut(list).is_some_and(|l| l.remove(&h))
    }

    /// Creates `list` empty if it does not exist.
    pub fn ensure_list(&mut self, list: &str) {
        self.lists.entry(list.to_owned()).or_default();
    }

    /// Deletes a whole list.
    pub fn remove_list(&mut self, list: &str) -> bool {
        self.lists.remove(list).is_some()
    }

    /// Names of the lists.
    pub fn list_names(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }

    /// The hashed members of `list` (none when it does not exist), in no particular order:
    /// what a data store snapshot of the list holds.
    ///
    /// ```
    /// let mut lists = flagcore::IdLists::default();
    /// lists.insert_id("beta_testers", "123");
    /// assert_eq!(lists.members("beta_testers").collect::<Vec<_>>(), ["pmWkWSBC"]);
    /// ```
    pub fn members<'a>(&'a self, list: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.lists
            .get(list)
            .into_iter()
            .flatten()
            // Members are inserted from `&str` or hashed to base64: always UTF-8.
            .filter_map(|h| std::str::from_utf8(h).ok())
    }

    /// Number of members of `list` (0 when it does not exist).
    pub fn len(&self, list: &str) -> usize {
        self.lists.get(list).map_or(0, HashSet::len)
    }

    /// Whether there are no lists.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }

    /// Whether `id` (raw) is in `list`.
    pub fn contains_id(&self, list: &str, id: &str) -> bool {
        self.lists
            .get(list)
            .is_some_and(|l| l.contains(&hashed_id(id)))
    }

    /// Whether the hashed member is in `list`.
    pub fn contains_hashed(&self, list: &str, hashed: &str) -> bool {
        <[u8; 8]>::try_from(hashed.as_bytes())
            .is_ok_and(|h| self.lists.get(list).is_some_and(|l| l.contains(&h)))
    }
}

/// The first 8 characters of base64 (standard alphabet) of SHA-256 of `id`.
pub(crate) fn hashed_id(id: &str) -> [u8; 8] {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let d = Sha256::digest(id.as_bytes());
    let mut out = [0u8; 8];
    // 6 bytes encode to exactly 8 characters. in bounds: the digest has 32 bytes, chunks
    // have 3, and an index masked with 63 is below 64 = `ALPHABET.len()`.
    for (chunk, o) in d[..6].chunks_exact(3).zip(out.chunks_exact_mut(4)) {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for (i, c) in o.iter_mut().enumerate() {
            *c = ALPHABET[((n >> (18 - 6 * i)) & 63) as usize];
        }
    }
    out
}

/// Everything an evaluation reads besides the ruleset and the user.
pub(crate) struct Env<'a> {
    pub(crate) tier: Option<&'a str>,
    pub(crate) country: Option<&'a dyn CountryLookup>,
    pub(crate) clock: &'a dyn Clock,
    pub(crate) id_lists: Option<&'a IdLists>,
    /// The app `target_app` conditions see, when not the payload's `app_id` (client
    /// initialize responses for a client key): `Some(None)` is no app.
    pub(crate) app_id: Option<Option<&'a serde_json::Value>>,
}

impl Env<'static> {
    /// No tier, no country lookup, no ID lists, the system clock: what a condition sees
    /// when evaluated outside any store (bucket tables at load time, unit tests).
    pub(crate) fn bare() -> Env<'static> {
        Env {
            tier: None,
            country: None,
            clock: &SystemClock,
            id_lists: None,
            app_id: None,
        }
    }
}

impl Env<'_> {
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn in_id_list(&self, list: &str, id: &str) -> bool {
        self.id_lists
            .and_then(|l| l.lists.get(list))
            .is_some_and(|l| l.contains(&hashed_id(id)))
    }
}

/// Shared evaluation settings of a [`Store`](crate::Store) (SDK options, in Statsig's terms).
#[derive(Clone, Default)]
pub struct Options {
    /// The environment tier (`StatsigOptions.environment`), e.g. `"production"`. When unset,
    /// the payload's `default_environment` is used.
    pub environment: Option<String>,
    /// The IP-to-country lookup; none by default.
    pub country_lookup: Option<Arc<dyn CountryLookup>>,
    /// The clock; the system clock by default.
    pub clock: Option<Arc<dyn Clock>>,
    /// Where exposure records go; none by default (exposures are then not produced).
    pub exposure_sink: Option<Arc<dyn crate::ExposureSink>>,
    /// Told of every ruleset the store installs, from any source; none by default.
    pub install_listener: Option<Arc<dyn InstallListener>>,
}

/// A ruleset was installed: the `time` (Statsig's `lcut`, ms since the Unix epoch) of the
/// ruleset it replaced and of the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RulesetUpdate {
    /// The time of the ruleset replaced (`None` when the store had none).
    pub previous_time: Option<u64>,
    /// The time of the ruleset installed.
    pub time: u64,
}

/// Receives a [`RulesetUpdate`] each time a [`Store`](crate::Store) installs a ruleset
/// (`Store::install`, `Store::load_json`, and so every sync source). Called on the
/// installing thread after the swap, when readers already see the new ruleset; it must be
/// quick and must not call back into the store's install methods.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use flagcore::{InstallListener, Options, RulesetUpdate, Store};
///
/// #[derive(Default)]
/// struct Log(Mutex<Vec<RulesetUpdate>>);
/// impl InstallListener for Log {
///     fn installed(&self, update: RulesetUpdate) {
///         self.0.lock().unwrap().push(update);
///     }
/// }
///
/// let log = Arc::new(Log::default());
/// let store = Store::with_options(Options {
///     install_listener: Some(log.clone()),
///     ..Options::default()
/// });
/// let payload = |t: u64| format!(r#"{{"feature_gates": {{}}, "dynamic_configs": {{}},
///     "layer_configs": {{}}, "condition_map": {{}}, "experiment_to_layer": {{}},
///     "has_updates": true, "time": {t}}}"#);
/// store.load_json(payload(1).as_bytes())?;
/// store.load_json(payload(2).as_bytes())?;
/// let seen = log.0.lock().unwrap();
/// assert_eq!((seen[0].previous_time, seen[0].time), (None, 1));
/// assert_eq!((seen[1].previous_time, seen[1].time), (Some(1), 2));
/// # Ok::<(), flagcore::LoadError>(())
/// ```
pub trait InstallListener: Send + Sync {
    /// A ruleset was installed.
    fn installed(&self, update: RulesetUpdate);
}

impl core::fmt::Debug for Options {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Options")
            .field("environment", &self.environment)
            .field("country_lookup", &self.country_lookup.is_some())
            .field("clock", &self.clock.is_some())
            .field("exposure_sink", &self.exposure_sink.is_some())
            .field("install_listener", &self.install_listener.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_ids_match_statsig() {
        assert_eq!(&hashed_id("123"), b"pmWkWSBC");
    }
}

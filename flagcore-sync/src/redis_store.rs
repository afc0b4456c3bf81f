//! [`DataStore`] on Redis, with the layout of Statsig's forward proxy.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::data_store::{DataStore, Lease, StoreFuture, StoreValue, WriteMeta, Written};
use crate::SyncError;

/// The version marker, in Lua: of a hash (the forward proxy's and ours), its small fields
/// and the payload's length (the forward proxy writes `lcut` and `encoding` only); of a string (a plain `SET` by another adapter), the SHA-1 of
/// the value, computed by Redis so that only 40 characters travel.
const VERSION_FN: &str = r"
local function version(key)
  local t = redis.call('TYPE', key)['ok']
  if t == 'hash' then
    local v = redis.call('HMGET', key, 'lcut', 'checksum', 'fence', 'encoding')
    return 'h:' .. (v[1] or '') .. ':' .. (v[3] or '') .. ':'
      .. redis.call('HSTRLEN', key, 'config') .. ':' .. (v[4] or '') .. ':' .. (v[2] or '')
  elseif t == 'string' then
    return 's:' .. redis.sha1hex(redis.call('GET', key))
  elseif t == 'none' then
    return false
  end
  return 'other:' .. t
end
";

const VERSION: &str = "return version(KEYS[1])";

/// `{kind, payload, lcut, encoding}`, or `{}` when there is no value.
const GET: &str = r"
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'hash' then
  local v = redis.call('HMGET', KEYS[1], 'config', 'lcut', 'encoding')
  if not v[1] then return {} end
  return {'hash', v[1], v[2] or '', v[3] or ''}
elseif t == 'string' then
  return {'string', redis.call('GET', KEYS[1]), '', ''}
elseif t == 'none' then
  return {}
end
return {'other', t, '', ''}
";

/// KEYS: data, lease. ARGV: holder ('' for no fence), token, lcut, checksum, payload.
/// `{'stored' | 'newer' | 'fenced', version or who holds the lease}`.
const SET: &str = r"
if ARGV[1] ~= '' then
  local h = redis.call('GET', KEYS[2])
  if h ~= ARGV[1] then return {'fenced', h or ''} end
end
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'hash' then
  local f = tonumber(redis.call('HGET', KEYS[1], 'fence') or '0') or 0
  if f > tonumber(ARGV[2]) then return {'fenced', 'token ' .. f} end
  local l = tonumber(redis.call('HGET', KEYS[1], 'lcut') or '0') or 0
  if l > tonumber(ARGV[3]) and redis.call('HEXISTS', KEYS[1], 'config') == 1 then
    return {'newer', version(KEYS[1])}
  end
elseif t ~= 'none' then
  redis.call('DEL', KEYS[1])
end
redis.call('HSET', KEYS[1], 'encoding', 'plain_text', 'lcut', ARGV[3], 'checksum', ARGV[4],
  'fence', ARGV[2], 'config', ARGV[5])
return {'stored', version(KEYS[1])}
";

/// KEYS: lease, its token counter. ARGV: holder, ttl in ms. `{holder or '', token or 0}`.
/// `SET NX PX` takes a free lease and draws a new token; the holder renews with `PEXPIRE`.
const ACQUIRE: &str = r"
local h = redis.call('GET', KEYS[1])
if h == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {h, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
if not h and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {ARGV[1], redis.call('INCR', KEYS[2])}
end
return {h or '', 0}
";

const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
";

/// Connection settings of a [`RedisStore`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Time to connect (1 s).
    pub connect_timeout: Duration,
    /// Time for one command's answer (2 s): a Redis that hangs is a failed read, and the
    /// last good ruleset keeps serving.
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
        }
    }
}

struct Scripts {
    version: redis::Script,
    get: redis::Script,
    set: redis::Script,
    acquire: redis::Script,
    release: redis::Script,
}

/// A [`DataStore`] on Redis (feature `redis`; `rediss://` URLs with feature `redis-tls`).
///
/// A payload is kept as the forward proxy keeps it: a hash under the official core's key
/// (see [`store_key`](crate::store_key)) with fields `encoding` (`plain_text`), `lcut` (the
/// payload's time) and `config` (the JSON), plus `checksum` and `fence` (the writer's
/// token). A plain string value under the key (another adapter's `SET`) is read too. The
/// writer lease is a string key holding the holder's name, taken with `SET NX PX`; its
/// fencing tokens come from `INCR` on `<lease key>::token`. Writes and lease changes are
/// Lua scripts, so each is atomic. Redis Cluster is not supported (a write touches the
/// data key and the lease key).
///
/// The connection is made at the first call and re-made after a failure: a store created
/// while Redis is down works once it is up.
///
/// A fleet: every instance runs the same code; those allowed to write contend for the
/// lease, one of them polls Statsig, and all serve what is in Redis.
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use flagcore::{Store, User};
/// use flagcore_sync::{DataStoreOptions, DataStoreSync, RedisStore, StatsigOptions};
///
/// # async fn run() -> Result<(), flagcore_sync::SyncError> {
/// let secret = std::env::var("STATSIG_SERVER_SECRET").unwrap_or_default();
/// let redis = Arc::new(RedisStore::open("redis://flags-redis.internal:6379/")?);
/// let may_write = std::env::var("FLAGS_WRITER").is_ok();
/// let options = if may_write {
///     DataStoreOptions::writer(StatsigOptions::new(&secret))
/// } else {
///     DataStoreOptions::follower(&secret)
/// }
/// .interval(Duration::from_secs(1))
/// .last_good_file("/var/lib/my-service/flags.json");
///
/// let store = Arc::new(Store::new());
/// let (sync, report) =
///     DataStoreSync::initialize(store.clone(), redis, options, Duration::from_secs(3)).await?;
/// println!("serving from {:?}; {:?}", report.source, sync.store_status().role);
/// let on = store.check_gate(&User::with_user_id("u1"), "new_checkout");
/// sync.shutdown().await; // a writer gives the lease up: another takes over at once
/// # Ok(()) }
/// ```
pub struct RedisStore {
    connection: ConnectionManager,
    scripts: Arc<Scripts>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").finish_non_exhaustive()
    }
}

fn store_error(e: redis::RedisError) -> SyncError {
    SyncError::DataStore(Box::new(e))
}

impl RedisStore {
    /// A store on the Redis at `url` (`redis://host:port/db`), with default options.
    ///
    /// # Errors
    /// [`SyncError::DataStore`] when the URL is malformed. Redis being down is no error
    /// here: calls fail until it is up.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn open(url: &str) -> Result<RedisStore, SyncError> {
        RedisStore::with_options(url, RedisOptions::default())
    }

    /// A store on the Redis at `url`, with `options`.
    ///
    /// # Errors
    /// As [`RedisStore::open`].
    pub fn with_options(url: &str, options: RedisOptions) -> Result<RedisStore, SyncError> {
        let client = redis::Client::open(url).map_err(store_error)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection =
            ConnectionManager::new_lazy_with_config(client, config).map_err(store_error)?;
        let with_version = |body: &str| redis::Script::new(&format!("{VERSION_FN}\n{body}"));
        let scripts = Arc::new(Scripts {
            version: with_version(VERSION),
            get: redis::Script::new(GET),
            set: with_version(SET),
            acquire: redis::Script::new(ACQUIRE),
            release: redis::Script::new(RELEASE),
        });
        Ok(RedisStore {
            connection,
            scripts,
        })
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl DataStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<StoreValue>> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            let mut parts: Vec<Vec<u8>> = self
                .scripts
                .get
                .key(key)
                .invoke_async(&mut c)
                .await
                .map_err(store_error)?;
            if parts.len() < 4 {
                return Ok(None);
            }
            let encoding = text(parts.pop().unwrap_or_default());
            let lcut = text(parts.pop().unwrap_or_default());
            let data = parts.pop().unwrap_or_default();
            let kind = text(parts.pop().unwrap_or_default());
            if kind == "other" {
                return Err(SyncError::StoreValue {
                    reason: format!("the key holds a Redis {}", text(data)),
                });
            }
            if !encoding.is_empty() && encoding != "plain_text" {
                return Err(SyncError::StoreValue {
                    reason: format!("unsupported encoding {encoding:?}"),
                });
            }
            Ok(Some(StoreValue::new(data, lcut.parse().ok())))
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        meta: &'a WriteMeta,
    ) -> StoreFuture<'a, Written> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            let (lease_key, holder, token) = match &meta.fence {
                Some(f) => (f.lease_key.as_str(), f.holder.as_str(), f.token),
                None => (key, "", 0),
            };
            let (outcome, detail): (String, String) = self
                .scripts
                .set
                .key(key)
                .key(lease_key)
                .arg(holder)
                .arg(token)
                .arg(meta.time)
                .arg(meta.checksum.as_deref().unwrap_or(""))
                .arg(value)
                .invoke_async(&mut c)
                .await
                .map_err(store_error)?;
            match outcome.as_str() {
                "stored" => Ok(Written::Stored(detail)),
                "newer" => Ok(Written::KeptNewer(detail)),
                _ => Err(SyncError::Fenced {
                    by: Some(detail).filter(|d| !d.is_empty()),
                }),
            }
        })
    }

    fn version<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            self.scripts
                .version
                .key(key)
                .invoke_async(&mut c)
                .await
                .map_err(store_error)
        })
    }

    fn acquire_lease<'a>(
        &'a self,
        key: &'a str,
        holder: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, Lease> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let (who, token): (String, u64) = self
                .scripts
                .acquire
                .key(key)
                .key(format!("{key}::token"))
                .arg(holder)
                .arg(ttl_ms)
                .invoke_async(&mut c)
                .await
                .map_err(store_error)?;
            let held = who == holder && token > 0;
            Ok(Lease {
                holder: Some(who).filter(|w| !w.is_empty()),
                token: held.then_some(token),
            })
        })
    }

    fn release_lease<'a>(&'a self, key: &'a str, holder: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            let _: i64 = self
                .scripts
                .release
                .key(key)
                .arg(holder)
                .invoke_async(&mut c)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }
}

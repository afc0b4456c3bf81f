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

/// The version marker in the adapter layout (a field of one hash): the time written with
/// the value, its length and its fencing token; the SHA-1 of the value when no time was
/// written. KEYS: values, times, fences. ARGV: field.
const ADAPTER_VERSION_FN: &str = r"
local function version(h, th, fh, f)
  if redis.call('HEXISTS', h, f) == 0 then return false end
  local t = redis.call('HGET', th, f)
  if not t then return 'a:' .. redis.sha1hex(redis.call('HGET', h, f)) end
  return 'a:' .. t .. ':' .. redis.call('HSTRLEN', h, f) .. ':' .. (redis.call('HGET', fh, f) or '')
end
";

const ADAPTER_VERSION: &str = "return version(KEYS[1], KEYS[2], KEYS[3], ARGV[1])";

/// KEYS: values, times, fences, lease. ARGV: field, holder ('' for no fence), token, encoded
/// value, time. `{'stored' | 'fenced', version or who holds the lease}`.
const ADAPTER_SET: &str = r"
if ARGV[2] ~= '' then
  local h = redis.call('GET', KEYS[4])
  if h ~= ARGV[2] then return {'fenced', h or ''} end
end
local f = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0') or 0
if f > tonumber(ARGV[3]) then return {'fenced', 'token ' .. f} end
if ARGV[2] ~= '' then redis.call('HSET', KEYS[3], ARGV[1], ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5])
return {'stored', version(KEYS[1], KEYS[2], KEYS[3], ARGV[1])}
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
    /// How values are laid out ([`RedisLayout::KeyHash`], the forward proxy's).
    pub layout: RedisLayout,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            layout: RedisLayout::default(),
        }
    }
}

impl RedisOptions {
    /// Sets the layout.
    ///
    /// ```
    /// use flagcore_sync::{RedisLayout, RedisOptions};
    /// // Share a Redis with official SDKs that use Statsig's Redis data adapter.
    /// let options = RedisOptions::default().layout(RedisLayout::adapter());
    /// ```
    pub fn layout(mut self, layout: RedisLayout) -> Self {
        self.layout = layout;
        self
    }

    /// Sets the time for one command's answer.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }
}

/// How a [`RedisStore`] lays values out in Redis. The keys are the official core's in both
/// (see [`store_key`](crate::store_key)); what differs is where a value lives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisLayout {
    /// A hash under each key, as Statsig's forward proxy writes it: `config` (the value),
    /// `lcut` (the payload's time), `encoding` (`plain_text`), plus flagcore's `checksum`
    /// and `fence`. A plain string under the key (`SET` by another adapter) is read too.
    #[default]
    KeyHash,
    /// The layout of Statsig's Redis data adapter (`statsig-node-redis`, the official
    /// `DataStore` on Redis): one hash named `hash` whose fields are the keys and whose
    /// values are the base64 of the zlib-compressed value, and a hash `<hash>-time` with the
    /// time given to each `set` (the official core gives the time it received the payload;
    /// flagcore the time it writes). Fencing tokens are kept in `<hash>-flagcore-fence`.
    /// A value here has no payload time, so a write replaces the value; followers still
    /// install only payloads newer than the one serving.
    Adapter {
        /// The hash's name (`statsig-redis` by default in the adapter).
        hash: String,
    },
}

impl RedisLayout {
    /// [`RedisLayout::Adapter`] with the adapter's default hash, `statsig-redis`.
    pub fn adapter() -> RedisLayout {
        RedisLayout::Adapter {
            hash: "statsig-redis".into(),
        }
    }
}

/// The largest value the adapter layout inflates (256 MiB).
const MAX_INFLATED: u64 = 256 << 20;

/// The adapter layout's encoding of a value: base64 of its zlib form.
fn adapter_encode(value: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = z.write_all(value);
    let compressed = z.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD
        .encode(compressed)
        .into_bytes()
}

fn adapter_decode(stored: &[u8]) -> Result<Vec<u8>, SyncError> {
    use base64::Engine as _;
    use std::io::Read as _;
    let unusable = |reason: String| SyncError::StoreValue { reason };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(stored.trim_ascii())
        .map_err(|e| unusable(format!("not base64 (the adapter layout): {e}")))?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&raw[..])
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut out)
        .map_err(|e| unusable(format!("not zlib (the adapter layout): {e}")))?;
    if out.len() as u64 > MAX_INFLATED {
        return Err(unusable(format!("inflates past {MAX_INFLATED} bytes")));
    }
    Ok(out)
}

struct Scripts {
    version: redis::Script,
    get: redis::Script,
    set: redis::Script,
    acquire: redis::Script,
    release: redis::Script,
    adapter_version: redis::Script,
    adapter_set: redis::Script,
}

/// A [`DataStore`] on Redis (feature `redis`; `rediss://` URLs with feature `redis-tls`).
///
/// By default ([`RedisLayout::KeyHash`]) a value is kept as the forward proxy keeps it: a
/// hash under the official core's key (see [`store_key`](crate::store_key)) with fields
/// `encoding` (`plain_text`), `lcut` (the payload's time) and `config` (the JSON), plus
/// `checksum` and `fence` (the writer's token). A plain string value under the key
/// (another adapter's `SET`) is read too. With [`RedisLayout::Adapter`], values are where
/// Statsig's Redis data adapter keeps them (one hash of the official keys), to share a
/// Redis with official SDKs that use it. Change notices are published on
/// `flagcore|changed|<key>`, and a subscription has a connection of its own. The
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
/// use flagcore_sync::{DataStoreOptions, DataStoreSync, IdListOptions, RedisStore, StatsigOptions};
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
/// .id_lists(IdListOptions::new(&secret))
/// .notices(true)
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
    layout: RedisLayout,
    /// For the subscription's own connection (never printed: it may hold a password).
    url: String,
    options: RedisOptions,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
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
            adapter_version: redis::Script::new(&format!(
                "{ADAPTER_VERSION_FN}\n{ADAPTER_VERSION}"
            )),
            adapter_set: redis::Script::new(&format!("{ADAPTER_VERSION_FN}\n{ADAPTER_SET}")),
        });
        Ok(RedisStore {
            connection,
            scripts,
            layout: options.layout.clone(),
            url: url.to_owned(),
            options,
        })
    }
}

/// The hashes of the adapter layout: values, times, fencing tokens.
struct AdapterHashes {
    values: String,
    times: String,
    fences: String,
}

impl AdapterHashes {
    /// An invocation of `script` with the three hashes as its first keys.
    fn keyed<'s>(&self, script: &'s redis::Script) -> redis::ScriptInvocation<'s> {
        let mut invocation = script.key(&self.values);
        invocation.key(&self.times).key(&self.fences);
        invocation
    }
}

impl RedisStore {
    fn adapter(&self) -> Option<AdapterHashes> {
        match &self.layout {
            RedisLayout::KeyHash => None,
            RedisLayout::Adapter { hash } => Some(AdapterHashes {
                values: hash.clone(),
                times: format!("{hash}-time"),
                fences: format!("{hash}-flagcore-fence"),
            }),
        }
    }

    async fn adapter_get(
        &self,
        h: &AdapterHashes,
        key: &str,
    ) -> Result<Option<StoreValue>, SyncError> {
        let mut c = self.connection.clone();
        let (value, time): (Option<Vec<u8>>, Option<String>) = redis::pipe()
            .hget(&h.values, key)
            .hget(&h.times, key)
            .query_async(&mut c)
            .await
            .map_err(store_error)?;
        let Some(value) = value else {
            return Ok(None);
        };
        let data = adapter_decode(&value)?;
        Ok(Some(StoreValue::new(
            data,
            time.and_then(|t| t.parse().ok()),
        )))
    }

    async fn adapter_set(
        &self,
        h: &AdapterHashes,
        key: &str,
        value: &[u8],
        meta: &WriteMeta,
    ) -> Result<Written, SyncError> {
        let mut c = self.connection.clone();
        let (lease_key, holder, token) = match &meta.fence {
            Some(f) => (f.lease_key.as_str(), f.holder.as_str(), f.token),
            None => (h.values.as_str(), "", 0),
        };
        let now = crate::http::now_ms();
        let (outcome, detail): (String, String) = h
            .keyed(&self.scripts.adapter_set)
            .key(lease_key)
            .arg(key)
            .arg(holder)
            .arg(token)
            .arg(adapter_encode(value))
            .arg(now)
            .invoke_async(&mut c)
            .await
            .map_err(store_error)?;
        written(&outcome, detail)
    }
}

/// What a write script's answer `{outcome, detail}` means.
fn written(outcome: &str, detail: String) -> Result<Written, SyncError> {
    match outcome {
        "stored" => Ok(Written::Stored(detail)),
        "newer" => Ok(Written::KeptNewer(detail)),
        _ => Err(SyncError::Fenced {
            by: Some(detail).filter(|d| !d.is_empty()),
        }),
    }
}

/// The pub/sub channel of the notices of `key`.
fn channel(key: &str) -> String {
    format!("flagcore|changed|{key}")
}

/// `url` asking for RESP3, the protocol of push messages (the subscription's connection
/// only: the store's other commands keep RESP2, whose replies the scripts are written for).
fn resp3(url: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}protocol=resp3")
}

/// Time between two attempts to subscribe again after the subscription's connection broke.
const RESUBSCRIBE: Duration = Duration::from_millis(200);

/// Forwards the messages of a subscription as a growing count until the receiver is
/// dropped; subscribes again (reconnecting) after a disconnection, and counts that too.
async fn forward_notices(
    mut manager: ConnectionManager,
    channel: String,
    mut pushes: tokio::sync::mpsc::UnboundedReceiver<redis::PushInfo>,
    count: tokio::sync::watch::Sender<u64>,
) {
    loop {
        let push = tokio::select! {
            () = count.closed() => return,
            push = pushes.recv() => push,
        };
        let Some(push) = push else {
            return;
        };
        match push.kind {
            redis::PushKind::Message => count.send_modify(|n| *n += 1),
            redis::PushKind::Disconnection => loop {
                tokio::select! {
                    () = count.closed() => return,
                    () = tokio::time::sleep(RESUBSCRIBE) => {}
                }
                if manager.subscribe(&channel).await.is_ok() {
                    count.send_modify(|n| *n += 1);
                    break;
                }
            },
            _ => {}
        }
    }
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl DataStore for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<StoreValue>> {
        Box::pin(async move {
            if let Some(h) = self.adapter() {
                return self.adapter_get(&h, key).await;
            }
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
            if let Some(h) = self.adapter() {
                return self.adapter_set(&h, key, value, meta).await;
            }
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
            written(&outcome, detail)
        })
    }

    fn version<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            if let Some(h) = self.adapter() {
                return h
                    .keyed(&self.scripts.adapter_version)
                    .arg(key)
                    .invoke_async(&mut c)
                    .await
                    .map_err(store_error);
            }
            self.scripts
                .version
                .key(key)
                .invoke_async(&mut c)
                .await
                .map_err(store_error)
        })
    }

    fn notify_changed<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.connection.clone();
            let _receivers: i64 = redis::cmd("PUBLISH")
                .arg(channel(key))
                .arg("1")
                .query_async(&mut c)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    /// A subscription on a connection of its own (RESP3 push messages, Redis 6 or later),
    /// forwarded by a task until the receiver is dropped.
    fn subscribe_changes<'a>(
        &'a self,
        key: &'a str,
    ) -> StoreFuture<'a, Option<tokio::sync::watch::Receiver<u64>>> {
        Box::pin(async move {
            let client = redis::Client::open(resp3(&self.url)).map_err(store_error)?;
            let (push_tx, pushes) = tokio::sync::mpsc::unbounded_channel();
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.options.connect_timeout))
                .set_response_timeout(Some(self.options.response_timeout))
                .set_number_of_retries(1)
                .set_push_sender(push_tx)
                .set_automatic_resubscription();
            let mut manager = ConnectionManager::new_with_config(client, config)
                .await
                .map_err(store_error)?;
            let channel = channel(key);
            manager.subscribe(&channel).await.map_err(store_error)?;
            let (count, notices) = tokio::sync::watch::channel(0);
            tokio::spawn(forward_notices(manager, channel, pushes, count));
            Ok(Some(notices))
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

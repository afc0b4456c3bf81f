//! # flagcore-serve
//!
//! An [OFREP](https://github.com/open-feature/protocol) sidecar: the OpenFeature Remote
//! Evaluation Protocol over HTTP, answered from a flagcore [`Store`] that `flagcore-sync`
//! keeps fresh. Any language with an OpenFeature OFREP provider (Go, Java, Python, .NET,
//! JavaScript…) gets Statsig's answers from it over loopback.
//!
//! ```text
//!  OFREP client ─POST /ofrep/v1/evaluate/flags/{key}──► axum ──► context → user ──► resolve
//!               ─POST /ofrep/v1/evaluate/flags (ETag)─►  │        (flagcore-openfeature)   │
//!  Prometheus ──GET /metrics, GET /healthz ────────────►  │                                 ▼
//!                                                         └───── Store ◄── flagcore-sync (Statsig,
//!                                                                  │        file, Redis)
//!                                               exposures ──► EventLogger ──► Statsig / JSONL
//! ```
//!
//! ## Endpoints
//!
//! - `POST /ofrep/v1/evaluate/flags/{key}` with `{"context": {...}}`: one flag. `200` with
//!   `key`, `value`, `reason`, `variant`, `metadata`; `404` `FLAG_NOT_FOUND`; `400`
//!   `PARSE_ERROR` (the body is not JSON), `INVALID_CONTEXT` (no `context` object, or a key
//!   of the wrong type), `TARGETING_KEY_MISSING` (with `--require-targeting-key`),
//!   `GENERAL`; `503` before the first ruleset is installed. Logs the exposure. There is no
//!   `TYPE_MISMATCH` here: an OFREP request names no type (the protocol's ADR-0003), the
//!   client checks the value's type against the one it asked for.
//! - `POST /ofrep/v1/evaluate/flags`: every gate, config, experiment and layer for the
//!   context, sorted by key, with an `ETag` (a hash of the body); a request whose
//!   `If-None-Match` names the current ETag gets `304` and no body. Logs no exposures (a
//!   bulk evaluation is a cache fill, not a use).
//! - `GET /healthz`: `200` once a ruleset is installed (`rulesetTime`, `rulesetAgeSeconds`,
//!   the source's state), else `503`.
//! - `GET /metrics`: Prometheus text: `flagcore_evaluations_total{kind,outcome}`,
//!   `flagcore_ruleset_age_seconds`, `flagcore_sync_errors_total`,
//!   `flagcore_sync_consecutive_failures`, `flagcore_exposures_dropped_total{reason}`,
//!   `flagcore_exposures_sent_total`.
//!
//! Flag keys (`name`, `gate:name`, `config:name`, `experiment:name`, `layer:name`,
//! `entity.param`), reasons, variants and metadata are those of
//! [`flagcore_openfeature::resolve`]; the context ↔ user mapping is
//! [`flagcore_openfeature::context`] (`targetingKey` → `userID`, `customIDs` /
//! `stableID`, the standard fields, everything else → `custom`).
//!
//! ## What it does not do
//!
//! No authentication (bind it to loopback or a private network), no TLS, no OFREP event
//! streams (clients poll the bulk endpoint with `If-None-Match`). The OFREP schema lists
//! `DEFAULT` in ADR-0006's examples but not in its success-reason enum; the sidecar sends
//! OpenFeature's `DEFAULT` for a spec's default value all the same.
//!
//! ## Getting started
//!
//! ```no_run
//! use clap::Parser;
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(flatten)]
//!     serve: flagcore_serve::ServeArgs,
//! }
//! # #[tokio::main] async fn main() -> Result<(), flagcore_serve::Error> {
//! flagcore_serve::serve(Cli::parse().serve).await
//! # }
//! ```
//!
//! ## Features
//!
//! - `redis`: `--redis-url`, the Redis data store of `flagcore-sync` as the source.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod http;
mod metrics;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use flagcore::{Options, Store};
use flagcore_openfeature::context::ContextOptions;
use flagcore_openfeature::resolve::CatalogCache;
use flagcore_sync::{
    Destination, EventLogger, FileWatcher, LoggerOptions, StatsigOptions, StatsigPoller, Status,
};
use tokio::sync::watch;

/// The options of `flagcore serve`.
#[derive(Clone, Debug, clap::Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8016")]
    pub listen: SocketAddr,
    /// Serve the download_config_specs payload in this file, reloaded when it changes.
    #[arg(long, value_name = "PATH", conflicts_with = "server_secret")]
    pub file: Option<PathBuf>,
    /// Poll Statsig with this server secret.
    #[arg(long, env = "STATSIG_SERVER_SECRET", hide_env_values = true)]
    pub server_secret: Option<String>,
    /// The download_config_specs URL (Statsig's CDN by default; a proxy, a test server).
    #[arg(long, value_name = "URL")]
    pub api_url: Option<String>,
    /// Follow the ruleset that a fleet shares in this Redis (with --server-secret).
    #[cfg(feature = "redis")]
    #[arg(long, value_name = "URL", requires = "server_secret")]
    pub redis_url: Option<String>,
    /// With --redis-url: contend for the writer lease (poll Statsig, write Redis).
    #[cfg(feature = "redis")]
    #[arg(long, requires = "redis_url")]
    pub redis_writer: bool,
    /// Seconds between polls of the source.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub poll_interval: f64,
    /// Seconds to wait for the first ruleset before serving (503 until it arrives).
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub init_timeout: f64,
    /// The environment tier (`production`, `staging`…); the payload's default when unset.
    #[arg(long)]
    pub environment: Option<String>,
    /// Where exposures go: `statsig` (the default with --server-secret), `off` (the
    /// default otherwise) or a JSON-lines file path.
    #[arg(long, value_name = "statsig|off|PATH")]
    pub exposures: Option<String>,
    /// Statsig's log_event URL (a proxy).
    #[arg(long, value_name = "URL")]
    pub events_url: Option<String>,
    /// Answer TARGETING_KEY_MISSING for contexts without a targetingKey (OFREP's schema
    /// requires one; Statsig evaluates users without a userID, so it is off by default).
    #[arg(long)]
    pub require_targeting_key: bool,
}

impl ServeArgs {
    /// Arguments that serve `file` on `listen`, with the defaults otherwise.
    pub fn file(listen: SocketAddr, file: impl Into<PathBuf>) -> ServeArgs {
        ServeArgs {
            listen,
            file: Some(file.into()),
            server_secret: None,
            api_url: None,
            #[cfg(feature = "redis")]
            redis_url: None,
            #[cfg(feature = "redis")]
            redis_writer: false,
            poll_interval: 10.0,
            init_timeout: 5.0,
            environment: None,
            exposures: None,
            events_url: None,
            require_targeting_key: false,
        }
    }
}

/// Why the sidecar could not start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The options are inconsistent (no source, a bad duration…): fix them.
    #[error("invalid options: {0}")]
    Options(String),
    /// The listen address cannot be bound (in use, no permission).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server failed while serving.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
    /// A sync source or the exposure logger could not start.
    #[error("cannot start syncing")]
    Sync(#[from] flagcore_sync::SyncError),
}

/// The ruleset source behind a sidecar.
enum Source {
    Statsig(StatsigPoller),
    File(FileWatcher),
    #[cfg(feature = "redis")]
    Redis(flagcore_sync::DataStoreSync),
}

impl Source {
    fn watch(&self) -> watch::Receiver<Status> {
        match self {
            Source::Statsig(s) => s.watch(),
            Source::File(s) => s.watch(),
            #[cfg(feature = "redis")]
            Source::Redis(s) => s.watch(),
        }
    }

    async fn shutdown(self) {
        match self {
            Source::Statsig(s) => s.shutdown().await,
            Source::File(s) => s.shutdown().await,
            #[cfg(feature = "redis")]
            Source::Redis(s) => s.shutdown().await,
        }
    }
}

/// The sidecar's shared state: the store, the catalog of its ruleset, the metrics, and
/// what feeds it. Build one with [`Sidecar::new`] to serve a store you keep yourself.
pub struct Sidecar {
    store: Arc<Store>,
    catalogs: CatalogCache,
    context: ContextOptions,
    logger: Option<Arc<EventLogger>>,
    status: Option<watch::Receiver<Status>>,
    metrics: metrics::Metrics,
}

impl core::fmt::Debug for Sidecar {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sidecar").finish_non_exhaustive()
    }
}

impl Sidecar {
    /// A sidecar serving `store` (no source status, no exposure logger).
    pub fn new(store: Arc<Store>) -> Sidecar {
        Sidecar {
            store,
            catalogs: CatalogCache::new(),
            context: ContextOptions::default(),
            logger: None,
            status: None,
            metrics: metrics::Metrics::new(),
        }
    }

    /// How request contexts map to users.
    pub fn context_options(mut self, options: ContextOptions) -> Self {
        self.context = options;
        self
    }

    /// The exposure logger (the store's sink): its counters go to `/metrics`, and layer
    /// parameter reads are logged through it.
    pub fn logger(mut self, logger: Arc<EventLogger>) -> Self {
        self.logger = Some(logger);
        self
    }

    /// The source's status, for `/healthz` and `/metrics` (sync errors are counted from
    /// its changes).
    pub fn status(mut self, status: watch::Receiver<Status>) -> Self {
        self.status = Some(status);
        self
    }

    /// Binds `addr` and serves until [`Running::shutdown`].
    pub async fn bind(self, addr: SocketAddr) -> Result<Running, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let sidecar = Arc::new(self);
        let counter = sidecar.status.clone().map(|rx| {
            let s = sidecar.clone();
            tokio::spawn(async move { s.metrics.count_sync_errors(rx).await })
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = http::router(sidecar);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Running {
            addr: local,
            stop: Some(stop),
            server,
            counter,
            source: None,
            logger: None,
        })
    }
}

/// A sidecar that is serving.
#[derive(Debug)]
pub struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    counter: Option<tokio::task::JoinHandle<()>>,
    source: Option<SourceBox>,
    logger: Option<Arc<EventLogger>>,
}

struct SourceBox(Source);

impl core::fmt::Debug for SourceBox {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Source")
    }
}

impl Running {
    /// The address it listens on (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes the requests in flight, stops the source and flushes the
    /// exposures (5 s at most).
    pub async fn shutdown(mut self) -> Result<(), Error> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let served = (&mut self.server).await;
        if let Some(c) = self.counter.take() {
            c.abort();
        }
        if let Some(SourceBox(s)) = self.source.take() {
            s.shutdown().await;
        }
        if let Some(l) = self.logger.take() {
            l.shutdown(Duration::from_secs(5)).await;
        }
        match served {
            Ok(r) => r.map_err(Error::Serve),
            Err(e) => Err(Error::Serve(std::io::Error::other(e))),
        }
    }
}

fn seconds(name: &str, s: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s).map_err(|_| Error::Options(format!("--{name}: {s}")))
}

/// Starts the sidecar of `args`: the exposure logger, the source (waiting at most
/// `--init-timeout` for the first ruleset), and the server. Must run inside a tokio runtime.
pub async fn start(args: ServeArgs) -> Result<Running, Error> {
    let interval = seconds("poll-interval", args.poll_interval)?;
    let init_timeout = seconds("init-timeout", args.init_timeout)?;
    let secret = args.server_secret.clone();
    let logger = match (args.exposures.as_deref(), &secret) {
        (Some("off"), _) | (None, None) => None,
        (Some("statsig"), None) => {
            return Err(Error::Options(
                "--exposures statsig needs --server-secret".into(),
            ))
        }
        (Some("statsig") | None, Some(secret)) => {
            let destination = match &args.events_url {
                Some(url) => Destination::Statsig {
                    url: url.clone(),
                    server_secret: secret.clone(),
                },
                None => Destination::statsig(secret),
            };
            Some(destination)
        }
        (Some(path), _) => Some(Destination::JsonLines(path.into())),
    }
    .map(|destination| {
        let mut options = LoggerOptions::new(destination);
        options.environment = args.environment.clone();
        EventLogger::start(options).map(Arc::new)
    })
    .transpose()?;
    let store = Arc::new(Store::with_options(Options {
        environment: args.environment.clone(),
        exposure_sink: logger.clone().map(|l| l as Arc<dyn flagcore::ExposureSink>),
        ..Options::default()
    }));
    let statsig = |secret: &str| {
        let mut o = StatsigOptions::new(secret).interval(interval);
        if let Some(url) = &args.api_url {
            o = o.specs_url(url);
        }
        o
    };
    #[cfg(feature = "redis")]
    let redis = args.redis_url.clone();
    #[cfg(not(feature = "redis"))]
    let redis: Option<String> = None;
    let source = match (&args.file, redis, &secret) {
        (Some(path), _, _) => {
            let w = FileWatcher::start(store.clone(), path, interval);
            w.wait_for_first_sync(init_timeout).await;
            Source::File(w)
        }
        #[cfg(feature = "redis")]
        (None, Some(url), Some(secret)) => {
            let data_store = Arc::new(flagcore_sync::RedisStore::open(&url)?);
            let options = if args.redis_writer {
                flagcore_sync::DataStoreOptions::writer(statsig(secret))
            } else {
                flagcore_sync::DataStoreOptions::follower(secret)
            }
            .interval(interval);
            let (sync, _) = flagcore_sync::DataStoreSync::initialize(
                store.clone(),
                data_store,
                options,
                init_timeout,
            )
            .await?;
            Source::Redis(sync)
        }
        (None, _, Some(secret)) => {
            let p = StatsigPoller::start(store.clone(), statsig(secret))?;
            p.wait_for_first_sync(init_timeout).await;
            Source::Statsig(p)
        }
        (None, _, None) => {
            return Err(Error::Options(
                "no ruleset source: give --file or --server-secret".into(),
            ))
        }
    };
    let mut sidecar = Sidecar::new(store)
        .context_options(
            ContextOptions::default().require_targeting_key(args.require_targeting_key),
        )
        .status(source.watch());
    if let Some(l) = &logger {
        sidecar = sidecar.logger(l.clone());
    }
    let mut running = sidecar.bind(args.listen).await?;
    running.source = Some(SourceBox(source));
    running.logger = logger;
    Ok(running)
}

/// Runs the sidecar of `args` until Ctrl-C (SIGINT) or SIGTERM, then shuts it down.
pub async fn serve(args: ServeArgs) -> Result<(), Error> {
    let running = start(args).await?;
    eprintln!(
        "flagcore serve: listening on http://{}",
        running.local_addr()
    );
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(Error::Serve)?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    running.shutdown().await
}

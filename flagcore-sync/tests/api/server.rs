//! A fake Statsig on 127.0.0.1, and the helpers the tests share.
//!
//! The server runs on a thread and a tokio runtime of its own, in real time, so that the
//! tests can run the sources on a runtime whose clock is paused and moves only when a test
//! says so (see [`freeze`]). It speaks HTTP/1.1 (one request per connection) on the paths of
//! Statsig's API: `download_config_specs`, `get_id_lists`, ID-list files (with
//! `Range: bytes=N-`) and `log_event`, each answering as the test sets it, faults included.

use std::collections::HashMap;
use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A connection the server speaks HTTP on: plain TCP, or TLS over it.
pub(crate) trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

/// Turns an accepted TCP connection into the connection HTTP is spoken on (`None` when it
/// fails, for example a refused TLS handshake).
pub(crate) type Accept =
    Box<dyn Fn(TcpStream) -> Pin<Box<dyn Future<Output = Option<Box<dyn Conn>>> + Send>> + Send>;

/// How an endpoint answers.
#[derive(Clone, Debug)]
pub(crate) enum Reply {
    /// 200 with this JSON body.
    Serve(Vec<u8>),
    /// This status, with a `Retry-After` header when given.
    Status(u16, Option<String>),
    /// This status, with the `Retry-After` value the function gives at the moment the
    /// server answers (an HTTP date made then is not shortened by the test's own delays).
    StatusRetryAfterAtAnswer(u16, fn() -> String),
    /// Never answers (the client times out).
    Hang,
    /// Announces the whole body, sends half of it, and closes the connection.
    Truncated(Vec<u8>),
    /// 200 with an HTML error page (a captive portal, a misrouted proxy…).
    Html,
}

/// A request the server received.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    headers: Vec<(String, String)>,
    /// The body, gunzipped when it came gzipped.
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

pub(crate) const SPECS: &str = "/v2/download_config_specs/";
pub(crate) const MANIFEST: &str = "/v1/get_id_lists";
pub(crate) const LOG: &str = "/v1/log_event";

struct State {
    specs: Reply,
    manifest: Reply,
    log: Reply,
    /// Other paths: ID-list files.
    files: HashMap<String, Vec<u8>>,
    /// Answer range requests with the whole file (as a server without range support).
    ignore_ranges: bool,
    /// Keep the requests received (for `requests`, `count`, `events`).
    record: bool,
    requests: Vec<Request>,
}

/// The fake Statsig. Dropping it stops it (hanging connections are closed).
pub(crate) struct Server {
    addr: SocketAddr,
    scheme: &'static str,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub(crate) fn start() -> Server {
        Server::start_with(
            "http",
            Box::new(|c| Box::pin(async move { Some(Box::new(c) as Box<dyn Conn>) })),
        )
    }

    /// A server whose connections `accept` sets up (`scheme` names it in the URLs).
    pub(crate) fn start_with(scheme: &'static str, accept: Accept) -> Server {
        let state = Arc::new(Mutex::new(State {
            specs: Reply::Status(404, None),
            manifest: Reply::Serve(b"{}".to_vec()),
            log: Reply::Serve(br#"{"success": true}"#.to_vec()),
            files: HashMap::new(),
            ignore_ranges: false,
            record: true,
            requests: Vec::new(),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let shared = state.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                addr_tx
                    .send(listener.local_addr().expect("addr"))
                    .expect("addr");
                let accept = async {
                    while let Ok((conn, _)) = listener.accept().await {
                        let (setup, shared) = (accept(conn), shared.clone());
                        tokio::spawn(async move {
                            if let Some(conn) = setup.await {
                                serve(conn, shared).await;
                            }
                        });
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime cancels the connections, hanging ones included.
        });
        let addr = addr_rx.recv().expect("the server's address");
        Server {
            addr,
            scheme,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    pub(crate) fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub(crate) fn specs_url(&self) -> String {
        format!("{}/v2/download_config_specs", self.base())
    }

    pub(crate) fn log_url(&self) -> String {
        format!("{}{LOG}", self.base())
    }

    pub(crate) fn manifest_url(&self) -> String {
        format!("{}{MANIFEST}", self.base())
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub(crate) fn set_specs(&self, reply: Reply) {
        self.with(|s| s.specs = reply);
    }

    pub(crate) fn set_log(&self, reply: Reply) {
        self.with(|s| s.log = reply);
    }

    pub(crate) fn set_manifest(&self, reply: Reply) {
        self.with(|s| s.manifest = reply);
    }

    pub(crate) fn set_file(&self, path: &str, body: &[u8]) {
        self.with(|s| s.files.insert(path.to_owned(), body.to_vec()));
    }

    pub(crate) fn ignore_ranges(&self, ignore: bool) {
        self.with(|s| s.ignore_ranges = ignore);
    }

    /// Whether to keep the requests received (on by default). Off, the server's memory
    /// stays flat however many requests come, for tests that measure this process's.
    pub(crate) fn record_requests(&self, record: bool) {
        self.with(|s| s.record = record);
    }

    /// Requests whose path starts with `prefix`, in order.
    pub(crate) fn requests(&self, prefix: &str) -> Vec<Request> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.path.starts_with(prefix))
                .cloned()
                .collect()
        })
    }

    pub(crate) fn count(&self, prefix: &str) -> usize {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.path.starts_with(prefix))
                .count()
        })
    }

    /// The events of every `log_event` request, in order.
    pub(crate) fn events(&self) -> Vec<serde_json::Value> {
        self.requests(LOG)
            .iter()
            .flat_map(|r| r.json()["events"].as_array().cloned().unwrap_or_default())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(mut conn: Box<dyn Conn>, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut conn).await else {
        return;
    };
    let bytes = match route(&request, &state) {
        Route::File(bytes) => bytes,
        Route::Reply(Reply::Serve(body)) => response("200 OK", "application/json", &body, ""),
        Route::Reply(Reply::Status(code, retry_after)) => {
            let extra = retry_after.map_or(String::new(), |r| format!("Retry-After: {r}\r\n"));
            response(&format!("{code} Error"), "text/plain", b"error", &extra)
        }
        Route::Reply(Reply::StatusRetryAfterAtAnswer(code, retry_after)) => {
            let extra = format!("Retry-After: {}\r\n", retry_after());
            response(&format!("{code} Error"), "text/plain", b"error", &extra)
        }
        Route::Reply(Reply::Hang) => {
            std::future::pending::<()>().await;
            return;
        }
        Route::Reply(Reply::Truncated(body)) => {
            let mut r = response("200 OK", "application/json", &body, "");
            r.truncate(r.len() - body.len() / 2);
            r
        }
        Route::Reply(Reply::Html) => response(
            "200 OK",
            "text/html",
            b"<html><body><h1>502 Bad Gateway</h1></body></html>",
            "",
        ),
    };
    write(&mut conn, bytes).await;
}

enum Route {
    /// The reply the test set for this endpoint.
    Reply(Reply),
    /// A file response, ready to write.
    File(Vec<u8>),
}

fn route(request: &Request, state: &Mutex<State>) -> Route {
    let mut s = state.lock().unwrap();
    if s.record {
        s.requests.push(request.clone());
    }
    let path = request.path.as_str();
    if path.starts_with(SPECS) {
        Route::Reply(s.specs.clone())
    } else if path.starts_with(MANIFEST) {
        Route::Reply(s.manifest.clone())
    } else if path == LOG {
        Route::Reply(s.log.clone())
    } else {
        let start = request
            .header("range")
            .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
            .filter(|_| !s.ignore_ranges)
            .unwrap_or(0);
        Route::File(match s.files.get(path) {
            Some(f) if start <= f.len() => {
                let status = if start > 0 {
                    "206 Partial Content"
                } else {
                    "200 OK"
                };
                response(status, "text/plain", &f[start..], "")
            }
            _ => response("404 Not Found", "text/plain", b"no such file", ""),
        })
    }
}

async fn write(conn: &mut Box<dyn Conn>, bytes: Vec<u8>) {
    let _ = conn.write_all(&bytes).await;
    let _ = conn.shutdown().await;
}

async fn read_request(conn: &mut Box<dyn Conn>) -> Option<Request> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..end]).into_owned();
    let mut lines = head.lines();
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_owned();
    let target = first.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect();
    let mut request = Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    };
    let length: usize = request
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = data[end..].to_vec();
    while body.len() < length {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => body.extend_from_slice(&buf[..n]),
        }
    }
    if request
        .header("content-encoding")
        .is_some_and(|e| e.eq_ignore_ascii_case("gzip"))
    {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_end(&mut plain)
            .expect("a gzip body");
        body = plain;
    }
    request.body = body;
    Some(request)
}

fn response(status: &str, content_type: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n",
        body.len(),
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

// ---------------------------------------------------------------------------------------------
// Time

/// Holds a paused clock still: while the guard lives, time moves only by [`advance`], never
/// by tokio's auto-advance (which would otherwise jump to the next timer, a request's
/// timeout included, whenever the runtime waits for real IO). It is a blocking task that
/// waits until the guard is dropped: tokio does not auto-advance while one runs.
pub(crate) struct Frozen(#[allow(dead_code)] std::sync::mpsc::Sender<()>);

/// See [`Frozen`]. Call it first thing in a `start_paused` test.
pub(crate) fn freeze() -> Frozen {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    tokio::task::spawn_blocking(move || {
        let _ = rx.recv();
    });
    Frozen(tx)
}

/// Moves the frozen clock forward: timers due by then fire.
pub(crate) async fn advance(d: Duration) {
    tokio::time::advance(d).await;
}

/// Waits (in real time) until `cond` holds; panics naming `what` if it has not after a
/// minute. Works with a frozen clock: it waits on the blocking pool, not on a timer.
///
/// The minute only turns a hang into a failure: what a test waits for takes milliseconds,
/// and no outcome depends on how long it takes (every virtual deadline is moved by the test
/// itself, with [`advance`], once what it waits for has happened).
pub(crate) async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting: {what}"
        );
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
            .await
            .expect("sleep");
    }
}

/// Lets the runtime run whatever is ready (a few real milliseconds), for assertions that
/// something did *not* happen. Tasks woken by an [`advance`] run before it returns (they
/// are ahead in the runtime's queue); the milliseconds give a request that should not
/// have been made a chance to show. Such an assertion can miss a fault on a slow machine,
/// never report one that is not there.
pub(crate) async fn settle() {
    for _ in 0..20 {
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(1)))
            .await
            .expect("sleep");
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads

/// A payload in which gate `g` is `on` for everyone, with this `time`.
pub(crate) fn payload(time: u64, on: bool) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "feature_gates": {"g": {"type": "feature_gate", "entity": "feature_gate", "salt": "s",
            "enabled": true, "defaultValue": false, "idType": "userID",
            "rules": [{"id": "r", "name": "r", "passPercentage": 100, "conditions": ["c"],
                       "returnValue": on, "idType": "userID"}]}},
        "dynamic_configs": {}, "layer_configs": {},
        "condition_map": {"c": {"type": "public", "idType": "userID"}},
        "experiment_to_layer": {}, "has_updates": true, "time": time,
    }))
    .unwrap()
}

/// [`payload`] plus a gate `broken` whose rule has `"passPercentage": "50%"`: Statsig's
/// semantics drop that spec silently (its name evaluates as unrecognized, `false`).
pub(crate) fn payload_with_a_dropped_spec(time: u64) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&payload(time, true)).unwrap();
    let mut broken = v["feature_gates"]["g"].clone();
    broken["rules"][0]["passPercentage"] = json!("50%");
    v["feature_gates"]["broken"] = broken;
    serde_json::to_vec(&v).unwrap()
}

/// Checks that `dropped` names exactly gate `broken` of [`payload_with_a_dropped_spec`],
/// with a reason that quotes the offending value.
pub(crate) fn assert_broken_is_named(dropped: &[flagcore::DroppedSpec]) {
    let names: Vec<(&str, &str)> = dropped.iter().map(|d| (d.section, &*d.name)).collect();
    assert_eq!(names, [("feature_gates", "broken")], "{dropped:?}");
    assert!(
        dropped[0].reason.contains("\"50%\""),
        "the reason does not name the value: {dropped:?}"
    );
}

/// A well-formed payload without any spec.
pub(crate) fn empty_payload(time: u64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "feature_gates": {}, "dynamic_configs": {}, "layer_configs": {}, "condition_map": {},
        "experiment_to_layer": {}, "has_updates": true, "time": time,
    }))
    .unwrap()
}

/// A file of the repository's conformance corpus (`conformance/`); a missing file fails.
pub(crate) fn conformance(path: &str) -> Vec<u8> {
    let full = format!("{}/../conformance/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

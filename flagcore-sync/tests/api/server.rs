//! A small HTTP/1.1 server on 127.0.0.1 that answers `download_config_specs` requests the way
//! the test tells it to, faults included.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// How the server answers the next requests.
#[derive(Clone, Debug)]
pub(crate) enum Mode {
    /// 200 with this body.
    Serve(Vec<u8>),
    /// This status, with an optional `Retry-After` (seconds).
    Status(u16, Option<u64>),
    /// Never answers (the client times out).
    Hang,
    /// Announces the whole body, sends half of it, closes.
    Truncated(Vec<u8>),
    /// 200 with an HTML error page.
    Html,
    /// Files by path (query ignored), honouring `Range: bytes=N-`.
    Files(std::collections::HashMap<String, Vec<u8>>),
}

#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) requests: usize,
    pub(crate) last_head: String,
    /// Bodies of POST requests.
    pub(crate) posts: Vec<String>,
    /// Every request head.
    pub(crate) heads: Vec<String>,
}

pub(crate) struct Server {
    pub(crate) url: String,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Seen>>,
}

impl Server {
    pub(crate) async fn start(mode: Mode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/v2/download_config_specs",
            listener.local_addr().unwrap()
        );
        let mode = Arc::new(Mutex::new(mode));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (m, s) = (mode.clone(), seen.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut conn, _)) = listener.accept().await else {
                    return;
                };
                let (m, s) = (m.clone(), s.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let end = head.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let head_text = String::from_utf8_lossy(&head[..end]).into_owned();
                    let length: usize = head_text
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    let mut body = head[end..].to_vec();
                    while body.len() < length {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => body.extend_from_slice(&buf[..n]),
                        }
                    }
                    {
                        let mut s = s.lock().unwrap();
                        s.requests += 1;
                        if head_text.starts_with("POST") {
                            s.posts.push(String::from_utf8_lossy(&body).into_owned());
                        }
                        s.heads.push(head_text.clone());
                        s.last_head = head_text.clone();
                    }
                    let mode = m.lock().unwrap().clone();
                    let response = match mode {
                        Mode::Serve(body) => response("200 OK", "application/json", &body, None),
                        Mode::Status(code, retry) => {
                            let extra = retry.map(|r| format!("Retry-After: {r}\r\n"));
                            response(&format!("{code} Error"), "text/plain", b"error", extra)
                        }
                        Mode::Hang => {
                            tokio::time::sleep(Duration::from_secs(30)).await;
                            return;
                        }
                        Mode::Truncated(body) => {
                            let mut r = response("200 OK", "application/json", &body, None);
                            r.truncate(r.len() - body.len() / 2);
                            r
                        }
                        Mode::Files(files) => {
                            let path = head_text
                                .split_whitespace()
                                .nth(1)
                                .unwrap_or("")
                                .split('?')
                                .next()
                                .unwrap_or("")
                                .to_owned();
                            let start: usize = head_text
                                .lines()
                                .find_map(|l| {
                                    let (k, v) = l.split_once(':')?;
                                    let v = v.trim().strip_prefix("bytes=")?.strip_suffix('-')?;
                                    k.eq_ignore_ascii_case("range").then(|| v.parse().ok())?
                                })
                                .unwrap_or(0);
                            match files.get(&path) {
                                Some(f) if start <= f.len() => {
                                    response("200 OK", "text/plain", &f[start..], None)
                                }
                                _ => response("404 Not Found", "text/plain", b"no", None),
                            }
                        }
                        Mode::Html => response(
                            "200 OK",
                            "text/html",
                            b"<html><body>502 Bad Gateway</body></html>",
                            None,
                        ),
                    };
                    let _ = conn.write_all(&response).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        Server { url, mode, seen }
    }

    /// The server's base URL (`http://127.0.0.1:port`).
    pub(crate) fn base(&self) -> String {
        self.url
            .trim_end_matches("/v2/download_config_specs")
            .to_owned()
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub(crate) fn requests(&self) -> usize {
        self.seen.lock().unwrap().requests
    }

    pub(crate) fn posts(&self) -> Vec<String> {
        self.seen.lock().unwrap().posts.clone()
    }

    /// Whether some request head contained `text`.
    pub(crate) fn saw(&self, text: &str) -> bool {
        self.seen
            .lock()
            .unwrap()
            .heads
            .iter()
            .any(|h| h.contains(text))
    }

    pub(crate) fn last_head(&self) -> String {
        self.seen.lock().unwrap().last_head.clone()
    }
}

fn response(status: &str, content_type: &str, body: &[u8], extra: Option<String>) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        body.len(),
        extra.unwrap_or_default()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// A payload in which gate `g` is `on`, with this `time` (and no specs at all if `empty`).
pub(crate) fn payload(time: u64, on: bool) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
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

/// A well-formed payload without any spec.
pub(crate) fn empty_payload(time: u64) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "feature_gates": {}, "dynamic_configs": {}, "layer_configs": {}, "condition_map": {},
        "experiment_to_layer": {}, "has_updates": true, "time": time,
    }))
    .unwrap()
}

/// Polls `cond` every 5 ms until it holds or `timeout` passes; returns whether it held.
pub(crate) async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cond()
}

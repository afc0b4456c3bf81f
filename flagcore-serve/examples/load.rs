//! Load test of the sidecar: single-flag OFREP evaluations over loopback from client threads
//! with keep-alive HTTP/1.1 connections (one per thread), after a warm-up, for a fixed time;
//! prints the throughput and latency percentiles.
//!
//! ```text
//! cargo run --release -p flagcore-serve --example load -- [--url http://HOST:PORT]
//!     [--file DCS.json] [--key KEY] [--threads 2] [--seconds 10] [--warmup 2] [--healthz]
//! ```
//!
//! `--healthz` sends `GET /healthz` instead: the same HTTP path without an evaluation, the
//! baseline of what the server and the loopback cost.
//!
//! Without `--url` it starts the sidecar in this process (on a 2-worker tokio runtime,
//! serving `--file`, by default the conformance corpus's `demo_proj` payload); with it, it
//! loads a sidecar already running (`flagcore serve`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

struct Opts {
    url: Option<String>,
    file: String,
    key: String,
    threads: usize,
    seconds: f64,
    warmup: f64,
    healthz: bool,
}

fn opts() -> Result<Opts, String> {
    let mut o = Opts {
        url: None,
        file: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../conformance/fixtures/demo_proj/dcs.json"
        )
        .into(),
        key: "a_gate".into(),
        threads: 2,
        seconds: 10.0,
        warmup: 2.0,
        healthz: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut v = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--url" => o.url = Some(v()?),
            "--file" => o.file = v()?,
            "--key" => o.key = v()?,
            "--threads" => o.threads = v()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--seconds" => o.seconds = v()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--healthz" => o.healthz = true,
            "--warmup" => o.warmup = v()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

/// One keep-alive connection sending the same evaluation again and again.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    request: Vec<u8>,
    line: String,
    body: Vec<u8>,
}

impl Conn {
    fn open(addr: SocketAddr, key: Option<&str>, user: usize) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        let body = format!(
            r#"{{"context":{{"targetingKey":"user-{user}","email":"u{user}@example.com","country":"NZ","plan":"pro"}}}}"#
        );
        let request = match key {
            Some(key) => format!(
                "POST /ofrep/v1/evaluate/flags/{key} HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
            None => format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        }
        .into_bytes();
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            request,
            line: String::new(),
            body: Vec::new(),
        })
    }

    /// One request and its whole response; the status must be 200.
    fn call(&mut self) -> std::io::Result<()> {
        self.writer.write_all(&self.request)?;
        let mut length = None;
        let mut first = true;
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            let l = self.line.trim_end();
            if first {
                if !l.starts_with("HTTP/1.1 200") {
                    return Err(std::io::Error::other(format!("status line {l:?}")));
                }
                first = false;
            } else if l.is_empty() {
                break;
            } else if let Some((name, value)) = l.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok();
                }
            }
        }
        let n = length.ok_or_else(|| std::io::Error::other("no content-length"))?;
        self.body.resize(n, 0);
        self.reader.read_exact(&mut self.body)
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    f64::from(sorted[i]) / 1000.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = opts()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (addr, running) = match &o.url {
        Some(url) => {
            let hostport = url.trim_start_matches("http://").trim_end_matches('/');
            (hostport.parse::<SocketAddr>()?, None)
        }
        None => {
            let args = flagcore_serve::ServeArgs::file("127.0.0.1:0".parse()?, &o.file);
            let running = runtime.block_on(flagcore_serve::start(args))?;
            (running.local_addr(), Some(running))
        }
    };
    let warmup = Duration::from_secs_f64(o.warmup);
    let measure = Duration::from_secs_f64(o.seconds);
    let start = Instant::now() + Duration::from_millis(100);
    let threads: Vec<_> = (0..o.threads)
        .map(|t| {
            let key = (!o.healthz).then(|| o.key.clone());
            std::thread::spawn(move || -> std::io::Result<Vec<u32>> {
                let mut conn = Conn::open(addr, key.as_deref(), t)?;
                conn.call()?;
                std::thread::sleep(start.saturating_duration_since(Instant::now()));
                let measure_from = start + warmup;
                let end = measure_from + measure;
                let mut latencies = Vec::with_capacity(1 << 20);
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    conn.call()?;
                    if t0 >= measure_from {
                        let ns = t0.elapsed().as_nanos();
                        latencies.push(u32::try_from(ns).unwrap_or(u32::MAX));
                    }
                }
                Ok(latencies)
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        all.extend(t.join().map_err(|_| "a client thread panicked")??);
    }
    all.sort_unstable();
    if all.is_empty() {
        return Err("no request completed".into());
    }
    println!(
        "{} requests ({}) in {:.1} s from {} keep-alive clients: {:.0}/s; \
         latency p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs, max {:.1} µs",
        all.len(),
        if o.healthz {
            "GET /healthz".to_owned()
        } else {
            format!("single-flag evaluations of {:?}", o.key)
        },
        measure.as_secs_f64(),
        o.threads,
        all.len() as f64 / measure.as_secs_f64(),
        percentile(&all, 0.50),
        percentile(&all, 0.99),
        percentile(&all, 0.999),
        percentile(&all, 1.0),
    );
    if let Some(r) = running {
        runtime.block_on(r.shutdown())?;
    }
    Ok(())
}

//! The Redis data store as a source (feature `redis`): a writer sidecar polls a loopback
//! Statsig and writes Redis; a follower sidecar reads Redis only. Needs `redis-server`
//! (`.ci/run` installs it); fails, saying so, without it.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flagcore_serve::{start, ServeArgs};
use serde_json::json;

use super::sidecar::{fake_statsig, flag};

struct Redis(Child, u16);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn redis_server() -> Redis {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is not installed: apt-get install redis-server (.ci/run does)");
    // Killed and waited for on drop, whatever happens below.
    let server = Redis(server, port);
    let started = Instant::now();
    loop {
        if let Ok(mut c) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let mut pong = [0u8; 7];
            if c.write_all(b"PING\r\n").is_ok() && c.read_exact(&mut pong).is_ok() {
                assert_eq!(&pong, b"+PONG\r\n");
                return server;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "redis-server did not answer"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_serves_what_the_writer_put_in_redis() {
    let redis = redis_server();
    let url = format!("redis://127.0.0.1:{}/", redis.1);
    let (statsig, _) = fake_statsig().await;
    let args = |writer: bool| {
        let mut a = ServeArgs::file("127.0.0.1:0".parse().expect("addr"), "unused");
        a.file = None;
        a.server_secret = Some("secret-fleet".into());
        a.redis_url = Some(url.clone());
        a.redis_writer = writer;
        a.exposures = Some("off".into());
        a.poll_interval = 0.1;
        if writer {
            a.api_url = Some(format!("http://{statsig}/v2/download_config_specs"));
        } else {
            // A follower never asks Statsig: a URL that answers nothing proves it.
            a.api_url = Some("http://127.0.0.1:9/v2/download_config_specs".into());
        }
        a
    };
    let writer = start(args(true)).await.expect("writer starts");
    let follower = start(args(false)).await.expect("follower starts");
    let mut answer = json!(null);
    for _ in 0..100 {
        let a = flag(&follower, "on", json!({"targetingKey": "ana"})).await;
        if a.status == 200 {
            answer = a.body;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer["value"], json!(true), "{answer}");
    assert_eq!(answer["metadata"]["ruleId"], "everyone");
    follower.shutdown().await.expect("shutdown");
    writer.shutdown().await.expect("shutdown");
}

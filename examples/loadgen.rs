//! HTTP search load generator: N keep-alive connections send queries from a file for a
//! fixed time, each request timed on its own (no coordinated-omission fix: this is a
//! closed-loop client). Prints one JSON line: q/s, latency percentiles, errors, and the
//! check `mean latency × q/s ≈ connections`.
//!
//!   cargo run --release --example loadgen -- URL WORKSPACE QUERIES_FILE CONNECTIONS SECONDS
//!
//! QUERIES_FILE holds one search per line: either a JSON request body or plain `q` text.
//! Loopback only: the URL must point at 127.0.0.1/localhost.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: loadgen URL WORKSPACE QUERIES_FILE CONNECTIONS SECONDS");
        std::process::exit(2);
    }
    let (url, ws, file) = (&args[1], &args[2], &args[3]);
    support::require_loopback(url, "loadgen");
    let conns: usize = args[4].parse().expect("CONNECTIONS");
    let secs: f64 = args[5].parse().expect("SECONDS");
    let bodies = Arc::new(support::search_bodies(file));
    let endpoint = Arc::new(format!("{url}/v1/workspaces/{ws}/search"));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        let bodies = bodies.clone();
        let endpoint = endpoint.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut i = c * 7919;
            while Instant::now() < deadline {
                let body = bodies[i % bodies.len()].clone();
                i += 1;
                let t = Instant::now();
                let ok = match client
                    .post(endpoint.as_str())
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                {
                    Ok(r) => {
                        let ok = r.status().is_success();
                        let _ = r.bytes().await;
                        ok
                    }
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                if !ok {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.expect("task");
        all.extend(l);
        errors += e;
    }
    let wall = start.elapsed().as_secs_f64();
    all.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let mean = all.iter().sum::<f64>() / all.len().max(1) as f64;
    let qps = all.len() as f64 / wall;
    println!(
        "{}",
        serde_json::json!({"requests": all.len(), "errors": errors, "connections": conns, "wall_s": wall,
            "qps": qps.round(), "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "mean_ms": mean, "check_mean_x_qps_over_conns": (mean / 1e3 * qps / conns as f64 * 100.0).round() / 100.0})
    );
}

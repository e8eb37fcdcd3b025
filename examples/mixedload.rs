//! Mixed HTTP load: searches, single writes and bulk writes at once against a running
//! server, with a check that every sampled write becomes searchable, and (optionally) the
//! server's RSS sampled over the run. Prints one JSON line of figures.
//!
//!   cargo run --release --example mixedload -- URL WORKSPACE QUERIES_FILE SECONDS \
//!       SEARCHERS WRITERS BULKERS [BULK_LINES=200] [WRITE_PAUSE_MS=0] [SEARCH_PAUSE_MS=0]
//!
//! - SEARCHERS connections send searches from QUERIES_FILE (one `q` or JSON body per line).
//! - WRITERS connections each loop: create a contact (`PUT …/contacts/{id}` with a unique
//!   email), and every third round PATCH one of their earlier contacts' tags.
//! - BULKERS connections send NDJSON bulk requests of BULK_LINES upserts.
//! - Every 10th single write is checked: from its acknowledgement, the contact's email is
//!   searched every 25 ms until it is found; the delay is reported (and how many took > 1 s).
//! - `MIX_IDS=<n>`: each writer and bulker cycles over n ids (upserts of the same contacts),
//!   so a long soak keeps the data set's size steady and RSS growth means leaks, not data.
//! - `RSS_PID=<pid>` samples that process's VmRSS every `RSS_EVERY` seconds (default 10).
//!
//! Closed-loop clients (no coordinated-omission correction). Loopback only.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn summary(name: &str, mut v: Vec<f64>, errors: u64, wall: f64) -> serde_json::Value {
    let n = v.len();
    serde_json::json!({
        "kind": name, "requests": n, "errors": errors, "per_s": (n as f64 / wall).round(),
        "p50_ms": pct(&mut v, 0.5), "p90_ms": pct(&mut v, 0.9), "p99_ms": pct(&mut v, 0.99), "max_ms": pct(&mut v, 1.0),
    })
}

fn rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[derive(Default)]
struct Lat {
    ms: Mutex<Vec<f64>>,
    errors: AtomicU64,
}

impl Lat {
    fn add(&self, t: Instant, ok: bool) {
        if let Ok(mut v) = self.ms.lock() {
            v.push(t.elapsed().as_secs_f64() * 1e3);
        }
        if !ok {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn take(&self) -> Vec<f64> {
        self.ms.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

async fn send(rb: reqwest::RequestBuilder) -> bool {
    match rb.send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            let _ = r.bytes().await;
            ok
        }
        Err(_) => false,
    }
}

async fn found(client: &reqwest::Client, search: &str, email: &str) -> bool {
    let body = serde_json::json!({"q": email, "limit": 5});
    match client.post(search).json(&body).send().await {
        Ok(r) => match r.json::<serde_json::Value>().await {
            Ok(v) => v["hits"]
                .as_array()
                .is_some_and(|h| h.iter().any(|x| x["contact"]["emails"][0] == email)),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 8 {
        eprintln!("usage: mixedload URL WORKSPACE QUERIES_FILE SECONDS SEARCHERS WRITERS BULKERS [BULK_LINES] [WRITE_PAUSE_MS] [SEARCH_PAUSE_MS]");
        std::process::exit(2);
    }
    let url = args[1].clone();
    support::require_loopback(&url, "mixedload");
    let ws = args[2].clone();
    let secs: f64 = args[4].parse().expect("SECONDS");
    let (searchers, writers, bulkers): (usize, usize, usize) = (
        args[5].parse().expect("SEARCHERS"),
        args[6].parse().expect("WRITERS"),
        args[7].parse().expect("BULKERS"),
    );
    let bulk_lines: usize = args.get(8).and_then(|a| a.parse().ok()).unwrap_or(200);
    let write_pause = Duration::from_millis(args.get(9).and_then(|a| a.parse().ok()).unwrap_or(0));
    let search_pause = Duration::from_millis(args.get(10).and_then(|a| a.parse().ok()).unwrap_or(0));
    let bodies = Arc::new(support::search_bodies(&args[3]));
    let base = Arc::new(format!("{url}/v1/workspaces/{ws}"));
    let run = format!("{:x}", std::process::id());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let (search_lat, write_lat, bulk_lat, visible_lat) = (
        Arc::new(Lat::default()),
        Arc::new(Lat::default()),
        Arc::new(Lat::default()),
        Arc::new(Lat::default()),
    );
    let late = Arc::new(AtomicU64::new(0));
    let never = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let ids: u64 = std::env::var("MIX_IDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    let client = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(4)
            .build()
            .expect("client")
    };

    for c in 0..searchers {
        let (bodies, base, lat) = (bodies.clone(), base.clone(), search_lat.clone());
        tasks.push(tokio::spawn(async move {
            let client = client();
            let endpoint = format!("{base}/search");
            let mut i = c * 7919;
            while Instant::now() < deadline {
                let t = Instant::now();
                let body = bodies[i % bodies.len()].clone();
                i += 1;
                let ok = send(
                    client
                        .post(&endpoint)
                        .header("content-type", "application/json")
                        .body(body),
                )
                .await;
                lat.add(t, ok);
                if !search_pause.is_zero() {
                    tokio::time::sleep(search_pause).await;
                }
            }
        }));
    }
    for w in 0..writers {
        let (base, lat, vis, late, never, run) = (
            base.clone(),
            write_lat.clone(),
            visible_lat.clone(),
            late.clone(),
            never.clone(),
            run.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut n = 0u64;
            let mut checks = Vec::new();
            while Instant::now() < deadline {
                n += 1;
                let id = format!("mix-{run}-{w}-{}", n % ids);
                let email = format!("mix.{run}.{w}.{n}@loadtest.example");
                let body = serde_json::json!({"id": id, "name": format!("Load Tester {w} {n}"), "emails": [email],
                    "phones": [format!("+55 11 9{:04} {:04}", w, n % 10_000)], "tags": ["load"]});
                let t = Instant::now();
                let ok = send(client.put(format!("{base}/contacts/{id}")).json(&body)).await;
                lat.add(t, ok);
                if ok && n % 10 == 0 {
                    // how long until the acknowledged write is searchable
                    let (client, base, vis, late, never, email) = (
                        client.clone(),
                        base.clone(),
                        vis.clone(),
                        late.clone(),
                        never.clone(),
                        email.clone(),
                    );
                    checks.push(tokio::spawn(async move {
                        let acked = Instant::now();
                        let search = format!("{base}/search");
                        loop {
                            if found(&client, &search, &email).await {
                                let d = acked.elapsed();
                                vis.add(acked, true);
                                if d > Duration::from_secs(1) {
                                    late.fetch_add(1, Ordering::Relaxed);
                                }
                                return;
                            }
                            if acked.elapsed() > Duration::from_secs(10) {
                                never.fetch_add(1, Ordering::Relaxed);
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(25)).await;
                        }
                    }));
                }
                if n % 3 == 0 && n > 1 {
                    let prev = format!("mix-{run}-{w}-{}", (n - 1) % ids);
                    let t = Instant::now();
                    let ok = send(
                        client
                            .patch(format!("{base}/contacts/{prev}"))
                            .json(&serde_json::json!({"tags": ["load", format!("round-{n}")]})),
                    )
                    .await;
                    lat.add(t, ok);
                }
                if !write_pause.is_zero() {
                    tokio::time::sleep(write_pause).await;
                }
            }
            for c in checks {
                let _ = c.await;
            }
        }));
    }
    for b in 0..bulkers {
        let (base, lat, run) = (base.clone(), bulk_lat.clone(), run.clone());
        tasks.push(tokio::spawn(async move {
            let client = client();
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let mut body = String::new();
                for k in 0..bulk_lines {
                    let slot = (n * bulk_lines as u64 + k as u64) % ids;
                    let line = serde_json::json!({"id": format!("mixb-{run}-{b}-{slot}"),
                        "name": format!("Bulk Person {k}"), "emails": [format!("bulk.{run}.{b}.{n}.{k}@loadtest.example")],
                        "tags": ["bulk"]});
                    body.push_str(&line.to_string());
                    body.push('\n');
                }
                let t = Instant::now();
                let ok = send(
                    client
                        .post(format!("{base}/contacts/bulk"))
                        .header("content-type", "application/x-ndjson")
                        .body(body),
                )
                .await;
                lat.add(t, ok);
                if !write_pause.is_zero() {
                    tokio::time::sleep(write_pause * 4).await;
                }
            }
        }));
    }
    let rss = Arc::new(Mutex::new(Vec::<(f64, f64)>::new()));
    if let Some(pid) = std::env::var("RSS_PID").ok().and_then(|p| p.parse::<u32>().ok()) {
        let every = std::env::var("RSS_EVERY")
            .ok()
            .and_then(|e| e.parse().ok())
            .unwrap_or(10.0);
        let rss = rss.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                if let (Some(mb), Ok(mut v)) = (rss_mb(pid), rss.lock()) {
                    v.push((start.elapsed().as_secs_f64().round(), (mb * 10.0).round() / 10.0));
                }
                tokio::time::sleep(Duration::from_secs_f64(every)).await;
            }
            if let (Some(mb), Ok(mut v)) = (rss_mb(pid), rss.lock()) {
                v.push((start.elapsed().as_secs_f64().round(), (mb * 10.0).round() / 10.0));
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let wall = start.elapsed().as_secs_f64().min(secs.max(0.001));
    let rss = rss.lock().map(|v| v.clone()).unwrap_or_default();
    let rss_summary = if rss.is_empty() {
        serde_json::Value::Null
    } else {
        // growth after warm-up: from the sample at 1/6 of the run to the last one
        let warm = rss.iter().find(|(t, _)| *t >= secs / 6.0).unwrap_or(&rss[0]).1;
        let last = rss[rss.len() - 1].1;
        let max = rss.iter().map(|x| x.1).fold(0.0, f64::max);
        serde_json::json!({"first_mb": rss[0].1, "after_warmup_mb": warm, "last_mb": last, "max_mb": max,
            "growth_after_warmup_pct": ((last / warm - 1.0) * 1000.0).round() / 10.0, "samples": rss})
    };
    println!(
        "{}",
        serde_json::json!({
            "seconds": secs, "searchers": searchers, "writers": writers, "bulkers": bulkers, "bulk_lines": bulk_lines,
            "search": summary("search", search_lat.take(), search_lat.errors.load(Ordering::Relaxed), wall),
            "write": summary("write", write_lat.take(), write_lat.errors.load(Ordering::Relaxed), wall),
            "bulk": summary("bulk", bulk_lat.take(), bulk_lat.errors.load(Ordering::Relaxed), wall),
            "visible_after_ack": summary("visible", visible_lat.take(), 0, wall),
            "visible_later_than_1s": late.load(Ordering::Relaxed),
            "never_visible_within_10s": never.load(Ordering::Relaxed),
            "rss": rss_summary,
        })
    );
}

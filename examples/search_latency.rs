//! In-process search latency over an existing data dir: every query of a file, after one
//! warm-up pass, through `Engine::search` (index + documents from the store, as the HTTP
//! route does, minus HTTP). Prints one JSON line with percentiles and single-thread q/s.
//!
//!   cargo run --release --example search_latency -- DATA_DIR WORKSPACE QUERIES_FILE [REPS] [CONFIG]
//!
//! QUERIES_FILE: one query per line, plain `q` text or a JSON search body.

use std::time::Instant;

use contactdex::search::SearchRequest;
use contactdex::{Config, Engine};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: search_latency DATA_DIR WORKSPACE QUERIES_FILE [REPS] [CONFIG]");
        std::process::exit(2);
    }
    let reps: usize = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(3);
    let cfg = match args.get(5) {
        Some(p) => Config::load(std::path::Path::new(p)).expect("config"),
        None => Config::load_or_default(None).expect("config"),
    };
    let engine = Engine::open(std::path::Path::new(&args[1]), cfg).expect("engine");
    while !engine.is_ready() {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let text = std::fs::read_to_string(&args[3]).expect("queries");
    let reqs: Vec<SearchRequest> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.trim_start().starts_with('{') {
                serde_json::from_str(l).expect("query JSON")
            } else {
                SearchRequest {
                    q: Some(l.to_string()),
                    ..Default::default()
                }
            }
        })
        .collect();
    for r in &reqs {
        let _ = engine.search(&args[2], r);
    }
    if std::env::var("SLOWEST").is_ok() {
        let mut per: Vec<(f64, String)> = reqs
            .iter()
            .map(|r| {
                let t = Instant::now();
                let _ = engine.search(&args[2], r);
                (
                    t.elapsed().as_secs_f64() * 1e3,
                    serde_json::to_string(r).unwrap_or_default(),
                )
            })
            .collect();
        per.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (ms, q) in per.iter().take(25) {
            eprintln!("{ms:8.2} ms  {q}");
        }
    }
    let mut lat = Vec::with_capacity(reqs.len() * reps);
    let mut hits = 0u64;
    let start = Instant::now();
    for _ in 0..reps {
        for r in &reqs {
            let t = Instant::now();
            let res = engine.search(&args[2], r).expect("search");
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            hits += res.hits.len() as u64;
        }
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "{}",
        serde_json::json!({"queries": reqs.len(), "reps": reps, "searches": lat.len(), "qps_one_thread": (lat.len() as f64 / wall).round(),
            "p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "max_ms": pct(1.0),
            "mean_hits": hits as f64 / lat.len() as f64, "docs": engine.indexed_docs()})
    );
    let _ = engine.shutdown();
}

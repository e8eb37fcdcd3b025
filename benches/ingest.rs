//! Ingest and search micro-benchmarks (divan). The 100k/1M end-to-end figures come from
//! `scripts/bench_ingest.sh` and `scripts/bench_http_bulk.sh`; these keep the hot paths honest
//! on a fixed in-memory corpus built outside the timed loop.

use contactdex::search::SearchRequest;
use contactdex::{Config, Engine};

fn main() {
    divan::main();
}

const FIRST: &[&str] = &[
    "Maria",
    "José",
    "João",
    "Ana",
    "Carlos",
    "John",
    "Mary",
    "Dmitry",
    "Łukasz",
    "François",
    "Müller",
    "李",
    "Fatima",
    "Sofía",
];
const LAST: &[&str] = &[
    "Silva",
    "Souza",
    "Smith",
    "Johnson",
    "Иванов",
    "Núñez",
    "García",
    "Schmidt",
    "Dubois",
    "王",
    "Kowalski",
    "Rossi",
];

fn corpus(n: usize) -> Vec<(usize, String)> {
    (0..n)
        .map(|i| {
            let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
            let phone = format!("+55 11 9{:04}-{:04}", (i / 10_000) % 10_000, i % 10_000);
            let doc = serde_json::json!({"id": format!("c{i}"), "name": name, "phones": [phone],
                "emails": [format!("user{i}@example.com")], "tags": [if i % 3 == 0 { "vip" } else { "lead" }],
                "source": "whatsapp", "created_at": "2025-03-01T12:00:00Z"});
            (i + 1, doc.to_string())
        })
        .collect()
}

fn config() -> Config {
    let mut cfg = Config::default();
    cfg.index.writer_memory_mb = 64;
    cfg
}

/// Bulk upsert of 5,000 contacts into a fresh data dir, durable and searchable at the end.
#[divan::bench(sample_count = 5)]
fn bulk_5k_durable_visible(b: divan::Bencher) {
    let lines = corpus(5_000);
    b.with_inputs(|| (tempfile::tempdir().expect("tmp"), lines.clone()))
        .bench_values(|(dir, lines)| {
            let e = Engine::open(dir.path(), config()).expect("engine");
            let out = e
                .bulk("bench", lines.into_iter(), &contactdex::audit::Origin::system("bench"))
                .expect("bulk");
            e.wait_durable(out.seq).expect("durable");
            e.wait_visible_blocking(out.seq).expect("visible");
            e.shutdown().expect("shutdown");
            assert_eq!(out.accepted, 5_000);
            dir
        });
}

/// In-process searches over 20,000 contacts: a name prefix, a typo, a phone, last digits.
#[divan::bench(args = ["mar", "joao silva", "Jhon", "+55 11 90001-2345", "2345", "user77@example.com", "vip"], sample_count = 50)]
fn search_20k(b: divan::Bencher, q: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let e = Engine::open(dir.path(), config()).expect("engine");
    let out = e
        .bulk(
            "bench",
            corpus(20_000).into_iter(),
            &contactdex::audit::Origin::system("bench"),
        )
        .expect("bulk");
    e.wait_visible_blocking(out.seq).expect("visible");
    let req = SearchRequest {
        q: Some(q.to_string()),
        ..Default::default()
    };
    b.bench(|| e.search("bench", &req).expect("search").total);
    e.shutdown().expect("shutdown");
}

//! The real binary, SIGKILLed right after acknowledging writes, loses none of them.

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub struct Proc {
    pub child: Child,
    pub base: String,
}

pub fn start(dir: &std::path::Path, port: u16) -> Proc {
    start_with_config(
        dir,
        port,
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/index-config/default.toml")),
    )
}

pub fn start_with_config(dir: &std::path::Path, port: u16, config: &std::path::Path) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_contactdex"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args(["--addr", &format!("127.0.0.1:{port}"), "--config"])
        .arg(config)
        .env("CONTACTDEX_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    Proc {
        child,
        base: format!("http://127.0.0.1:{port}"),
    }
}

async fn post_json(client: &reqwest::Client, url: String, body: serde_json::Value) -> serde_json::Value {
    client
        .post(url)
        .json(&body)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer")
}

async fn get_json(client: &reqwest::Client, url: String) -> serde_json::Value {
    client
        .get(url)
        .send()
        .await
        .expect("request sent")
        .json()
        .await
        .expect("a JSON answer")
}

pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let start = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/health")).send().await {
            if r.status().as_u16() == 200 {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "server did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small deterministic generator (the seed is printed, so a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// What the writers were told.
#[derive(Default)]
struct Ledger {
    /// ids whose create was acknowledged
    acked: BTreeSet<String>,
    /// PATCH target id -> highest acknowledged counter
    patched: std::collections::BTreeMap<String, u64>,
    /// ids of writes that were refused (4xx): they must never appear
    refused: BTreeSet<String>,
}

/// The crash harness: 4 concurrent writers (single upserts, PATCHes, bulk, and refused
/// writes), the real binary SIGKILLed at a random moment 50 ms–2 s into each round, restarted,
/// repeated (`CDX_CRASH_ROUNDS`, default 20; `scripts/crash_soak.sh` runs 200). Pass: every
/// acknowledged write is there after the last restart (by get, PATCH counters at least the
/// acknowledged value), no refused write appears, and search agrees with the store within 1 s
/// of /health answering 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let rounds: u64 = std::env::var("CDX_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    eprintln!("crash harness: {rounds} kills, seed {seed}");
    let mut rng = Lcg(seed);
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    for round in 0..rounds {
        let port = free_port();
        let mut p = start(dir.path(), port);
        wait_healthy(&client, &p.base).await;
        let kill_after = Duration::from_millis(50 + rng.next() % 1950);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = Vec::new();
        for w in 0..4u64 {
            let client = client.clone();
            let base = p.base.clone();
            let ledger = ledger.clone();
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                let patch_target = format!("patch-w{w}");
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    i += 1;
                    match (w, i % 4) {
                        // bulk of 20
                        (3, _) => {
                            let ids: Vec<String> = (0..20).map(|k| format!("r{round}-w{w}-{i}-{k}")).collect();
                            let body: String = ids
                                .iter()
                                .map(|id| {
                                    format!(
                                        "{}\n",
                                        json!({"id": id, "name": format!("Crash Bulk {id}"), "tags": ["crash"]})
                                    )
                                })
                                .collect();
                            let r = client
                                .post(format!("{base}/v1/workspaces/crash/contacts/bulk"))
                                .header("content-type", "application/x-ndjson")
                                .body(body)
                                .send()
                                .await;
                            if matches!(&r, Ok(r) if r.status().is_success()) {
                                ledger.lock().unwrap().acked.extend(ids);
                            }
                        }
                        // a PATCH of this writer's own contact with a rising counter
                        (2, _) => {
                            let r = client
                                .patch(format!("{base}/v1/workspaces/crash/contacts/{patch_target}"))
                                .json(&json!({"name": format!("Patched {round:04}-{i:08}")}))
                                .send()
                                .await;
                            if matches!(&r, Ok(r) if r.status().is_success()) {
                                let n = round * 100_000_000 + i;
                                let mut l = ledger.lock().unwrap();
                                let e = l.patched.entry(patch_target.clone()).or_insert(0);
                                *e = (*e).max(n);
                            }
                        }
                        // a write that must be refused (a phone with letters)
                        (1, 0) => {
                            let id = format!("bad-r{round}-w{w}-{i}");
                            let r = client
                                .put(format!("{base}/v1/workspaces/crash/contacts/{id}"))
                                .json(&json!({"name": "Refused", "phones": ["call me maybe"], "tags": ["crash"]}))
                                .send()
                                .await;
                            if matches!(&r, Ok(r) if r.status().is_client_error()) {
                                ledger.lock().unwrap().refused.insert(id);
                            }
                        }
                        _ => {
                            let id = format!("r{round}-w{w}-{i}");
                            let r = client
                                .put(format!("{base}/v1/workspaces/crash/contacts/{id}"))
                                .json(&json!({"name": format!("Crash Single {id}"), "tags": ["crash"]}))
                                .send()
                                .await;
                            if matches!(&r, Ok(r) if r.status().is_success()) {
                                ledger.lock().unwrap().acked.insert(id);
                            }
                        }
                    }
                }
            }));
        }
        // the PATCH targets exist from the first round on
        if round == 0 {
            for w in 0..4 {
                let r = client
                    .put(format!("{}/v1/workspaces/crash/contacts/patch-w{w}", p.base))
                    .json(&json!({"name": "Patched 0000-00000000", "tags": ["patch"]}))
                    .send()
                    .await
                    .expect("patch target");
                assert!(r.status().is_success());
            }
        }
        tokio::time::sleep(kill_after).await;
        p.child.kill().expect("SIGKILL");
        let _ = p.child.wait();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
    }
    let (acked, patched, refused) = {
        let l = ledger.lock().unwrap();
        (l.acked.clone(), l.patched.clone(), l.refused.clone())
    };
    assert!(
        acked.len() > 50,
        "too few writes acknowledged to mean anything: {}",
        acked.len()
    );
    eprintln!(
        "crash harness: {} creates, {} PATCH targets, {} refused writes acknowledged over {rounds} kills",
        acked.len(),
        patched.len(),
        refused.len()
    );

    let port = free_port();
    let mut p = start(dir.path(), port);
    wait_healthy(&client, &p.base).await;
    let healthy_at = Instant::now();
    // search agrees with the store within 1 s of /health: every acknowledged contact is a hit
    // (hits are loaded from the store, so a hit is also proof it is stored); 1,000 ids a query
    let acked_list: Vec<&String> = acked.iter().collect();
    let mut missing: Vec<String> = Vec::new();
    let mut first_pass = None;
    for batch in acked_list.chunks(1000) {
        let v = post_json(
            &client,
            format!("{}/v1/workspaces/crash/search", p.base),
            json!({"filter": {"field": "id", "op": "in", "value": batch}, "limit": 1000}),
        )
        .await;
        let found: BTreeSet<&str> = v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|h| h["id"].as_str())
            .collect();
        missing.extend(
            batch
                .iter()
                .filter(|id| !found.contains(id.as_str()))
                .map(|id| id.to_string()),
        );
        first_pass.get_or_insert_with(|| healthy_at.elapsed());
    }
    let searched_in = first_pass.unwrap_or_default();
    assert!(
        missing.is_empty(),
        "{} acknowledged contacts not found after restart (seed {seed}), e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert!(
        searched_in < Duration::from_secs(1),
        "the first search after /health took {searched_in:?}"
    );
    let refused_list: Vec<&String> = refused.iter().collect();
    for batch in refused_list.chunks(1000) {
        let v = post_json(
            &client,
            format!("{}/v1/workspaces/crash/search", p.base),
            json!({"filter": {"field": "id", "op": "in", "value": batch}, "limit": 10}),
        )
        .await;
        assert_eq!(v["total"], 0, "refused writes appear (seed {seed}): {v}");
    }
    // GET, for every refused write and a spread of the acknowledged ones
    for id in &refused {
        let r = client
            .get(format!("{}/v1/workspaces/crash/contacts/{id}", p.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "refused write {id} was stored (seed {seed})");
    }
    let step = (acked_list.len() / 2000).max(1);
    for id in acked_list.iter().step_by(step) {
        let r = client
            .get(format!("{}/v1/workspaces/crash/contacts/{id}", p.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "acknowledged contact {id} lost (seed {seed})");
    }
    for (id, n) in &patched {
        let v = get_json(&client, format!("{}/v1/workspaces/crash/contacts/{id}", p.base)).await;
        let name = v["name"].as_str().unwrap_or("");
        let got = name
            .strip_prefix("Patched ")
            .and_then(|r| r.split_once('-'))
            .and_then(|(a, b)| Some(a.parse::<u64>().ok()? * 100_000_000 + b.parse::<u64>().ok()?))
            .unwrap_or(0);
        assert!(
            got >= *n,
            "{id}: acknowledged PATCH {n} lost, store has {name:?} (seed {seed})"
        );
    }
    // and by their own words
    let sample = &acked.iter().nth(acked.len() / 2).cloned().unwrap_or_default();
    let v = post_json(
        &client,
        format!("{}/v1/workspaces/crash/search", p.base),
        json!({"q": sample}),
    )
    .await;
    assert!(
        v["hits"].as_array().unwrap().iter().any(|h| h["id"] == sample.as_str()),
        "{sample} not found by q: {v}"
    );
    p.child.kill().ok();
    let _ = p.child.wait();
}

/// A second process on the same data dir refuses to start and touches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_one_data_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut first = start(dir.path(), free_port());
    wait_healthy(&client, &first.base).await;
    let r = client
        .put(format!("{}/v1/workspaces/lock/contacts/a?refresh=true", first.base))
        .json(&json!({"name": "Locked In"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let out = Command::new(env!("CARGO_BIN_EXE_contactdex"))
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(["--addr", &format!("127.0.0.1:{}", free_port())])
        .args([
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/index-config/default.toml"),
        ])
        .output()
        .expect("second process runs");
    assert!(
        !out.status.success(),
        "a second server on the same data dir must refuse to start"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use") || err.contains("lock"),
        "the refusal says why: {err}"
    );
    // the first one is unharmed
    let r = client
        .get(format!("{}/v1/workspaces/lock/contacts/a", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    first.child.kill().ok();
    let _ = first.child.wait();
}

/// 2 × 1,000 concurrent PATCHes of one contact lose no update (each adds its own history
/// entry under the store's write lock; the audit trail counts them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_patches_to_one_contact_lose_no_update() {
    let s = crate::common::Server::start().await;
    s.put("race", "one", json!({"name": "Race 0"})).await;
    let mut tasks = Vec::new();
    for w in 0..2 {
        let client = s.client.clone();
        let url = s.url("/v1/workspaces/race/contacts/one");
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for i in 0..1000 {
                let r = client
                    .patch(&url)
                    .json(&json!({"name": format!("Race w{w} {i}")}))
                    .send()
                    .await
                    .expect("patch");
                if r.status().is_success() {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.expect("writer");
    }
    assert_eq!(total, 2000, "every PATCH acknowledged");
    let mut updates = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/workspaces/race/contacts/one/history?limit=1000&cursor={c}"),
            None => "/v1/workspaces/race/contacts/one/history?limit=1000".to_string(),
        };
        let (st, v) = s.req("GET", &path, None).await;
        assert_eq!(st, 200, "{v}");
        updates += v["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["action"] == "update")
            .count();
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(updates, 2000, "each acknowledged PATCH is one recorded update");
    let (_, v) = s.req("GET", "/v1/workspaces/race/contacts/one", None).await;
    let name = v["name"].as_str().unwrap_or("");
    assert!(
        name == "Race w0 999" || name == "Race w1 999",
        "the last PATCH of one writer wins: {name}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_zero_and_restart_needs_no_replay() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let port = free_port();
    let mut p = start(dir.path(), port);
    wait_healthy(&client, &p.base).await;
    for i in 0..20 {
        let r = client
            .put(format!("{}/v1/workspaces/t/contacts/t{i}", p.base))
            .json(&json!({"name": format!("Term {i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    // 200 requests in flight (writes and searches) when SIGTERM arrives
    let mut inflight = Vec::new();
    for i in 0..200 {
        let client = client.clone();
        let base = p.base.clone();
        inflight.push(tokio::spawn(async move {
            let r = if i % 2 == 0 {
                client
                    .put(format!("{base}/v1/workspaces/t/contacts/f{i}"))
                    .json(&json!({"name": format!("Term Flight {i}")}))
                    .send()
                    .await
            } else {
                client
                    .post(format!("{base}/v1/workspaces/t/search"))
                    .json(&json!({"q": "term"}))
                    .send()
                    .await
            };
            (i, r.map(|r| r.status().as_u16()).ok())
        }));
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    let pid = p.child.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(st.success());
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "did not exit within 10 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit status {status:?}");
    // each finished with an answer (2xx, or a clean 503 while draining) or a refused connection
    let mut acked = Vec::new();
    for t in inflight {
        let (i, status) = t.await.expect("request task");
        if let Some(code) = status {
            assert!(code < 300 || code == 503, "request {i} got {code} during the drain");
            if code < 300 && i % 2 == 0 {
                acked.push(i);
            }
        }
    }
    let port = free_port();
    let mut p = start(dir.path(), port);
    wait_healthy(&client, &p.base).await;
    // the drain committed the index up to the last write: nothing to replay
    let metrics = client
        .get(format!("{}/metrics", p.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("metrics text");
    assert!(
        metrics.lines().any(|l| l == "contactdex_startup_replayed_contacts 0"),
        "the restart after SIGTERM replayed contacts:\n{}",
        metrics
            .lines()
            .filter(|l| l.contains("replayed"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let v = post_json(
        &client,
        format!("{}/v1/workspaces/t/search", p.base),
        json!({"q": "term", "limit": 500}),
    )
    .await;
    let found: BTreeSet<String> = v["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_str().map(String::from))
        .collect();
    for i in 0..20 {
        assert!(found.contains(&format!("t{i}")), "t{i} lost: {v}");
    }
    for i in &acked {
        assert!(
            found.contains(&format!("f{i}")),
            "write f{i} was acknowledged during the drain but is lost"
        );
    }
    eprintln!(
        "sigterm: {} of 100 in-flight writes acknowledged, all kept",
        acked.len()
    );
    p.child.kill().ok();
    let _ = p.child.wait();
}

/// A nearly full disk: writes are refused with 507 (JSON) before it fills, reads and searches
/// keep working, and once space returns (here: the reserve lowered) and the process restarts,
/// nothing acknowledged is lost and writes work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nearly_full_disk_refuses_writes_with_507_and_keeps_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let client = reqwest::Client::new();
    let mut p = start(&data, free_port());
    wait_healthy(&client, &p.base).await;
    let r = client
        .put(format!("{}/v1/workspaces/disk/contacts/kept?refresh=true", p.base))
        .json(&json!({"name": "Kept Before Full", "tags": ["disk"]}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    p.child.kill().ok();
    let _ = p.child.wait();

    // "full": the reserve is larger than any disk
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/index-config/default.toml")).unwrap();
    let full = text.replace(
        "min_free_bytes = 268_435_456",
        "min_free_bytes = 9_000_000_000_000_000_000",
    );
    assert_ne!(full, text, "the shipped config sets min_free_bytes");
    let full_cfg = dir.path().join("full.toml");
    std::fs::write(&full_cfg, full).unwrap();
    let mut p = start_with_config(&data, free_port(), &full_cfg);
    wait_healthy(&client, &p.base).await;
    let r = client
        .put(format!("{}/v1/workspaces/disk/contacts/new", p.base))
        .json(&json!({"name": "Refused For Space"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 507);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "insufficient_storage", "{v}");
    let r = client
        .post(format!("{}/v1/workspaces/disk/contacts/bulk", p.base))
        .header("content-type", "application/x-ndjson")
        .body("{\"id\": \"b1\", \"name\": \"Bulk Refused\"}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 507);
    let r = client
        .patch(format!("{}/v1/workspaces/disk/contacts/kept", p.base))
        .json(&json!({"name": "Changed"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 507);
    // reads and searches work
    let v = get_json(&client, format!("{}/v1/workspaces/disk/contacts/kept", p.base)).await;
    assert_eq!(v["name"], "Kept Before Full");
    let v = post_json(
        &client,
        format!("{}/v1/workspaces/disk/search", p.base),
        json!({"q": "kept"}),
    )
    .await;
    assert_eq!(v["total"], 1, "{v}");
    p.child.kill().ok();
    let _ = p.child.wait();

    // space is back
    let mut p = start(&data, free_port());
    wait_healthy(&client, &p.base).await;
    for id in ["new", "b1"] {
        let r = client
            .get(format!("{}/v1/workspaces/disk/contacts/{id}", p.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 404, "refused write {id} must not exist");
    }
    let r = client
        .put(format!("{}/v1/workspaces/disk/contacts/new?refresh=true", p.base))
        .json(&json!({"name": "Written After"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let v = get_json(&client, format!("{}/v1/workspaces/disk/contacts/kept", p.base)).await;
    assert_eq!(v["name"], "Kept Before Full");
    p.child.kill().ok();
    let _ = p.child.wait();
}

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
    let child = Command::new(env!("CARGO_BIN_EXE_contactdex"))
        .args(["serve", "--data-dir"])
        .arg(dir)
        .args([
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/index-config/default.toml"),
        ])
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    for round in 0..3 {
        let port = free_port();
        let mut p = start(dir.path(), port);
        wait_healthy(&client, &p.base).await;
        let stop_at = Instant::now() + Duration::from_millis(400 + 150 * round);
        let mut tasks = Vec::new();
        for w in 0..4 {
            let client = client.clone();
            let base = p.base.clone();
            let acked = acked.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < stop_at {
                    i += 1;
                    let ok = if w == 3 {
                        // bulk of 20
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
                        match client
                            .post(format!("{base}/v1/workspaces/crash/contacts/bulk"))
                            .header("content-type", "application/x-ndjson")
                            .body(body)
                            .send()
                            .await
                        {
                            Ok(r) if r.status().is_success() => Some(ids),
                            _ => None,
                        }
                    } else {
                        let id = format!("r{round}-w{w}-{i}");
                        match client
                            .put(format!("{base}/v1/workspaces/crash/contacts/{id}"))
                            .json(&json!({"name": format!("Crash Single {id}"), "tags": ["crash"]}))
                            .send()
                            .await
                        {
                            Ok(r) if r.status().is_success() => Some(vec![id]),
                            _ => None,
                        }
                    };
                    if let Some(ids) = ok {
                        acked.lock().unwrap().extend(ids);
                    }
                }
            }));
        }
        // kill while the writers are still going
        tokio::time::sleep(
            stop_at
                .saturating_duration_since(Instant::now())
                .saturating_sub(Duration::from_millis(50)),
        )
        .await;
        p.child.kill().expect("SIGKILL");
        let _ = p.child.wait();
        for t in tasks {
            let _ = t.await;
        }
    }
    let acked: Vec<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(
        acked.len() > 50,
        "too few writes acknowledged to mean anything: {}",
        acked.len()
    );

    let port = free_port();
    let mut p = start(dir.path(), port);
    wait_healthy(&client, &p.base).await;
    for id in &acked {
        let r = client
            .get(format!("{}/v1/workspaces/crash/contacts/{id}", p.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "acknowledged contact {id} lost");
    }
    // every acknowledged contact is searchable too
    let mut found = BTreeSet::new();
    let mut cursor = serde_json::Value::Null;
    loop {
        let v: serde_json::Value = client
            .post(format!("{}/v1/workspaces/crash/search", p.base))
            .json(&json!({"filter": {"field": "tags", "op": "eq", "value": "crash"}, "limit": 1000, "cursor": cursor, "sort": [{"field": "id"}]}))
            .send().await.unwrap().json().await.unwrap();
        for h in v["hits"].as_array().unwrap() {
            found.insert(h["id"].as_str().unwrap().to_string());
        }
        cursor = v["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let missing: Vec<&String> = acked.iter().filter(|id| !found.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged contacts not searchable after restart, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    // and by their own words
    let sample = &acked[acked.len() / 2];
    let v: serde_json::Value = client
        .post(format!("{}/v1/workspaces/crash/search", p.base))
        .json(&json!({"q": sample}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        v["hits"].as_array().unwrap().iter().any(|h| h["id"] == sample.as_str()),
        "{sample} not found by q: {v}"
    );
    p.child.kill().ok();
    let _ = p.child.wait();
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
    let port = free_port();
    let mut p = start(dir.path(), port);
    wait_healthy(&client, &p.base).await;
    let v: serde_json::Value = client
        .post(format!("{}/v1/workspaces/t/search", p.base))
        .json(&json!({"q": "term"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["total"], 20, "{v}");
    p.child.kill().ok();
    let _ = p.child.wait();
}

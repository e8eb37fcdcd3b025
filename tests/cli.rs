//! The real `contactdex` binary: import, search, export, reindex, refusals.

use std::io::Write;
use std::process::Command;

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_contactdex"));
    c.env("CONTACTDEX_LOG", "warn");
    c
}

pub fn cfg() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/index-config/default.toml")
}

#[test]
fn import_search_export_reindex() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.ndjson");
    let mut f = std::fs::File::create(&file).unwrap();
    for i in 0..300 {
        writeln!(f, "{}", serde_json::json!({"id": format!("i{i}"), "name": format!("Imported Person{i}"), "phones": [format!("+1 415 555 {:04}", 1000 + i)], "tags": ["imp"]})).unwrap();
    }
    writeln!(f, "{{broken").unwrap();
    drop(f);
    let data = dir.path().join("data");
    let out = bin()
        .args(["import", "--workspace", "w", "--quiet", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    let v: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(v["imported"], 300);
    assert_eq!(v["rejected"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 301"));

    let out = bin()
        .args(["search", "--workspace", "w", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .arg("person17")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hits"][0]["id"], "i17");

    let out = bin()
        .args(["export", "--workspace", "w", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 300);
    let out = bin()
        .args([
            "export",
            "--workspace",
            "w",
            "--format",
            "csv",
            "--config",
            cfg(),
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    let csv_text = String::from_utf8_lossy(&out.stdout);
    assert!(csv_text.starts_with("id,name,phone,email,tags"), "{csv_text}");
    assert_eq!(csv_text.lines().count(), 301);

    // reindex rebuilds the same index from the store, also after the index was damaged
    std::fs::write(data.join("index").join("meta.json"), b"garbage").unwrap();
    let out = bin()
        .args(["reindex", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(v["reindexed"], 300);
    let out = bin()
        .args(["search", "--workspace", "w", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .arg("5551017")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["hits"][0]["id"], "i17", "{v}");
}

#[test]
fn refuses_public_address_without_master_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["serve", "--addr", "0.0.0.0:7799", "--config", cfg(), "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("master key"));
}

#[test]
fn a_damaged_store_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("notes.txt"), b"not a store").unwrap();
    let out = bin()
        .args(["search", "--workspace", "w", "--config", cfg(), "--data-dir"])
        .arg(dir.path())
        .arg("x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be opened"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(store.join("notes.txt")).unwrap(), b"not a store");
}

#[test]
fn dedup_writes_pairs_and_clusters_csv() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.ndjson");
    let mut f = std::fs::File::create(&file).unwrap();
    for (id, doc) in [
        (
            "d1",
            serde_json::json!({"name": "Zbigniew Kowalczyk", "phones": ["+48 601 234 567"], "emails": ["zbig@example.pl"]}),
        ),
        (
            "d2",
            serde_json::json!({"name": "Kowalczyk Zbigniew", "emails": ["ZBIG@example.pl"]}),
        ),
        (
            "d3",
            serde_json::json!({"name": "Anna Nowak", "phones": ["+48 601 234 567"]}),
        ),
        ("d4", serde_json::json!({"name": "Piotr Zielinski"})),
    ] {
        let mut d = doc;
        d["id"] = serde_json::json!(id);
        writeln!(f, "{d}").unwrap();
    }
    drop(f);
    let data = dir.path().join("data");
    let out = bin()
        .args(["import", "--workspace", "w", "--quiet", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pairs = dir.path().join("pairs.csv");
    let clusters = dir.path().join("clusters.csv");
    let out = bin()
        .args(["dedup", "--workspace", "w", "--quiet", "--config", cfg(), "--data-dir"])
        .arg(&data)
        .arg("--out")
        .arg(&pairs)
        .arg("--clusters")
        .arg(&clusters)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(summary["contacts"], 4);
    assert_eq!(summary["clusters"], 1);
    let p = std::fs::read_to_string(&pairs).unwrap();
    let mut lines = p.lines();
    assert_eq!(lines.next(), Some("id_a,id_b,score"));
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(&row[..2], &["d1", "d2"]);
    assert!(row[2].parse::<f64>().unwrap() >= 0.9);
    assert!(
        lines.next().is_none(),
        "the woman sharing the phone is not proposed: {p}"
    );
    let c = std::fs::read_to_string(&clusters).unwrap();
    assert_eq!(c.lines().count(), 3, "{c}");
    assert!(c.starts_with("id,cluster_id\nd1,k0000000\nd2,k0000000"), "{c}");
    // a threshold out of range is refused
    let out = bin()
        .args([
            "dedup",
            "--workspace",
            "w",
            "--quiet",
            "--threshold",
            "2",
            "--config",
            cfg(),
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

/// An import that writes a large share of the index ends by merging it into one segment; a
/// small import into a larger base leaves the segments alone. Everything stays searchable.
fn import_file(data: &std::path::Path, file: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let out = bin()
        .args(["import", "--workspace", "w", "--quiet", "--config", cfg(), "--data-dir"])
        .arg(data)
        .args(extra)
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let last = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or("")
        .to_string();
    serde_json::from_str(&last).unwrap()
}

fn people_file(dir: &std::path::Path, name: &str, from: usize, n: usize) -> std::path::PathBuf {
    let file = dir.join(name);
    let mut f = std::fs::File::create(&file).unwrap();
    for i in from..from + n {
        writeln!(
            f,
            "{}",
            serde_json::json!({"id": format!("c{i}"), "name": format!("Compact Person{i}")})
        )
        .unwrap();
    }
    file
}

fn cli_search(data: &std::path::Path, q: &str) -> serde_json::Value {
    let out = bin()
        .args(["search", "--workspace", "w", "--config", cfg(), "--data-dir"])
        .arg(data)
        .arg(q)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn an_import_merges_its_segments_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let v = import_file(&data, &people_file(dir.path(), "a.ndjson", 0, 400), &[]);
    assert_eq!(v["compacted_segments"], 0, "{v}");
    let v = import_file(&data, &people_file(dir.path(), "b.ndjson", 400, 400), &[]);
    assert_eq!(v["compacted_segments"], 0, "{v}");
    let before = v["segments"].as_u64().unwrap();
    assert!(before >= 2, "two imports, two commits: {v}");
    let v = import_file(&data, &people_file(dir.path(), "c.ndjson", 800, 5), &["--compact"]);
    assert_eq!(v["imported"], 5);
    assert!(v["compacted_segments"].as_u64().unwrap() > before, "{v}");
    assert_eq!(v["segments"], 1, "{v}");
    for (q, id) in [("person17", "c17"), ("person417", "c417"), ("person803", "c803")] {
        assert_eq!(cli_search(&data, q)["hits"][0]["id"], id, "{q}");
    }
    assert_eq!(cli_search(&data, "compact")["total"], 805);
    // a one-segment index: nothing to merge
    let v = import_file(&data, &people_file(dir.path(), "d.ndjson", 0, 0), &["--compact"]);
    assert_eq!(v["compacted_segments"], 0, "{v}");
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Three imports leave six segments of a few hundred contacts each; the server merges them
/// into one once nothing is written for a few seconds, and searches see every contact before,
/// during and after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_merges_an_imported_index_once_writes_pause() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut segments = 0;
    for (i, name) in ["a.ndjson", "b.ndjson", "c.ndjson"].iter().enumerate() {
        let v = import_file(&data, &people_file(dir.path(), name, i * 400, 400), &[]);
        segments = v["segments"].as_u64().unwrap();
    }
    assert!(segments >= 3, "{segments} segments");
    let mut p = crate::crash::start(&data, crate::crash::free_port());
    let client = reqwest::Client::new();
    crate::crash::wait_healthy(&client, &p.base).await;
    let search = |q: &'static str| {
        let client = client.clone();
        let url = format!("{}/v1/workspaces/w/search", p.base);
        async move {
            let v: serde_json::Value = client
                .post(url)
                .json(&serde_json::json!({"q": q, "limit": 1}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v
        }
    };
    let start = std::time::Instant::now();
    let merged = loop {
        assert_eq!(search("compact").await["total"], 1200);
        let text = client
            .get(format!("{}/metrics", p.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metric(&text, "contactdex_index_segments") == Some(1.0) {
            break text;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "not merged after 60 s: {text}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(metric(&merged, "contactdex_index_consolidations_total"), Some(1.0));
    for (q, id) in [("person17", "c17"), ("person417", "c417"), ("person1103", "c1103")] {
        assert_eq!(search(q).await["hits"][0]["id"], id, "{q}");
    }
    assert_eq!(search("compact").await["total"], 1200);
    let _ = p.child.kill();
    let _ = p.child.wait();
}

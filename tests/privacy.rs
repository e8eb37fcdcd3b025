//! Privacy over HTTP: the audit trail (history), export of everything held about a contact,
//! and GDPR erasure, checked down to the bytes of the store and the index's term dictionaries.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::common::{error_code, Server};

const NEEDLE: &str = "Qzxvkwplm";

async fn req_as(s: &Server, actor: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.req_with(method, path, body, &[("x-actor", actor)]).await
}

async fn history(s: &Server, ws: &str, id: &str) -> (u16, Value) {
    s.req("GET", &format!("/v1/workspaces/{ws}/contacts/{id}/history"), None)
        .await
}

async fn erase(s: &Server, ws: &str, id: &str) -> (u16, Value) {
    req_as(
        s,
        "agent:dpo",
        "DELETE",
        &format!("/v1/workspaces/{ws}/contacts/{id}?erase=true&refresh=true"),
        None,
    )
    .await
}

async fn merge_ok(s: &Server, ws: &str, primary: &str, merged: &[&str]) -> Value {
    let (st, v) = s
        .req(
            "POST",
            &format!("/v1/workspaces/{ws}/merges?refresh=true"),
            Some(json!({"primary": primary, "merged": merged})),
        )
        .await;
    assert_eq!(st, 200, "merge {merged:?} into {primary}: {v}");
    v
}

async fn bulk_ok(s: &Server, ws: &str, docs: &[Value]) {
    let body = docs.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n");
    let (st, v) = s
        .raw(
            "POST",
            &format!("/v1/workspaces/{ws}/contacts/bulk?refresh=true"),
            body.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!((st, v["accepted"].clone()), (200, json!(docs.len())), "{v}");
}

fn sorted_strs(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default();
    out.sort();
    out
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn contains_ci(hay: &[u8], needle_lower: &[u8]) -> bool {
    !needle_lower.is_empty()
        && hay
            .windows(needle_lower.len())
            .any(|w| w.eq_ignore_ascii_case(needle_lower))
}

/// Every file under `dir` (recursively) whose bytes contain `needle`, ignoring ASCII case.
fn raw_scan(dir: &Path, needle: &str) -> Vec<PathBuf> {
    assert!(dir.is_dir(), "{} is not a directory", dir.display());
    let needle = needle.to_ascii_lowercase().into_bytes();
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot list {}: {e}", d.display()),
        };
        for entry in entries {
            let entry = entry.expect("directory entry");
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                match std::fs::read(&path) {
                    Ok(bytes) if contains_ci(&bytes, &needle) => found.push(path),
                    Ok(_) => {}
                    // a file removed between listing and reading (e.g. a merged index segment)
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => panic!("cannot read {}: {e}", path.display()),
                }
            }
        }
    }
    found.sort();
    found
}

fn try_term_scan(index_dir: &Path, needle: &[u8]) -> tantivy::Result<Vec<String>> {
    let index = tantivy::Index::open_in_dir(index_dir)?;
    let reader: tantivy::IndexReader = index
        .reader_builder()
        .reload_policy(tantivy::ReloadPolicy::Manual)
        .try_into()?;
    let searcher = reader.searcher();
    let schema = index.schema();
    let mut found = Vec::new();
    for segment in searcher.segment_readers() {
        for (field, entry) in schema.fields() {
            if !entry.is_indexed() {
                continue;
            }
            let inverted = segment.inverted_index(field)?;
            // The term dictionary holds the terms of deleted documents too, until they are
            // merged away: that is what an erasure must not leave behind.
            let mut stream = inverted.terms().stream()?;
            while stream.advance() {
                let key = stream.key();
                if contains_ci(key, needle) {
                    found.push(format!(
                        "segment {} field {}: {:?}",
                        segment.segment_id().uuid_string(),
                        entry.name(),
                        String::from_utf8_lossy(key)
                    ));
                }
            }
        }
    }
    Ok(found)
}

/// Terms in any indexed field of any segment (live or deleted documents alike) that contain
/// `needle`, ignoring ASCII case. Opens the index read-only, apart from the engine.
fn term_scan(index_dir: &Path, needle: &str) -> Vec<String> {
    let needle = needle.to_ascii_lowercase().into_bytes();
    let mut last_err = None;
    // the engine may merge segments and delete their files while we open them: retry
    for _ in 0..5 {
        match try_term_scan(index_dir, &needle) {
            Ok(found) => return found,
            Err(e) => {
                last_err = Some(e);
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
    }
    panic!("cannot scan the index in {}: {last_err:?}", index_dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_no_trace_in_the_store_or_the_index_files() {
    let s = Server::start().await;
    let ws = "gdpr";
    let (st, v) = s
        .req(
            "PUT",
            &format!("/v1/workspaces/{ws}/fields/note"),
            Some(json!({"type": "text", "label": "Note"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // One bulk request writes one index segment: the target's and the twin's documents sit
    // beside live ones, so deleting them leaves their terms behind in a segment tantivy keeps
    // (a segment whose documents are all deleted is dropped at commit, which would make this
    // test pass without any purge).
    bulk_ok(
        &s,
        ws,
        &[
            json!({"id": "target", "name": format!("{NEEDLE} Ferreira"), "emails": ["qzxvkwplm@erase-test.example"],
                   "phones": ["+1 415 555 0199"], "tags": ["lead"],
                   "custom": {"note": format!("met {NEEDLE} at the fair")}}),
            json!({"id": "twin", "name": format!("{NEEDLE} Twin"), "emails": ["twin@erase-test.example"]}),
            json!({"id": "keep1", "name": "Maria Keeper", "emails": ["maria@keep.example"],
                   "phones": ["+1 415 555 0101"]}),
            json!({"id": "keep2", "name": "John Stays", "custom": {"note": "another note entirely"}}),
        ],
    )
    .await;
    // an older version of the target stays behind as a deleted document in the index
    let (st, v) = s
        .req(
            "PATCH",
            &format!("/v1/workspaces/{ws}/contacts/target?refresh=true"),
            Some(json!({"tags": ["lead", "patched"]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    // the twin's data lives on in the merge's lineage
    merge_ok(&s, ws, "target", &["twin"]).await;
    // the target's current version shares a segment with a live contact
    bulk_ok(
        &s,
        ws,
        &[
            json!({"id": "target", "name": format!("{NEEDLE} Ferreira"), "emails": ["qzxvkwplm@erase-test.example"],
                   "phones": ["+1 415 555 0199"], "tags": ["lead", "patched", "bulk"],
                   "custom": {"note": format!("met {NEEDLE} at the fair")}}),
            json!({"id": "keep3", "name": "Third Keeper"}),
        ],
    )
    .await;

    let data_dir = s.engine.data_dir().to_path_buf();
    let index_dir = data_dir.join("index");
    let terms = term_scan(&index_dir, NEEDLE);
    assert!(!terms.is_empty(), "the term scan must see the needle before erasure");
    eprintln!("before erasure, {} index terms hold the needle: {terms:?}", terms.len());
    assert!(
        !term_scan(&index_dir, "4155550199").is_empty(),
        "the term scan must see the phone digits before erasure"
    );
    let in_store = raw_scan(&data_dir.join("store"), NEEDLE);
    assert!(
        in_store.is_empty(),
        "the store keeps personal data encrypted: {in_store:?}"
    );
    // the byte scan works too: the custom note is in the index's fast-field dictionary
    let before = raw_scan(&data_dir, NEEDLE);
    assert!(
        !before.is_empty(),
        "the raw scan must find the needle somewhere before erasure"
    );
    eprintln!("before erasure, the raw scan finds the needle in: {before:?}");

    let (st, v) = erase(&s, ws, "target").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["id"], "target", "{v}");
    assert_eq!(
        sorted_strs(&v["erased"]),
        vec!["target", "twin"],
        "the contact and its lineage: {v}"
    );
    assert_eq!(v["index_purged"], true, "{v}");

    let terms = term_scan(&index_dir, NEEDLE);
    assert!(terms.is_empty(), "index terms survive the erasure: {terms:?}");
    for other in ["4155550199", "erase-test", "ferreira"] {
        let terms = term_scan(&index_dir, other);
        assert!(
            terms.is_empty(),
            "index terms with {other:?} survive the erasure: {terms:?}"
        );
    }
    let files = raw_scan(&data_dir, NEEDLE);
    assert!(
        files.is_empty(),
        "files under the data dir still hold the needle: {files:?}"
    );

    for id in ["target", "twin"] {
        let (st, v) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/{id}"), None).await;
        assert_eq!(st, 404, "GET {id} after erasure: {v}");
    }
    for q in [
        NEEDLE,
        "qzxvkwplm@erase-test.example",
        "erase-test.example",
        "4155550199",
        "0199",
        "fair",
    ] {
        let ids = s.ids(ws, json!({"q": q})).await;
        assert!(ids.is_empty(), "search {q:?} after erasure: {ids:?}");
    }

    let (st, h) = history(&s, ws, "target").await;
    assert_eq!(st, 200, "{h}");
    let entries = h["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1, "only the erasure is remembered: {h}");
    assert_eq!(entries[0]["action"], "erase", "{h}");
    assert_eq!(entries[0]["actor"], "agent:dpo", "{h}");
    assert!(entries[0]["at"].is_string(), "{h}");
    for id in ["target", "twin"] {
        let (_, h) = history(&s, ws, id).await;
        let text = h.to_string().to_lowercase();
        for personal in [
            "qzxvkwplm",
            "ferreira",
            "4155550199",
            "415 555 0199",
            "erase-test",
            "fair",
            "patched",
        ] {
            assert!(!text.contains(personal), "history of {id} keeps {personal:?}: {h}");
        }
    }

    // everybody else is intact
    let (st, v) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/keep1"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["name"], "Maria Keeper");
    assert_eq!(v["emails"], json!(["maria@keep.example"]));
    let (st, v) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/keep2"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["custom"]["note"], "another note entirely");
    assert_eq!(s.ids(ws, json!({"q": "maria"})).await, vec!["keep1"]);
    assert_eq!(s.ids(ws, json!({"q": "4155550101"})).await, vec!["keep1"]);
    assert_eq!(s.ids(ws, json!({"q": "entirely"})).await, vec!["keep2"]);
    assert_eq!(s.search(ws, json!({"q": ""})).await["total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_twice_or_an_unknown_contact_is_not_found() {
    let s = Server::start().await;
    let ws = "gdpr2";
    s.put(ws, "gone", json!({"name": "Erased Once"})).await;
    s.put(ws, "stays", json!({"name": "Still Here"})).await;
    let (st, v) = erase(&s, ws, "gone").await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = erase(&s, ws, "gone").await;
    assert_eq!(st, 404, "second erasure: {v}");
    assert_eq!(error_code(&v), "not_found");
    let (st, v) = erase(&s, ws, "never-existed").await;
    assert_eq!(st, 404, "{v}");
    assert_eq!(error_code(&v), "not_found");
    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/{ws}/contacts/gone/export"), None)
        .await;
    assert_eq!(st, 404, "export after erasure: {v}");
    let (st, v) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/stays"), None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(s.ids(ws, json!({"q": ""})).await, vec!["stays"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_merged_away_id_erases_the_survivor_and_the_whole_lineage() {
    let s = Server::start().await;
    let ws = "gdpr3";
    // one bulk request: one segment, so the merged-away documents sit beside live ones (a
    // segment whose documents are all deleted is dropped by tantivy at commit anyway)
    let lines = [
        json!({"id": "x", "name": "Xavier Lineage", "emails": ["x@lineage.example"]}),
        json!({"id": "y", "name": "Vbnqrtzy Lineage", "phones": ["+1 415 555 0177"]}),
        json!({"id": "z", "name": "Zoe Lineage"}),
        json!({"id": "bystander", "name": "Bystander Person", "emails": ["by@stander.example"]}),
    ]
    .iter()
    .map(|l| l.to_string())
    .collect::<Vec<_>>()
    .join("\n");
    let (st, v) = s
        .raw(
            "POST",
            &format!("/v1/workspaces/{ws}/contacts/bulk?refresh=true"),
            lines.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!((st, v["accepted"].clone()), (200, json!(4)), "{v}");
    merge_ok(&s, ws, "y", &["x"]).await;
    merge_ok(&s, ws, "z", &["y"]).await;
    let index_dir = s.engine.data_dir().join("index");
    assert!(
        !term_scan(&index_dir, "vbnqrtzy").is_empty(),
        "precondition: the term is indexed"
    );

    let (st, v) = erase(&s, ws, "x").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(sorted_strs(&v["erased"]), vec!["x", "y", "z"], "{v}");
    for id in ["x", "y", "z"] {
        let (st, v) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/{id}"), None).await;
        assert_eq!(st, 404, "GET {id}: {v}");
    }
    for q in [
        "lineage",
        "xavier",
        "vbnqrtzy",
        "zoe",
        "x@lineage.example",
        "4155550177",
    ] {
        let ids = s.ids(ws, json!({"q": q})).await;
        assert!(ids.is_empty(), "search {q:?}: {ids:?}");
    }
    for needle in ["vbnqrtzy", "xavier", "lineage", "4155550177"] {
        let terms = term_scan(&index_dir, needle);
        assert!(terms.is_empty(), "{needle:?} still in the index: {terms:?}");
    }
    let files = raw_scan(s.engine.data_dir(), "vbnqrtzy");
    assert!(files.is_empty(), "{files:?}");
    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/{ws}/contacts/bystander"), None)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(s.ids(ws, json!({"q": "bystander"})).await, vec!["bystander"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_holds_the_document_merges_with_snapshots_and_the_whole_history() {
    let s = Server::start().await;
    let ws = "exp";
    let (st, v) = req_as(
        &s,
        "agent:ana",
        "PUT",
        &format!("/v1/workspaces/{ws}/contacts/p?refresh=true"),
        Some(json!({"name": "Paula Export", "emails": ["paula@export.example"], "tags": ["a"]})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    s.put(ws, "m", json!({"name": "Paula E.", "phones": ["+1 415 555 0142"]}))
        .await;
    let (st, v) = req_as(
        &s,
        "agent:bo",
        "PATCH",
        &format!("/v1/workspaces/{ws}/contacts/p?refresh=true"),
        Some(json!({"tags": ["a", "b"]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let merged = merge_ok(&s, ws, "p", &["m"]).await;
    let merge_id = merged["merge_id"].as_str().expect("merge_id").to_string();

    let (st, e) = s
        .req("GET", &format!("/v1/workspaces/{ws}/contacts/p/export"), None)
        .await;
    assert_eq!(st, 200, "{e}");
    assert_eq!(e["id"], "p", "{e}");
    let (_, got) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/p"), None).await;
    assert_eq!(e["contact"], got, "the export carries the document as GET returns it");
    let merges = e["merges"].as_array().expect("merges");
    assert_eq!(merges.len(), 1, "{e}");
    assert_eq!(merges[0]["merge_id"], merge_id.as_str(), "{e}");
    let snap = &merges[0]["snapshots"]["m"];
    assert_eq!(
        snap["name"], "Paula E.",
        "the merged contact as it was before the merge: {e}"
    );
    assert_eq!(snap["phones_e164"], json!(["+14155550142"]), "{e}");
    let actions: Vec<&str> = e["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "create").count(),
        2,
        "creations of both contacts: {actions:?}"
    );
    for action in ["update", "merge", "merged_into"] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
    let trail = e["history"].as_array().expect("history");
    assert!(trail.iter().any(|h| h["actor"] == "agent:ana"), "{e}");
    assert!(trail.iter().any(|h| h["actor"] == "agent:bo"), "{e}");
    let at = e["exported_at"].as_str().expect("exported_at");
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{e}");

    let (st, e2) = s
        .req("GET", &format!("/v1/workspaces/{ws}/contacts/m/export"), None)
        .await;
    assert_eq!(st, 200, "{e2}");
    assert_eq!(e2["id"], "p", "a merged-away id exports its survivor: {e2}");
    assert_eq!(e2["contact"]["id"], "p", "{e2}");
    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/{ws}/contacts/nobody/export"), None)
        .await;
    assert_eq!(st, 404, "{v}");
    error_code(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_records_actor_route_action_and_changes_newest_first() {
    let s = Server::start().await;
    let ws = "hist";
    let path = format!("/v1/workspaces/{ws}/contacts/c1?refresh=true");
    let (st, v) = req_as(
        &s,
        "agent:ana",
        "PUT",
        &path,
        Some(json!({"name": "Ana Lima", "tags": ["a", "b"]})),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let (st, v) = req_as(
        &s,
        "agent:bo",
        "PATCH",
        &path,
        Some(json!({"name": "Ana Lima Souza", "tags": ["b", "c"]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s.req("PATCH", &path, Some(json!({"status": "inactive"}))).await;
    assert_eq!(st, 200, "{v}");

    let (st, h) = history(&s, ws, "c1").await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["id"], "c1", "{h}");
    assert!(h["next_cursor"].is_null(), "one page holds three entries: {h}");
    let entries = h["entries"].as_array().expect("entries").clone();
    assert_eq!(entries.len(), 3, "{h}");
    let actions: Vec<&str> = entries.iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, vec!["update", "update", "create"], "newest first: {h}");
    let actors: Vec<&str> = entries.iter().filter_map(|e| e["actor"].as_str()).collect();
    assert_eq!(actors, vec!["unknown", "agent:bo", "agent:ana"], "{h}");
    assert_eq!(entries[1]["route"], "PATCH /v1/workspaces/{ws}/contacts/{id}", "{h}");
    assert_eq!(entries[2]["route"], "PUT /v1/workspaces/{ws}/contacts/{id}", "{h}");
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = entries
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(e["at"].as_str().expect("at")).expect("RFC 3339"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {h}");

    let changes = entries[1]["changes"].as_array().expect("changes");
    let name = changes.iter().find(|c| c["field"] == "name").expect("a name change");
    assert_eq!(name["old"], "Ana Lima", "{h}");
    assert_eq!(name["new"], "Ana Lima Souza", "{h}");
    let tags = changes.iter().find(|c| c["field"] == "tags").expect("a tags change");
    assert_eq!(tags["added"], json!(["c"]), "{h}");
    assert_eq!(tags["removed"], json!(["a"]), "{h}");
    let status = entries[0]["changes"].as_array().expect("changes");
    assert!(
        status.iter().any(|c| c["field"] == "status" && c["new"] == "inactive"),
        "{h}"
    );
    assert!(!status.iter().any(|c| c["field"] == "name"), "only what changed: {h}");

    // pages of one, following the cursor, give the same entries
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let url = match &cursor {
            Some(c) => format!(
                "/v1/workspaces/{ws}/contacts/c1/history?limit=1&cursor={}",
                urlencode(c)
            ),
            None => format!("/v1/workspaces/{ws}/contacts/c1/history?limit=1"),
        };
        let (st, v) = s.req("GET", &url, None).await;
        assert_eq!(st, 200, "{v}");
        let page = v["entries"].as_array().expect("entries");
        assert!(page.len() <= 1, "{v}");
        paged.extend(page.iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, entries, "paging neither skips nor repeats");

    // a plain delete is in the trail too; an id never seen is not
    let (st, v) = s.req("DELETE", &path, None).await;
    assert_eq!(st, 200, "{v}");
    let (st, h) = history(&s, ws, "c1").await;
    assert_eq!(st, 200, "{h}");
    assert_eq!(h["entries"][0]["action"], "delete", "{h}");
    let (st, v) = history(&s, ws, "never-existed").await;
    assert_eq!(st, 404, "{v}");
    error_code(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_actor_header_is_refused_and_changes_nothing() {
    let s = Server::start().await;
    let ws = "actor";
    s.put(ws, "c", json!({"name": "Actor Target"})).await;
    let path = format!("/v1/workspaces/{ws}/contacts/c?refresh=true");
    for bad in ["a".repeat(129), "agent:\tana".to_string()] {
        let (st, v) = req_as(&s, &bad, "PATCH", &path, Some(json!({"name": "Changed"}))).await;
        assert_eq!(st, 400, "X-Actor {bad:?}: {v}");
        error_code(&v);
    }
    let (_, v) = s.req("GET", &format!("/v1/workspaces/{ws}/contacts/c"), None).await;
    assert_eq!(v["name"], "Actor Target", "a refused write changes nothing");
    let (_, h) = history(&s, ws, "c").await;
    assert_eq!(h["entries"].as_array().map(Vec::len), Some(1), "only the creation: {h}");

    let longest = "b".repeat(128);
    let (st, v) = req_as(&s, &longest, "PATCH", &path, Some(json!({"name": "Changed"}))).await;
    assert_eq!(st, 200, "128 characters are fine: {v}");
    let (_, h) = history(&s, ws, "c").await;
    assert_eq!(h["entries"][0]["actor"], longest.as_str(), "{h}");
}

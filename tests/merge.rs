//! Merges and unmerges over HTTP: field resolution, merged ids resolving to the survivor,
//! refusals, merges of merges, undo, duplicates proposals and the audit trail.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{error_code, Server};

const WS: &str = "mg";

async fn req_as(s: &Server, actor: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    s.req_with(method, path, body, &[("x-actor", actor)]).await
}

async fn merge(s: &Server, ws: &str, body: Value) -> (u16, Value) {
    s.req("POST", &format!("/v1/workspaces/{ws}/merges?refresh=true"), Some(body))
        .await
}

async fn merge_ok(s: &Server, ws: &str, body: Value) -> Value {
    let (st, v) = merge(s, ws, body.clone()).await;
    assert_eq!(st, 200, "merge {body} -> {v}");
    assert!(
        v["merge_id"].as_str().is_some_and(|m| m.starts_with("m-")),
        "merge_id like m-…: {v}"
    );
    v
}

async fn undo(s: &Server, ws: &str, merge_id: &str) -> (u16, Value) {
    s.req(
        "POST",
        &format!("/v1/workspaces/{ws}/merges/{merge_id}/undo?refresh=true"),
        None,
    )
    .await
}

async fn get(s: &Server, ws: &str, id: &str) -> (u16, Value) {
    s.req("GET", &format!("/v1/workspaces/{ws}/contacts/{id}"), None).await
}

async fn get_ok(s: &Server, ws: &str, id: &str) -> Value {
    let (st, v) = get(s, ws, id).await;
    assert_eq!(st, 200, "GET {id} -> {v}");
    v
}

/// The document without `updated_at`, which any write may move.
fn doc(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("updated_at");
    }
    v
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn br_workspace(s: &Server, ws: &str) {
    let (st, v) = s
        .req(
            "PUT",
            &format!("/v1/workspaces/{ws}/settings"),
            Some(json!({"default_region": "BR"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
}

async fn run_dedup_job(s: &Server, ws: &str) {
    let (st, v) = s.req("POST", &format!("/v1/workspaces/{ws}/dedup/jobs"), None).await;
    assert_eq!(st, 202, "{v}");
    let job = v["job_id"].as_str().expect("job_id").to_string();
    for _ in 0..400 {
        let (_, v) = s
            .req("GET", &format!("/v1/workspaces/{ws}/dedup/jobs/{job}"), None)
            .await;
        if v["status"] == "done" {
            return;
        }
        assert!(v["status"] != "failed" && v["status"] != "cancelled", "dedup job: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("dedup job {job} did not finish within 10 s");
}

async fn clusters(s: &Server, ws: &str) -> Vec<Vec<String>> {
    let (st, v) = s.req("GET", &format!("/v1/workspaces/{ws}/duplicates"), None).await;
    assert_eq!(st, 200, "{v}");
    v["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .map(|c| strs(&c["members"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_defaults_keep_primary_scalars_and_union_lists() {
    let s = Server::start().await;
    br_workspace(&s, WS).await;
    s.put(
        WS,
        "p",
        json!({"name": "Fernanda Oliveira", "phones": ["+55 21 99876-1234"], "emails": ["fernanda@gmail.com"],
               "tags": ["vip"], "status": "active", "created_at": "2025-03-01T00:00:00Z",
               "last_interaction_at": "2025-05-01T00:00:00Z",
               "custom": {"customer_tier": "Gold", "preferred_products": ["Product A"]}}),
    )
    .await;
    s.put(
        WS,
        "m1",
        json!({"name": "Fernada Oliveira", "phones": ["(21) 99876-1234", "+55 11 91234-5678"],
               "emails": ["Fernanda@Gmail.com", "f.oliveira@work.com"], "tags": ["lead", "vip"],
               "source": "whatsapp", "status": "inactive", "created_by": "bot:welcome",
               "created_at": "2024-01-01T00:00:00Z", "last_interaction_at": "2025-02-01T00:00:00Z",
               "custom": {"customer_tier": "Silver", "company": "Acme",
                          "preferred_products": ["Product A", "Product C"]}}),
    )
    .await;
    s.put(
        WS,
        "m2",
        json!({"name": "F. Oliveira", "source": "web", "photo_url": "https://example.com/f.png", "tags": ["b2b"],
               "created_by": "import:old", "created_at": "2024-06-01T00:00:00Z",
               "last_interaction_at": "2025-09-01T00:00:00Z", "custom": {"city": "Rio"}}),
    )
    .await;

    let v = merge_ok(&s, WS, json!({"primary": "p", "merged": ["m1", "m2"]})).await;
    assert_eq!(strs(&v["merged"]), vec!["m1", "m2"], "{v}");
    let c = &v["contact"];
    assert_eq!(c["id"], "p", "the survivor keeps the primary's id: {c}");
    assert_eq!(c["name"], "Fernanda Oliveira", "primary's name wins: {c}");
    assert_eq!(c["status"], "active", "primary's status wins: {c}");
    assert_eq!(
        c["source"], "whatsapp",
        "primary has no source: the first merged one with one: {c}"
    );
    assert_eq!(
        c["created_by"], "bot:welcome",
        "first merged contact with a created_by: {c}"
    );
    assert_eq!(c["photo_url"], "https://example.com/f.png", "only m2 has a photo: {c}");
    assert_eq!(
        c["phones_e164"],
        json!(["+5521998761234", "+5511912345678"]),
        "phones: union by E.164, primary's first: {c}"
    );
    assert_eq!(c["phones"].as_array().map(Vec::len), Some(2), "{c}");
    assert_eq!(
        c["emails"],
        json!(["fernanda@gmail.com", "f.oliveira@work.com"]),
        "emails: union ignoring case, primary's first: {c}"
    );
    assert_eq!(
        c["tags"],
        json!(["vip", "lead", "b2b"]),
        "tags: union, primary's first: {c}"
    );
    assert_eq!(c["custom"]["customer_tier"], "Gold", "{c}");
    assert_eq!(c["custom"]["company"], "Acme", "{c}");
    assert_eq!(c["custom"]["city"], "Rio", "{c}");
    assert_eq!(
        c["custom"]["preferred_products"],
        json!(["Product A", "Product C"]),
        "multi_select: union: {c}"
    );
    assert_eq!(c["created_at"], "2024-01-01T00:00:00Z", "earliest created_at: {c}");
    assert_eq!(
        c["last_interaction_at"], "2025-09-01T00:00:00Z",
        "latest last_interaction_at: {c}"
    );

    let got = get_ok(&s, WS, "p").await;
    assert_eq!(doc(&got), doc(c), "GET of the primary returns what the merge answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn field_choices_take_the_named_contacts_value_even_when_empty() {
    let s = Server::start().await;
    s.put(
        WS,
        "p",
        json!({"name": "Bob", "emails": ["bob@x.example"], "tags": ["a"], "source": "web",
               "custom": {"customer_tier": "Gold", "company": "Acme"}}),
    )
    .await;
    s.put(
        WS,
        "m",
        json!({"name": "Robert Johnson", "emails": ["robert@y.example"], "tags": ["b"],
               "custom": {"customer_tier": "Premium"}}),
    )
    .await;
    let v = merge_ok(
        &s,
        WS,
        json!({"primary": "p", "merged": ["m"],
               "fields": {"name": "m", "emails": "m", "custom.customer_tier": "m", "source": "m",
                          "custom.company": "m", "tags": "union"}}),
    )
    .await;
    let c = &v["contact"];
    assert_eq!(c["id"], "p", "{c}");
    assert_eq!(c["name"], "Robert Johnson", "name chosen from m: {c}");
    assert_eq!(
        c["emails"],
        json!(["robert@y.example"]),
        "emails chosen from m only: {c}"
    );
    assert_eq!(c["custom"]["customer_tier"], "Premium", "{c}");
    assert!(c["source"].is_null(), "m has no source: choosing m clears it: {c}");
    assert!(
        c["custom"]["company"].is_null(),
        "m has no company: choosing m clears it: {c}"
    );
    assert_eq!(c["tags"], json!(["a", "b"]), "{c}");
    assert_eq!(doc(&get_ok(&s, WS, "p").await), doc(c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_ids_resolve_to_the_survivor_and_leave_search() {
    let s = Server::start().await;
    s.put(
        WS,
        "p",
        json!({"name": "Robert Johnson", "phones": ["+1 415 555 2671"]}),
    )
    .await;
    s.put(
        WS,
        "m",
        json!({"name": "Bobby Tables", "phones": ["+1 415 555 9999"], "emails": ["bobby@tables.example"]}),
    )
    .await;
    s.put(WS, "other", json!({"name": "Someone Else"})).await;
    merge_ok(&s, WS, json!({"primary": "p", "merged": ["m"]})).await;

    let (st, v) = get(&s, WS, "m").await;
    assert_eq!(st, 200, "a merged-away id still resolves: {v}");
    assert_eq!(v["id"], "p", "GET of a merged id answers the survivor: {v}");
    assert_eq!(v["name"], "Robert Johnson");

    for q in ["bobby", "tables", "bobby@tables.example", "4155559999", "robert"] {
        let ids = s.ids(WS, json!({"q": q})).await;
        assert!(!ids.contains(&"m".to_string()), "merged id in hits for {q:?}: {ids:?}");
    }
    assert_eq!(
        s.ids(WS, json!({"q": "4155559999"})).await,
        vec!["p"],
        "the merged phone now finds the survivor"
    );
    let all = s.ids(WS, json!({"q": ""})).await;
    assert_eq!(sorted(all), vec!["other", "p"], "only survivors are listed");
    let v = s.search(WS, json!({"q": ""})).await;
    assert_eq!(v["total"], 2, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_to_a_merged_away_id_are_conflicts() {
    let s = Server::start().await;
    s.put(WS, "p", json!({"name": "Paula Primary", "tags": ["keep"]})).await;
    s.put(WS, "m", json!({"name": "Paula Merged"})).await;
    let v = merge_ok(&s, WS, json!({"primary": "p", "merged": ["m"]})).await;
    let before = doc(&v["contact"]);

    let path = format!("/v1/workspaces/{WS}/contacts/m?refresh=true");
    for (method, body) in [
        ("PUT", Some(json!({"name": "Overwritten"}))),
        ("PATCH", Some(json!({"name": "Patched"}))),
        ("DELETE", None),
    ] {
        let (st, v) = s.req(method, &path, body).await;
        assert_eq!(st, 409, "{method} on a merged-away id: {v}");
        assert_eq!(error_code(&v), "conflict", "{method}: {v}");
    }
    let after = get_ok(&s, WS, "m").await;
    assert_eq!(after["id"], "p");
    assert_eq!(doc(&after), before, "the survivor is untouched by the refused writes");
    assert_eq!(doc(&get_ok(&s, WS, "p").await), before);
    assert!(s.ids(WS, json!({"q": "overwritten"})).await.is_empty());
    assert!(s.ids(WS, json!({"q": "patched"})).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_merge_requests_are_refused_and_change_nothing() {
    let s = Server::start().await;
    s.put(WS, "p", json!({"name": "Primary Person", "emails": ["p@x.example"]}))
        .await;
    s.put(WS, "m", json!({"name": "Merged Person", "emails": ["m@x.example"]}))
        .await;
    s.put(WS, "other", json!({"name": "Other Person"})).await;
    s.put("mg-elsewhere", "elsewhere", json!({"name": "Elsewhere Person"}))
        .await;
    let p_before = doc(&get_ok(&s, WS, "p").await);
    let m_before = doc(&get_ok(&s, WS, "m").await);

    let cases: Vec<(Value, u16, Option<&str>)> = vec![
        (json!({"primary": "p", "merged": ["p"]}), 400, Some("bad_request")),
        (json!({"primary": "p", "merged": ["m", "p"]}), 400, Some("bad_request")),
        (json!({"primary": "p", "merged": []}), 400, None),
        (json!({"primary": "p", "merged": ["ghost"]}), 404, Some("not_found")),
        (
            json!({"primary": "p", "merged": ["m", "ghost"]}),
            404,
            Some("not_found"),
        ),
        (json!({"primary": "p", "merged": ["elsewhere"]}), 404, Some("not_found")),
        (
            json!({"primary": "p", "merged": ["m"], "fields": {"name": "union"}}),
            400,
            None,
        ),
        (
            json!({"primary": "p", "merged": ["m"], "fields": {"status": "union"}}),
            400,
            None,
        ),
        (
            json!({"primary": "p", "merged": ["m"], "fields": {"name": "other"}}),
            400,
            None,
        ),
        (
            json!({"primary": "p", "merged": ["m"], "fields": {"name": "ghost"}}),
            400,
            None,
        ),
        (
            json!({"primary": "p", "merged": ["m"], "fields": {"nickname": "m"}}),
            400,
            None,
        ),
        (
            json!({"primary": "p", "merged": ["m"], "fields": {"custom.nope": "m"}}),
            400,
            None,
        ),
    ];
    for (body, status, code) in cases {
        let (st, v) = merge(&s, WS, body.clone()).await;
        assert_eq!(st, status, "{body} -> {v}");
        let got = error_code(&v);
        if let Some(code) = code {
            assert_eq!(got, code, "{body} -> {v}");
        }
    }
    let (st, v) = merge(&s, "no-such-ws", json!({"primary": "p", "merged": ["m"]})).await;
    assert_eq!(st, 404, "unknown workspace: {v}");
    error_code(&v);

    let m_after = get_ok(&s, WS, "m").await;
    assert_eq!(m_after["id"], "m", "m was not merged by a refused request: {m_after}");
    assert_eq!(doc(&m_after), m_before);
    assert_eq!(doc(&get_ok(&s, WS, "p").await), p_before);
    assert_eq!(
        get_ok(&s, "mg-elsewhere", "elsewhere").await["name"],
        "Elsewhere Person"
    );
    assert_eq!(s.search(WS, json!({"q": ""})).await["total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_restores_merged_contacts_and_keeps_later_changes() {
    let s = Server::start().await;
    s.put(
        WS,
        "p",
        json!({"name": "Carla Mendes", "phones": ["+55 11 98888-0001"], "emails": ["carla@mendes.example"],
               "tags": ["vip"], "created_at": "2025-02-01T00:00:00Z", "custom": {"customer_tier": "Gold"}}),
    )
    .await;
    let m_before = s
        .put(
            WS,
            "m",
            json!({"name": "Carlota Nunes", "phones": ["+55 11 97777-0002"],
                   "emails": ["carlota@other.example"], "tags": ["vip", "lead"], "source": "whatsapp",
                   "created_at": "2024-05-05T00:00:00Z", "last_interaction_at": "2025-06-01T00:00:00Z",
                   "custom": {"company": "Acme", "customer_tier": "Silver"}}),
        )
        .await;
    let m_before = doc(&m_before);
    let v = merge_ok(&s, WS, json!({"primary": "p", "merged": ["m"]})).await;
    let merge_id = v["merge_id"].as_str().expect("merge_id").to_string();
    assert_eq!(v["contact"]["tags"], json!(["vip", "lead"]), "{v}");

    // changes to the survivor after the merge
    let (st, v) = s
        .req(
            "PATCH",
            &format!("/v1/workspaces/{WS}/contacts/p?refresh=true"),
            Some(json!({"name": "Carla Mendes Souza", "tags": ["vip", "lead", "x"]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");

    let (st, v) = undo(&s, WS, &merge_id).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["merge_id"], merge_id.as_str(), "{v}");
    assert_eq!(strs(&v["restored"]), vec!["m"], "{v}");
    assert_eq!(v["contact"]["id"], "p", "{v}");

    let m_after = get_ok(&s, WS, "m").await;
    assert_eq!(m_after["id"], "m", "m is its own contact again: {m_after}");
    assert_eq!(
        doc(&m_after),
        m_before,
        "m comes back exactly as it was before the merge"
    );

    let p = get_ok(&s, WS, "p").await;
    assert_eq!(
        doc(&p),
        doc(&v["contact"]),
        "undo answers the survivor as GET returns it"
    );
    assert_eq!(
        p["name"], "Carla Mendes Souza",
        "a name changed after the merge is kept: {p}"
    );
    assert_eq!(
        sorted(strs(&p["tags"])),
        vec!["vip", "x"],
        "the tag added after the merge stays, the one the merge brought goes: {p}"
    );
    assert_eq!(p["phones_e164"], json!(["+5511988880001"]), "{p}");
    assert_eq!(p["emails"], json!(["carla@mendes.example"]), "{p}");
    assert!(p["source"].is_null(), "the source came with the merge: {p}");
    assert!(p["custom"]["company"].is_null(), "the company came with the merge: {p}");
    assert_eq!(p["custom"]["customer_tier"], "Gold", "{p}");
    assert_eq!(
        p["created_at"], "2025-02-01T00:00:00Z",
        "the earlier created_at came with the merge: {p}"
    );
    assert!(p["last_interaction_at"].is_null(), "came with the merge: {p}");

    assert_eq!(
        s.ids(WS, json!({"q": "carlota"})).await,
        vec!["m"],
        "m is searchable again"
    );
    assert_eq!(s.ids(WS, json!({"q": "97777-0002"})).await, vec!["m"]);
    assert_eq!(s.ids(WS, json!({"q": "carlota@other.example"})).await, vec!["m"]);
    assert_eq!(s.search(WS, json!({"q": ""})).await["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undoing_twice_or_an_unknown_merge_is_refused() {
    let s = Server::start().await;
    s.put(WS, "p", json!({"name": "Undo Primary"})).await;
    s.put(WS, "m", json!({"name": "Undo Merged"})).await;
    let v = merge_ok(&s, WS, json!({"primary": "p", "merged": ["m"]})).await;
    let merge_id = v["merge_id"].as_str().expect("merge_id").to_string();
    let (st, v) = undo(&s, WS, &merge_id).await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = undo(&s, WS, &merge_id).await;
    assert_eq!(st, 409, "second undo: {v}");
    assert_eq!(error_code(&v), "conflict");
    assert_eq!(get_ok(&s, WS, "m").await["name"], "Undo Merged");

    let (st, v) = undo(&s, WS, "m-does-not-exist").await;
    assert_eq!(st, 404, "{v}");
    error_code(&v);
    // a merge id is not valid in another workspace
    s.put("mg-other", "x", json!({"name": "Other Ws"})).await;
    let (st, v) = undo(&s, "mg-other", &merge_id).await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/mg-other/merges/{merge_id}"), None)
        .await;
    assert_eq!(st, 404, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_record_tells_who_merged_what_and_when() {
    let s = Server::start().await;
    s.put(WS, "p", json!({"name": "Record Primary"})).await;
    s.put(WS, "m", json!({"name": "Record Merged"})).await;
    let (st, v) = req_as(
        &s,
        "agent:ana",
        "POST",
        &format!("/v1/workspaces/{WS}/merges?refresh=true"),
        Some(json!({"primary": "p", "merged": ["m"], "fields": {"name": "m"}})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let merge_id = v["merge_id"].as_str().expect("merge_id").to_string();

    let path = format!("/v1/workspaces/{WS}/merges/{merge_id}");
    let (st, r) = s.req("GET", &path, None).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["merge_id"], merge_id.as_str(), "{r}");
    assert_eq!(r["primary"], "p", "{r}");
    assert_eq!(r["merged"], json!(["m"]), "{r}");
    assert_eq!(r["fields"]["name"], "m", "{r}");
    assert_eq!(r["actor"], "agent:ana", "{r}");
    let at = r["at"].as_str().expect("at");
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "at is RFC 3339: {r}");
    assert!(r["undone_at"].is_null(), "not undone yet: {r}");

    let (st, v) = undo(&s, WS, &merge_id).await;
    assert_eq!(st, 200, "{v}");
    let (_, r) = s.req("GET", &path, None).await;
    let undone = r["undone_at"].as_str().expect("undone_at is set after undo");
    assert!(chrono::DateTime::parse_from_rfc3339(undone).is_ok(), "{r}");

    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/{WS}/merges/m-does-not-exist"), None)
        .await;
    assert_eq!(st, 404, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_of_merges_resolve_to_the_last_survivor_and_undo_in_reverse_order() {
    let s = Server::start().await;
    s.put(WS, "a", json!({"name": "Alpha Person", "emails": ["a@chain.example"]}))
        .await;
    s.put(WS, "b", json!({"name": "Beta Person", "emails": ["b@chain.example"]}))
        .await;
    let c_before = doc(&s
        .put(WS, "c", json!({"name": "Gamma Person", "emails": ["c@chain.example"]}))
        .await);
    let a_before = doc(&get_ok(&s, WS, "a").await);
    let b_before = doc(&get_ok(&s, WS, "b").await);

    let v1 = merge_ok(&s, WS, json!({"primary": "b", "merged": ["a"]})).await;
    let m1 = v1["merge_id"].as_str().expect("merge_id").to_string();
    let b_after_m1 = doc(&v1["contact"]);
    assert_eq!(b_after_m1["emails"], json!(["b@chain.example", "a@chain.example"]));
    let v2 = merge_ok(&s, WS, json!({"primary": "c", "merged": ["b"]})).await;
    let m2 = v2["merge_id"].as_str().expect("merge_id").to_string();
    assert_eq!(
        v2["contact"]["emails"],
        json!(["c@chain.example", "b@chain.example", "a@chain.example"]),
        "{v2}"
    );
    for id in ["a", "b", "c"] {
        assert_eq!(
            get_ok(&s, WS, id).await["id"],
            "c",
            "GET {id} resolves to the last survivor"
        );
    }
    assert_eq!(s.ids(WS, json!({"q": ""})).await, vec!["c"]);

    let (st, v) = undo(&s, WS, &m1).await;
    assert_eq!(st, 409, "undoing the earlier merge while b is merged away: {v}");
    assert_eq!(error_code(&v), "conflict");
    assert_eq!(get_ok(&s, WS, "a").await["id"], "c", "the refused undo changed nothing");

    let (st, v) = undo(&s, WS, &m2).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(strs(&v["restored"]), vec!["b"], "{v}");
    let b = get_ok(&s, WS, "b").await;
    assert_eq!(doc(&b), b_after_m1, "b comes back as it was before the second merge");
    assert_eq!(get_ok(&s, WS, "a").await["id"], "b", "a resolves to b again");
    assert_eq!(doc(&get_ok(&s, WS, "c").await), c_before, "c loses what b brought");
    assert_eq!(sorted(s.ids(WS, json!({"q": ""})).await), vec!["b", "c"]);

    let (st, v) = undo(&s, WS, &m1).await;
    assert_eq!(st, 200, "now the first merge can be undone: {v}");
    assert_eq!(doc(&get_ok(&s, WS, "a").await), a_before);
    assert_eq!(doc(&get_ok(&s, WS, "b").await), b_before);
    assert_eq!(sorted(s.ids(WS, json!({"q": ""})).await), vec!["a", "b", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_forget_merged_ids_and_undo_remembers_the_pair_as_rejected() {
    let s = Server::start().await;
    br_workspace(&s, WS).await;
    let docs = [
        json!({"id": "a1", "name": "Fernanda Oliveira", "phones": ["+55 21 99876-1234"],
               "emails": ["fernanda.oliveira@gmail.com"]}),
        json!({"id": "a2", "name": "Fernada Oliveira", "emails": ["Fernanda.Oliveira+loja@gmail.com"]}),
        json!({"id": "b1", "name": "Robert Johnson", "phones": ["+1 415 555 2671"]}),
        json!({"id": "b2", "name": "Bob", "phones": ["+1 (415) 555-2671"]}),
    ];
    let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let (st, v) = s
        .raw(
            "POST",
            &format!("/v1/workspaces/{WS}/contacts/bulk?refresh=true"),
            body.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200, "{v}");
    run_dedup_job(&s, WS).await;
    let pair_a = vec!["a1".to_string(), "a2".to_string()];
    let pair_b = vec!["b1".to_string(), "b2".to_string()];
    let cl = clusters(&s, WS).await;
    assert!(cl.contains(&pair_a) && cl.contains(&pair_b), "precondition: {cl:?}");

    let v = merge_ok(&s, WS, json!({"primary": "a1", "merged": ["a2"]})).await;
    let merge_id = v["merge_id"].as_str().expect("merge_id").to_string();
    let cl = clusters(&s, WS).await;
    assert!(
        !cl.iter().any(|c| c.contains(&"a2".to_string())),
        "no proposal involves the merged id: {cl:?}"
    );
    assert!(cl.contains(&pair_b), "other proposals stay: {cl:?}");

    let (st, v) = undo(&s, WS, &merge_id).await;
    assert_eq!(st, 200, "{v}");
    let cl = clusters(&s, WS).await;
    assert!(
        !cl.iter().any(|c| c.contains(&"a2".to_string())),
        "the undone pair is not proposed again: {cl:?}"
    );
    run_dedup_job(&s, WS).await;
    let cl = clusters(&s, WS).await;
    assert!(
        !cl.iter()
            .any(|c| c.contains(&"a1".to_string()) && c.contains(&"a2".to_string())),
        "a new job does not propose the unmerged pair: {cl:?}"
    );
    assert!(cl.contains(&pair_b), "{cl:?}");
    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/{WS}/contacts/a1/duplicates"), None)
        .await;
    assert_eq!(st, 200, "{v}");
    assert!(
        !v["duplicates"]
            .as_array()
            .expect("duplicates")
            .iter()
            .any(|d| d["id"] == "a2"),
        "the pair is remembered as rejected: {v}"
    );
}

async fn history(s: &Server, id: &str) -> Vec<Value> {
    let (st, v) = s
        .req("GET", &format!("/v1/workspaces/{WS}/contacts/{id}/history"), None)
        .await;
    assert_eq!(st, 200, "history of {id}: {v}");
    assert_eq!(v["id"], id, "a merged-away id has its own trail: {v}");
    v["entries"].as_array().expect("entries").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_shows_merge_and_undo_on_both_sides() {
    let s = Server::start().await;
    s.put(WS, "p", json!({"name": "History Primary"})).await;
    s.put(WS, "m", json!({"name": "History Merged"})).await;
    let (st, v) = req_as(
        &s,
        "agent:ana",
        "POST",
        &format!("/v1/workspaces/{WS}/merges?refresh=true"),
        Some(json!({"primary": "p", "merged": ["m"]})),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let merge_id = v["merge_id"].as_str().expect("merge_id").to_string();

    let p = history(&s, "p").await;
    assert_eq!(p[0]["action"], "merge", "{p:?}");
    assert_eq!(p[0]["merge_id"], merge_id.as_str(), "{p:?}");
    assert_eq!(p[0]["actor"], "agent:ana", "{p:?}");
    assert_eq!(p[0]["route"], "POST /v1/workspaces/{ws}/merges", "{p:?}");
    assert_eq!(p.last().expect("entries")["action"], "create", "{p:?}");
    let m = history(&s, "m").await;
    assert_eq!(m[0]["action"], "merged_into", "{m:?}");
    assert_eq!(m[0]["merge_id"], merge_id.as_str(), "{m:?}");
    assert_eq!(m[0]["actor"], "agent:ana", "{m:?}");
    assert_eq!(m.last().expect("entries")["action"], "create", "{m:?}");

    let (st, v) = req_as(
        &s,
        "agent:bo",
        "POST",
        &format!("/v1/workspaces/{WS}/merges/{merge_id}/undo?refresh=true"),
        None,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let p = history(&s, "p").await;
    assert_eq!(p[0]["action"], "unmerge", "{p:?}");
    assert_eq!(p[0]["merge_id"], merge_id.as_str(), "{p:?}");
    assert_eq!(p[0]["actor"], "agent:bo", "{p:?}");
    assert_eq!(
        p[0]["route"], "POST /v1/workspaces/{ws}/merges/{merge_id}/undo",
        "{p:?}"
    );
    assert_eq!(p[1]["action"], "merge", "{p:?}");
    let m = history(&s, "m").await;
    assert_eq!(m[0]["action"], "restored", "{m:?}");
    assert_eq!(m[0]["merge_id"], merge_id.as_str(), "{m:?}");
    assert_eq!(m[0]["actor"], "agent:bo", "{m:?}");
    assert_eq!(m[1]["action"], "merged_into", "{m:?}");
}

//! Access control over HTTP: API keys, agent tokens, and the access matrix (every route,
//! every kind of credential, two workspaces with the same ids: nothing crosses).

use serde_json::{json, Value};

use crate::common::{error_code, test_config, Server};

const MASTER: &str = "master-secret-for-tests";

async fn call(s: &Server, method: &str, path: &str, body: Option<Value>, cred: Option<&str>) -> (u16, Value) {
    match cred {
        Some(c) => {
            let bearer = format!("Bearer {c}");
            s.req_with(method, path, body, &[("authorization", &bearer)]).await
        }
        None => s.req(method, path, body).await,
    }
}

async fn new_key(s: &Server, actions: &[&str], workspaces: &[&str]) -> (String, String) {
    let (st, v) = call(
        s,
        "POST",
        "/v1/keys",
        Some(json!({"actions": actions, "workspaces": workspaces, "description": "test"})),
        Some(MASTER),
    )
    .await;
    assert_eq!(st, 201, "{v}");
    (
        v["id"].as_str().expect("id").to_string(),
        v["key"].as_str().expect("key").to_string(),
    )
}

async fn new_token(s: &Server, cred: &str, body: Value) -> String {
    let (st, v) = call(s, "POST", "/v1/tokens", Some(body), Some(cred)).await;
    assert_eq!(st, 201, "{v}");
    v["token"].as_str().expect("token").to_string()
}

/// Two workspaces holding the same ids with different people.
async fn seed(s: &Server, cred: Option<&str>) {
    for (ws, who) in [("wsa", "Alice"), ("wsb", "Bruno")] {
        for (id, tag, phone) in [("c1", "ana", "+55 11 98765-0001"), ("c2", "other", "+55 11 98765-0002")] {
            let (st, v) = call(
                s,
                "PUT",
                &format!("/v1/workspaces/{ws}/contacts/{id}?refresh=true"),
                Some(json!({"name": format!("{who} {id}"), "phones": [phone], "tags": [tag],
                            "emails": [format!("{id}@{ws}.example")]})),
                cred,
            )
            .await;
            assert!(st == 200 || st == 201, "{v}");
        }
    }
    let (st, v) = call(
        s,
        "PUT",
        "/v1/workspaces/wsa/fields/salary",
        Some(json!({"type": "number", "label": "Salary"})),
        cred,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = call(
        s,
        "PATCH",
        "/v1/workspaces/wsa/contacts/c1?refresh=true",
        Some(json!({"custom": {"salary": 9000}})),
        cred,
    )
    .await;
    assert_eq!(st, 200, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_shown_once_listed_without_secrets_and_revocable() {
    let s = Server::start_with(test_config(), Some(MASTER)).await;
    seed(&s, Some(MASTER)).await;
    let (id, key) = new_key(&s, &["search"], &["wsa"]).await;
    assert!(key.starts_with("cdxk_"), "{key}");
    let (st, v) = call(&s, "GET", "/v1/keys", None, Some(MASTER)).await;
    assert_eq!(st, 200, "{v}");
    let text = v.to_string();
    assert!(text.contains(&id), "{v}");
    assert!(!text.contains(&key[5 + 17..]), "the secret must never be listed: {v}");
    assert!(!text.contains("hash"), "{v}");

    let (st, v) = call(
        &s,
        "POST",
        "/v1/workspaces/wsa/search",
        Some(json!({"q": "alice"})),
        Some(&key),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 2, "{v}");
    // the wrong secret for a real id, a made-up key, garbage, no header
    let wrong = format!("{}x", &key[..key.len() - 1]);
    for cred in [
        Some(wrong.as_str()),
        Some("cdxk_0123456789abcdef_nope"),
        Some("garbage"),
        None,
    ] {
        let (st, v) = call(&s, "POST", "/v1/workspaces/wsa/search", Some(json!({"q": "a"})), cred).await;
        assert_eq!(st, 401, "{cred:?}: {v}");
        assert_eq!(error_code(&v), "unauthorized");
    }
    // revoked: gone for good
    let (st, v) = call(&s, "DELETE", &format!("/v1/keys/{id}"), None, Some(MASTER)).await;
    assert_eq!(st, 200, "{v}");
    let (st, _) = call(
        &s,
        "POST",
        "/v1/workspaces/wsa/search",
        Some(json!({"q": "a"})),
        Some(&key),
    )
    .await;
    assert_eq!(st, 401);
    let (st, _) = call(&s, "DELETE", &format!("/v1/keys/{id}"), None, Some(MASTER)).await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_carry_actions_and_workspaces_and_cannot_hand_out_more() {
    let s = Server::start_with(test_config(), Some(MASTER)).await;
    seed(&s, Some(MASTER)).await;
    let (_, reader) = new_key(&s, &["search"], &["wsa"]).await;
    let (st, v) = call(&s, "GET", "/v1/workspaces/wsb/contacts/c1", None, Some(&reader)).await;
    assert_eq!(st, 403, "another workspace: {v}");
    assert_eq!(error_code(&v), "forbidden");
    let (st, v) = call(
        &s,
        "PATCH",
        "/v1/workspaces/wsa/contacts/c1",
        Some(json!({"name": "Hacked"})),
        Some(&reader),
    )
    .await;
    assert_eq!(st, 403, "no write action: {v}");
    let (st, v) = call(&s, "GET", "/v1/workspaces/wsa/contacts/c1", None, Some(MASTER)).await;
    assert_eq!(
        (st, v["name"].clone()),
        (200, json!("Alice c1")),
        "nothing changed: {v}"
    );
    // a workspace admin can make narrower keys, never wider ones, and cannot list all keys
    let (_, admin_a) = new_key(&s, &["search", "admin"], &["wsa"]).await;
    for (body, want) in [
        (json!({"actions": ["search"], "workspaces": ["wsa"]}), 201),
        (json!({"actions": ["write"], "workspaces": ["wsa"]}), 403),
        (json!({"actions": ["search"], "workspaces": ["wsb"]}), 403),
        (json!({"actions": ["search"], "workspaces": ["*"]}), 403),
        (json!({"actions": [], "workspaces": ["wsa"]}), 400),
        (json!({"actions": ["fly"], "workspaces": ["wsa"]}), 400),
    ] {
        let (st, v) = call(&s, "POST", "/v1/keys", Some(body.clone()), Some(&admin_a)).await;
        assert_eq!(st, want, "{body} -> {v}");
    }
    let (st, _) = call(&s, "GET", "/v1/keys", None, Some(&admin_a)).await;
    assert_eq!(st, 403, "listing every key needs an all-workspace admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_tokens_filter_everything_and_hide_fields_everywhere() {
    let s = Server::start_with(test_config(), Some(MASTER)).await;
    seed(&s, Some(MASTER)).await;
    let (key_id, key) = new_key(&s, &["search", "write", "dedup", "merge"], &["wsa"]).await;
    let token = new_token(
        &s,
        &key,
        json!({"workspace": "wsa", "filter": {"field": "tags", "op": "eq", "value": "ana"},
               "hidden_fields": ["phones", "custom.salary"], "expires_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    let t = Some(token.as_str());
    // search: only the filter's contacts, hidden fields gone
    let (st, v) = call(&s, "POST", "/v1/workspaces/wsa/search", Some(json!({"q": ""})), t).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 1, "{v}");
    let hit = &v["hits"][0]["contact"];
    assert_eq!(hit["id"], "c1");
    for f in ["phones", "phones_e164"] {
        assert!(hit.get(f).is_none(), "{f} leaked: {hit}");
    }
    assert!(hit["custom"].get("salary").is_none(), "{hit}");
    assert!(!v.to_string().contains("98765"), "a phone leaked: {v}");
    // a hidden field cannot be matched, filtered, sorted or faceted on
    let (st, v) = call(
        &s,
        "POST",
        "/v1/workspaces/wsa/search",
        Some(json!({"q": "98765-0001"})),
        t,
    )
    .await;
    assert_eq!(
        (st, v["total"].clone()),
        (200, json!(0)),
        "searching a hidden phone finds its owner: {v}"
    );
    let (st, v) = call(&s, "POST", "/v1/workspaces/wsa/search", Some(json!({"q": "0001"})), t).await;
    assert_eq!(
        (st, v["total"].clone()),
        (200, json!(0)),
        "last digits of a hidden phone: {v}"
    );
    for body in [
        json!({"filter": {"field": "phones", "op": "exists", "value": true}}),
        json!({"filter": {"or": [{"field": "custom.salary", "op": "gt", "value": 1}]}}),
        json!({"sort": [{"field": "custom.salary", "order": "desc"}]}),
        json!({"facets": ["custom.salary"]}),
    ] {
        let (st, v) = call(&s, "POST", "/v1/workspaces/wsa/search", Some(body.clone()), t).await;
        assert_eq!(st, 403, "{body} -> {v}");
    }
    // single reads: outside the filter is 404, inside is redacted
    let (st, v) = call(&s, "GET", "/v1/workspaces/wsa/contacts/c2", None, t).await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = call(&s, "GET", "/v1/workspaces/wsa/contacts/c2/history", None, t).await;
    assert_eq!(st, 404, "{v}");
    let (st, v) = call(&s, "GET", "/v1/workspaces/wsa/contacts/c1", None, t).await;
    assert_eq!(st, 200, "{v}");
    assert!(v.get("phones").is_none() && v["custom"].get("salary").is_none(), "{v}");
    let (st, v) = call(&s, "GET", "/v1/workspaces/wsa/contacts/c1/history", None, t).await;
    assert_eq!(st, 200, "{v}");
    assert!(
        !v.to_string().contains("9000"),
        "a hidden value leaked through history: {v}"
    );
    // writes: not to contacts outside the filter, not to hidden fields
    let (st, _) = call(
        &s,
        "PATCH",
        "/v1/workspaces/wsa/contacts/c2",
        Some(json!({"name": "X"})),
        t,
    )
    .await;
    assert_eq!(st, 404);
    let (st, _) = call(
        &s,
        "PATCH",
        "/v1/workspaces/wsa/contacts/c1",
        Some(json!({"phones": []})),
        t,
    )
    .await;
    assert_eq!(st, 403);
    // export: filtered, redacted, no hidden column
    let resp = s
        .client
        .get(s.url("/v1/workspaces/wsa/contacts/export?format=csv"))
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("export");
    assert_eq!(resp.status().as_u16(), 200);
    let csv = resp.text().await.expect("csv");
    let header = csv.lines().next().unwrap_or("");
    assert!(!header.contains("phone") && !header.contains("salary"), "{header}");
    assert_eq!(csv.lines().count(), 2, "header + the one visible contact: {csv}");
    // workspace-wide routes are closed to a filtered token; other workspaces too
    let (st, _) = call(&s, "GET", "/v1/workspaces/wsa/duplicates", None, t).await;
    assert_eq!(st, 403);
    let (st, _) = call(&s, "POST", "/v1/workspaces/wsb/search", Some(json!({"q": ""})), t).await;
    assert_eq!(st, 403);
    // a token cannot mint keys or tokens, nor widen its parent
    let (st, _) = call(
        &s,
        "POST",
        "/v1/keys",
        Some(json!({"actions": ["search"], "workspaces": ["wsa"]})),
        t,
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = call(
        &s,
        "POST",
        "/v1/tokens",
        Some(json!({"workspace": "wsa", "expires_at": "2099-01-01T00:00:00Z"})),
        t,
    )
    .await;
    assert_eq!(st, 403);
    let (st, v) = call(
        &s,
        "POST",
        "/v1/tokens",
        Some(json!({"workspace": "wsb", "expires_at": "2099-01-01T00:00:00Z"})),
        Some(&key),
    )
    .await;
    assert_eq!(st, 403, "a token for a workspace its key lacks: {v}");
    let (st, _) = call(
        &s,
        "POST",
        "/v1/tokens",
        Some(json!({"workspace": "wsa", "expires_at": "2000-01-01T00:00:00Z"})),
        Some(&key),
    )
    .await;
    assert_eq!(st, 400, "an expiry in the past");
    // a tampered token fails; revoking the parent kills the token
    let tampered = format!("{}A", token);
    let (st, _) = call(
        &s,
        "POST",
        "/v1/workspaces/wsa/search",
        Some(json!({})),
        Some(&tampered),
    )
    .await;
    assert_eq!(st, 401);
    let (st, _) = call(&s, "DELETE", &format!("/v1/keys/{key_id}"), None, Some(MASTER)).await;
    assert_eq!(st, 200);
    let (st, _) = call(&s, "POST", "/v1/workspaces/wsa/search", Some(json!({})), t).await;
    assert_eq!(st, 401, "the token dies with its key");
}

/// Every route of the router, every kind of credential: the right status, and nothing from
/// the other workspace ever in an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_matrix_every_route_every_credential() {
    let s = Server::start_with(test_config(), Some(MASTER)).await;
    seed(&s, Some(MASTER)).await;
    let (_, key_a_all) = new_key(&s, &["search", "write", "dedup", "merge", "admin"], &["wsa"]).await;
    let (_, key_b_search) = new_key(&s, &["search"], &["wsb"]).await;
    let (_, key_a_none_useful) = new_key(&s, &["dedup"], &["wsa"]).await;
    let token_a = new_token(
        &s,
        &key_a_all,
        json!({"workspace": "wsa", "expires_at": "2099-01-01T00:00:00Z", "hidden_fields": ["emails"]}),
    )
    .await;
    // same ids, other workspace: each key reads its own person
    let (_, v) = call(&s, "GET", "/v1/workspaces/wsa/contacts/c1", None, Some(&key_a_all)).await;
    assert_eq!(v["name"], "Alice c1");
    let (_, v) = call(&s, "GET", "/v1/workspaces/wsb/contacts/c1", None, Some(&key_b_search)).await;
    assert_eq!(v["name"], "Bruno c1");
    let (_, v) = call(
        &s,
        "POST",
        "/v1/workspaces/wsb/search",
        Some(json!({"q": "c1"})),
        Some(&key_b_search),
    )
    .await;
    assert!(!v.to_string().contains("Alice"), "{v}");
    // then every route (the probes below may delete wsa's c1: they run last)
    let routes = contactdex::api::route_actions();
    assert!(
        routes.len() >= 29,
        "the route table lists every route ({})",
        routes.len()
    );
    for (method, route, action) in routes {
        let path = route
            .replace("{ws}", "wsa")
            .replace("{id}", "c1")
            .replace("{key}", "note")
            .replace("{job}", "no-such-job")
            .replace("{merge_id}", "no-such-merge");
        let m = method.as_str();
        // body-less probes: a 4xx about the body is fine, what matters is auth
        for (cred, label) in [(None, "none"), (Some("cdxk_0123456789abcdef_bad"), "bad key")] {
            let (st, v) = call(&s, m, &path, None, cred).await;
            assert_eq!(st, 401, "{m} {route} with {label}: {v}");
        }
        let ws_route = route.starts_with("/v1/workspaces/");
        if ws_route {
            // a key for the other workspace never gets in, whatever its actions
            let (st, v) = call(&s, m, &path, None, Some(&key_b_search)).await;
            assert_eq!(st, 403, "{m} {route} with wsb's key: {v}");
        }
        // a key without the route's action is refused before anything runs
        if let Some(a) = action {
            if a != contactdex::access::Action::Dedup {
                let (st, v) = call(&s, m, &path, None, Some(&key_a_none_useful)).await;
                assert_eq!(st, 403, "{m} {route} with a dedup-only key: {v}");
            }
        }
        // the workspace's own full key passes auth (whatever the route then says)
        if ws_route {
            let (st, v) = call(&s, m, &path, None, Some(&key_a_all)).await;
            assert!(st != 401 && st != 403, "{m} {route} with wsa's key: {st} {v}");
            assert!(!v.to_string().contains("Bruno"), "{m} {route} leaked wsb: {v}");
            let (st, v) = call(&s, m, &path, None, Some(&token_a)).await;
            assert!(st != 401, "{m} {route} with wsa's token: {st} {v}");
            assert!(!v.to_string().contains("Bruno"), "{m} {route} leaked wsb: {v}");
            assert!(
                !v.to_string().contains("@wsa.example"),
                "{m} {route} leaked a hidden email: {v}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_master_key_tokens_still_narrow() {
    let s = Server::start().await;
    seed(&s, None).await;
    // no master key configured: a bearer that is sent is still checked
    let (st, _) = call(
        &s,
        "POST",
        "/v1/tokens",
        Some(json!({"workspace": "wsa", "expires_at": "2099-01-01T00:00:00Z"})),
        Some(MASTER),
    )
    .await;
    assert_eq!(st, 401);
    let (st, v) = call(
        &s,
        "POST",
        "/v1/tokens",
        Some(json!({"workspace": "wsa", "expires_at": "2099-01-01T00:00:00Z",
                    "filter": {"field": "tags", "op": "eq", "value": "ana"}})),
        None,
    )
    .await;
    assert_eq!(st, 201, "{v}");
    let token = v["token"].as_str().expect("token").to_string();
    let (st, v) = call(&s, "POST", "/v1/workspaces/wsa/search", Some(json!({})), Some(&token)).await;
    assert_eq!((st, v["total"].clone()), (200, json!(1)), "{v}");
    let (st, _) = call(&s, "POST", "/v1/workspaces/wsb/search", Some(json!({})), Some(&token)).await;
    assert_eq!(st, 403);
}

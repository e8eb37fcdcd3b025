use serde_json::json;

use crate::common::{error_code, Server};

async fn seeded() -> Server {
    let s = Server::start().await;
    s.put(
        "acme",
        "keep",
        json!({"name": "Keep Me", "phones": ["+14155552671"], "custom": {"lifetime_value": 5}}),
    )
    .await;
    s
}

async fn unchanged(s: &Server) {
    let (st, v) = s.req("GET", "/v1/workspaces/acme/contacts/keep", None).await;
    assert_eq!(st, 200);
    assert_eq!(v["name"], "Keep Me");
    assert_eq!(v["custom"]["lifetime_value"], 5);
    assert_eq!(s.search("acme", json!({})).await["total"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_json_4xx_and_change_nothing() {
    let s = seeded().await;
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"name\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"name\": \"\xff\xfe\"}".to_vec(),
            400,
            "invalid_utf8",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"[1,2]".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"name\": 5}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"custom\": {\"nope\": 1}}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"custom\": {\"lifetime_value\": \"lots\"}}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"phones\": [\"12\"]}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"phones\": [\"call me maybe\"]}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"emails\": [\"nobody\"]}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"id\": \"other\"}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/contacts/bad%20id",
            b"{}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/Bad_WS/contacts/x",
            b"{}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PATCH",
            "/v1/workspaces/acme/contacts/keep",
            b"{\"status\": \"deleted\"}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PATCH",
            "/v1/workspaces/acme/contacts/keep",
            b"not json".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "POST",
            "/v1/workspaces/acme/search",
            b"{\"q\": 1}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "POST",
            "/v1/workspaces/acme/search",
            b"{\"filter\": {\"field\": \"bogus\", \"op\": \"eq\", \"value\": 1}}".to_vec(),
            400,
            "invalid_search",
        ),
        (
            "POST",
            "/v1/workspaces/acme/search",
            b"{\"filter\": {\"field\": \"custom.undefined\", \"op\": \"eq\", \"value\": 1}}".to_vec(),
            400,
            "invalid_search",
        ),
        (
            "POST",
            "/v1/workspaces/acme/search",
            b"{\"cursor\": \"garbage!\"}".to_vec(),
            400,
            "invalid_cursor",
        ),
        (
            "POST",
            "/v1/workspaces/acme/search",
            b"{\"sort\": [{\"field\": \"phones\"}]}".to_vec(),
            400,
            "invalid_search",
        ),
        (
            "POST",
            "/v1/workspaces/acme/search",
            b"{\"limit\": 100000}".to_vec(),
            400,
            "invalid_search",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/fields/Bad-Key",
            b"{\"type\": \"text\"}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/fields/tier2",
            b"{\"type\": \"single_select\"}".to_vec(),
            400,
            "invalid_value",
        ),
        (
            "PUT",
            "/v1/workspaces/acme/fields/x",
            b"{\"type\": \"money\"}".to_vec(),
            400,
            "invalid_value",
        ),
        ("GET", "/v1/workspaces/nope/contacts/keep", vec![], 404, "not_found"),
        ("GET", "/v1/workspaces/acme/contacts/missing", vec![], 404, "not_found"),
        ("GET", "/v1/nothing-here", vec![], 404, "route_not_found"),
        (
            "DELETE",
            "/v1/workspaces/acme/search",
            vec![],
            405,
            "method_not_allowed",
        ),
    ];
    for (m, path, body, status, code) in cases {
        let (st, v) = s.raw(m, path, body, "application/json").await;
        assert_eq!(st, status, "{m} {path} -> {v}");
        assert_eq!(error_code(&v), code, "{m} {path} -> {v}");
    }
    unchanged(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused() {
    let s = seeded().await;
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(2 << 20));
    let (st, v) = s
        .raw(
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            big.into_bytes(),
            "application/json",
        )
        .await;
    assert_eq!(st, 413, "{v}");
    assert_eq!(error_code(&v), "payload_too_large");
    // a chunked (no content-length) body over the limit
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    // Over a socket the server answers 413 and closes while the client may still be writing, so
    // the client sees either the 413 or a broken pipe; both leave the server and the store intact.
    match s
        .client
        .post(s.url("/v1/workspaces/acme/search"))
        .body(body)
        .send()
        .await
    {
        Ok(resp) => assert_eq!(resp.status().as_u16(), 413),
        Err(e) => assert!(e.is_request(), "unexpected client error {e}"),
    }
    let (st, _) = s.req("GET", "/health", None).await;
    assert_eq!(st, 200);
    // The same body through the router without a socket: always the 413.
    {
        use tower::ServiceExt;
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..40).map(|_| Ok(vec![b' '; 64 * 1024])).collect();
        let req = axum::http::Request::post("/v1/workspaces/acme/search")
            .body(axum::body::Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
        let app = contactdex::api::app(contactdex::api::AppState {
            engine: s.engine.clone(),
            master_key: None,
        });
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status().as_u16(), 413);
    }
    // too long a name
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/acme/contacts/keep",
            Some(json!({"name": "n".repeat(5000)})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    // too long a q
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/acme/search",
            Some(json!({"q": "q".repeat(70_000)})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    unchanged(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_and_deep_filters_are_refused() {
    let s = seeded().await;
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (st, v) = s
        .raw(
            "POST",
            "/v1/workspaces/acme/search",
            format!("{{\"filter\": {deep}}}").into_bytes(),
            "application/json",
        )
        .await;
    assert_eq!(st, 400, "{v}");
    let mut f = json!({"field": "tags", "op": "eq", "value": "x"});
    for _ in 0..100 {
        f = json!({"not": f});
    }
    let (st, v) = s
        .req("POST", "/v1/workspaces/acme/search", Some(json!({"filter": f})))
        .await;
    assert_eq!(st, 400, "{v}");
    unchanged(&s).await;
}

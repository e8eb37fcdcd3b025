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
    // a fresh client: the pooled connection may be the one the server just closed
    let resp = reqwest::Client::new()
        .get(s.url("/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(resp.status().as_u16(), 200);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_foreign_cursors_and_huge_query_strings_are_refused() {
    let s = seeded().await;
    for i in 0..5 {
        s.put("pages", &format!("p{i}"), json!({"name": format!("Page {i}")}))
            .await;
        s.put("other", &format!("p{i}"), json!({"name": format!("Page {i}")}))
            .await;
    }
    let v = s.search("pages", json!({"limit": 2})).await;
    let cursor = v["next_cursor"].as_str().expect("a next page").to_string();
    // a cursor from another workspace
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/other/search",
            Some(json!({"limit": 2, "cursor": cursor})),
        )
        .await;
    assert_eq!((st, error_code(&v)), (400, "invalid_cursor".to_string()), "{v}");
    // a tampered cursor: one character flipped, truncated, garbage
    let mut flipped = cursor.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(flipped).unwrap_or_default(),
        cursor[..cursor.len() / 2].to_string(),
        "%%%".into(),
    ] {
        let (st, v) = s
            .req(
                "POST",
                "/v1/workspaces/pages/search",
                Some(json!({"limit": 2, "cursor": bad})),
            )
            .await;
        assert_eq!(st, 400, "cursor {bad:?}: {v}");
    }
    // a 1 MiB `q` in a search body: over the 64 KiB limit for q
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/acme/search",
            Some(json!({"q": "a".repeat((1 << 20) - 64)})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
    // a 1 MiB query string in the URL (export takes q and filter there): HTTP clients refuse to
    // send it, so over a raw socket; hyper refuses it before routing (431), or closes
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
        let huge = "a".repeat(1 << 20);
        let req = format!("GET /v1/workspaces/acme/contacts/export?q={huge} HTTP/1.1\r\nHost: x\r\n\r\n");
        let _ = stream.write_all(req.as_bytes()).await; // may fail once the server gives up
        let mut buf = vec![0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("an answer or a close, not a hang")
            .unwrap_or(0);
        let head = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || head.starts_with("HTTP/1.1 4"), "1 MiB URL -> {head}");
    }
    // a filter tree 1,000 deep
    let mut f = json!({"field": "tags", "op": "eq", "value": "x"});
    for _ in 0..1000 {
        f = json!({"and": [f]});
    }
    let (st, v) = s
        .req("POST", "/v1/workspaces/acme/search", Some(json!({"filter": f})))
        .await;
    assert_eq!(st, 400, "{v}");
    unchanged(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut cfg = crate::common::test_config();
    cfg.server.header_read_timeout_secs = 1;
    let s = Server::start_with(cfg, None).await;
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let start = std::time::Instant::now();
    let mut buf = [0u8; 1024];
    let cut_off = loop {
        if start.elapsed() > std::time::Duration::from_secs(6) {
            break false;
        }
        // one header byte every 100 ms: never a complete header block
        if stream.write_all(b"z").await.is_err() {
            break true;
        }
        match tokio::time::timeout(std::time::Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(n)) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                assert!(!text.contains("200 OK"), "a half-sent request was served: {text}");
                break true; // e.g. 408
            }
            Err(_) => {}
        }
    };
    let took = start.elapsed();
    assert!(cut_off, "the slow client was never cut off");
    assert!(took < std::time::Duration::from_secs(4), "cut off only after {took:?}");
    let (st, _) = s.req("GET", "/health", None).await;
    assert_eq!(st, 200, "other clients are still served");
}

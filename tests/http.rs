use serde_json::json;

use crate::common::{error_code, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_read_search_round_trip() {
    let s = Server::start().await;
    let (st, _) = s
        .req(
            "PUT",
            "/v1/workspaces/acme/settings",
            Some(json!({"default_region": "BR"})),
        )
        .await;
    assert_eq!(st, 200);
    let c = s
        .put(
            "acme",
            "c-001",
            json!({"name": "José da Silva 🌸", "phones": ["+55 11 98765-4321", "(11) 3333-4444"],
                   "emails": ["Jose.Silva@Gmail.com"], "tags": ["vip", "lead"],
                   "custom": {"customer_tier": "Premium", "lifetime_value": 15000, "contract_renewal_date": "2025-12-31",
                              "newsletter": true, "preferred_products": ["Product A", "Product C"]},
                   "source": "whatsapp", "status": "active", "created_at": "2025-03-01T12:00:00Z",
                   "created_by": "bot:welcome", "last_interaction_at": "2025-11-15T09:30:00Z"}),
        )
        .await;
    assert_eq!(c["phones_e164"], json!(["+5511987654321", "+551133334444"]));
    assert_eq!(c["emails"], json!(["jose.silva@gmail.com"]));
    let (st, got) = s.req("GET", "/v1/workspaces/acme/contacts/c-001", None).await;
    assert_eq!(st, 200);
    assert_eq!(got["name"], "José da Silva 🌸");
    assert_eq!(got["custom"]["lifetime_value"], 15000);
    s.put(
        "acme",
        "c-002",
        json!({"name": "Maria Souza", "phones": ["+55 21 99876-5432"], "tags": ["lead"]}),
    )
    .await;

    for q in [
        "jose",
        "José",
        "JOSE DA SILVA",
        "silva jose",
        "jos",
        "Jsoe",
        "98765-4321",
        "+55 11 98765-4321",
        "5511987654321",
        "(11) 98765-4321",
        "4321",
        "jose.silva@gmail.com",
        "gmail.com",
        "JOSE.SILVA",
        "premium",
        "vip",
    ] {
        let ids = s.ids("acme", json!({"q": q})).await;
        assert_eq!(ids.first().map(String::as_str), Some("c-001"), "query {q:?} -> {ids:?}");
    }
    let ids = s.ids("acme", json!({"q": "maria"})).await;
    assert_eq!(ids, vec!["c-002"]);
    let ids = s.ids("acme", json!({"q": "nobody-like-this"})).await;
    assert!(ids.is_empty());
    let v = s.search("acme", json!({"q": ""})).await;
    assert_eq!(v["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_sort_and_cursor_pages() {
    let s = Server::start().await;
    let mut lines = String::new();
    for i in 0..57 {
        let tag = if i % 3 == 0 { "vip" } else { "lead" };
        let status = if i % 5 == 0 { "blocked" } else { "active" };
        lines.push_str(
            &json!({"id": format!("p{i:03}"), "name": format!("Person {i}"), "tags": [tag], "status": status,
            "created_at": format!("2025-01-{:02}T10:00:00Z", 1 + i % 28), "custom": {"lifetime_value": i * 10}})
            .to_string(),
        );
        lines.push('\n');
    }
    let (st, v) = s
        .raw(
            "POST",
            "/v1/workspaces/w/contacts/bulk?refresh=true",
            lines.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 57);

    let vip = s
        .search(
            "w",
            json!({"filter": {"field": "tags", "op": "eq", "value": "VIP"}, "limit": 100}),
        )
        .await;
    assert_eq!(vip["total"], 19);
    let f = json!({"and": [{"field": "tags", "op": "eq", "value": "vip"}, {"not": {"field": "status", "op": "eq", "value": "blocked"}}]});
    let v = s.search("w", json!({"filter": f, "limit": 100})).await;
    assert_eq!(v["total"], 15);
    let v = s
        .search(
            "w",
            json!({"filter": {"field": "custom.lifetime_value", "op": "gte", "value": 500}, "limit": 100}),
        )
        .await;
    assert_eq!(v["total"], 7);
    let v = s
        .search(
            "w",
            json!({"filter": {"or": [{"field": "custom.lifetime_value", "op": "lt", "value": 20},
        {"field": "created_at", "op": "eq", "value": "2025-01-28"}]}}),
        )
        .await;
    assert_eq!(v["total"], 2 + 2);
    let v = s
        .search(
            "w",
            json!({"filter": {"field": "status", "op": "in", "value": ["blocked", "inactive"]}}),
        )
        .await;
    assert_eq!(v["total"], 12);
    let v = s
        .search(
            "w",
            json!({"q": "person", "filter": {"field": "created_at", "op": "gte", "value": "2025-01-20"}, "limit": 100}),
        )
        .await;
    assert_eq!(v["total"], 18); // days 20..=28 of i % 28: i in 19..=27 and 47..=55

    // pages sorted by created_at desc: no skip, no repeat
    let mut seen = Vec::new();
    let mut cursor = serde_json::Value::Null;
    loop {
        let v = s
            .search(
                "w",
                json!({"sort": [{"field": "created_at", "order": "desc"}], "limit": 10, "cursor": cursor}),
            )
            .await;
        assert_eq!(v["total"], 57);
        for h in v["hits"].as_array().unwrap() {
            seen.push((
                h["contact"]["created_at"].as_str().unwrap().to_string(),
                h["id"].as_str().unwrap().to_string(),
            ));
        }
        cursor = v["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen.len(), 57);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert_eq!(seen, sorted, "pages must follow created_at desc, id asc");

    // facets
    let v = s.search("w", json!({"facets": ["tags", "status"], "limit": 0})).await;
    assert_eq!(v["facets"]["tags"]["vip"], 19);
    assert_eq!(v["facets"]["status"]["blocked"], 12);

    // sort by a custom number, pages across it
    let mut values = Vec::new();
    let mut cursor = serde_json::Value::Null;
    loop {
        let v = s
            .search(
                "w",
                json!({"sort": [{"field": "custom.lifetime_value", "order": "desc"}], "limit": 25, "cursor": cursor}),
            )
            .await;
        for h in v["hits"].as_array().unwrap() {
            values.push(h["contact"]["custom"]["lifetime_value"].as_i64().unwrap());
        }
        cursor = v["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    let expected: Vec<i64> = (0..57).rev().map(|i| i * 10).collect();
    assert_eq!(values, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facets_and_sort_on_custom_select_fields() {
    let s = Server::start().await;
    for (i, tier) in ["Gold", "gold", "Premium", "Silver", "Gold"].iter().enumerate() {
        s.put("f", &format!("t{i}"), json!({"name": format!("Tier {i}"), "custom": {"customer_tier": tier, "preferred_products": ["Product A", "Product B"]},
            "last_interaction_at": format!("2025-05-0{}T00:00:00Z", 5 - i)})).await;
    }
    s.put("f", "t9", json!({"name": "No Tier"})).await;
    let v = s
        .search(
            "f",
            json!({"facets": ["custom.customer_tier", "custom.preferred_products"], "limit": 0}),
        )
        .await;
    assert_eq!(
        v["facets"]["custom.customer_tier"],
        json!({"Gold": 3, "Premium": 1, "Silver": 1})
    );
    assert_eq!(v["facets"]["custom.preferred_products"]["Product A"], 5);
    let ids = s
        .ids(
            "f",
            json!({"sort": [{"field": "custom.customer_tier"}, {"field": "last_interaction_at", "order": "asc"}]}),
        )
        .await;
    assert_eq!(
        ids,
        vec!["t4", "t1", "t0", "t2", "t3", "t9"],
        "gold (by last interaction), premium, silver, missing last"
    );
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/f/search",
            Some(json!({"facets": ["custom.lifetime_value"]})),
        )
        .await;
    assert_eq!(st, 400, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workspaces_are_walls() {
    let s = Server::start().await;
    s.put(
        "a",
        "same-id",
        json!({"name": "Alice Alpha", "tags": ["x"], "phones": ["+1 415 555 2671"]}),
    )
    .await;
    s.put("b", "same-id", json!({"name": "Bob Beta", "tags": ["x"]})).await;
    let (_, v) = s.req("GET", "/v1/workspaces/a/contacts/same-id", None).await;
    assert_eq!(v["name"], "Alice Alpha");
    let (_, v) = s.req("GET", "/v1/workspaces/b/contacts/same-id", None).await;
    assert_eq!(v["name"], "Bob Beta");
    assert!(s.ids("b", json!({"q": "alice"})).await.is_empty());
    assert!(s.ids("b", json!({"q": "4155552671"})).await.is_empty());
    let v = s
        .search("b", json!({"filter": {"field": "tags", "op": "eq", "value": "x"}}))
        .await;
    assert_eq!(v["total"], 1);
    assert_eq!(v["hits"][0]["contact"]["name"], "Bob Beta");
    // a bulk in b never touches a
    let (st, _) = s
        .raw(
            "POST",
            "/v1/workspaces/b/contacts/bulk?refresh=true",
            b"{\"id\":\"same-id\",\"name\":\"Changed\"}\n".to_vec(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200);
    let (_, v) = s.req("GET", "/v1/workspaces/a/contacts/same-id", None).await;
    assert_eq!(v["name"], "Alice Alpha");
    // a cursor from a does not work in b
    s.put("a", "other", json!({"name": "Alice Two"})).await;
    let v = s.search("a", json!({"limit": 1})).await;
    let cur = v["next_cursor"].clone();
    assert!(cur.is_string());
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/b/search",
            Some(json!({"limit": 1, "cursor": cur})),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(error_code(&v), "invalid_cursor");
    // unknown workspace on read
    let (st, v) = s
        .req("POST", "/v1/workspaces/nope/search", Some(json!({"q": "x"})))
        .await;
    assert_eq!(st, 404);
    error_code(&v);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_reports_bad_lines_and_keeps_good_ones() {
    let s = Server::start().await;
    let body = [
        r#"{"id":"b1","name":"Good One","phones":["+5511987650001"]}"#,
        r#"{"id":"b2","name":"Bad phone","phones":["12"]}"#,
        r#"{not json"#,
        r#"{"id":"b4","name":"Good Four","emails":["four@example.com"]}"#,
        r#"{"id":"b5","emails":["no-at-sign"]}"#,
        r#"{"id":"b 6","name":"bad id"}"#,
        r#"{"id":"b7","custom":{"undefined_key":"x"}}"#,
        r#"{"id":"b8","status":"gone"}"#,
        r#"{"name":"no id"}"#,
        "",
        r#"{"id":"b11","name":"Good Eleven"}"#,
    ]
    .join("\n");
    let mut bytes = body.into_bytes();
    bytes.extend_from_slice(b"\n{\"id\":\"b12\",\"name\":\"\xff\xfe\"}\n");
    let (st, v) = s
        .raw(
            "POST",
            "/v1/workspaces/k/contacts/bulk?refresh=true",
            bytes,
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 3, "{v}");
    let lines: Vec<u64> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, vec![2, 3, 5, 6, 7, 8, 9, 12], "{v}");
    for r in v["rejected"].as_array().unwrap() {
        assert!(!r["error"].as_str().unwrap().is_empty());
    }
    assert_eq!(s.search("k", json!({})).await["total"], 3);
    let ids = s.ids("k", json!({"q": "good"})).await;
    assert_eq!(ids.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_delete_post_settings_and_fields() {
    let s = Server::start().await;
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/p/contacts?refresh=true",
            Some(json!({"name": "Generated Id"})),
        )
        .await;
    assert_eq!(st, 201);
    let gen = v["id"].as_str().unwrap().to_string();
    assert!(!gen.is_empty());
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/p/contacts",
            Some(json!({"id": gen, "name": "dup"})),
        )
        .await;
    assert_eq!(st, 409, "{v}");
    s.put(
        "p",
        "x1",
        json!({"name": "Ana Souza", "tags": ["a"], "custom": {"company": "Acme", "city": "Recife"}}),
    )
    .await;
    let (st, v) = s
        .req(
            "PATCH",
            "/v1/workspaces/p/contacts/x1?refresh=true",
            Some(json!({"tags": ["a", "b"], "custom": {"city": null}})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["name"], "Ana Souza");
    assert_eq!(v["tags"], json!(["a", "b"]));
    assert_eq!(v["custom"], json!({"company": "Acme"}));
    assert_eq!(
        s.ids("p", json!({"filter": {"field": "tags", "op": "eq", "value": "b"}}))
            .await,
        vec!["x1"]
    );
    assert!(s.ids("p", json!({"q": "recife"})).await.is_empty());
    let (st, _) = s
        .req("PATCH", "/v1/workspaces/p/contacts/missing", Some(json!({"name": "x"})))
        .await;
    assert_eq!(st, 404);

    // fields
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/p/fields/cpf",
            Some(json!({"type": "text", "label": "CPF"})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = s.req("GET", "/v1/workspaces/p/fields", None).await;
    assert!(v["fields"].as_array().unwrap().iter().any(|f| f["key"] == "cpf"));
    s.put(
        "p",
        "x2",
        json!({"name": "Doc Holder", "custom": {"cpf": "123.456.789-00"}}),
    )
    .await;
    assert_eq!(
        s.ids(
            "p",
            json!({"filter": {"field": "custom.cpf", "op": "eq", "value": "123.456.789-00"}})
        )
        .await,
        vec!["x2"]
    );
    let (st, v) = s
        .req("PUT", "/v1/workspaces/p/fields/cpf", Some(json!({"type": "number"})))
        .await;
    assert_eq!(st, 409, "{v}");

    // settings
    let (_, v) = s.req("GET", "/v1/workspaces/p/settings", None).await;
    assert_eq!(v["default_region"], "US");
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/p/settings",
            Some(json!({"default_region": "DE", "strict_phones": true})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/p/contacts/x3",
            Some(json!({"phones": ["030 1234567"]})),
        )
        .await;
    assert_eq!(st, 201, "{v}");
    assert_eq!(v["phones_e164"], json!(["+49301234567"]));
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/p/contacts/x4",
            Some(json!({"phones": ["99999 99999 99"]})),
        )
        .await;
    assert_eq!(st, 400, "strict phones: {v}");
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/p/settings",
            Some(json!({"default_region": "XX"})),
        )
        .await;
    assert_eq!(st, 400, "{v}");

    // delete
    let (st, _) = s.req("DELETE", "/v1/workspaces/p/contacts/x1?refresh=true", None).await;
    assert_eq!(st, 200);
    let (st, _) = s.req("GET", "/v1/workspaces/p/contacts/x1", None).await;
    assert_eq!(st, 404);
    assert!(s.ids("p", json!({"q": "ana"})).await.is_empty());
    let (st, _) = s.req("DELETE", "/v1/workspaces/p/contacts/x1", None).await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_searchable_within_a_second_without_refresh() {
    let s = Server::start().await;
    let (st, _) = s
        .req(
            "PUT",
            "/v1/workspaces/v/contacts/late",
            Some(json!({"name": "Zbigniew Late"})),
        )
        .await;
    assert_eq!(st, 201);
    let mut found = false;
    for _ in 0..40 {
        if !s.ids("v", json!({"q": "zbigniew"})).await.is_empty() {
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(found, "not searchable within 2 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn master_key_guards_every_route_but_health() {
    let s = Server::start_with(crate::common::test_config(), Some("s3cret")).await;
    let (st, v) = s.req("GET", "/v1/workspaces/a/settings", None).await;
    assert_eq!(st, 401);
    error_code(&v);
    let (st, _) = s.req("GET", "/metrics", None).await;
    assert_eq!(st, 401);
    let (st, _) = s.req("GET", "/health", None).await;
    assert_eq!(st, 200);
    let resp = s
        .client
        .put(s.url("/v1/workspaces/a/contacts/k1"))
        .header("authorization", "Bearer wrong")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let resp = s
        .client
        .put(s.url("/v1/workspaces/a/contacts/k1"))
        .header("authorization", "Bearer s3cret")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_metrics() {
    let s = Server::start().await;
    let (st, v) = s.req("GET", "/health", None).await;
    assert_eq!(st, 200, "{v}");
    s.put("m", "1", json!({"name": "Metric Person"})).await;
    s.search("m", json!({"q": "metric"})).await;
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("contactdex_http_requests_total"), "{text}");
    assert!(text.contains("contactdex_documents_indexed_total 1"), "{text}");
    assert!(text.contains("contactdex_index_commit_seconds"), "{text}");
    assert!(text.contains("route=\"/v1/workspaces/{ws}/search\""), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_streams_what_the_filter_selects() {
    let s = Server::start().await;
    let mut lines = String::new();
    for i in 0..2500 {
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        lines.push_str(&json!({"id": format!("e{i:05}"), "name": format!("Export, \"Person\" {i}"), "tags": [tag],
            "phones": [format!("+1 415 555 {:04}", i % 10_000)], "custom": {"preferred_products": ["Product A", "Product B"]}}).to_string());
        lines.push('\n');
    }
    let (st, v) = s
        .raw(
            "POST",
            "/v1/workspaces/x/contacts/bulk?refresh=true",
            lines.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let filter = urlencode(r#"{"field":"tags","op":"eq","value":"even"}"#);
    let resp = s
        .client
        .get(s.url(&format!(
            "/v1/workspaces/x/contacts/export?format=ndjson&filter={filter}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let ids: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1250);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, ids, "export is in id order without repeats");

    let resp = s
        .client
        .get(s.url("/v1/workspaces/x/contacts/export?format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let headers = rd.headers().unwrap().clone();
    assert_eq!(&headers[0], "id");
    assert!(headers.iter().any(|h| h == "custom.preferred_products"));
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2500);
    assert_eq!(&rows[7][1], "Export, \"Person\" 7");
    let pp = headers.iter().position(|h| h == "custom.preferred_products").unwrap();
    assert_eq!(&rows[7][pp], "Product A;Product B");

    let (st, v) = s.req("GET", "/v1/workspaces/x/contacts/export?format=xml", None).await;
    assert_eq!(st, 400);
    crate::common::error_code(&v);
    let (st, _) = s
        .req(
            "GET",
            &format!("/v1/workspaces/x/contacts/export?filter={}", urlencode("{bad")),
            None,
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = s.req("GET", "/v1/workspaces/none/contacts/export", None).await;
    assert_eq!(st, 404);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_job_proposals_on_demand_and_rejections() {
    let s = Server::start().await;
    s.req(
        "PUT",
        "/v1/workspaces/d/settings",
        Some(json!({"default_region": "BR"})),
    )
    .await;
    let docs = [
        json!({"id": "a1", "name": "Fernanda Oliveira", "phones": ["+55 21 99876-1234"], "emails": ["fernanda.oliveira@gmail.com"]}),
        json!({"id": "a2", "name": "Fernada Oliveira", "emails": ["Fernanda.Oliveira+loja@gmail.com"]}),
        json!({"id": "b1", "name": "Robert Johnson", "phones": ["+1 415 555 2671"]}),
        json!({"id": "b2", "name": "Bob", "phones": ["+1 (415) 555-2671"]}),
        json!({"id": "f1", "name": "Maria Souza", "phones": ["+55 11 91111-2222"]}),
        json!({"id": "f2", "name": "Joaquim Souza", "phones": ["+55 11 91111-2222"]}),
        json!({"id": "n1", "name": "Maria Silva", "emails": ["m1@x.com"]}),
        json!({"id": "n2", "name": "Maria Silva", "emails": ["m2@y.com"]}),
    ];
    let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let (st, v) = s
        .raw(
            "POST",
            "/v1/workspaces/d/contacts/bulk?refresh=true",
            body.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200, "{v}");

    // on demand
    let (st, v) = s.req("GET", "/v1/workspaces/d/contacts/b2/duplicates", None).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["duplicates"][0]["id"], "b1", "{v}");
    assert!(v["duplicates"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["field"] == "phones" && r["level"] == "exact"));
    let (_, v) = s.req("GET", "/v1/workspaces/d/contacts/f1/duplicates", None).await;
    assert!(
        v["duplicates"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["proposed"] == false),
        "family is not proposed: {v}"
    );

    // batch job
    let (st, v) = s.req("POST", "/v1/workspaces/d/dedup/jobs", None).await;
    assert_eq!(st, 202, "{v}");
    let job = v["job_id"].as_str().unwrap().to_string();
    let mut status = serde_json::Value::Null;
    for _ in 0..200 {
        let (_, v) = s.req("GET", &format!("/v1/workspaces/d/dedup/jobs/{job}"), None).await;
        status = v.clone();
        if v["status"] == "done" || v["status"] == "failed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(status["status"], "done", "{status}");
    assert_eq!(status["progress"]["fraction"], 1.0);
    let (_, v) = s.req("GET", "/v1/workspaces/d/duplicates", None).await;
    let clusters: Vec<Vec<String>> = v["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(clusters.contains(&vec!["a1".to_string(), "a2".to_string()]), "{v}");
    assert!(clusters.contains(&vec!["b1".to_string(), "b2".to_string()]), "{v}");
    assert!(
        !clusters.iter().any(|c| c.contains(&"f1".to_string())),
        "family sharing a phone: {v}"
    );
    assert!(
        !clusters.iter().any(|c| c.contains(&"n1".to_string())),
        "namesakes: {v}"
    );
    for c in v["clusters"].as_array().unwrap() {
        assert!(c["pairs"][0]["reasons"].as_array().unwrap().len() >= 3, "{c}");
    }

    // reject: gone from proposals and from the on-demand check, also after another job
    let (st, v) = s
        .req(
            "POST",
            "/v1/workspaces/d/duplicates/reject",
            Some(json!({"ids": ["b1", "b2"]})),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    let (_, v) = s.req("GET", "/v1/workspaces/d/duplicates", None).await;
    assert!(!v.to_string().contains("\"b2\""), "{v}");
    let (_, v) = s.req("GET", "/v1/workspaces/d/contacts/b2/duplicates", None).await;
    assert!(v["duplicates"].as_array().unwrap().is_empty(), "{v}");

    // bad input
    let (st, _) = s
        .req(
            "POST",
            "/v1/workspaces/d/duplicates/reject",
            Some(json!({"ids": ["a1"]})),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = s
        .req(
            "POST",
            "/v1/workspaces/d/duplicates/reject",
            Some(json!({"ids": ["a1", "nope"]})),
        )
        .await;
    assert_eq!(st, 404);
    let (st, _) = s.req("GET", "/v1/workspaces/d/dedup/jobs/nope", None).await;
    assert_eq!(st, 404);
    let (st, _) = s
        .req("GET", &format!("/v1/workspaces/other/dedup/jobs/{job}"), None)
        .await;
    assert_eq!(st, 404);

    // cancel: answered with the job's state; a finished job stays done, another workspace's is 404
    let (st, v) = s.req("POST", "/v1/workspaces/d/dedup/jobs", None).await;
    assert_eq!(st, 202, "{v}");
    let job2 = v["job_id"].as_str().unwrap().to_string();
    let (st, v) = s
        .req("DELETE", &format!("/v1/workspaces/d/dedup/jobs/{job2}"), None)
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["job_id"], job2.as_str());
    let mut last = serde_json::Value::Null;
    for _ in 0..200 {
        let (_, v) = s.req("GET", &format!("/v1/workspaces/d/dedup/jobs/{job2}"), None).await;
        last = v.clone();
        if v["status"] == "cancelled" || v["status"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(last["status"] == "cancelled" || last["status"] == "done", "{last}");
    let (st, _) = s
        .req("DELETE", &format!("/v1/workspaces/other/dedup/jobs/{job2}"), None)
        .await;
    assert_eq!(st, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_ids_never_duplicate_search_hits() {
    let s = Server::start().await;
    let body = "{\"id\":\"r1\",\"name\":\"Repeat One\"}\n{\"id\":\"r2\",\"name\":\"Repeat Two\"}\n{\"id\":\"r1\",\"name\":\"Repeat One Again\"}\n";
    for _ in 0..3 {
        let (st, v) = s
            .raw(
                "POST",
                "/v1/workspaces/rep/contacts/bulk?refresh=true",
                body.as_bytes().to_vec(),
                "application/x-ndjson",
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    s.put("rep", "r2", json!({"name": "Repeat Two Put"})).await;
    let (st, _) = s
        .req("DELETE", "/v1/workspaces/rep/contacts/r2?refresh=true", None)
        .await;
    assert_eq!(st, 200);
    s.put("rep", "r2", json!({"name": "Repeat Two Back"})).await;
    let v = s.search("rep", json!({"q": "repeat"})).await;
    assert_eq!(v["total"], 2, "{v}");
    let ids = s.ids("rep", json!({"q": "again"})).await;
    assert_eq!(ids, vec!["r1"]);
    assert_eq!(s.ids("rep", json!({"q": "back"})).await, vec!["r2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_says_which_field_and_kind_of_match() {
    let s = Server::start().await;
    s.put(
        "ex",
        "e1",
        json!({"name": "José Fernandes", "phones": ["+55 11 98765-4321"], "emails": ["jf@acme.com"], "tags": ["vip"]}),
    )
    .await;
    let v = s
        .search("ex", json!({"q": "jose fernades 4321 acme vi", "explain": true}))
        .await;
    let ex = v["hits"][0]["explain"].as_array().expect("explain").clone();
    for (word, field, kind) in [
        ("jose", "name", "exact"),
        ("fernades", "name", "typo"),
        ("4321", "phones", "last_digits"),
        ("acme", "emails", "exact"),
        ("vi", "tags", "prefix"),
    ] {
        assert!(
            ex.iter()
                .any(|e| e["word"] == word && e["field"] == field && e["match"] == kind),
            "{word}/{field}/{kind} missing in {ex:?}"
        );
    }
    let v = s.search("ex", json!({"q": "jose"})).await;
    assert!(v["hits"][0].get("explain").is_none(), "explain only when asked");
}

/// `exists` on every filterable field: found for the contacts that have it (through a fast
/// column or the `present` terms), not for the others, and again after an update drops it.
#[tokio::test]
async fn exists_filters_find_exactly_the_contacts_with_the_field() {
    let s = Server::start().await;
    let (st, v) = s
        .req(
            "PUT",
            "/v1/workspaces/w/fields/notes",
            Some(json!({"type": "long_text", "label": "Notes"})),
        )
        .await;
    assert!(st == 200 || st == 201, "{st} {v}");
    s.put(
        "w",
        "full",
        json!({"name": "Ana Souza", "phones": ["+55 11 98765-4321"], "emails": ["ana@example.com"],
               "tags": ["vip"], "source": "whatsapp", "status": "active", "created_by": "agent:7",
               "last_interaction_at": "2025-11-15T09:30:00Z", "photo_url": "https://example.com/a.png",
               "custom": {"customer_tier": "Gold", "lifetime_value": 12.5, "contract_renewal_date": "2026-01-31",
                          "newsletter": false, "preferred_products": ["Product A"], "company": "Acme",
                          "notes": "called twice"}}),
    )
    .await;
    s.put("w", "named", json!({"name": "Bruno Lima"})).await;
    s.put("w", "mailed", json!({"emails": ["c@example.org"]})).await;
    // a name and a tag that fold to nothing searchable still exist
    s.put(
        "w",
        "emoji",
        json!({"name": "🌸🌸", "tags": ["🌸"], "phones": ["+1 212 555 0100"]}),
    )
    .await;
    s.put(
        "w2",
        "other",
        json!({"name": "Other Workspace", "tags": ["vip"], "source": "sms"}),
    )
    .await;
    let exists = |field: &str, want: bool| json!({"filter": {"field": field, "op": "exists", "value": want}, "limit": 100, "sort": [{"field": "id", "order": "asc"}]});
    let all = ["emoji", "full", "mailed", "named"];
    for (field, with) in [
        ("name", vec!["emoji", "full", "named"]),
        ("phones", vec!["emoji", "full"]),
        ("emails", vec!["full", "mailed"]),
        ("tags", vec!["emoji", "full"]),
        ("source", vec!["full"]),
        ("status", vec!["full"]),
        ("created_by", vec!["full"]),
        ("last_interaction_at", vec!["full"]),
        ("photo_url", vec!["full"]),
        ("custom.customer_tier", vec!["full"]),
        ("custom.lifetime_value", vec!["full"]),
        ("custom.contract_renewal_date", vec!["full"]),
        ("custom.newsletter", vec!["full"]),
        ("custom.preferred_products", vec!["full"]),
        ("custom.company", vec!["full"]),
        ("custom.notes", vec!["full"]),
        ("custom.city", vec![]),
    ] {
        assert_eq!(s.ids("w", exists(field, true)).await, with, "{field} exists");
        let without: Vec<&str> = all.iter().copied().filter(|i| !with.contains(i)).collect();
        assert_eq!(
            s.ids("w", exists(field, false)).await,
            without,
            "{field} does not exist"
        );
    }
    // an update that drops fields drops them from `exists`; a deleted contact is gone
    s.put("w", "full", json!({"name": "Ana Souza", "custom": {"notes": "kept"}}))
        .await;
    let (st, _) = s
        .req("DELETE", "/v1/workspaces/w/contacts/emoji?refresh=true", None)
        .await;
    assert_eq!(st, 200);
    for field in [
        "tags",
        "source",
        "status",
        "last_interaction_at",
        "custom.company",
        "custom.newsletter",
    ] {
        assert!(
            s.ids("w", exists(field, true)).await.is_empty(),
            "{field} after the update"
        );
    }
    assert_eq!(s.ids("w", exists("custom.notes", true)).await, ["full"]);
    assert_eq!(s.ids("w", exists("name", true)).await, ["full", "named"]);
}

/// Id filters (eq, in, neq, prefix, ranges) read the workspace's key terms: another
/// workspace's contacts with the same ids never match. Number and date custom fields filter
/// by value (eq, ranges), however the value was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn id_filters_and_typed_custom_value_filters() {
    let s = Server::start().await;
    for ws in ["a", "b"] {
        let mut lines = String::new();
        for i in 0..12 {
            lines.push_str(
                &json!({"id": format!("p-{i:02}"), "name": format!("Person {i}"),
                        "custom": {"lifetime_value": i * 100, "contract_renewal_date": format!("2026-01-{:02}", i + 1)}})
                .to_string(),
            );
            lines.push('\n');
        }
        lines.push_str(&json!({"id": "q-1", "name": "Other"}).to_string());
        lines.push('\n');
        let (st, v) = s
            .raw(
                "POST",
                &format!("/v1/workspaces/{ws}/contacts/bulk?refresh=true"),
                lines.into_bytes(),
                "application/x-ndjson",
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let ids = |filter: serde_json::Value| {
        let s = &s;
        async move {
            let v = s
                .search(
                    "a",
                    json!({"filter": filter, "limit": 100, "sort": [{"field": "id", "order": "asc"}]}),
                )
                .await;
            v["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(json!({"field": "id", "op": "eq", "value": "p-03"})).await, ["p-03"]);
    assert!(ids(json!({"field": "id", "op": "eq", "value": "p-99"}))
        .await
        .is_empty());
    assert_eq!(
        ids(json!({"field": "id", "op": "in", "value": ["p-01", "q-1", "zz"]})).await,
        ["p-01", "q-1"]
    );
    assert_eq!(
        ids(json!({"field": "id", "op": "prefix", "value": "q-"})).await,
        ["q-1"]
    );
    assert_eq!(
        ids(json!({"field": "id", "op": "prefix", "value": "p-0"})).await.len(),
        10
    );
    assert_eq!(
        ids(json!({"field": "id", "op": "neq", "value": "p-00"})).await.len(),
        12
    );
    assert_eq!(
        ids(json!({"field": "id", "op": "gte", "value": "p-10"})).await,
        ["p-10", "p-11", "q-1"]
    );
    assert_eq!(
        ids(json!({"field": "id", "op": "lt", "value": "p-02"})).await,
        ["p-00", "p-01"]
    );
    assert_eq!(
        ids(json!({"and": [{"field": "id", "op": "gt", "value": "p-05"}, {"field": "id", "op": "lte", "value": "p-07"}]}))
            .await,
        ["p-06", "p-07"]
    );
    // number custom values: by value, an integer and a float the same
    assert_eq!(
        ids(json!({"field": "custom.lifetime_value", "op": "eq", "value": 300})).await,
        ["p-03"]
    );
    assert_eq!(
        ids(json!({"field": "custom.lifetime_value", "op": "eq", "value": "300.0"})).await,
        ["p-03"]
    );
    assert_eq!(
        ids(json!({"field": "custom.lifetime_value", "op": "gt", "value": 950})).await,
        ["p-10", "p-11"]
    );
    // date custom values: a day, or a range
    assert_eq!(
        ids(json!({"field": "custom.contract_renewal_date", "op": "eq", "value": "2026-01-05"})).await,
        ["p-04"]
    );
    assert_eq!(
        ids(json!({"field": "custom.contract_renewal_date", "op": "lt", "value": "2026-01-03"})).await,
        ["p-00", "p-01"]
    );
    // free text still finds a number's value (first; typos of it follow)
    assert_eq!(
        s.ids("a", json!({"q": "1100"})).await.first().map(String::as_str),
        Some("p-11")
    );
}

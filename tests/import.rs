//! CSV import over HTTP and from the command line: columns, per-row errors with row, line and
//! column, whole-request refusals, CSV dialects, and a lossless export → import round trip.

use serde_json::{json, Value};

use crate::cli::{bin, cfg};
use crate::common::{error_code, Server};

async fn import(s: &Server, ws: &str, body: &[u8]) -> (u16, Value) {
    s.raw(
        "POST",
        &format!("/v1/workspaces/{ws}/contacts/import?refresh=true"),
        body.to_vec(),
        "text/csv",
    )
    .await
}

async fn import_ok(s: &Server, ws: &str, body: &[u8]) -> Value {
    let (st, v) = import(s, ws, body).await;
    assert_eq!(st, 200, "import -> {v}\n{}", String::from_utf8_lossy(body));
    v
}

async fn get(s: &Server, ws: &str, id: &str) -> (u16, Value) {
    s.req("GET", &format!("/v1/workspaces/{ws}/contacts/{id}"), None).await
}

async fn get_ok(s: &Server, ws: &str, id: &str) -> Value {
    let (st, v) = get(s, ws, id).await;
    assert_eq!(st, 200, "GET {ws}/{id} -> {v}");
    v
}

async fn export_csv(s: &Server, ws: &str) -> String {
    let resp = s
        .client
        .get(s.url(&format!("/v1/workspaces/{ws}/contacts/export?format=csv")))
        .send()
        .await
        .expect("export request");
    assert_eq!(resp.status().as_u16(), 200, "export of {ws}");
    resp.text().await.expect("export body")
}

fn rejected(v: &Value) -> Vec<Value> {
    v["rejected"].as_array().expect("rejected list").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_rows_are_stored_with_lists_and_custom_values_and_searchable() {
    let s = Server::start().await;
    let body = "id,name,phone,email,tags,status,custom.customer_tier,custom.lifetime_value,custom.preferred_products\n\
                c1,Carla Import,+1 415 555 0101;+1 415 555 0102,Carla@Import.example,vip;lead,active,Gold,1500,\
                Product A;Product C\n\
                c2,Bruno Import,,bruno@import.example,,inactive,,,\n";
    let v = import_ok(&s, "imp", body.as_bytes()).await;
    assert_eq!(v["accepted"], 2, "{v}");
    assert!(rejected(&v).is_empty(), "{v}");

    let c1 = get_ok(&s, "imp", "c1").await;
    assert_eq!(c1["name"], "Carla Import");
    assert_eq!(c1["phones_e164"], json!(["+14155550101", "+14155550102"]), "{c1}");
    assert_eq!(c1["emails"], json!(["carla@import.example"]), "{c1}");
    assert_eq!(c1["tags"], json!(["vip", "lead"]), "{c1}");
    assert_eq!(c1["status"], "active");
    assert_eq!(c1["custom"]["customer_tier"], "Gold", "{c1}");
    assert_eq!(
        c1["custom"]["lifetime_value"].as_f64(),
        Some(1500.0),
        "a number, not text: {c1}"
    );
    assert_eq!(
        c1["custom"]["preferred_products"],
        json!(["Product A", "Product C"]),
        "{c1}"
    );
    let c2 = get_ok(&s, "imp", "c2").await;
    assert_eq!(c2["phones"], json!([]), "an empty cell is no value: {c2}");
    assert_eq!(c2["tags"], json!([]), "{c2}");
    assert!(c2["custom"].get("customer_tier").is_none(), "{c2}");
    assert_eq!(c2["status"], "inactive");

    assert_eq!(s.ids("imp", json!({"q": "carla"})).await, vec!["c1"]);
    assert_eq!(s.ids("imp", json!({"q": "5550102"})).await, vec!["c1"]);
    assert_eq!(s.ids("imp", json!({"q": "bruno@import.example"})).await, vec!["c2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_reported_with_row_line_and_column_and_good_rows_are_kept() {
    let s = Server::start().await;
    // physical lines: 1 header, 2-3 g1 (quoted newline), 4 no id, 5 b1, 6 b2, 7 b3, 8 b4, 9 g2
    let body = "id,name,phone,email,custom.lifetime_value\n\
                g1,\"Line one\nline two\",+5511987650001,g1@example.com,10\n\
                ,No Id,+5511987650002,noid@example.com,\n\
                b1,Short Phone,12,,\n\
                b2,Letters Phone,abc,,\n\
                b3,Bad Email,,nope,\n\
                b4,Bad Number,,,abc\n\
                g2,Good Two,,g2@example.com,20\n";
    let v = import_ok(&s, "rows", body.as_bytes()).await;
    assert_eq!(v["accepted"], 2, "{v}");
    let mut got: Vec<(u64, u64, Option<String>, Option<String>)> = rejected(&v)
        .iter()
        .map(|r| {
            assert!(
                r["error"].as_str().is_some_and(|e| !e.is_empty()),
                "every rejection says why: {r}"
            );
            (
                r["row"].as_u64().expect("row"),
                r["line"].as_u64().expect("line"),
                r["id"].as_str().map(String::from),
                r["column"].as_str().map(String::from),
            )
        })
        .collect();
    got.sort();
    let some = |x: &str| Some(x.to_string());
    assert_eq!(
        got,
        vec![
            (3, 4, None, some("id")),
            (4, 5, some("b1"), some("phone")),
            (5, 6, some("b2"), some("phone")),
            (6, 7, some("b3"), some("email")),
            (7, 8, some("b4"), some("custom.lifetime_value")),
        ],
        "(row, line, id, column) of each rejected row: {v}"
    );

    let g1 = get_ok(&s, "rows", "g1").await;
    assert_eq!(g1["name"], "Line one\nline two", "{g1}");
    assert_eq!(g1["custom"]["lifetime_value"].as_f64(), Some(10.0), "{g1}");
    assert_eq!(get_ok(&s, "rows", "g2").await["emails"], json!(["g2@example.com"]));
    for id in ["b1", "b2", "b3", "b4"] {
        let (st, v) = get(&s, "rows", id).await;
        assert_eq!(st, 404, "rejected row {id} must not be stored: {v}");
    }
    assert_eq!(s.search("rows", json!({"q": ""})).await["total"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_problems_and_empty_bodies_refuse_the_whole_request() {
    let s = Server::start().await;
    s.put("hdr", "keep", json!({"name": "Keep Me"})).await;
    let cases = [
        ("unknown column", "id,name,nickname\nz1,Zed One,zz\nz2,Zed Two,yy\n"),
        ("undefined custom key", "id,name,custom.undefined_key\nz1,Zed One,x\n"),
        ("empty body", ""),
    ];
    for (what, body) in cases {
        let (st, v) = import(&s, "hdr", body.as_bytes()).await;
        assert_eq!(st, 400, "{what}: {v}");
        let code = error_code(&v);
        if what == "unknown column" {
            assert_eq!(code, "bad_request", "{v}");
        }
    }
    for id in ["z1", "z2"] {
        let (st, v) = get(&s, "hdr", id).await;
        assert_eq!(st, 404, "nothing of a refused import is stored: {v}");
    }
    assert_eq!(s.search("hdr", json!({"q": ""})).await["total"], 1);
    assert_eq!(get_ok(&s, "hdr", "keep").await["name"], "Keep Me");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_fields_a_bom_and_crlf_line_ends_are_understood() {
    let s = Server::start().await;
    let body = "\u{feff}id,name,email,tags\r\n\
                q1,\"Silva, José \"\"Zé\"\"\",ze@example.com,vip;lead\r\n\
                q2,\"First line\nsecond line\",q2@example.com,\r\n\
                q3,Plain Name,q3@example.com,b2b\r\n";
    let v = import_ok(&s, "dialect", body.as_bytes()).await;
    assert_eq!(
        v["accepted"], 3,
        "a BOM before the header is not part of the id column: {v}"
    );
    assert!(rejected(&v).is_empty(), "{v}");
    let q1 = get_ok(&s, "dialect", "q1").await;
    assert_eq!(q1["name"], "Silva, José \"Zé\"", "{q1}");
    assert_eq!(q1["emails"], json!(["ze@example.com"]), "{q1}");
    assert_eq!(q1["tags"], json!(["vip", "lead"]), "{q1}");
    let q2 = get_ok(&s, "dialect", "q2").await;
    assert_eq!(q2["name"], "First line\nsecond line", "{q2}");
    let q3 = get_ok(&s, "dialect", "q3").await;
    assert_eq!(
        q3["tags"],
        json!(["b2b"]),
        "no carriage return left in the last cell: {q3}"
    );
    assert_eq!(q3["name"], "Plain Name");
    assert_eq!(s.ids("dialect", json!({"q": "jose"})).await, vec!["q1"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_semicolon_delimiter_and_headers_in_any_case_and_order_work() {
    let s = Server::start().await;
    let body = "EMAIL;Name;ID;Phone\n\
                ana@example.com;Ana Lima;s1;+55 11 98765-0001\n\
                \"bruno@example.com\";\"Bruno; Costa\";s2;+5511987650002\n";
    let v = import_ok(&s, "semi", body.as_bytes()).await;
    assert_eq!(v["accepted"], 2, "{v}");
    assert!(rejected(&v).is_empty(), "{v}");
    let s1 = get_ok(&s, "semi", "s1").await;
    assert_eq!(s1["name"], "Ana Lima", "{s1}");
    assert_eq!(s1["emails"], json!(["ana@example.com"]), "{s1}");
    assert_eq!(s1["phones_e164"], json!(["+5511987650001"]), "{s1}");
    let s2 = get_ok(&s, "semi", "s2").await;
    assert_eq!(s2["name"], "Bruno; Costa", "{s2}");
    assert_eq!(s2["phones_e164"], json!(["+5511987650002"]), "{s2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_quote_is_reported_and_the_rows_before_it_are_kept() {
    let s = Server::start().await;
    let body = "id,name,phone\n\
                ok1,Good Before,+5511987654320\n\
                ok2,Also Good,+5511987654329\n\
                x1,\"Unclosed name,+5511987654321\n\
                x2,After,+5511987654322\n\
                x3,After Too,+5511987654323\n";
    let v = import_ok(&s, "broken", body.as_bytes()).await;
    let rej = rejected(&v);
    assert!(!rej.is_empty(), "the broken row is reported: {v}");
    assert!(
        rej.iter().any(|r| r["line"] == 4),
        "a rejection points at line 4, where the broken record starts: {v}"
    );
    for id in ["ok1", "ok2"] {
        get_ok(&s, "broken", id).await;
    }
    let (st, x1) = get(&s, "broken", "x1").await;
    assert_eq!(st, 404, "the broken row is not stored: {x1}");
    assert!(s.ids("broken", json!({"q": "unclosed"})).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_export_imports_back_unchanged_into_another_workspace() {
    let s = Server::start().await;
    for ws in ["src", "dst"] {
        let (st, v) = s
            .req(
                "PUT",
                &format!("/v1/workspaces/{ws}/settings"),
                Some(json!({"default_region": "BR"})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
        let (st, v) = s
            .req(
                "PUT",
                &format!("/v1/workspaces/{ws}/fields/note"),
                Some(json!({"type": "text", "label": "Note"})),
            )
            .await;
        assert_eq!(st, 200, "{v}");
    }
    let docs = [
        json!({"id": "r1", "name": "José da Silva, \"Zé\" 🌸", "phones": ["+55 11 98765-4321", "(11) 3333-4444"],
               "emails": ["Jose.Silva@Gmail.com", "jose@work.example"], "tags": ["vip", "lead"],
               "custom": {"customer_tier": "Premium", "lifetime_value": 15000, "contract_renewal_date": "2025-12-31",
                          "newsletter": true, "preferred_products": ["Product A", "Product C"],
                          "note": "likes coffee, not \"tea\""},
               "source": "whatsapp", "status": "active", "photo_url": "https://example.com/p/1.png",
               "created_at": "2025-03-01T12:00:00Z", "created_by": "bot:welcome",
               "last_interaction_at": "2025-11-15T09:30:00Z"}),
        json!({"id": "r2", "name": "Multi\nLine Name", "phones": ["(21) 99876-1234"], "tags": ["b2b"],
               "custom": {"lifetime_value": 99.5, "newsletter": false}, "status": "blocked"}),
        json!({"id": "r3"}),
        json!({"id": "r4", "name": "Ana Lima", "emails": ["ana@example.com"],
               "custom": {"contract_renewal_date": "2026-01-15"}, "created_at": "2024-02-29T08:15:30Z"}),
    ];
    let body: String = docs.iter().map(|d| format!("{d}\n")).collect();
    let (st, v) = s
        .raw(
            "POST",
            "/v1/workspaces/src/contacts/bulk?refresh=true",
            body.into_bytes(),
            "application/x-ndjson",
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["accepted"], 4, "{v}");

    let csv_src = export_csv(&s, "src").await;
    let v = import_ok(&s, "dst", csv_src.as_bytes()).await;
    assert_eq!(v["accepted"], 4, "{v}");
    assert!(rejected(&v).is_empty(), "{v}");

    for d in &docs {
        let id = d["id"].as_str().expect("id");
        let mut a = get_ok(&s, "src", id).await;
        let mut b = get_ok(&s, "dst", id).await;
        for x in [&mut a, &mut b] {
            x.as_object_mut().expect("object").remove("updated_at");
        }
        assert_eq!(a, b, "contact {id} changed on the way through CSV");
    }
    assert_eq!(
        export_csv(&s, "dst").await,
        csv_src,
        "exporting the imported workspace gives the same CSV"
    );
    assert_eq!(s.ids("dst", json!({"q": "coffee"})).await, vec!["r1"]);
}

#[test]
fn the_cli_imports_a_csv_file_and_exports_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.csv");
    std::fs::write(
        &file,
        "id,name,phone,email,tags\n\
         c1,Carla Csv,+1 415 555 0101,carla@csv.example,vip;lead\n\
         c2,\"Dias, Bruno\",+1 415 555 0102,,\n\
         c3,Bad Phone,12,,\n\
         c4,Dora Csv,,dora@csv.example,\n",
    )
    .unwrap();
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
    assert_eq!(v["imported"], 3, "{v}");
    assert_eq!(v["rejected"], 1, "{v}");

    let out = bin()
        .args([
            "export",
            "--workspace",
            "w",
            "--format",
            "ndjson",
            "--config",
            cfg(),
            "--data-dir",
        ])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["c1", "c2", "c4"], "the bad row is not imported");
    assert_eq!(rows[0]["tags"], json!(["vip", "lead"]));
    assert_eq!(rows[0]["phones_e164"], json!(["+14155550101"]));
    assert_eq!(rows[0]["emails"], json!(["carla@csv.example"]));
    assert_eq!(rows[1]["name"], "Dias, Bruno");
    assert_eq!(rows[2]["name"], "Dora Csv");
}

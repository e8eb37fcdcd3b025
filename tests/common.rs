use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use contactdex::api::{self, AppState};
use contactdex::{Config, Engine};
use serde_json::Value;

/// A real contactdex HTTP server on a free loopback port, over a temp data dir.
pub struct Server {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub engine: Arc<Engine>,
    _dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

pub fn test_config() -> Config {
    let text = include_str!("../index-config/default.toml");
    let mut cfg = Config::from_toml(text).expect("default config");
    cfg.index.commit_interval_ms = 200;
    cfg.index.writer_memory_mb = 32;
    cfg.index.writer_threads = 1;
    cfg
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(test_config(), None).await
    }

    pub async fn start_with(cfg: Config, master_key: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Arc::new(Engine::open(dir.path(), cfg).expect("engine opens"));
        for _ in 0..500 {
            if engine.is_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = AppState {
            engine: engine.clone(),
            master_key: master_key.map(Arc::from),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(api::serve(
            listener,
            state,
            async move {
                let _ = rx.await;
            },
            Duration::from_secs(5),
        ));
        Server {
            addr,
            client: reqwest::Client::new(),
            engine,
            _dir: dir,
            stop: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn req(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.req_with(method, path, body, &[]).await
    }

    /// A JSON request with extra headers (`X-Actor`, `Authorization`, …).
    pub async fn req_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(m, self.url(path));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    pub async fn raw(&self, method: &str, path: &str, body: Vec<u8>, ctype: &str) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let resp = self
            .client
            .request(m, self.url(path))
            .header("content-type", ctype)
            .body(body)
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn put(&self, ws: &str, id: &str, doc: Value) -> Value {
        let (s, v) = self
            .req(
                "PUT",
                &format!("/v1/workspaces/{ws}/contacts/{id}?refresh=true"),
                Some(doc),
            )
            .await;
        assert!(s == 200 || s == 201, "PUT {id} -> {s} {v}");
        v
    }

    pub async fn search(&self, ws: &str, body: Value) -> Value {
        let (s, v) = self
            .req("POST", &format!("/v1/workspaces/{ws}/search"), Some(body))
            .await;
        assert_eq!(s, 200, "search -> {v}");
        v
    }

    pub async fn ids(&self, ws: &str, body: Value) -> Vec<String> {
        let v = self.search(ws, body).await;
        v["hits"]
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["id"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = self.engine.shutdown();
    }
}

/// Asserts the contract's error shape and returns the code.
pub fn error_code(v: &Value) -> String {
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error body: {v}"));
    assert!(
        v["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "error without message: {v}"
    );
    code.to_string()
}

//! What the HTTP load drivers (`loadgen`, `mixedload`) share.

/// Exits with a message unless `url` points at this machine: the drivers are for loopback.
pub fn require_loopback(url: &str, tool: &str) {
    if !(url.starts_with("http://127.") || url.starts_with("http://localhost")) {
        eprintln!("{tool} only targets loopback addresses");
        std::process::exit(2);
    }
}

/// Search request bodies from a file with one search per line: a JSON body, or plain `q` text.
pub fn search_bodies(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("queries file");
    let bodies: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            if l.trim_start().starts_with('{') {
                l.to_string()
            } else {
                serde_json::json!({"q": l}).to_string()
            }
        })
        .collect();
    assert!(!bodies.is_empty(), "no queries in {path}");
    bodies
}

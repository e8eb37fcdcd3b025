//! The filter parser, alone and through a search: any JSON either parses or is refused,
//! never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "shared.rs"]
mod shared;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = contactdex::search::parse_filter(&v);
    let req = contactdex::search::SearchRequest {
        filter: Some(v),
        ..Default::default()
    };
    let _ = shared::engine().search(shared::WS, &req);
});

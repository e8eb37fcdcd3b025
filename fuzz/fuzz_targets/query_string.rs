//! The search box: any `q` (and the normalizers under it) answers or is refused, never a
//! panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "shared.rs"]
mod shared;

fuzz_target!(|data: &[u8]| {
    let q = String::from_utf8_lossy(data).into_owned();
    let _ = contactdex::normalize::tokens(&q);
    let _ = contactdex::normalize::fold(&q);
    let req = contactdex::search::SearchRequest {
        q: Some(q),
        explain: true,
        ..Default::default()
    };
    let _ = shared::engine().search(shared::WS, &req);
});

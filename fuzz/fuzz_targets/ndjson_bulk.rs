//! Bulk NDJSON: every line is accepted or rejected with a reason, never a panic, and the
//! counts add up.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "shared.rs"]
mod shared;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let lines: Vec<(usize, String)> = text
        .split('\n')
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 1, l.to_string()))
        .collect();
    let n = lines.len();
    let origin = contactdex::audit::Origin::system("fuzz");
    if let Ok(out) = shared::engine().bulk(shared::WS, lines.into_iter(), &origin) {
        assert_eq!(
            out.accepted + out.rejected.len(),
            n,
            "every line is accepted or rejected"
        );
    }
});

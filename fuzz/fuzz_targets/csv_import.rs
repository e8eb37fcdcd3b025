//! CSV import: the parser alone over any bytes, then the whole import path; bad rows are
//! reported, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

#[path = "shared.rs"]
mod shared;

fuzz_target!(|data: &[u8]| {
    if let Ok(csv) = contactdex::transfer::CsvImport::new(data) {
        for row in csv.take(1000) {
            let _ = row;
        }
    }
    let origin = contactdex::audit::Origin::system("fuzz");
    let _ = shared::engine().import_csv(shared::WS, data, &origin);
});

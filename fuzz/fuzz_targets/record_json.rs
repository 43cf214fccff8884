//! Any bytes into leuko's own JSON record reader and the engine: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KB: std::sync::OnceLock<leuko_kb::Knowledge> = std::sync::OnceLock::new();
    let kb = KB.get_or_init(|| leuko_kb::Knowledge::embedded().expect("embedded knowledge"));
    let as_of = time::macros::datetime!(2026-06-01 0:00 UTC);
    if let Ok(json) = leuko_api::RecordJson::from_slice(data) {
        if let Ok(record) = json.to_record(kb, as_of) {
            let _ = leuko_core::assess(kb, &record, as_of, &leuko_core::Options::default());
        }
    }
});

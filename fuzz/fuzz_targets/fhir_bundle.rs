//! Any bytes into the FHIR bundle reader, and whatever it reads into the engine: no panic.
//! The lossless model too: what it reads, it writes, and reading that back writes the same
//! bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KB: std::sync::OnceLock<leuko_kb::Knowledge> = std::sync::OnceLock::new();
    let kb = KB.get_or_init(|| leuko_kb::Knowledge::embedded().expect("embedded knowledge"));
    if let Ok(resource) = leuko_fhir::model::Resource::from_json(data) {
        let text = resource.to_json().expect("a resource read is written");
        let again = leuko_fhir::model::Resource::from_json(text.as_bytes())
            .expect("what was written reads back");
        assert_eq!(again.to_json().ok().as_deref(), Some(text.as_str()));
    }
    if let Ok(record) = leuko_fhir::read_bundle_bytes(kb, data) {
        let as_of = time::macros::datetime!(2026-06-01 0:00 UTC);
        let _ = leuko_core::assess(kb, &record, as_of, &leuko_core::Options::default());
    }
});

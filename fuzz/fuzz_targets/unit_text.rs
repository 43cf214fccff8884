//! Any text into the quantity and unit parser: no panic, and an accepted value is finite.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KB: std::sync::OnceLock<leuko_kb::Knowledge> = std::sync::OnceLock::new();
    let kb = KB.get_or_init(|| leuko_kb::Knowledge::embedded().expect("embedded knowledge"));
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = leuko_core::units::normalize(text);
        for analyte in [leuko_kb::AnalyteId::Wbc, leuko_kb::AnalyteId::Hgb, leuko_kb::AnalyteId::Temperature] {
            if let Ok((v, _)) = leuko_core::units::read_text(kb, analyte, text) {
                assert!(v.is_finite());
            }
        }
    }
});

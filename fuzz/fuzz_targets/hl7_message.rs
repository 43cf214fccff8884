//! Any bytes through MLLP decoding, the HL7 v2 parser, the ORU^R01 reader, the ACK writer and
//! the engine: no panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static KB: std::sync::OnceLock<leuko_kb::Knowledge> = std::sync::OnceLock::new();
    let kb = KB.get_or_init(|| leuko_kb::Knowledge::embedded().expect("embedded knowledge"));
    let mut decoder = leuko_hl7::MllpDecoder::new(1 << 16);
    let _ = decoder.push(data);
    let _ = leuko_hl7::ack_for_unparseable(data);
    let Ok(message) = leuko_hl7::parse(data) else {
        return;
    };
    let local = leuko_hl7::LocalCodes::new();
    match leuko_hl7::oru_to_record(kb, &message, &local) {
        Ok(result) => {
            let _ = leuko_hl7::ack(&message, leuko_hl7::AckCode::AA, None);
            let as_of = time::macros::datetime!(2026-06-01 0:00 UTC);
            let record = result.to_record();
            let _ = leuko_core::assess(kb, &record, as_of, &leuko_core::Options::default());
        }
        Err(e) => {
            let _ = leuko_hl7::ack(&message, leuko_hl7::AckCode::AE, Some(&e));
        }
    }
});

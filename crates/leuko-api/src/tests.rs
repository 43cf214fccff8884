//! Tests of the wire formats.

use crate::record::{RecordJson, schema_json};

#[test]
fn record_schema_is_fresh() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/record.schema.json");
    let want = schema_json();
    if std::env::var_os("LEUKO_BLESS").is_some() {
        std::fs::write(path, &want).unwrap_or_else(|e| panic!("{e}"));
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(have == want, "schema/record.schema.json is stale: run `LEUKO_BLESS=1 cargo test -p leuko-api record_schema_is_fresh`");
}

#[test]
fn record_errors_name_the_field_and_value() {
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let as_of = time::macros::datetime!(2026-01-01 0:00 UTC);
    let bad = br#"{"results":[{"analyte":"wbc","value":"4000","unit":"10^9/L","at":"2026-01-01"}]}"#;
    let rec = RecordJson::from_slice(bad).unwrap_or_else(|e| panic!("{e}"));
    let e = rec.to_record(&kb, as_of).err().unwrap_or_else(|| panic!("implausible must fail"));
    assert_eq!(e.field, "results[0].value");
    assert!(e.message.contains("4000"));
    let bad = br#"{"results":[{"analyte":"wbc","value":4,"unit":"parsecs","at":"2026-01-01"}]}"#;
    let e = RecordJson::from_slice(bad).and_then(|r| r.to_record(&kb, as_of)).err().map(|e| e.field);
    assert_eq!(e.as_deref(), Some("results[0].unit"));
    let e = RecordJson::from_slice(br#"{"patients":{}}"#).err();
    assert!(e.is_some_and(|e| e.message.contains("patients")));
}

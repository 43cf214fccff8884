//! Tests of the wire formats.

use crate::record::{RecordJson, schema_json};

#[test]
fn record_schema_is_fresh() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../schema/record.schema.json"
    );
    let want = schema_json();
    if std::env::var_os("LEUKO_BLESS").is_some() {
        std::fs::write(path, &want).unwrap_or_else(|e| panic!("{e}"));
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "schema/record.schema.json is stale: run `LEUKO_BLESS=1 cargo test -p leuko-api record_schema_is_fresh`"
    );
}

#[test]
fn record_errors_name_the_field_and_value() {
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let as_of = time::macros::datetime!(2026-01-01 0:00 UTC);
    let bad =
        br#"{"results":[{"analyte":"wbc","value":"4000","unit":"10^9/L","at":"2026-01-01"}]}"#;
    let rec = RecordJson::from_slice(bad).unwrap_or_else(|e| panic!("{e}"));
    let e = rec
        .to_record(&kb, as_of)
        .err()
        .unwrap_or_else(|| panic!("implausible must fail"));
    assert_eq!(e.field, "results[0].value");
    assert!(e.message.contains("4000"));
    let bad = br#"{"results":[{"analyte":"wbc","value":4,"unit":"parsecs","at":"2026-01-01"}]}"#;
    let e = RecordJson::from_slice(bad)
        .and_then(|r| r.to_record(&kb, as_of))
        .err()
        .map(|e| e.field);
    assert_eq!(e.as_deref(), Some("results[0].unit"));
    let e = RecordJson::from_slice(br#"{"patients":{}}"#).err();
    assert!(e.is_some_and(|e| e.message.contains("patients")));
}

fn render_case(json: &str, as_of: time::OffsetDateTime) -> String {
    let kb = leuko_kb::Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let rec = RecordJson::from_slice(json.as_bytes())
        .and_then(|r| r.to_record(&kb, as_of))
        .unwrap_or_else(|e| panic!("{e}"));
    let a = leuko_core::assess(&kb, &rec, as_of, &leuko_core::Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let out = crate::AssessmentJson::from_assessment(&kb, &a);
    crate::text::render(&out, crate::text::Color::Never).replace(&kb.digest, "[digest]")
}

#[test]
fn explanation_febrile_neutropenia_on_chemotherapy() {
    let text = render_case(
        r#"{"patient":{"birth_date":"1974-02-17","sex":"female"},
            "results":[{"analyte":"wbc","value":1.1,"unit":"10*3/uL","at":"2026-02-17T19:00:00Z"},
                       {"analyte":"anc","value":"400 cells/mm3","at":"2026-02-17T19:00:00Z"},
                       {"analyte":"hgb","value":10.6,"unit":"g/dL","at":"2026-02-17T19:00:00Z"},
                       {"analyte":"plt","value":120,"unit":"K/uL","at":"2026-02-17T19:00:00Z"},
                       {"analyte":"temperature","value":38.3,"unit":"Cel","at":"2026-02-17T19:00:00Z"}],
            "conditions":[{"name":"breast cancer"}],
            "medications":[{"name":"Taxol","start":"2026-02-08","end":"2026-02-08"},{"name":"carboplatin","start":"2026-02-08","end":"2026-02-08"}]}"#,
        time::macros::datetime!(2026-02-17 20:00 UTC),
    );
    insta::assert_snapshot!(text);
}

#[test]
fn explanation_mild_isolated_neutropenia_single_count() {
    let text = render_case(
        r#"{"patient":{"age_years":34,"sex":"male"},
            "results":[{"analyte":"wbc","value":"3.6x10^9/L","at":"2026-03-01"},
                       {"analyte":"anc","value":1.3,"unit":"G/L","at":"2026-03-01"},
                       {"analyte":"hgb","value":148,"unit":"g/L","at":"2026-03-01"},
                       {"analyte":"plt","value":240,"unit":"10^9/L","at":"2026-03-01"}]}"#,
        time::macros::datetime!(2026-03-02 09:00 UTC),
    );
    insta::assert_snapshot!(text);
}

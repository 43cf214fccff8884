//! Reader tests: codes, text fallbacks, units, paths in errors.

use super::*;

fn kb() -> Knowledge {
    Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"))
}

fn bundle(resources: &[Value]) -> Value {
    serde_json::json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": resources.iter().map(|r| serde_json::json!({"resource": r})).collect::<Vec<_>>()
    })
}

fn obs(loinc: &str, value: Value, unit: &str) -> Value {
    serde_json::json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": "2026-01-01T08:00:00Z",
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}
    })
}

#[test]
fn reads_counts_in_every_unit_system() {
    let kb = kb();
    for (value, unit, expect) in [
        (serde_json::json!(1.5), "10*9/L", 1.5),
        (serde_json::json!(1.5), "10*3/uL", 1.5),
        (serde_json::json!(1500), "/uL", 1.5),
        (serde_json::json!(1500), "/mm3", 1.5),
        (serde_json::json!(1.5), "K/uL", 1.5),
        (serde_json::json!(1.5), "G/L", 1.5),
    ] {
        let rec = read_bundle(&kb, &bundle(&[obs("751-8", value, unit)]))
            .unwrap_or_else(|e| panic!("{unit}: {e}"));
        assert_eq!(
            rec.observations.first().map(|o| o.value),
            Some(expect),
            "{unit}"
        );
    }
}

#[test]
fn implausible_value_is_refused_with_its_path() {
    let kb = kb();
    let e = read_bundle(
        &kb,
        &bundle(&[obs("6690-2", serde_json::json!(4000), "10*9/L")]),
    )
    .err();
    let e = e.unwrap_or_else(|| panic!("4000 x10^9/L must be refused"));
    assert_eq!(e.path, "entry[0].resource.valueQuantity.value");
    assert!(e.message.contains("4000"), "{}", e.message);
}

#[test]
fn unknown_unit_names_the_field_and_value() {
    let kb = kb();
    let e = read_bundle(
        &kb,
        &bundle(&[obs("6690-2", serde_json::json!(4), "furlongs")]),
    )
    .err();
    let e = e.unwrap_or_else(|| panic!("must fail"));
    assert!(e.path.ends_with("valueQuantity.code"), "{}", e.path);
    assert!(e.message.contains("furlongs"));
}

#[test]
fn uncoded_medicines_and_conditions_are_read_by_text() {
    let kb = kb();
    let b = bundle(&[
        serde_json::json!({"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": "carbimazole"}, "effectivePeriod": {"start": "2026-01-01"}}),
        serde_json::json!({"resourceType": "Condition", "code": {"text": "Duffy-null red cell phenotype Fy(a-b-)"}}),
    ]);
    let rec = read_bundle(&kb, &b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rec.medications.first().map(|m| m.drugs.clone()),
        Some(vec!["carbimazole".to_owned()])
    );
    assert_eq!(
        rec.conditions
            .first()
            .and_then(|c| c.concept.clone())
            .as_deref(),
        Some("duffy-null")
    );
}

#[test]
fn not_json_and_not_a_bundle_are_clear_errors() {
    let kb = kb();
    let e = read_bundle_bytes(&kb, b"{not json").err().map(|e| e.path);
    assert_eq!(e.as_deref(), Some("$"));
    let e = read_bundle_bytes(&kb, b"{}").err().map(|e| e.path);
    assert_eq!(e.as_deref(), Some("resourceType"));
}

#[test]
fn dates_of_every_precision() {
    assert!(parse_datetime("2026-02-17T19:00:00Z").is_some_and(|(_, p)| !p));
    assert!(parse_datetime("2026-02-17").is_some_and(|(_, p)| !p));
    assert!(parse_datetime("2026-02").is_some_and(|(_, p)| p));
    assert!(parse_datetime("2026").is_some_and(|(_, p)| p));
    assert!(parse_datetime("2026-13-01").is_none());
    assert!(parse_datetime("yesterday").is_none());
}

proptest::proptest! {
    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let kb = kb();
        let _ = read_bundle_bytes(&kb, &bytes);
    }

    #[test]
    fn never_panics_on_arbitrary_observation_values(v in proptest::num::f64::ANY, unit in "[ -~]{0,12}") {
        let kb = kb();
        let _ = read_bundle(&kb, &bundle(&[obs("751-8", serde_json::json!(v), &unit)]));
    }
}

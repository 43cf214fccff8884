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

fn dar(code: &str) -> Value {
    serde_json::json!({"extension": [{"url": DATA_ABSENT_REASON, "valueCode": code}]})
}

#[test]
fn primitive_extensions_beside_values_are_accepted() {
    let kb = kb();
    let mut o = obs("751-8", serde_json::json!(0.4), "10*9/L");
    o["_effectiveDateTime"] = serde_json::json!({"id": "t1", "extension": [
        {"url": "http://example.org/fhir/StructureDefinition/clock", "valueString": "analyser"}]});
    o["valueQuantity"]["_value"] = serde_json::json!({"extension": [
        {"url": "http://example.org/fhir/StructureDefinition/precision", "valueInteger": 2}]});
    let p = serde_json::json!({"resourceType": "Patient", "id": "p", "birthDate": "1970-05-01",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": "1970-05-01T06:30:00Z"}]}, "gender": "female", "_gender": {"id": "g"}});
    let rec = read_bundle(&kb, &bundle(&[p, o])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.observations.first().map(|o| o.value), Some(0.4));
    assert_eq!(rec.patient.sex, Sex::Female);
    assert!(rec.patient.birth_date.is_some());
    assert!(rec.notes.is_empty(), "{:?}", rec.notes);
}

#[test]
fn a_value_absent_with_a_reason_is_unknown_and_noted() {
    let kb = kb();
    let mut masked = obs("751-8", serde_json::json!(0.4), "10*9/L");
    if let Some(q) = masked["valueQuantity"].as_object_mut() {
        q.remove("value");
        q.insert("_value".to_owned(), dar("masked"));
    }
    let wbc = obs("6690-2", serde_json::json!(3.1), "10*9/L");
    let rec = read_bundle(&kb, &bundle(&[masked, wbc])).unwrap_or_else(|e| panic!("{e}"));
    // Unknown, not zero: the ANC is not in the record at all, the WBC still is.
    assert_eq!(rec.observations.len(), 1);
    assert_eq!(
        rec.observations.first().map(|o| o.analyte),
        kb.analyte_by_loinc("6690-2").map(|a| a.id)
    );
    let note = rec
        .notes
        .iter()
        .find(|n| n.field == "entry[0].resource.valueQuantity._value")
        .unwrap_or_else(|| panic!("no note: {:?}", rec.notes));
    assert!(
        note.message.contains("unknown") && note.message.contains("\"masked\""),
        "{}",
        note.message
    );
    // The engine sees no ANC: it reports the ANC as missing, it does not grade a zero.
    let a = leuko_core::assess(
        &kb,
        &rec,
        time::macros::datetime!(2026-01-02 0:00 UTC),
        &leuko_core::Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        a.counts
            .iter()
            .all(|c| c.analyte != leuko_core::AnalyteId::Anc || c.derived),
        "{:?}",
        a.counts
    );
}

#[test]
fn observation_data_absent_reason_and_value_string_extension_are_unknown() {
    let kb = kb();
    let mut a = obs("751-8", serde_json::json!(0.4), "10*9/L");
    if let Some(o) = a.as_object_mut() {
        o.remove("valueQuantity");
        o.insert(
            "dataAbsentReason".to_owned(),
            serde_json::json!({"coding": [{"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "error"}]}),
        );
    }
    let mut b = obs("6690-2", serde_json::json!(3.1), "10*9/L");
    if let Some(o) = b.as_object_mut() {
        o.remove("valueQuantity");
        o.insert("_valueString".to_owned(), dar("asked-unknown"));
    }
    let rec = read_bundle(&kb, &bundle(&[a, b])).unwrap_or_else(|e| panic!("{e}"));
    assert!(rec.observations.is_empty());
    let fields: Vec<&str> = rec.notes.iter().map(|n| n.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "entry[0].resource.dataAbsentReason",
            "entry[1].resource._valueString"
        ]
    );
    assert!(rec.notes.iter().all(|n| n.message.contains("not used")));
}

#[test]
fn a_time_absent_with_a_reason_is_unknown_and_noted() {
    let kb = kb();
    let mut o = obs("751-8", serde_json::json!(0.4), "10*9/L");
    if let Some(m) = o.as_object_mut() {
        m.remove("effectiveDateTime");
        m.insert("_effectiveDateTime".to_owned(), dar("unknown"));
    }
    let rec = read_bundle(&kb, &bundle(&[o])).unwrap_or_else(|e| panic!("{e}"));
    assert!(rec.observations.is_empty());
    assert_eq!(
        rec.notes.first().map(|n| n.field.as_str()),
        Some("entry[0].resource._effectiveDateTime")
    );
    // Without the reason, a missing time stays an error that names the field.
    let mut o = obs("751-8", serde_json::json!(0.4), "10*9/L");
    if let Some(m) = o.as_object_mut() {
        m.remove("effectiveDateTime");
    }
    let e = read_bundle(&kb, &bundle(&[o])).err().map(|e| e.path);
    assert_eq!(e.as_deref(), Some("entry[0].resource.effectiveDateTime"));
}

#[test]
fn birth_date_absent_with_a_reason_is_noted() {
    let kb = kb();
    let p = serde_json::json!({"resourceType": "Patient", "_birthDate": dar("masked")});
    let rec = read_bundle(&kb, &bundle(&[p])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.patient.birth_date, None);
    assert_eq!(
        rec.notes.first().map(|n| n.field.as_str()),
        Some("entry[0].resource._birthDate")
    );
}

#[test]
fn a_primitive_extension_that_is_not_an_object_is_an_error() {
    let kb = kb();
    let mut o = obs("751-8", serde_json::json!(0.4), "10*9/L");
    if let Some(q) = o["valueQuantity"].as_object_mut() {
        q.remove("value");
        q.insert("_value".to_owned(), serde_json::json!("masked"));
    }
    let e = read_bundle(&kb, &bundle(&[o]))
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(e.path, "entry[0].resource.valueQuantity._value");
    assert!(e.message.contains("a string"), "{}", e.message);
}

#[test]
fn searchset_bundles_are_read() {
    let kb = kb();
    let b = serde_json::json!({
        "resourceType": "Bundle", "type": "searchset", "total": 2,
        "link": [{"relation": "self", "url": "https://fhir.example.org/Observation?patient=p"}],
        "entry": [
            {"fullUrl": "https://fhir.example.org/Observation/a",
             "resource": obs("751-8", serde_json::json!(0.8), "10*9/L"),
             "search": {"mode": "match", "score": 1}},
            {"fullUrl": "https://fhir.example.org/Patient/p",
             "resource": {"resourceType": "Patient", "id": "p", "gender": "male"},
             "search": {"mode": "include"}},
            {"resource": {"resourceType": "OperationOutcome", "issue": [
                {"severity": "information", "code": "informational", "diagnostics": "paged"}]},
             "search": {"mode": "outcome"}}
        ]
    });
    let rec = read_bundle(&kb, &b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.observations.first().map(|o| o.value), Some(0.8));
    assert_eq!(rec.patient.sex, Sex::Male);
}

#[test]
fn transaction_bundles_are_read() {
    let kb = kb();
    let b = serde_json::json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:8c2b5e0e-2c1d-4a9e-9d4e-0b4f3b0e6a01",
             "resource": {"resourceType": "Patient", "gender": "female", "birthDate": "1980-01-01"},
             "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:8c2b5e0e-2c1d-4a9e-9d4e-0b4f3b0e6a02",
             "resource": obs("26499-4", serde_json::json!(1.1), "10*3/uL"),
             "request": {"method": "PUT", "url": "Observation/b"}},
            {"request": {"method": "DELETE", "url": "Observation/old"}}
        ]
    });
    let rec = read_bundle(&kb, &b).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.observations.len(), 1);
    assert_eq!(rec.observations.first().map(|o| o.value), Some(1.1));
    assert_eq!(rec.patient.sex, Sex::Female);
}

#[test]
fn alternative_loinc_codes_read_as_the_same_analyte() {
    let kb = kb();
    // ecosystem.md §2.1: automated, method-less and manual codes for one analyte.
    for (codes, id, unit) in [
        (
            &["6690-2", "26464-8", "804-5", "33256-9"][..],
            "wbc",
            "10*9/L",
        ),
        (&["751-8", "26499-4", "753-4"][..], "anc", "10*9/L"),
        (&["731-0", "26474-7", "732-8"][..], "alc", "10*9/L"),
        (&["742-7", "26484-6"][..], "amc", "10*9/L"),
        (&["770-8", "26511-6"][..], "neut-pct", "%"),
        (&["26508-2", "35332-6"][..], "band-pct", "%"),
        (&["777-3", "26515-7"][..], "plt", "10*9/L"),
    ] {
        for code in codes {
            let rec = read_bundle(&kb, &bundle(&[obs(code, serde_json::json!(2), unit)]))
                .unwrap_or_else(|e| panic!("{code}: {e}"));
            let got = rec.observations.first().map(|o| o.analyte.as_str());
            assert_eq!(got, Some(id), "LOINC {code}");
        }
    }
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

//! FHIR read → write without loss: unknown members (nested, in extensions, in resources leuko
//! does not type) and decimals keep their exact text; the writer's own output reads back and
//! writes the same bytes; the reader gives the engine the same input from a round-tripped
//! bundle.

use leuko_core::Options;
use leuko_fhir::model::{Decimal, Observation, Open, Resource, is_json_number};
use leuko_fhir::write::assessment_resource;
use leuko_kb::Knowledge;
use proptest::prelude::*;

fn kb() -> Knowledge {
    Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"))
}

fn roundtrip(text: &str) -> String {
    let r = Resource::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"));
    r.to_json().unwrap_or_else(|e| panic!("{e}"))
}

fn observation(r: &Resource) -> &Open<Observation> {
    match r {
        Resource::Observation(o) => o,
        other => panic!("not an Observation: {other:?}"),
    }
}

/// The decimals of the brief, and a few more spellings JSON allows.
const DECIMALS: &[&str] = &[
    "0.10",
    "1.230",
    "1e-3",
    "-0.0",
    "12345678901234567890.123",
    "1E+2",
    "0",
    "-5",
    "4.0000000000000000000000001",
    "1e400",
];

fn lab_observation(value: &str) -> String {
    // Compact, members in an order that is not leuko's, unknown members everywhere.
    format!(
        concat!(
            r#"{{"resourceType":"Observation","id":"o1","meta":{{"versionId":"3","lastUpdated":"2026-01-01T08:00:00.000+01:00"}},"#,
            r#""extension":[{{"url":"https://lab.example/precision","valueDecimal":{v},"extension":[{{"url":"inner","valueQuantity":{{"value":2.50,"unit":"mL"}}}}]}}],"#,
            r#""status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory","userSelected":false}}]}}],"#,
            r#""code":{{"coding":[{{"system":"http://loinc.org","code":"751-8","display":"Neutrophils","extension":[{{"url":"x","valueDecimal":0.50}}]}}],"text":"ANC"}},"#,
            r#""subject":{{"reference":"Patient/p1","display":"A. Person"}},"effectiveDateTime":"2026-01-01T08:00:00Z","issued":"2026-01-01T09:30:00.123Z","#,
            r#""valueQuantity":{{"value":{v},"_value":{{"extension":[{{"url":"https://lab.example/raw","valueString":"{v}"}}]}},"comparator":"<","unit":"10*9/L","system":"http://unitsofmeasure.org","code":"10*9/L"}},"#,
            r#""interpretation":[{{"coding":[{{"code":"L"}}]}}],"#,
            r#""referenceRange":[{{"low":{{"value":1.50,"unit":"10*9/L"}},"high":{{"value":7.0E0,"unit":"10*9/L"}},"appliesTo":[{{"text":"adults"}}],"age":{{"low":{{"value":18.0}}}}}}],"#,
            r#""component":[{{"code":{{"text":"x"}},"valueQuantity":{{"value":-0.000}}}}],"#,
            r#""note":[{{"text":"n","time":"2026-01-01"}}],"derivedFrom":[],"valueInteger":null}}"#
        ),
        v = value
    )
}

#[test]
fn an_observation_with_unknown_members_and_any_decimal_comes_back_byte_for_byte() {
    for d in DECIMALS {
        let text = lab_observation(d);
        assert_eq!(roundtrip(&text), text, "decimal {d}");
        let r = Resource::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let o = observation(&r);
        let value = o
            .value_quantity
            .as_ref()
            .and_then(|q| q.value.as_ref())
            .unwrap_or_else(|| panic!("no value"));
        assert_eq!(value.as_str(), *d);
    }
}

#[test]
fn typed_members_are_read_and_unknown_ones_listed_in_order() {
    let text = lab_observation("0.10");
    let r = Resource::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let o = observation(&r);
    assert_eq!(o.status.as_deref(), Some("final"));
    assert_eq!(o.id.as_deref(), Some("o1"));
    let q = o
        .value_quantity
        .as_ref()
        .unwrap_or_else(|| panic!("no quantity"));
    assert_eq!(q.comparator.as_deref(), Some("<"));
    assert_eq!(q.value.as_ref().and_then(Decimal::to_f64), Some(0.1));
    assert_eq!(
        q.unknown().collect::<Vec<_>>(),
        vec![(
            "_value",
            r#"{"extension":[{"url":"https://lab.example/raw","valueString":"0.10"}]}"#
        )]
    );
    let unknown: Vec<&str> = o.unknown().map(|(k, _)| k).collect();
    assert_eq!(
        unknown,
        [
            "resourceType",
            "meta",
            "extension",
            "issued",
            "interpretation",
            "component",
            "derivedFrom",
            "valueInteger"
        ],
        "derivedFrom: [] and valueInteger: null are kept as text, not dropped"
    );
    let range = o
        .reference_range
        .first()
        .unwrap_or_else(|| panic!("no range"));
    assert_eq!(
        range
            .low
            .as_ref()
            .and_then(|q| q.value.as_ref())
            .map(Decimal::as_str),
        Some("1.50")
    );
    assert_eq!(
        range
            .high
            .as_ref()
            .and_then(|q| q.value.as_ref())
            .map(Decimal::as_str),
        Some("7.0E0")
    );
    let coding = o
        .code
        .as_ref()
        .and_then(|c| c.coding.first())
        .unwrap_or_else(|| panic!("no coding"));
    assert_eq!(
        coding.unknown().collect::<Vec<_>>(),
        vec![("extension", r#"[{"url":"x","valueDecimal":0.50}]"#)]
    );
}

#[test]
fn a_bundle_of_every_kind_of_resource_comes_back_byte_for_byte() {
    let text = concat!(
        r#"{"resourceType":"Bundle","id":"b","meta":{"tag":[{"code":"t"}]},"type":"searchset","total":3,"link":[{"relation":"self","url":"https://x/Observation?patient=p1"}],"entry":["#,
        r#"{"fullUrl":"https://x/Patient/p1","resource":{"resourceType":"Patient","id":"p1","_birthDate":{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/data-absent-reason","valueCode":"masked"}]},"gender":"female","name":[{"family":"X","given":["A",null],"_given":[null,{"extension":[{"url":"y","valueDecimal":3.10}]}]}]},"search":{"mode":"include"}},"#,
        r#"{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Observation","status":"final","code":{"text":"WBC"},"effectiveDateTime":"2026-01-01","valueQuantity":{"value":1.230,"unit":"10*9/L"}},"search":{"mode":"match","score":1.000}},"#,
        r#"{"resource":{"resourceType":"Condition","code":{"text":"fever"},"onsetAge":{"value":40.50,"unit":"a"},"contained":[{"resourceType":"Observation","valueQuantity":{"value":1e-3}}]}},"#,
        r#"{"resource":{"resourceType":"MedicationRequest","status":"active","dosageInstruction":[{"doseAndRate":[{"doseQuantity":{"value":12.500,"unit":"mg"}}]}]},"request":{"method":"POST","url":"MedicationRequest"}},"#,
        r#"{"request":{"method":"DELETE","url":"Observation/9"}},"#,
        r#"{"resource":{"resourceType":"RiskAssessment","status":"final","prediction":[{"probabilityDecimal":0.250,"whenRange":{"low":{"value":1.0}}}]}},"#,
        r#"{"resource":{"resourceType":"ServiceRequest","status":"draft","intent":"proposal","quantityQuantity":{"value":2.0}}}"#,
        r#"],"signature":{"data":"AAAA"}}"#
    );
    assert_eq!(roundtrip(text), text);
    let r = Resource::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let Resource::Bundle(b) = &r else {
        panic!("not a Bundle")
    };
    let kinds: Vec<&str> = b
        .entry
        .iter()
        .map(|e| e.resource.as_ref().map_or("-", Resource::resource_type))
        .collect();
    assert_eq!(
        kinds,
        [
            "Patient",
            "Observation",
            "Condition",
            "MedicationRequest",
            "-",
            "RiskAssessment",
            "ServiceRequest"
        ]
    );
}

#[test]
fn a_pretty_printed_resource_comes_back_json_equal_with_its_decimals() {
    let pretty = "{\n  \"resourceType\" : \"Observation\",\n  \"valueQuantity\" : {\n    \"value\" : 0.10,\n    \"unit\" : \"10*9/L\"\n  },\n  \"extension\" : [ { \"url\" : \"u\", \"valueDecimal\" : 1.230 } ],\n  \"status\" : \"final\"\n}\n";
    // Member order and every number's text are kept; unknown members keep their inner
    // spacing, known ones are written compact.
    assert_eq!(
        roundtrip(pretty),
        r#"{"resourceType":"Observation","valueQuantity":{"value":0.10,"unit":"10*9/L"},"extension":[ { "url" : "u", "valueDecimal" : 1.230 } ],"status":"final"}"#
    );
}

#[test]
fn changed_members_stay_in_place_and_new_ones_come_after() {
    let text = r#"{"resourceType":"Observation","x":1.50,"status":"preliminary","y":{"z":0.10}}"#;
    let mut r = Resource::from_json(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let Resource::Observation(o) = &mut r else {
        panic!("not an Observation")
    };
    o.status = Some("final".to_owned());
    o.id = Some("new".to_owned());
    assert_eq!(
        r.to_json().unwrap_or_else(|e| panic!("{e}")),
        r#"{"resourceType":"Observation","x":1.50,"status":"final","y":{"z":0.10},"id":"new"}"#
    );
}

#[test]
fn errors_name_the_member_path_and_the_value() {
    let text = r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Patient"}},{"resource":{"resourceType":"Observation","valueQuantity":{"value":"abc"}}}]}"#;
    let e = Resource::from_json(text.as_bytes())
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(e.path, "entry[1].resource.valueQuantity.value");
    assert!(e.message.contains("\"abc\""), "{}", e.message);

    let e =
        Resource::from_json(br#"{"resourceType":"Observation","code":{"coding":[{},{"code":7}]}}"#)
            .err()
            .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(e.path, "code.coding[1].code");
    assert!(e.message.contains('7'), "{}", e.message);

    let e = Resource::from_json(br#"{"id":"x"}"#)
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(e.path, "resourceType");

    let e = Resource::from_json(b"{\"resourceType\":")
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(e.path, "$");
    assert!(e.message.contains("not valid JSON"), "{}", e.message);

    assert!(Decimal::parse("01").is_err());
    assert!(Decimal::parse("1.").is_err());
    assert!(Decimal::parse(" 1").is_err());
    assert!(Decimal::parse("NaN").is_err());
    assert_eq!(Decimal::parse("1e400").map(|d| d.to_f64()), Ok(None));
}

#[test]
fn decimals_from_f64_are_the_shortest_text() {
    for (v, text) in [
        (400.0, "400"),
        (0.4, "0.4"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (1e-7, "1e-7"),
        (1e300, "1e+300"),
    ] {
        let d = Decimal::from_f64(v).unwrap_or_else(|| panic!("{v}"));
        assert_eq!(d.as_str(), text);
        assert_eq!(d.to_f64(), Some(v));
    }
    assert!(Decimal::from_f64(f64::NAN).is_none());
    assert!(Decimal::from_f64(f64::INFINITY).is_none());
}

fn febrile_bundle() -> serde_json::Value {
    let obs = |loinc: &str, value: serde_json::Value, unit: &str| {
        serde_json::json!({
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
            "effectiveDateTime": "2026-03-01T08:00:00Z",
            "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}
        })
    };
    serde_json::json!({"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-02"}},
        {"resource": obs("6690-2", serde_json::json!(1.5), "10*9/L")},
        {"resource": obs("770-8", serde_json::json!(20), "%")},
        {"resource": obs("26508-2", serde_json::json!(5), "%")},
        {"resource": obs("8310-5", serde_json::json!(38.6), "Cel")},
        {"resource": {"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": "carbimazole"}, "effectivePeriod": {"start": "2026-01-20"}}}
    ]})
}

#[test]
fn the_writers_bundle_reads_back_and_writes_the_same_bytes() {
    let kb = kb();
    let rec = leuko_fhir::read_bundle(&kb, &febrile_bundle()).unwrap_or_else(|e| panic!("{e}"));
    let as_of = time::macros::datetime!(2026-03-02 0:00 UTC);
    let a =
        leuko_core::assess(&kb, &rec, as_of, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let written = assessment_resource(&kb, &rec, &a, None)
        .to_json()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(roundtrip(&written), written);
    // The typed bundle and the Value the API serves are the same document.
    let value = leuko_fhir::write::assessment_bundle(&kb, &rec, &a, None);
    let reparsed: serde_json::Value =
        serde_json::from_str(&written).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(value, reparsed);
}

#[test]
fn the_reader_gives_the_same_record_from_a_round_tripped_bundle() {
    let kb = kb();
    let original = serde_json::to_string(&febrile_bundle()).unwrap_or_else(|e| panic!("{e}"));
    let again = roundtrip(&original);
    assert_eq!(again, original);
    let a = leuko_fhir::read_bundle_bytes(&kb, original.as_bytes());
    let b = leuko_fhir::read_bundle_bytes(&kb, again.as_bytes());
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

/// Decimal text by JSON's grammar: sign, integer part, fraction, exponent.
fn decimal_text() -> impl Strategy<Value = String> {
    (
        proptest::bool::ANY,
        prop_oneof![Just("0".to_owned()), "[1-9][0-9]{0,24}"],
        proptest::option::of("[0-9]{1,24}"),
        proptest::option::of(("[eE]", "[+-]?", "[0-9]{1,3}")),
    )
        .prop_map(|(neg, int, frac, exp)| {
            let mut s = String::new();
            if neg {
                s.push('-');
            }
            s.push_str(&int);
            if let Some(f) = frac {
                s.push('.');
                s.push_str(&f);
            }
            if let Some((e, sign, digits)) = exp {
                s.push_str(&e);
                s.push_str(&sign);
                s.push_str(&digits);
            }
            s
        })
}

proptest! {
    #[test]
    fn any_decimal_text_round_trips_in_known_and_unknown_members(d in decimal_text()) {
        prop_assert!(is_json_number(&d));
        let text = format!(
            r#"{{"resourceType":"Observation","valueQuantity":{{"value":{d},"unit":"%"}},"extension":[{{"url":"u","valueDecimal":{d}}}],"referenceRange":[{{"low":{{"value":{d}}}}}]}}"#
        );
        prop_assert_eq!(roundtrip(&text), text.clone());
        let r = Resource::from_json(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let o = observation(&r);
        let v = o.value_quantity.as_ref().and_then(|q| q.value.clone());
        prop_assert_eq!(v.as_ref().map(Decimal::as_str), Some(d.as_str()));
        // The engine's f64 is the correctly rounded value of the text (None beyond f64).
        let expect = d.parse::<f64>().ok().filter(|x| x.is_finite());
        prop_assert_eq!(v.and_then(|v| v.to_f64()).map(f64::to_bits), expect.map(f64::to_bits));
    }

    #[test]
    fn decimal_parse_agrees_with_json(s in "[-+0-9.eE]{1,12}") {
        let json_number = serde_json::from_str::<serde_json::Value>(&s)
            .map(|v| v.is_number())
            .unwrap_or(false);
        // serde_json refuses numbers beyond f64 ("1e999"); the grammar accepts them.
        if json_number {
            prop_assert!(Decimal::parse(&s).is_ok(), "{}", s);
        }
        if Decimal::parse(&s).is_ok() {
            prop_assert!(json_number || s.to_ascii_lowercase().contains('e'), "{}", s);
        }
    }

    #[test]
    fn the_model_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = Resource::from_json(&bytes);
    }
}

//! FHIR R4 output: structure, references, order, codes, precision and determinism.

use std::collections::BTreeMap;

use leuko_core::{Assessment, Options, Record};
use leuko_fhir::write::{ICD10CM, TRIAGE_EXTENSION, assessment_bundle};
use leuko_kb::Knowledge;
use proptest::prelude::*;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const LOINC: &str = "http://loinc.org";
const UCUM: &str = "http://unitsofmeasure.org";

fn kb() -> Knowledge {
    Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"))
}

fn at(s: &str) -> OffsetDateTime {
    OffsetDateTime::parse(s, &Rfc3339).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn obs(loinc: &str, value: Value, unit: &str, when: &str) -> Value {
    json!({
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}
    })
}

fn input(resources: &[Value]) -> Value {
    json!({
        "resourceType": "Bundle", "type": "collection",
        "entry": resources.iter().map(|r| json!({"resource": r})).collect::<Vec<_>>()
    })
}

/// A woman on carbimazole with fever; WBC 1.5 with 20% neutrophils and 5% bands (ANC 0.375
/// computed), a temperature, and a count dated after `as_of`.
fn febrile_case() -> Value {
    let t = "2026-03-01T08:00:00Z";
    input(&[
        json!({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-02"}),
        obs("6690-2", json!(1.5), "10*9/L", t),
        obs("770-8", json!(20), "%", t),
        obs("26508-2", json!(5), "%", t),
        obs("718-7", json!(12.9), "g/dL", t),
        obs("777-3", json!(260), "10*9/L", t),
        obs("8310-5", json!(38.6), "Cel", "2026-03-01T09:00:00Z"),
        obs("6690-2", json!(9.9), "10*9/L", "2026-03-05T08:00:00Z"),
        json!({"resourceType": "MedicationStatement", "status": "active",
            "medicationCodeableConcept": {"text": "carbimazole"},
            "effectivePeriod": {"start": "2026-01-20"}}),
        json!({"resourceType": "Condition", "code": {"text": "fever"},
            "onsetDateTime": "2026-03-01T06:00:00Z"}),
    ])
}

fn assessed(kb: &Knowledge, bundle: &Value, as_of: &str) -> (Record, Assessment) {
    let record = leuko_fhir::read_bundle(kb, bundle).unwrap_or_else(|e| panic!("{e}"));
    let a = leuko_core::assess(kb, &record, at(as_of), &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    (record, a)
}

/// fullUrl -> resource.
fn entries(bundle: &Value) -> BTreeMap<String, Value> {
    bundle["entry"]
        .as_array()
        .unwrap_or_else(|| panic!("no entry"))
        .iter()
        .map(|e| {
            let url = e["fullUrl"]
                .as_str()
                .unwrap_or_else(|| panic!("no fullUrl"));
            (url.to_owned(), e["resource"].clone())
        })
        .collect()
}

fn of_type<'b>(bundle: &'b Value, rt: &str) -> Vec<&'b Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == rt)
        .collect()
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("reference", Value::String(s)) => out.push(s.clone()),
                    _ => collect_references(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

/// No empty string, array or object and no null anywhere (FHIR JSON forbids them).
fn assert_no_empties(v: &Value, path: &str) {
    match v {
        Value::Null => panic!("{path} is null"),
        Value::String(s) => assert!(!s.trim().is_empty(), "{path} is an empty string"),
        Value::Array(a) => {
            assert!(!a.is_empty(), "{path} is an empty array");
            for (i, x) in a.iter().enumerate() {
                assert_no_empties(x, &format!("{path}[{i}]"));
            }
        }
        Value::Object(m) => {
            assert!(!m.is_empty(), "{path} is an empty object");
            for (k, x) in m {
                assert_no_empties(x, &format!("{path}.{k}"));
            }
        }
        Value::Number(n) => assert!(n.as_f64().is_some_and(f64::is_finite), "{path}"),
        Value::Bool(_) => {}
    }
}

fn assert_well_formed(bundle: &Value) {
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    assert_no_empties(bundle, "$");
    let all = entries(bundle);
    assert_eq!(
        all.len(),
        bundle["entry"].as_array().map_or(0, Vec::len),
        "fullUrls repeat"
    );
    for (url, r) in &all {
        let id = r["id"].as_str().unwrap_or_else(|| panic!("{url}: no id"));
        assert_eq!(url, &format!("urn:uuid:{id}"));
        assert_eq!(id.len(), 36, "{id}");
    }
    let mut refs = Vec::new();
    collect_references(bundle, &mut refs);
    for r in refs.iter().filter(|r| r.starts_with("urn:")) {
        assert!(all.contains_key(r), "{r} resolves to no entry");
    }
}

fn code_of(r: &Value) -> (&str, &str) {
    let c = &r["code"]["coding"][0];
    (
        c["system"].as_str().unwrap_or(""),
        c["code"].as_str().unwrap_or(""),
    )
}

#[test]
fn febrile_case_maps_every_part_of_the_assessment() {
    let kb = kb();
    let (record, a) = assessed(&kb, &febrile_case(), "2026-03-01T10:00:00Z");
    let bundle = assessment_bundle(&kb, &record, &a, None);
    assert_well_formed(&bundle);
    let all = entries(&bundle);

    // The assessment, first.
    assert_eq!(
        bundle["entry"][0]["resource"]["resourceType"],
        "RiskAssessment"
    );
    let risks = of_type(&bundle, "RiskAssessment");
    assert_eq!(risks.len(), 1);
    let ra = risks[0];
    assert_eq!(ra["status"], "final");
    assert_eq!(ra["occurrenceDateTime"], "2026-03-01T10:00:00Z");
    assert_eq!(ra["method"]["coding"][0]["version"], a.knowledge.0.as_str());
    let ext = &ra["extension"][0];
    assert_eq!(ext["url"], TRIAGE_EXTENSION);
    assert_eq!(
        ext["valueCodeableConcept"]["coding"][0]["code"],
        a.level.as_str()
    );
    let notes: Vec<&str> = ra["note"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str())
        .collect();
    assert!(notes.iter().any(|n| n.contains("not a diagnosis")));
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with(&format!("Triage level: {}", a.level.as_str())))
    );
    let mitigation = ra["mitigation"].as_str().unwrap_or("");
    for x in &a.actions {
        assert!(mitigation.contains(x.text.trim()), "{}", x.text);
    }

    // Subject: the Patient in the bundle, with the record's demographics.
    let patients = of_type(&bundle, "Patient");
    assert_eq!(patients.len(), 1);
    assert_eq!(patients[0]["gender"], "female");
    assert_eq!(patients[0]["birthDate"], "1980-05-02");
    let subject = ra["subject"]["reference"].as_str().unwrap_or("");
    assert_eq!(
        all.get(subject).map(|p| &p["resourceType"]),
        Some(&json!("Patient"))
    );

    // Predictions: the differential, in order, with every ICD-10-CM code.
    let predictions = ra["prediction"].as_array().cloned().unwrap_or_default();
    assert!(!a.differential.is_empty());
    assert_eq!(predictions.len(), a.differential.len());
    for (p, c) in predictions.iter().zip(&a.differential) {
        assert_eq!(p["outcome"]["text"], c.name());
        let codes: Vec<&str> = p["outcome"]["coding"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                assert_eq!(x["system"], ICD10CM);
                x["code"].as_str().unwrap_or("")
            })
            .collect();
        assert_eq!(
            codes,
            c.icd10.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let rationale = p["rationale"].as_str().unwrap_or("");
        assert!(rationale.contains("a ranking aid, not a probability of disease"));
        let w = p["probabilityDecimal"].as_f64().unwrap_or(-1.0);
        assert!((w - c.weight).abs() < 1e-4 && (0.0..=1.0).contains(&w));
    }
    assert!(
        predictions.iter().any(|p| p["rationale"]
            .as_str()
            .unwrap_or("")
            .contains("carbimazole")),
        "the evidence names the medicine"
    );

    // Inputs: the record's results up to as_of, in the basis; the later WBC left out.
    let observations = of_type(&bundle, "Observation");
    let by_loinc = |code: &str| -> Vec<&Value> {
        observations
            .iter()
            .copied()
            .filter(|o| code_of(o) == (LOINC, code))
            .collect()
    };
    let wbc = by_loinc("6690-2");
    assert_eq!(wbc.len(), 1, "the WBC after as_of is not in the bundle");
    assert_eq!(wbc[0]["valueQuantity"]["value"], json!(1.5));
    assert_eq!(wbc[0]["valueQuantity"]["code"], "10*9/L");
    assert_eq!(wbc[0]["valueQuantity"]["system"], UCUM);
    assert_eq!(wbc[0]["effectiveDateTime"], "2026-03-01T08:00:00Z");
    assert_eq!(wbc[0]["category"][0]["coding"][0]["code"], "laboratory");
    let temp = by_loinc("8310-5");
    assert_eq!(temp[0]["category"][0]["coding"][0]["code"], "vital-signs");
    let url_of = |r: &Value| format!("urn:uuid:{}", r["id"].as_str().unwrap_or(""));
    let basis: Vec<&str> = ra["basis"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["reference"].as_str())
        .collect();
    for code in ["6690-2", "770-8", "26508-2", "718-7", "777-3", "8310-5"] {
        let o = by_loinc(code);
        assert_eq!(o.len(), 1, "{code}");
        assert!(
            basis.contains(&url_of(o[0]).as_str()),
            "{code} not in basis"
        );
    }

    // The computed ANC: 751-8, derived from the WBC and both percentages.
    let anc = by_loinc("751-8");
    assert_eq!(anc.len(), 1);
    let anc = anc[0];
    assert_eq!(anc["valueQuantity"]["value"], json!(0.375));
    assert_eq!(anc["valueQuantity"]["code"], "10*9/L");
    assert_eq!(anc["valueQuantity"]["system"], UCUM);
    assert!(basis.contains(&url_of(anc).as_str()));
    let derived: Vec<&str> = anc["derivedFrom"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["reference"].as_str())
        .collect();
    let mut derived_codes: Vec<&str> = derived
        .iter()
        .filter_map(|u| all.get(*u))
        .map(|r| code_of(r).1)
        .collect();
    derived_codes.sort_unstable();
    assert_eq!(derived_codes, ["26508-2", "6690-2", "770-8"]);

    // CTCAE grades: one Observation each, derived from the graded Observation.
    let grades: Vec<&Value> = observations
        .iter()
        .copied()
        .filter(|o| o["valueInteger"].is_u64())
        .collect();
    assert_eq!(grades.len(), a.grades.len());
    for (o, g) in grades.iter().zip(&a.grades) {
        assert_eq!(o["valueInteger"], json!(g.grade));
        assert_eq!(
            o["code"]["text"],
            format!("CTCAE v5.0 {} grade", g.term).as_str()
        );
        assert!(
            o["method"]["text"]
                .as_str()
                .unwrap_or("")
                .contains("CTCAE v5.0")
        );
        assert_eq!(o["derivedFrom"].as_array().map(Vec::len), Some(1));
    }
    let anc_grade = grades
        .iter()
        .find(|o| o["code"]["coding"][0]["code"] == "anc")
        .unwrap_or_else(|| panic!("no ANC grade"));
    assert_eq!(
        anc_grade["derivedFrom"][0]["reference"],
        url_of(anc).as_str()
    );
    assert_eq!(anc_grade["valueInteger"], 4);
    assert_eq!(a.level.as_str(), "emergency", "fever with ANC 0.375");

    // The work-up: draft proposals, LOINC when the test has one, stat when immediate.
    let requests = of_type(&bundle, "ServiceRequest");
    assert_eq!(requests.len(), a.workup.len());
    assert!(a.workup.iter().any(|w| w.loinc().is_some()));
    for w in &a.workup {
        let sr = requests
            .iter()
            .find(|r| r["code"]["text"] == w.name())
            .unwrap_or_else(|| panic!("no request for {}", w.name()));
        assert_eq!(sr["status"], "draft");
        assert_eq!(sr["intent"], "proposal");
        assert_eq!(sr["subject"]["reference"], subject);
        assert_eq!(sr["reasonCode"][0]["text"], w.reason().trim());
        let stat = w.priority == leuko_core::Priority::Immediate;
        assert_eq!(sr["priority"], if stat { "stat" } else { "routine" });
        match w.loinc() {
            Some(code) => assert_eq!(code_of(sr), (LOINC, code)),
            None => assert!(sr["code"].get("coding").is_none()),
        }
    }
    assert!(
        requests.iter().any(|r| r["priority"] == "stat"),
        "blood cultures"
    );
}

#[test]
fn same_input_same_bundle_and_different_input_different_ids() {
    let kb = kb();
    let (record, a) = assessed(&kb, &febrile_case(), "2026-03-01T10:00:00Z");
    let one = assessment_bundle(&kb, &record, &a, None);
    let (record2, a2) = assessed(&kb, &febrile_case(), "2026-03-01T10:00:00Z");
    let two = assessment_bundle(&kb, &record2, &a2, None);
    assert_eq!(
        serde_json::to_string(&one).ok(),
        serde_json::to_string(&two).ok()
    );
    let later = assessed(&kb, &febrile_case(), "2026-03-01T11:00:00Z");
    let three = assessment_bundle(&kb, &later.0, &later.1, None);
    assert_ne!(one["id"], three["id"]);
    let ids = |b: &Value| entries(b).into_keys().collect::<Vec<_>>();
    assert!(ids(&one).iter().all(|u| !ids(&three).contains(u)));
}

#[test]
fn a_given_subject_replaces_the_patient_entry() {
    let kb = kb();
    let (record, a) = assessed(&kb, &febrile_case(), "2026-03-01T10:00:00Z");
    let bundle = assessment_bundle(&kb, &record, &a, Some("Patient/abc-123"));
    assert_no_empties(&bundle, "$");
    assert!(of_type(&bundle, "Patient").is_empty());
    let mut subjects = Vec::new();
    for r in bundle["entry"].as_array().into_iter().flatten() {
        if let Some(s) = r["resource"]["subject"]["reference"].as_str() {
            subjects.push(s.to_owned());
        }
    }
    assert!(subjects.len() > 5);
    assert!(subjects.iter().all(|s| s == "Patient/abc-123"));
    // A blank subject is no subject.
    let blank = assessment_bundle(&kb, &record, &a, Some("  "));
    assert_eq!(of_type(&blank, "Patient").len(), 1);
    assert_well_formed(&blank);
}

#[test]
fn values_are_written_as_read() {
    let kb = kb();
    let t = "2026-03-01T08:00:00Z";
    let b = input(&[
        obs("751-8", json!(400), "/uL", t),
        obs("6690-2", json!(0.4), "10*9/L", t),
        obs("718-7", json!(6.1), "mmol/L", t),
    ]);
    let (record, a) = assessed(&kb, &b, "2026-03-01T10:00:00Z");
    let bundle = assessment_bundle(&kb, &record, &a, None);
    assert_well_formed(&bundle);
    let text = serde_json::to_string(&bundle).unwrap_or_default();
    fn numbers(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Number(n) => out.push(n.to_string()),
            Value::Array(a) => a.iter().for_each(|x| numbers(x, out)),
            Value::Object(m) => m.values().for_each(|x| numbers(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    numbers(&bundle, &mut all);
    assert!(
        all.iter().all(|n| n.len() < 10),
        "a value lost its precision: {all:?}"
    );
    let observations = of_type(&bundle, "Observation");
    let find = |code: &str| {
        observations
            .iter()
            .copied()
            .find(|o| code_of(o) == (LOINC, code))
            .unwrap_or_else(|| panic!("{code}"))
    };
    // Reported in /uL: written as reported, the reading in a note.
    let wbc = find("6690-2");
    assert_eq!(wbc["valueQuantity"]["value"], json!(0.4));
    assert!(
        text.contains("\"value\":400") && !text.contains("\"value\":400.0"),
        "{text}"
    );
    let anc = find("751-8");
    assert_eq!(anc["valueQuantity"]["value"], json!(400));
    assert_eq!(anc["valueQuantity"]["code"], "/uL");
    assert_eq!(anc["note"][0]["text"], "Read by leuko as 0.4 10*9/L.");
    assert!(text.contains("\"value\":0.4"), "{text}");
    let hgb = find("718-7");
    assert_eq!(hgb["valueQuantity"]["value"], json!(6.1));
    assert_eq!(hgb["valueQuantity"]["code"], "mmol/L");
    // No differential without a low count? There is one: ANC 0.4.
    assert!(!of_type(&bundle, "RiskAssessment")[0]["prediction"].is_null());
}

#[test]
fn an_empty_record_gives_a_valid_bundle() {
    let kb = kb();
    let record = Record::default();
    let a = leuko_core::assess(
        &kb,
        &record,
        at("2026-01-01T00:00:00Z"),
        &Options::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let bundle = assessment_bundle(&kb, &record, &a, None);
    assert_well_formed(&bundle);
    let ra = of_type(&bundle, "RiskAssessment")[0];
    assert!(ra.get("prediction").is_none());
    assert!(ra.get("basis").is_none());
    assert_eq!(of_type(&bundle, "Patient").len(), 1);
}

#[test]
fn odd_times_are_written_as_fhir_can() {
    let kb = kb();
    // An offset FHIR cannot write (+15:00) is written in UTC; +05:30 is kept.
    let b = input(&[
        obs("6690-2", json!(1.2), "10*9/L", "2026-03-01T20:00:00+15:00"),
        obs("751-8", json!(0.3), "10*9/L", "2026-03-01T08:00:00+05:30"),
    ]);
    let (record, a) = assessed(&kb, &b, "2026-03-02T00:00:00Z");
    let bundle = assessment_bundle(&kb, &record, &a, None);
    assert_well_formed(&bundle);
    let times: Vec<&str> = of_type(&bundle, "Observation")
        .iter()
        .filter_map(|o| o["effectiveDateTime"].as_str())
        .collect();
    assert!(times.contains(&"2026-03-01T05:00:00Z"), "{times:?}");
    assert!(times.contains(&"2026-03-01T08:00:00+05:30"), "{times:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the counts, percentages and times, the bundle is well formed, its references
    /// resolve and the predictions follow the differential.
    #[test]
    fn any_count_history_gives_a_well_formed_bundle(
        counts in prop::collection::vec(
            (0.0f64..30.0, 0.0f64..100.0, prop::option::of(0.0f64..20.0), 0i64..2000, prop::bool::ANY),
            0..6,
        ),
        as_of_hours in 0i64..2500,
        female in prop::bool::ANY,
    ) {
        let kb = kb();
        let base = at("2026-01-01T00:00:00Z");
        let mut resources = vec![json!({"resourceType": "Patient",
            "gender": if female { "female" } else { "male" }, "birthDate": "1990-01-01"})];
        for (wbc, neut, band, hours, absolute) in &counts {
            let when = (base + time::Duration::hours(*hours)).format(&Rfc3339).unwrap_or_default();
            resources.push(obs("6690-2", json!(wbc), "10*9/L", &when));
            if *absolute {
                resources.push(obs("751-8", json!(wbc * neut / 100.0), "10*9/L", &when));
            } else {
                resources.push(obs("770-8", json!(neut), "%", &when));
                if let Some(b) = band {
                    resources.push(obs("26508-2", json!(b), "%", &when));
                }
            }
        }
        let as_of = (base + time::Duration::hours(as_of_hours)).format(&Rfc3339).unwrap_or_default();
        let (record, a) = assessed(&kb, &input(&resources), &as_of);
        let bundle = assessment_bundle(&kb, &record, &a, None);
        assert_well_formed(&bundle);
        let ra = of_type(&bundle, "RiskAssessment")[0];
        let names: Vec<&str> = ra["prediction"].as_array().into_iter().flatten()
            .filter_map(|p| p["outcome"]["text"].as_str()).collect();
        let want: Vec<&str> = a.differential.iter().map(|c| c.name()).collect();
        prop_assert_eq!(names, want);
        prop_assert_eq!(
            of_type(&bundle, "Observation").iter().filter(|o| o["valueInteger"].is_u64()).count(),
            a.grades.len()
        );
        for c in a.counts.iter().filter(|c| c.derived) {
            let code = kb.analyte(c.analyte).and_then(|x| x.loinc.first()).cloned().unwrap_or_default();
            let o = of_type(&bundle, "Observation").into_iter()
                .find(|o| code_of(o) == (LOINC, code.as_str()) && o.get("derivedFrom").is_some());
            prop_assert!(o.is_some(), "no derived Observation for {}", c.analyte.as_str());
        }
    }
}

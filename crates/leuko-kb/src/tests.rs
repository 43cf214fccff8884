//! Tests of the knowledge base: it loads, every entry has a source and well-formed codes.

use crate::validate::{is_icd10cm, is_loinc, is_snomed};
use crate::{AnalyteId, Knowledge};

fn kb() -> Knowledge {
    match Knowledge::embedded() {
        Ok(kb) => kb,
        Err(e) => panic!("the embedded knowledge base must load: {e}"),
    }
}

#[test]
fn embedded_knowledge_loads_and_validates() {
    let kb = kb();
    assert!(kb.validate().is_empty());
    assert_eq!(kb.digest.len(), 16);
}

#[test]
fn every_entry_cites_an_existing_source() {
    let kb = kb();
    let cited = kb
        .causes
        .iter()
        .flat_map(|c| {
            c.sources
                .iter()
                .chain(c.findings.iter().flat_map(|f| &f.sources))
        })
        .chain(kb.drugs.iter().flat_map(|d| &d.sources))
        .chain(kb.rules.iter().flat_map(|r| &r.sources))
        .chain(kb.tests.iter().flat_map(|t| &t.sources))
        .chain(kb.concepts.iter().flat_map(|c| &c.sources));
    for id in cited {
        assert!(kb.source(id).is_some(), "unknown source {id}");
    }
    for c in &kb.causes {
        assert!(
            !c.sources.is_empty() && c.findings.iter().all(|f| !f.sources.is_empty()),
            "cause {} lacks sources",
            c.id
        );
    }
}

#[test]
fn the_knowledge_base_is_as_broad_as_promised() {
    let kb = kb();
    assert!(kb.drugs.len() >= 80, "{} drugs", kb.drugs.len());
    for id in [
        "drug-induced",
        "chemotherapy",
        "viral",
        "sepsis",
        "tuberculosis",
        "parasitic",
        "b12-deficiency",
        "folate-deficiency",
        "copper-deficiency",
        "sle",
        "ra-felty",
        "autoimmune-infancy",
        "hypersplenism",
        "aplastic-anemia",
        "mds",
        "acute-leukemia",
        "marrow-infiltration",
        "myelofibrosis",
        "congenital",
        "cyclic",
        "chronic-idiopathic",
        "duffy-null",
        "t-lgl",
        "hiv",
        "alcohol",
        "toxic-exposure",
        "artefact",
    ] {
        assert!(kb.cause(id).is_some(), "cause {id} missing");
    }
    for a in AnalyteId::ALL {
        assert!(kb.analyte(a).is_some());
    }
}

#[test]
fn cause_codes_follow_the_contract() {
    let kb = kb();
    let code = |id: &str| kb.cause(id).map(|c| c.icd10.clone()).unwrap_or_default();
    assert!(code("drug-induced").contains(&"D70.2".to_owned()));
    assert!(code("chemotherapy").contains(&"D70.1".to_owned()));
    assert!(code("cyclic").contains(&"D70.4".to_owned()));
    assert!(code("congenital").contains(&"D70.0".to_owned()));
    assert!(code("hypersplenism").contains(&"D73.1".to_owned()));
    assert!(code("copper-deficiency").contains(&"E61.0".to_owned()));
    assert!(code("marrow-infiltration").contains(&"C79.52".to_owned()));
    assert!(code("hiv").contains(&"B20".to_owned()));
}

#[test]
fn code_validators_accept_real_codes_and_reject_others() {
    for good in ["718-7", "751-8", "26499-4", "6690-2", "8310-5", "600-7"] {
        assert!(is_loinc(good), "{good}");
    }
    for bad in ["718-8", "7187", "abc-1", "-1", "718-"] {
        assert!(!is_loinc(bad), "{bad}");
    }
    for good in ["55464009", "386661006", "69896004", "16294009"] {
        assert!(is_snomed(good), "{good}");
    }
    for bad in ["55464008", "12", "abcdefg"] {
        assert!(!is_snomed(bad), "{bad}");
    }
    for good in ["D70.2", "A41.9", "B20", "M05.00", "C91.Z0", "R65.20"] {
        assert!(is_icd10cm(good), "{good}");
    }
    for bad in ["d70.2", "D7", "D70.", "D70.12345", "70.2"] {
        assert!(!is_icd10cm(bad), "{bad}");
    }
}

#[test]
fn lookups_by_code_and_text() {
    let kb = kb();
    assert_eq!(
        kb.analyte_by_loinc("751-8").map(|a| a.id),
        Some(AnalyteId::Anc)
    );
    assert_eq!(
        kb.concept_by_snomed("55464009").map(|c| c.id.as_str()),
        Some("sle")
    );
    assert_eq!(
        kb.drug_by_rxnorm("2626").map(|d| d.id.as_str()),
        Some("clozapine")
    );
    assert_eq!(
        kb.drug_by_text("Metamizole 500 mg tablets")
            .map(|d| d.id.as_str()),
        Some("metamizole")
    );
    assert_eq!(
        kb.drug_by_text("Neo-Mercazole 5mg").map(|d| d.id.as_str()),
        Some("carbimazole")
    );
    assert_eq!(
        kb.concept_by_text("Duffy-null red cell phenotype Fy(a-b-)")
            .map(|c| c.id.as_str()),
        Some("duffy-null")
    );
    let combo: Vec<&str> = kb
        .drugs_in_text("piperacillin / tazobactam")
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    assert!(!combo.is_empty());
}

#[test]
fn a_broken_file_names_itself() {
    let mut files: Vec<(&'static str, &str)> = crate::FILES.to_vec();
    for f in &mut files {
        if f.0 == "causes.toml" {
            f.1 = "[[cause]]\nid = 3\n";
        }
    }
    match Knowledge::from_files(&files) {
        Err(crate::LoadError::Parse { file, .. }) => assert_eq!(file, "causes.toml"),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

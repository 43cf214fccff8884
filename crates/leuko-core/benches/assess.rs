//! Benchmarks of one assessment: a single count, and a 50-count history with medicines.
//! Run: `cargo bench -p leuko-core --bench assess`.

use criterion::{Criterion, criterion_group, criterion_main};
use leuko_core::{
    AnalyteId, Comparator, ConditionEntry, ConditionStatus, Knowledge, MedicationEntry,
    Observation, Options, Patient, Record, Sex,
};
use time::{Duration, macros::datetime};

fn obs(analyte: AnalyteId, value: f64, days_ago: i64) -> Observation {
    Observation {
        analyte,
        at: datetime!(2026-06-01 08:00 UTC) - Duration::days(days_ago),
        value,
        comparator: Comparator::Equal,
        reported: None,
        reference_range: None,
        derived: false,
        source_ref: String::new(),
    }
}

fn single() -> Record {
    Record {
        patient: Patient {
            birth_date: Some(time::macros::date!(1974 - 02 - 17)),
            sex: Sex::Female,
        },
        observations: vec![
            obs(AnalyteId::Wbc, 1.1, 0),
            obs(AnalyteId::Anc, 0.4, 0),
            obs(AnalyteId::Alc, 0.6, 0),
            obs(AnalyteId::Hgb, 10.6, 0),
            obs(AnalyteId::Plt, 120.0, 0),
            obs(AnalyteId::Temperature, 38.3, 0),
        ],
        conditions: vec![ConditionEntry {
            concept: Some("fever".to_owned()),
            text: "Fever".to_owned(),
            status: ConditionStatus::Active,
            onset: None,
            abatement: None,
            source_ref: String::new(),
        }],
        medications: vec![MedicationEntry {
            drugs: vec!["paclitaxel".to_owned()],
            text: "paclitaxel".to_owned(),
            start: Some(datetime!(2026-05-23 08:00 UTC)),
            end: Some(datetime!(2026-05-23 08:00 UTC)),
            active: false,
            source_ref: String::new(),
        }],
        notes: vec![],
    }
}

fn history() -> Record {
    let mut r = single();
    r.observations.clear();
    for i in 0..50 {
        let day = i64::from(i) * 7;
        let anc = 1.6 + 1.2 * (f64::from(i) * 0.9).sin();
        r.observations.push(obs(AnalyteId::Anc, anc, day));
        r.observations.push(obs(AnalyteId::Wbc, anc + 1.8, day));
    }
    r.medications.push(MedicationEntry {
        drugs: vec!["clozapine".to_owned()],
        text: "clozapine".to_owned(),
        start: Some(datetime!(2025-01-10 08:00 UTC)),
        end: None,
        active: true,
        source_ref: String::new(),
    });
    r
}

fn bench(c: &mut Criterion) {
    let kb = Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let as_of = datetime!(2026-06-01 12:00 UTC);
    let opts = Options::default();
    let one = single();
    let fifty = history();
    c.bench_function("assess/single-count", |b| {
        b.iter(|| leuko_core::assess(&kb, std::hint::black_box(&one), as_of, &opts))
    });
    c.bench_function("assess/50-count-history", |b| {
        b.iter(|| leuko_core::assess(&kb, std::hint::black_box(&fifty), as_of, &opts))
    });
    c.bench_function("assess+explanation/single-count", |b| {
        b.iter(|| {
            leuko_core::assess(&kb, std::hint::black_box(&one), as_of, &opts)
                .map(|a| leuko_core::explanation(&kb, &a))
        })
    });
    c.bench_function("knowledge/load", |b| b.iter(Knowledge::embedded));
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Runs one assessment many times, for a profiler: `valgrind --tool=callgrind target/release/examples/profile`.
use leuko_core::{AnalyteId, Comparator, Knowledge, Observation, Options, Patient, Record, Sex};
use time::macros::datetime;

fn main() {
    let kb = Knowledge::embedded().unwrap_or_else(|e| panic!("{e}"));
    let at = datetime!(2026-06-01 08:00 UTC);
    let obs = |analyte, value| Observation {
        analyte,
        at,
        value,
        comparator: Comparator::Equal,
        reported: None,
        reference_range: None,
        derived: false,
        source_ref: String::new(),
    };
    let record = Record {
        patient: Patient {
            birth_date: Some(time::macros::date!(1974 - 02 - 17)),
            sex: Sex::Female,
        },
        observations: vec![
            obs(AnalyteId::Wbc, 1.1),
            obs(AnalyteId::Anc, 0.4),
            obs(AnalyteId::Hgb, 10.6),
            obs(AnalyteId::Plt, 120.0),
            obs(AnalyteId::Temperature, 38.3),
        ],
        ..Record::default()
    };
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let mut levels = 0usize;
    for _ in 0..n {
        let a = leuko_core::assess(&kb, &record, at, &Options::default())
            .unwrap_or_else(|e| panic!("{e}"));
        levels += if std::env::var_os("WITH_WORDS").is_some() {
            leuko_core::explanation(&kb, &a).len()
        } else {
            a.fired.len()
        };
    }
    std::hint::black_box(levels);
}

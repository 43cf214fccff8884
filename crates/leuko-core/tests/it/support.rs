//! A small builder for records.

use leuko_core::{
    AnalyteId, Assessment, Comparator, ConditionEntry, ConditionStatus, Knowledge, MedicationEntry,
    Observation, Options, Patient, Record, Sex,
};
use time::{Duration, OffsetDateTime, macros::datetime};

pub fn kb() -> &'static Knowledge {
    static KB: std::sync::OnceLock<Knowledge> = std::sync::OnceLock::new();
    KB.get_or_init(|| Knowledge::embedded().unwrap_or_else(|e| panic!("{e}")))
}

pub const AS_OF: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

#[derive(Clone, Debug)]
pub struct R(pub Record);

impl R {
    pub fn adult() -> R {
        R(Record {
            patient: Patient {
                birth_date: Some(time::macros::date!(1980 - 01 - 01)),
                sex: Sex::Female,
            },
            ..Record::default()
        })
    }
    pub fn born(mut self, date: time::Date) -> R {
        self.0.patient.birth_date = Some(date);
        self
    }
    pub fn lab_at(mut self, analyte: AnalyteId, value: f64, days_ago: i64) -> R {
        self.0.observations.push(Observation {
            analyte,
            at: AS_OF - Duration::days(days_ago) - Duration::hours(2),
            value,
            comparator: Comparator::Equal,
            reported: None,
            reference_range: None,
            derived: false,
            source_ref: String::new(),
        });
        self
    }
    pub fn lab(self, analyte: AnalyteId, value: f64) -> R {
        self.lab_at(analyte, value, 0)
    }
    pub fn cbc(self, wbc: f64, anc: f64, hgb: f64, plt: f64) -> R {
        self.lab(AnalyteId::Wbc, wbc)
            .lab(AnalyteId::Anc, anc)
            .lab(AnalyteId::Hgb, hgb)
            .lab(AnalyteId::Plt, plt)
    }
    pub fn condition(mut self, concept: &str) -> R {
        self.0.conditions.push(ConditionEntry {
            concept: Some(concept.to_owned()),
            text: concept.to_owned(),
            status: ConditionStatus::Active,
            onset: None,
            abatement: None,
            source_ref: String::new(),
        });
        self
    }
    pub fn drug(mut self, id: &str, started_days_ago: i64, stopped_days_ago: Option<i64>) -> R {
        self.0.medications.push(MedicationEntry {
            drugs: vec![id.to_owned()],
            text: id.to_owned(),
            start: Some(AS_OF - Duration::days(started_days_ago)),
            end: stopped_days_ago.map(|d| AS_OF - Duration::days(d)),
            active: stopped_days_ago.is_none(),
            source_ref: String::new(),
        });
        self
    }
    pub fn assess(&self) -> Assessment {
        leuko_core::assess(kb(), &self.0, AS_OF, &Options::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

pub fn top(a: &Assessment) -> &str {
    a.differential.first().map_or("", |c| c.id())
}

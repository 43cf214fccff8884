//! `leuko synth`: a seeded generator of a synthetic laboratory warehouse.
//!
//! It writes `patients`, `labs` and `medications` tables (CSV or Parquet) and `truth.csv`, the
//! ground truth of every patient: its label (the planted case kind, or `background`) and
//! whether a screen must list it (`flag`) or must not (`quiet`).
//!
//! * **Seeded and order-free.** Each patient draws from its own generator, seeded from the run's
//!   seed and the patient's number, so the same seed gives the same files byte for byte.
//! * **Streaming.** One patient's rows are built, written and dropped; Parquet row groups are
//!   flushed every [`BATCH_ROWS`] rows. Memory does not grow with `--rows`.
//! * **Planted cases.** The first patients are one of every [`Kind`] (so a small warehouse
//!   holds each), then one patient in [`PLANT_EVERY`] is planted, cycling through the kinds.
//!   The values are chosen with margins around the knowledge base's thresholds (international
//!   profile), so that the label does not depend on noise.
//!
//! The time axis ends at `as_of` (default [`DEFAULT_AS_OF`]), never at the clock.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::civil::{DAY_US, format_date, format_timestamp, parse_timestamp};

/// The end of the synthetic warehouse's time axis when none is given.
pub const DEFAULT_AS_OF: &str = "2026-06-30T00:00:00Z";
/// One patient in this many, after the first round, is a planted case.
pub const PLANT_EVERY: u64 = 40;
/// Rows per Parquet row group / Arrow batch.
pub const BATCH_ROWS: usize = 65_536;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// Apache Parquet, zstd-compressed.
    Parquet,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// Generate patients until at least this many lab rows are written.
    pub rows: u64,
    /// The seed.
    pub seed: u64,
    /// The output folder (created when missing).
    pub out: PathBuf,
    /// CSV or Parquet.
    pub format: Format,
    /// The end of the time axis, microseconds since the Unix epoch (UTC).
    pub as_of_us: i64,
}

impl Config {
    /// A configuration ending at [`DEFAULT_AS_OF`].
    pub fn new(rows: u64, seed: u64, out: PathBuf, format: Format) -> Config {
        Config {
            rows,
            seed,
            out,
            format,
            as_of_us: parse_timestamp(DEFAULT_AS_OF).unwrap_or(0),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Patients.
    pub patients: u64,
    /// Lab rows.
    pub lab_rows: u64,
    /// Medication rows.
    pub medication_rows: u64,
    /// Planted patients (not background).
    pub planted: u64,
}

/// The kinds of planted case, with whether a screen must flag them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ANC below 0.5 in the last week.
    SevereNeutropenia,
    /// ANC below 0.5 with a temperature of 38.5 the same day.
    FebrileNeutropenia,
    /// A myelotoxic drug started weeks ago; the ANC has fallen from baseline and is low now.
    DrugInducedOnset,
    /// The same fall months ago; the drug was stopped and the counts recovered.
    DrugDechallengeRecovered,
    /// Chemotherapy cycles every 21 days; the last one started 9 days ago (nadir window).
    ChemoNadir,
    /// Chemotherapy finished a year ago; counts recovered.
    ChemoCompleted,
    /// A mild dip after a viral illness, normal on the recheck.
    PostViralRecovered,
    /// WBC drifting down over a year with a rising MCV; low twice, no count for six weeks.
    B12Drift,
    /// ANC cycling with a 21-day period, nadirs below 0.5 (cyclic neutropenia).
    Cyclic,
    /// A Duffy-null person whose counts sit in the Duffy-null range.
    DuffyNullOwnRange,
    /// WBC low on counts spanning seven weeks, no count since.
    PersistentUnexplained,
    /// A rapid fall with blasts on the differential.
    LeukaemiaLike,
    /// Clozapine in its weekly phase; the last ANC is 16 days old.
    ClozapineOverdue,
    /// Clozapine; the last ANC (0.8) calls for interruption.
    ClozapineInterrupt,
    /// Clozapine in its two-weekly phase with counts on time and normal.
    ClozapineOnSchedule,
    /// Duffy-null on clozapine, ANC 1.1: normal on the BEN table, no interruption.
    ClozapineBenNormal,
    /// Severe neutropenia reported per microlitre or per cubic millimetre.
    UnitVariantSevere,
    /// Normal counts reported per microlitre, 10*3/uL or G/L.
    UnitVariantNormal,
    /// Severe neutropenia under an alternative LOINC code or a local code.
    CodeVariantSevere,
    /// A low ANC corrected to a normal value (status C).
    CorrectedToNormal,
    /// A normal ANC corrected to a low value (status C).
    CorrectedToLow,
    /// A stable ANC of about 5 that has fallen below 1.5 in the last days.
    BaselineFall,
}

impl Kind {
    /// Every kind, in the order they are planted.
    pub const ALL: [Kind; 22] = [
        Kind::SevereNeutropenia,
        Kind::FebrileNeutropenia,
        Kind::DrugInducedOnset,
        Kind::DrugDechallengeRecovered,
        Kind::ChemoNadir,
        Kind::ChemoCompleted,
        Kind::PostViralRecovered,
        Kind::B12Drift,
        Kind::Cyclic,
        Kind::DuffyNullOwnRange,
        Kind::PersistentUnexplained,
        Kind::LeukaemiaLike,
        Kind::ClozapineOverdue,
        Kind::ClozapineInterrupt,
        Kind::ClozapineOnSchedule,
        Kind::ClozapineBenNormal,
        Kind::UnitVariantSevere,
        Kind::UnitVariantNormal,
        Kind::CodeVariantSevere,
        Kind::CorrectedToNormal,
        Kind::CorrectedToLow,
        Kind::BaselineFall,
    ];

    /// The label written to `truth.csv`.
    pub fn label(self) -> &'static str {
        match self {
            Kind::SevereNeutropenia => "severe_neutropenia",
            Kind::FebrileNeutropenia => "febrile_neutropenia",
            Kind::DrugInducedOnset => "drug_induced_onset",
            Kind::DrugDechallengeRecovered => "drug_dechallenge_recovered",
            Kind::ChemoNadir => "chemo_nadir",
            Kind::ChemoCompleted => "chemo_completed",
            Kind::PostViralRecovered => "post_viral_recovered",
            Kind::B12Drift => "b12_drift",
            Kind::Cyclic => "cyclic",
            Kind::DuffyNullOwnRange => "duffy_null_own_range",
            Kind::PersistentUnexplained => "persistent_unexplained",
            Kind::LeukaemiaLike => "leukaemia_like",
            Kind::ClozapineOverdue => "clozapine_overdue",
            Kind::ClozapineInterrupt => "clozapine_interrupt",
            Kind::ClozapineOnSchedule => "clozapine_on_schedule",
            Kind::ClozapineBenNormal => "clozapine_ben_normal",
            Kind::UnitVariantSevere => "unit_variant_severe",
            Kind::UnitVariantNormal => "unit_variant_normal",
            Kind::CodeVariantSevere => "code_variant_severe",
            Kind::CorrectedToNormal => "corrected_to_normal",
            Kind::CorrectedToLow => "corrected_to_low",
            Kind::BaselineFall => "baseline_fall",
        }
    }

    /// Whether a screen must list this patient.
    pub fn flagged(self) -> bool {
        !matches!(
            self,
            Kind::DrugDechallengeRecovered
                | Kind::ChemoCompleted
                | Kind::PostViralRecovered
                | Kind::DuffyNullOwnRange
                | Kind::ClozapineOnSchedule
                | Kind::ClozapineBenNormal
                | Kind::UnitVariantNormal
                | Kind::CorrectedToNormal
        )
    }
}

/// A lab row: the warehouse's own columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Lab {
    /// Specimen time, microseconds since the epoch.
    pub t: i64,
    /// A LOINC or local code.
    pub code: &'static str,
    /// The value as reported.
    pub value: f64,
    /// The unit as reported.
    pub unit: &'static str,
    /// `F` final, `C` corrected.
    pub status: &'static str,
}

/// A medication row.
#[derive(Debug, Clone, PartialEq)]
pub struct Med {
    /// The drug as named in the order.
    pub drug: &'static str,
    /// Start time.
    pub start: i64,
    /// Stop time; `None` while active.
    pub stop: Option<i64>,
}

/// One generated patient.
#[derive(Debug, Clone, PartialEq)]
pub struct Patient {
    /// `P` and ten digits.
    pub id: String,
    /// Birth date, days since the epoch.
    pub birth_days: i32,
    /// `female` or `male`.
    pub sex: &'static str,
    /// Duffy-null status; `None` when not recorded (most people).
    pub duffy_null: Option<bool>,
    /// The planted kind; `None` for background.
    pub kind: Option<Kind>,
    /// Lab rows.
    pub labs: Vec<Lab>,
    /// Medication rows.
    pub meds: Vec<Med>,
}

impl Patient {
    /// The truth label.
    pub fn label(&self) -> &'static str {
        self.kind.map_or("background", Kind::label)
    }

    /// `flag` or `quiet`.
    pub fn expected(&self) -> &'static str {
        if self.kind.is_some_and(Kind::flagged) {
            "flag"
        } else {
            "quiet"
        }
    }
}

// Codes and units the generator writes (all of them known to the knowledge base; a test checks).
const WBC: &str = "6690-2";
const ANC: &str = "751-8";
const ALC: &str = "731-0";
const HGB: &str = "718-7";
const PLT: &str = "777-3";
const MCV: &str = "787-2";
const BLAST_PCT: &str = "26446-5";
const TEMP: &str = "8310-5";
const COUNT_UNIT: &str = "10*9/L";

/// Alternative spellings of the count unit with their factor from 10^9/L.
const COUNT_UNITS: [(&str, f64); 5] = [
    ("10*9/L", 1.0),
    ("10*3/uL", 1.0),
    ("10^9/L", 1.0),
    ("G/L", 1.0),
    ("/uL", 1000.0),
];
/// Alternative codes for the ANC: LOINC 26499-4 and 753-4, and local codes.
const ANC_CODES: [&str; 4] = ["26499-4", "753-4", "NEUT#", "ANC"];

/// The patient's draws, built in time order.
struct Builder {
    rng: Pcg64Mcg,
    as_of: i64,
    labs: Vec<Lab>,
    meds: Vec<Med>,
    unit: (&'static str, f64),
    anc_code: &'static str,
}

impl Builder {
    fn days_ago(&self, days: f64) -> i64 {
        // Draws land between 07:00 and 17:00 on whole minutes.
        let day = (self.as_of - (days * DAY_US as f64) as i64).div_euclid(DAY_US) * DAY_US;
        day + 7 * 3_600_000_000 + (days.fract() * 600.0) as i64 * 60_000_000
    }

    /// A time between `from` and `to` days before `as_of`.
    fn random_day(&mut self, from: f64, to: f64) -> i64 {
        let d = self.rng.random_range(from..to);
        self.days_ago(d)
    }

    fn noise(&mut self, v: f64, spread: f64) -> f64 {
        let f: f64 = self.rng.random_range(-spread..=spread);
        v * (1.0 + f)
    }

    fn count(&mut self, t: i64, code: &'static str, v: f64) {
        let (unit, factor) = self.unit;
        let value = round_to(v * factor, if factor > 1.0 { 0 } else { 2 });
        self.labs.push(Lab {
            t,
            code,
            value,
            unit,
            status: "F",
        });
    }

    /// A complete blood count with differential: WBC, ANC, ALC, haemoglobin, platelets, MCV.
    fn draw(&mut self, t: i64, wbc: f64, anc: f64, mcv: f64) {
        let alc = (wbc - anc) * 0.75;
        self.count(t, WBC, wbc);
        let code = self.anc_code;
        self.count(t, code, anc);
        self.count(t, ALC, alc.max(0.1));
        let hgb = self.noise(13.8, 0.06);
        self.labs.push(Lab {
            t,
            code: HGB,
            value: round_to(hgb, 1),
            unit: "g/dL",
            status: "F",
        });
        let plt = self.noise(260.0, 0.2);
        self.count(t, PLT, plt);
        self.labs.push(Lab {
            t,
            code: MCV,
            value: round_to(mcv, 0),
            unit: "fL",
            status: "F",
        });
    }

    /// A normal draw around the person's own set point.
    fn normal_draw(&mut self, t: i64, wbc0: f64, anc_frac: f64) {
        let wbc = self.noise(wbc0, 0.1);
        let anc = wbc * anc_frac;
        let mcv = self.noise(90.0, 0.03);
        self.draw(t, wbc, anc, mcv);
    }

    /// `n` normal draws spread over the window `[from, to]` days ago.
    fn history(&mut self, n: usize, from: f64, to: f64, wbc0: f64, anc_frac: f64) {
        let mut ages: Vec<f64> = (0..n).map(|_| self.rng.random_range(to..from)).collect();
        ages.sort_by(|a, b| b.total_cmp(a));
        for a in ages {
            let t = self.days_ago(a);
            self.normal_draw(t, wbc0, anc_frac);
        }
    }

    fn temperature(&mut self, t: i64, celsius: f64) {
        self.labs.push(Lab {
            t,
            code: TEMP,
            value: round_to(celsius, 1),
            unit: "Cel",
            status: "F",
        });
    }

    fn med(&mut self, drug: &'static str, start_days_ago: f64, stop_days_ago: Option<f64>) {
        let start = self.days_ago(start_days_ago);
        let stop = stop_days_ago.map(|d| self.days_ago(d));
        self.meds.push(Med { drug, start, stop });
    }
}

fn round_to(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v * s).round() / s
}

/// Generates patient number `n` (0-based) of a run.
pub fn patient(seed: u64, n: u64, as_of_us: i64) -> Patient {
    let mut rng = Pcg64Mcg::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let kind = planted_kind(n);
    let sex = if rng.random_bool(0.5) {
        "female"
    } else {
        "male"
    };
    let age_years: f64 = rng.random_range(20.0..85.0);
    let as_of_days = as_of_us.div_euclid(DAY_US);
    let birth_days = i32::try_from(as_of_days - (age_years * 365.25) as i64).unwrap_or(0);
    let unit = if kind.is_none() && rng.random_bool(0.12) {
        COUNT_UNITS[rng.random_range(1..COUNT_UNITS.len())]
    } else {
        COUNT_UNITS[0]
    };
    let mut b = Builder {
        rng,
        as_of: as_of_us,
        labs: Vec::new(),
        meds: Vec::new(),
        unit,
        anc_code: ANC,
    };
    let mut duffy_null = None;
    let wbc0 = b.rng.random_range(5.5..8.5);
    let frac = b.rng.random_range(0.5..0.65);
    match kind {
        None => background(&mut b, wbc0, frac),
        Some(k) => plant(&mut b, k, wbc0, frac, &mut duffy_null),
    }
    let mut labs = b.labs;
    labs.sort_by_key(|l| l.t);
    Patient {
        id: format!("P{n:010}"),
        birth_days,
        sex,
        duffy_null,
        kind,
        labs,
        meds: b.meds,
    }
}

/// The planted kind of patient `n`, if any.
pub fn planted_kind(n: u64) -> Option<Kind> {
    let kinds = Kind::ALL.len() as u64;
    if n < kinds {
        return usize::try_from(n).ok().map(|i| Kind::ALL[i]);
    }
    if n.is_multiple_of(PLANT_EVERY) {
        let i = (n / PLANT_EVERY) % kinds;
        return usize::try_from(i).ok().map(|i| Kind::ALL[i]);
    }
    None
}

/// Background: healthy counts at irregular times over three years; some temperatures and
/// harmless medicines.
fn background(b: &mut Builder, wbc0: f64, frac: f64) {
    let n = b.rng.random_range(2..=12);
    b.history(n, 1095.0, 1.0, wbc0, frac);
    if b.rng.random_bool(0.15) {
        let t = b.random_day(1.0, 1000.0);
        let c = b.rng.random_range(36.2..37.4);
        b.temperature(t, c);
    }
    if b.rng.random_bool(0.3) {
        let drug =
            ["metformin", "atorvastatin", "lisinopril", "omeprazole"][b.rng.random_range(0..4)];
        let start = b.rng.random_range(30.0..1500.0);
        b.med(drug, start, None);
    }
}

fn plant(b: &mut Builder, kind: Kind, wbc0: f64, frac: f64, duffy: &mut Option<bool>) {
    match kind {
        Kind::SevereNeutropenia => {
            b.history(4, 900.0, 60.0, wbc0, frac);
            let t = b.random_day(1.0, 5.0);
            let anc = b.rng.random_range(0.1..0.42);
            b.draw(t, 2.2, anc, 89.0);
        }
        Kind::FebrileNeutropenia => {
            b.history(3, 900.0, 60.0, wbc0, frac);
            let day = b.rng.random_range(1.0..4.0);
            let t = b.days_ago(day);
            b.draw(t, 1.6, 0.3, 90.0);
            let t2 = b.days_ago(day - 0.1);
            b.temperature(t2, 38.6);
        }
        Kind::DrugInducedOnset => {
            let drug = ["carbimazole", "methimazole", "sulfasalazine"][b.rng.random_range(0..3)];
            b.history(4, 700.0, 90.0, wbc0, frac);
            b.med(drug, 45.0, None);
            let t = b.days_ago(20.0);
            b.draw(t, wbc0 * 0.8, wbc0 * frac * 0.6, 90.0);
            let t = b.random_day(2.0, 6.0);
            b.draw(t, 3.1, 0.9, 90.0);
        }
        Kind::DrugDechallengeRecovered => {
            let drug = ["carbimazole", "methimazole", "sulfasalazine"][b.rng.random_range(0..3)];
            b.history(3, 900.0, 400.0, wbc0, frac);
            b.med(drug, 300.0, Some(240.0));
            let t = b.days_ago(242.0);
            b.draw(t, 2.9, 0.8, 90.0);
            b.history(4, 200.0, 10.0, wbc0, frac);
        }
        Kind::ChemoNadir => {
            let drug = ["cyclophosphamide", "docetaxel", "carboplatin"][b.rng.random_range(0..3)];
            b.history(2, 600.0, 120.0, wbc0, frac);
            for cycle in 0..4 {
                let start = 9.0 + 21.0 * f64::from(cycle);
                b.med(drug, start, Some(start - 1.0));
                if cycle > 0 {
                    let t = b.days_ago(start - 10.0);
                    b.draw(t, 2.4, 0.9, 91.0);
                    let t = b.days_ago(start - 19.0);
                    b.normal_draw(t, wbc0, frac);
                }
            }
        }
        Kind::ChemoCompleted => {
            let drug = ["cyclophosphamide", "docetaxel", "carboplatin"][b.rng.random_range(0..3)];
            for cycle in 0..4 {
                let start = 420.0 + 21.0 * f64::from(cycle);
                b.med(drug, start, Some(start - 1.0));
                let t = b.days_ago(start - 10.0);
                b.draw(t, 2.6, 1.0, 91.0);
            }
            b.history(5, 360.0, 5.0, wbc0, frac);
        }
        Kind::PostViralRecovered => {
            b.history(3, 900.0, 120.0, wbc0, frac);
            let t = b.days_ago(70.0);
            b.draw(t, 3.4, 1.1, 89.0);
            let t = b.days_ago(45.0);
            b.normal_draw(t, wbc0, frac);
            let t = b.random_day(3.0, 20.0);
            b.normal_draw(t, wbc0, frac);
        }
        Kind::B12Drift => {
            for i in 0..6 {
                let days = 420.0 - 66.0 * f64::from(i);
                let wbc = 6.6 - 0.55 * f64::from(i);
                let t = b.days_ago(days);
                b.draw(t, wbc, wbc * 0.55, 94.0 + 3.0 * f64::from(i));
            }
            // 3.85 and 3.3, both below 4.5, 66 days apart; the last 42 days old.
            let t = b.days_ago(42.0);
            b.draw(t, 3.3, 1.7, 112.0);
        }
        Kind::Cyclic => {
            b.history(2, 800.0, 200.0, wbc0, frac);
            // Twice-weekly counts over 12 weeks; a 21-day cycle with nadirs near 0.2.
            let mut day = 86.0;
            while day > 1.0 {
                let phase = (day % 21.0) / 21.0 * std::f64::consts::TAU;
                let anc = 1.8 + 1.6 * phase.cos();
                let anc = anc.max(0.15);
                let t = b.days_ago(day);
                b.draw(t, anc + 2.2, anc, 90.0);
                day -= 3.5;
            }
        }
        Kind::DuffyNullOwnRange => {
            *duffy = Some(true);
            let n = b.rng.random_range(4..=10);
            let mut ages: Vec<f64> = (0..n).map(|_| b.rng.random_range(2.0..1000.0)).collect();
            ages.sort_by(|x, y| y.total_cmp(x));
            for a in ages {
                let t = b.days_ago(a);
                let wbc = b.rng.random_range(3.3..4.1);
                let anc = b.rng.random_range(1.3..1.45);
                b.draw(t, wbc, anc, 88.0);
            }
        }
        Kind::PersistentUnexplained => {
            b.history(3, 900.0, 200.0, wbc0, frac);
            let t = b.days_ago(95.0);
            b.draw(t, 3.2, 1.7, 90.0);
            let t = b.days_ago(70.0);
            b.draw(t, 3.0, 1.6, 90.0);
            let t = b.days_ago(45.0);
            b.draw(t, 2.9, 1.6, 89.0);
        }
        Kind::LeukaemiaLike => {
            b.history(3, 700.0, 40.0, wbc0, frac);
            let t = b.random_day(2.0, 8.0);
            b.draw(t, 1.9, 0.4, 96.0);
            b.labs.push(Lab {
                t,
                code: BLAST_PCT,
                value: 22.0,
                unit: "%",
                status: "F",
            });
        }
        Kind::ClozapineOverdue => {
            b.history(2, 400.0, 90.0, wbc0, frac);
            b.med("clozapine", 80.0, None);
            for d in [78.0, 71.0, 64.0, 57.0, 50.0, 43.0, 36.0, 29.0, 22.0, 16.0] {
                let t = b.days_ago(d);
                b.normal_draw(t, wbc0, frac);
            }
        }
        Kind::ClozapineInterrupt => {
            b.med("clozapine", 500.0, None);
            let mut d = 480.0;
            while d > 40.0 {
                let t = b.days_ago(d);
                b.normal_draw(t, wbc0, frac);
                d -= 29.0;
            }
            let t = b.random_day(2.0, 6.0);
            b.draw(t, 2.8, 0.8, 90.0);
        }
        Kind::ClozapineOnSchedule => {
            b.med("clozapine", 280.0, None);
            let mut d = 276.0;
            while d > 12.0 {
                let t = b.days_ago(d);
                b.normal_draw(t, wbc0, frac);
                d -= if d > 100.0 { 7.0 } else { 14.0 };
            }
            let t = b.days_ago(6.0);
            b.normal_draw(t, wbc0, frac);
        }
        Kind::ClozapineBenNormal => {
            *duffy = Some(true);
            b.med("clozapine", 700.0, None);
            let mut d = 660.0;
            while d > 20.0 {
                let t = b.days_ago(d);
                let anc = b.rng.random_range(1.1..1.4);
                b.draw(t, 3.4, anc, 88.0);
                d -= 28.0;
            }
            let t = b.days_ago(10.0);
            b.draw(t, 3.3, 1.1, 88.0);
        }
        Kind::UnitVariantSevere => {
            b.unit = if b.rng.random_bool(0.5) {
                ("/uL", 1000.0)
            } else {
                ("cells/mm3", 1000.0)
            };
            b.history(3, 800.0, 60.0, wbc0, frac);
            let t = b.random_day(1.0, 5.0);
            b.draw(t, 1.9, 0.35, 90.0);
        }
        Kind::UnitVariantNormal => {
            b.unit = COUNT_UNITS[b.rng.random_range(1..COUNT_UNITS.len())];
            b.history(6, 800.0, 1.0, wbc0, frac);
        }
        Kind::CodeVariantSevere => {
            b.anc_code = ANC_CODES[b.rng.random_range(0..ANC_CODES.len())];
            b.history(3, 800.0, 60.0, wbc0, frac);
            let t = b.random_day(1.0, 5.0);
            b.draw(t, 2.0, 0.3, 90.0);
        }
        Kind::CorrectedToNormal | Kind::CorrectedToLow => {
            b.history(3, 800.0, 60.0, wbc0, frac);
            let t = b.random_day(1.0, 5.0);
            let (first, corrected) = if kind == Kind::CorrectedToNormal {
                (0.25, 3.1)
            } else {
                (3.1, 0.25)
            };
            b.draw(t, 5.0, first, 90.0);
            b.labs.push(Lab {
                t,
                code: ANC,
                value: corrected,
                unit: COUNT_UNIT,
                status: "C",
            });
        }
        Kind::BaselineFall => {
            b.history(6, 700.0, 40.0, 8.0, 0.62);
            let t = b.random_day(1.0, 6.0);
            b.draw(t, 3.9, 1.2, 90.0);
        }
    }
}

/// The tables' Arrow schemas, shared by the Parquet writer and the screen's CSV reader.
pub mod schema {
    use super::*;

    /// `patients`: `patient_id, birth_date, sex, duffy_null`.
    pub fn patients() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("patient_id", DataType::Utf8, false),
            Field::new("birth_date", DataType::Date32, true),
            Field::new("sex", DataType::Utf8, true),
            Field::new("duffy_null", DataType::Boolean, true),
        ]))
    }

    /// `labs`: `patient_id, time, code, value, unit, status`.
    pub fn labs() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("patient_id", DataType::Utf8, false),
            Field::new("time", timestamp(), false),
            Field::new("code", DataType::Utf8, false),
            Field::new("value", DataType::Float64, true),
            Field::new("unit", DataType::Utf8, true),
            Field::new("status", DataType::Utf8, true),
        ]))
    }

    /// `medications`: `patient_id, drug, start, stop`.
    pub fn medications() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("patient_id", DataType::Utf8, false),
            Field::new("drug", DataType::Utf8, false),
            Field::new("start", timestamp(), true),
            Field::new("stop", timestamp(), true),
        ]))
    }

    /// Microsecond timestamps in UTC.
    pub fn timestamp() -> DataType {
        DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    }
}

struct Tables {
    patients: Table<PatientCols>,
    labs: Table<LabCols>,
    meds: Table<MedCols>,
    truth: BufWriter<File>,
}

/// Column builders for a table, with a CSV rendering of one row.
trait Columns: Default {
    fn schema() -> SchemaRef;
    fn finish(&mut self) -> Vec<ArrayRef>;
}

#[derive(Default)]
struct PatientCols {
    id: StringBuilder,
    birth: Date32Builder,
    sex: StringBuilder,
    duffy: BooleanBuilder,
}

impl Columns for PatientCols {
    fn schema() -> SchemaRef {
        schema::patients()
    }
    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.id.finish()),
            Arc::new(self.birth.finish()),
            Arc::new(self.sex.finish()),
            Arc::new(self.duffy.finish()),
        ]
    }
}

#[derive(Default)]
struct LabCols {
    id: StringBuilder,
    time: TimestampMicrosecondBuilder,
    code: StringBuilder,
    value: Float64Builder,
    unit: StringBuilder,
    status: StringBuilder,
}

impl Columns for LabCols {
    fn schema() -> SchemaRef {
        schema::labs()
    }
    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.id.finish()),
            Arc::new(self.time.finish().with_timezone("UTC")),
            Arc::new(self.code.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.unit.finish()),
            Arc::new(self.status.finish()),
        ]
    }
}

#[derive(Default)]
struct MedCols {
    id: StringBuilder,
    drug: StringBuilder,
    start: TimestampMicrosecondBuilder,
    stop: TimestampMicrosecondBuilder,
}

impl Columns for MedCols {
    fn schema() -> SchemaRef {
        schema::medications()
    }
    fn finish(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.id.finish()),
            Arc::new(self.drug.finish()),
            Arc::new(self.start.finish().with_timezone("UTC")),
            Arc::new(self.stop.finish().with_timezone("UTC")),
        ]
    }
}

/// One output table: CSV text or Parquet batches.
enum Table<C: Columns> {
    Csv {
        out: BufWriter<File>,
        line: String,
    },
    Parquet {
        writer: Box<ArrowWriter<File>>,
        cols: C,
        rows: usize,
    },
}

impl<C: Columns> Table<C> {
    fn create(path: &Path, format: Format, header: &str) -> anyhow::Result<Table<C>> {
        let file = File::create(path)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
        Ok(match format {
            Format::Csv => {
                let mut out = BufWriter::with_capacity(1 << 20, file);
                writeln!(out, "{header}")?;
                Table::Csv {
                    out,
                    line: String::with_capacity(128),
                }
            }
            Format::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
                    .set_max_row_group_row_count(Some(BATCH_ROWS * 16))
                    .build();
                let writer = ArrowWriter::try_new(file, C::schema(), Some(props))?;
                Table::Parquet {
                    writer: Box::new(writer),
                    cols: C::default(),
                    rows: 0,
                }
            }
        })
    }

    /// Adds a row: `csv` renders it as text, `arrow` appends it to the builders.
    fn row(
        &mut self,
        csv: impl FnOnce(&mut String),
        arrow: impl FnOnce(&mut C),
    ) -> anyhow::Result<()> {
        match self {
            Table::Csv { out, line } => {
                line.clear();
                csv(line);
                line.push('\n');
                out.write_all(line.as_bytes())?;
            }
            Table::Parquet { writer, cols, rows } => {
                arrow(cols);
                *rows += 1;
                if *rows >= BATCH_ROWS {
                    let batch = RecordBatch::try_new(C::schema(), cols.finish())?;
                    writer.write(&batch)?;
                    *rows = 0;
                }
            }
        }
        Ok(())
    }

    fn close(self) -> anyhow::Result<()> {
        match self {
            Table::Csv { mut out, .. } => out.flush()?,
            Table::Parquet {
                mut writer,
                mut cols,
                rows,
            } => {
                if rows > 0 {
                    let batch = RecordBatch::try_new(C::schema(), cols.finish())?;
                    writer.write(&batch)?;
                }
                writer.close()?;
            }
        }
        Ok(())
    }
}

impl Tables {
    fn create(dir: &Path, format: Format) -> anyhow::Result<Tables> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
        let ext = format.extension();
        let truth_path = dir.join("truth.csv");
        let mut truth = BufWriter::new(
            File::create(&truth_path)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", truth_path.display()))?,
        );
        writeln!(truth, "patient_id,label,expected")?;
        Ok(Tables {
            patients: Table::create(
                &dir.join(format!("patients.{ext}")),
                format,
                "patient_id,birth_date,sex,duffy_null",
            )?,
            labs: Table::create(
                &dir.join(format!("labs.{ext}")),
                format,
                "patient_id,time,code,value,unit,status",
            )?,
            meds: Table::create(
                &dir.join(format!("medications.{ext}")),
                format,
                "patient_id,drug,start,stop",
            )?,
            truth,
        })
    }

    fn write(&mut self, p: &Patient) -> anyhow::Result<()> {
        writeln!(self.truth, "{},{},{}", p.id, p.label(), p.expected())?;
        let duffy = match p.duffy_null {
            Some(true) => "true",
            Some(false) => "false",
            None => "",
        };
        self.patients.row(
            |l| {
                let _ = write!(
                    l,
                    "{},{},{},{duffy}",
                    p.id,
                    format_date(p.birth_days),
                    p.sex
                );
            },
            |c| {
                c.id.append_value(&p.id);
                c.birth.append_value(p.birth_days);
                c.sex.append_value(p.sex);
                c.duffy.append_option(p.duffy_null);
            },
        )?;
        for lab in &p.labs {
            self.labs.row(
                |l| {
                    let _ = write!(l, "{},", p.id);
                    format_timestamp(l, lab.t);
                    let _ = write!(l, ",{},{},{},{}", lab.code, lab.value, lab.unit, lab.status);
                },
                |c| {
                    c.id.append_value(&p.id);
                    c.time.append_value(lab.t);
                    c.code.append_value(lab.code);
                    c.value.append_value(lab.value);
                    c.unit.append_value(lab.unit);
                    c.status.append_value(lab.status);
                },
            )?;
        }
        for m in &p.meds {
            self.meds.row(
                |l| {
                    let _ = write!(l, "{},{},", p.id, m.drug);
                    format_timestamp(l, m.start);
                    l.push(',');
                    if let Some(stop) = m.stop {
                        format_timestamp(l, stop);
                    }
                },
                |c| {
                    c.id.append_value(&p.id);
                    c.drug.append_value(m.drug);
                    c.start.append_value(m.start);
                    c.stop.append_option(m.stop);
                },
            )?;
        }
        Ok(())
    }

    fn close(mut self) -> anyhow::Result<()> {
        self.patients.close()?;
        self.labs.close()?;
        self.meds.close()?;
        self.truth.flush()?;
        Ok(())
    }
}

/// Generates the warehouse. `progress` is called after each patient with the lab rows so far.
///
/// # Errors
/// When a file cannot be created or written.
pub fn generate(config: &Config, mut progress: impl FnMut(u64)) -> anyhow::Result<Summary> {
    let mut tables = Tables::create(&config.out, config.format)?;
    let mut summary = Summary::default();
    let mut n = 0u64;
    while summary.lab_rows < config.rows || n < Kind::ALL.len() as u64 {
        let p = patient(config.seed, n, config.as_of_us);
        tables.write(&p)?;
        summary.patients += 1;
        summary.lab_rows += p.labs.len() as u64;
        summary.medication_rows += p.meds.len() as u64;
        summary.planted += u64::from(p.kind.is_some());
        progress(summary.lab_rows);
        n += 1;
    }
    tables.close()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use leuko_kb::{Dimension, Knowledge};

    fn as_of() -> i64 {
        parse_timestamp(DEFAULT_AS_OF).unwrap_or(0)
    }

    #[test]
    fn same_seed_same_patient_and_different_seed_differs() {
        assert_eq!(patient(7, 123, as_of()), patient(7, 123, as_of()));
        assert_ne!(patient(7, 123, as_of()), patient(8, 123, as_of()));
    }

    #[test]
    fn every_kind_is_planted_in_the_first_round_and_then_cycles() {
        let first: Vec<Kind> = (0..Kind::ALL.len() as u64)
            .filter_map(planted_kind)
            .collect();
        assert_eq!(first, Kind::ALL.to_vec());
        let later = (1000..1000 + PLANT_EVERY * Kind::ALL.len() as u64)
            .filter_map(planted_kind)
            .count();
        assert_eq!(later, Kind::ALL.len());
    }

    #[test]
    fn every_code_and_unit_written_is_known_to_the_knowledge_base() {
        let Ok(kb) = Knowledge::embedded() else {
            panic!("embedded knowledge")
        };
        for n in 0..2000 {
            let p = patient(1, n, as_of());
            for lab in &p.labs {
                let analyte = kb
                    .analyte_by_loinc(lab.code)
                    .or_else(|| kb.analyte_by_text(lab.code));
                let Some(analyte) = analyte else {
                    panic!("code {} unknown", lab.code)
                };
                if analyte.dimension != Dimension::Percent {
                    assert!(
                        kb.unit_by_spelling(analyte.dimension, lab.unit).is_some(),
                        "unit {} unknown for {}",
                        lab.unit,
                        lab.code
                    );
                }
                assert!(lab.t <= as_of(), "{} is after as_of", lab.t);
            }
            for m in &p.meds {
                assert!(kb.drug_by_text(m.drug).is_some(), "drug {}", m.drug);
            }
        }
    }

    #[test]
    fn rows_are_in_time_order_per_patient() {
        for n in 0..500 {
            let p = patient(3, n, as_of());
            assert!(p.labs.windows(2).all(|w| w[0].t <= w[1].t), "{}", p.id);
        }
    }
}

//! The knowledge file formats. Field docs are the reference for authors of `knowledge/*.toml`.

use serde::Deserialize;

/// The loaded, validated knowledge base.
#[derive(Debug, Clone)]
pub struct Knowledge {
    /// The knowledge version, [`crate::VERSION`].
    pub version: String,
    /// A digest of the embedded files, so that an assessment names the exact knowledge used.
    pub digest: String,
    /// Every citable source.
    pub sources: Vec<Source>,
    /// Laboratory analytes and their codes.
    pub analytes: Vec<Analyte>,
    /// Unit spellings and their conversion to canonical units.
    pub units: Vec<Unit>,
    /// Reference intervals by analyte, population, sex and age.
    pub intervals: Vec<Interval>,
    /// Threshold profiles (what counts as neutropenia and leukopenia).
    pub profiles: Vec<Profile>,
    /// CTCAE grades, febrile-neutropenia definitions and severity words.
    pub grading: Grading,
    /// Clozapine ANC tables.
    pub clozapine: Clozapine,
    /// Clinical concepts (symptoms, conditions, exposures, phenotypes).
    pub concepts: Vec<Concept>,
    /// Drugs and their haematological toxicity.
    pub drugs: Vec<Drug>,
    /// Causes for the differential.
    pub causes: Vec<std::sync::Arc<Cause>>,
    /// Tests for the work-up.
    pub tests: Vec<std::sync::Arc<Test>>,
    /// Triage and action rules.
    pub rules: Vec<Rule>,
    /// Numeric parameters of the pattern and triage logic.
    pub params: Params,
    pub(crate) index: crate::Index,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourcesFile {
    pub source: Vec<Source>,
}

/// A citable source: a guideline, a paper, a label, a seed article or a team judgement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Stable id, cited by other entries.
    pub id: String,
    /// Full citation.
    pub citation: String,
    /// Where it was read.
    pub url: String,
    /// guideline, paper, label, regulator, reference, standard, terminology, seed or expert.
    pub kind: String,
    /// Guideline or edition version.
    pub version: String,
    /// confirmed, secondary, unconfirmed or expert.
    pub confidence: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalytesFile {
    pub analyte: Vec<Analyte>,
}

/// The analytes the engine understands. The engine's logic is written against these ids;
/// codes, names and limits are data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnalyteId {
    /// Total white blood cells.
    Wbc,
    /// Absolute neutrophil count.
    Anc,
    /// Absolute lymphocyte count.
    Alc,
    /// Absolute monocyte count.
    Amc,
    /// Absolute eosinophil count.
    Aec,
    /// Absolute basophil count.
    Abc,
    /// Absolute band neutrophils.
    BandsAbs,
    /// Blasts, absolute.
    BlastAbs,
    /// Neutrophils, percent of leukocytes (segmented, or all neutrophils).
    NeutPct,
    /// Band neutrophils, percent of leukocytes.
    BandPct,
    /// Lymphocytes, percent of leukocytes.
    LymphPct,
    /// Monocytes, percent of leukocytes.
    MonoPct,
    /// Eosinophils, percent of leukocytes.
    EosPct,
    /// Basophils, percent of leukocytes.
    BasoPct,
    /// Blasts, percent of leukocytes.
    BlastPct,
    /// Variant (atypical) lymphocytes, percent.
    VariantLymphPct,
    /// Platelets.
    Plt,
    /// Haemoglobin.
    Hgb,
    /// Mean corpuscular volume.
    Mcv,
    /// Vitamin B12 (cobalamin).
    B12,
    /// Folate.
    Folate,
    /// C-reactive protein.
    Crp,
    /// Serum copper.
    Copper,
    /// Body temperature.
    Temperature,
}

impl AnalyteId {
    /// Every analyte, in a stable order.
    pub const ALL: [AnalyteId; 24] = [
        AnalyteId::Wbc,
        AnalyteId::Anc,
        AnalyteId::Alc,
        AnalyteId::Amc,
        AnalyteId::Aec,
        AnalyteId::Abc,
        AnalyteId::BandsAbs,
        AnalyteId::BlastAbs,
        AnalyteId::NeutPct,
        AnalyteId::BandPct,
        AnalyteId::LymphPct,
        AnalyteId::MonoPct,
        AnalyteId::EosPct,
        AnalyteId::BasoPct,
        AnalyteId::BlastPct,
        AnalyteId::VariantLymphPct,
        AnalyteId::Plt,
        AnalyteId::Hgb,
        AnalyteId::Mcv,
        AnalyteId::B12,
        AnalyteId::Folate,
        AnalyteId::Crp,
        AnalyteId::Copper,
        AnalyteId::Temperature,
    ];

    /// The id as written in the knowledge files and the JSON record.
    pub fn as_str(self) -> &'static str {
        match self {
            AnalyteId::Wbc => "wbc",
            AnalyteId::Anc => "anc",
            AnalyteId::Alc => "alc",
            AnalyteId::Amc => "amc",
            AnalyteId::Aec => "aec",
            AnalyteId::Abc => "abc",
            AnalyteId::BandsAbs => "bands-abs",
            AnalyteId::BlastAbs => "blast-abs",
            AnalyteId::NeutPct => "neut-pct",
            AnalyteId::BandPct => "band-pct",
            AnalyteId::LymphPct => "lymph-pct",
            AnalyteId::MonoPct => "mono-pct",
            AnalyteId::EosPct => "eos-pct",
            AnalyteId::BasoPct => "baso-pct",
            AnalyteId::BlastPct => "blast-pct",
            AnalyteId::VariantLymphPct => "variant-lymph-pct",
            AnalyteId::Plt => "plt",
            AnalyteId::Hgb => "hgb",
            AnalyteId::Mcv => "mcv",
            AnalyteId::B12 => "b12",
            AnalyteId::Folate => "folate",
            AnalyteId::Crp => "crp",
            AnalyteId::Copper => "copper",
            AnalyteId::Temperature => "temperature",
        }
    }

    /// Parses an id as written in the knowledge files.
    pub fn parse(text: &str) -> Option<AnalyteId> {
        AnalyteId::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// What a quantity measures; units convert only within one dimension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dimension {
    /// Cells per volume; canonical 10^9/L.
    Count,
    /// Percent of leukocytes; canonical %.
    Percent,
    /// Haemoglobin mass concentration; canonical g/dL.
    Hemoglobin,
    /// Cell volume; canonical fL.
    CellVolume,
    /// Vitamin B12; canonical pg/mL.
    B12,
    /// Folate; canonical ng/mL.
    Folate,
    /// C-reactive protein; canonical mg/L.
    Crp,
    /// Copper; canonical ug/dL.
    Copper,
    /// Temperature; canonical degrees Celsius.
    Temperature,
}

/// A laboratory analyte (or a vital sign) with its codes and plausible range.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Analyte {
    /// The analyte.
    pub id: AnalyteId,
    /// Display name.
    pub name: String,
    /// What it measures.
    pub dimension: Dimension,
    /// LOINC codes that stand for it (first is preferred).
    pub loinc: Vec<String>,
    /// Names found in report text, matched as whole words.
    pub synonyms: Vec<String>,
    /// Values outside `[min, max]` in canonical units are refused as implausible.
    pub plausible: [f64; 2],
    /// Sources.
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnitsFile {
    pub unit: Vec<Unit>,
}

/// A unit and the spellings that mean it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unit {
    /// The canonical UCUM code for this unit.
    pub ucum: String,
    /// The dimension.
    pub dimension: Dimension,
    /// canonical = (value + offset) * 10^pow10 * factor.
    #[serde(default)]
    pub pow10: i32,
    /// See `pow10`.
    #[serde(default = "one")]
    pub factor: f64,
    /// See `pow10`.
    #[serde(default)]
    pub offset: f64,
    /// Spellings, compared after the normalisation in `leuko_core::units`.
    pub spellings: Vec<String>,
    /// Why a spelling is read this way, when it is not obvious.
    #[serde(default)]
    pub note: String,
    /// Sources.
    pub sources: Vec<String>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IntervalsFile {
    pub interval: Vec<Interval>,
    pub profile: Vec<Profile>,
}

/// Sex as used by reference intervals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IntervalSex {
    /// Applies to everyone.
    Any,
    /// Female.
    Female,
    /// Male.
    Male,
}

/// A reference population.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Population {
    /// The general population.
    General,
    /// People with the Duffy-null phenotype (DANC interval).
    DuffyNull,
}

/// A reference interval for one analyte in one age band.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interval {
    /// The analyte.
    pub analyte: AnalyteId,
    /// The population.
    pub population: Population,
    /// The sex it applies to.
    pub sex: IntervalSex,
    /// Age in days, from (inclusive) to (exclusive).
    pub age_days: [u32; 2],
    /// Lower limit (canonical units).
    pub low: f64,
    /// Upper limit (canonical units).
    pub high: f64,
    /// Caveats shown with the interval.
    #[serde(default)]
    pub note: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// A threshold below which an absolute neutrophil count is called neutropenia, by age.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeThreshold {
    /// Age in days, from (inclusive) to (exclusive).
    pub age_days: [u32; 2],
    /// Neutropenia below this ANC (10^9/L).
    pub below: f64,
}

/// A threshold profile: which numbers define leukopenia and neutropenia.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// `international` or `seeds`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Whether this is the default.
    #[serde(default)]
    pub default: bool,
    /// What it is and when to use it.
    pub description: String,
    /// ANC neutropenia thresholds by age; ages without a row use the reference interval.
    pub neutropenia: Vec<AgeThreshold>,
    /// A fixed WBC leukopenia threshold for adults; `None` means the reference interval.
    #[serde(default)]
    pub leukopenia_below: Option<f64>,
    /// Sources.
    pub sources: Vec<String>,
}

/// CTCAE grading, febrile-neutropenia definitions and severity words.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grading {
    /// CTCAE v5.
    pub ctcae: Ctcae,
    /// Febrile-neutropenia definitions.
    pub febrile: Vec<FebrileDefinition>,
    /// Neutropenia severity bands, most severe first.
    pub severity: Vec<SeverityBand>,
}

/// The CTCAE version and its terms.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ctcae {
    /// "5.0".
    pub version: String,
    /// Graded terms.
    pub term: Vec<CtcaeTerm>,
    /// Sources.
    pub sources: Vec<String>,
}

/// One CTCAE term graded from a laboratory value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtcaeTerm {
    /// The key in the output contract (`wbc`, `anc`, `lymphocytes`, `platelets`, `anemia`).
    pub key: String,
    /// The analyte graded.
    pub analyte: AnalyteId,
    /// The CTCAE term.
    pub term: String,
    /// Thresholds in canonical units: grade 2 below `below[0]`, grade 3 below `below[1]`, and
    /// grade 4 below `below[2]` when present. Grade 1 is below the lower limit of normal.
    /// A value on a boundary takes the milder grade.
    pub below: Vec<f64>,
    /// The same thresholds in another unit, used when the value was reported in it.
    #[serde(default)]
    pub alt: Vec<AltThresholds>,
    /// The highest grade a laboratory value alone can give (anaemia grade 4 is clinical).
    pub max_lab_grade: u8,
}

/// CTCAE thresholds in a non-canonical unit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AltThresholds {
    /// UCUM code of the unit.
    pub ucum: String,
    /// Thresholds, as in [`CtcaeTerm::below`].
    pub below: Vec<f64>,
}

/// A definition of febrile neutropenia.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FebrileDefinition {
    /// `ctcae-v5` or `idsa-2010`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// A single temperature at or above this (if `single_strict`, above this) is fever.
    pub single_c: f64,
    /// Whether the single-temperature comparison is strict (`>`), as in CTCAE.
    pub single_strict: bool,
    /// A temperature at or above this sustained for `sustained_minutes` is fever.
    pub sustained_c: f64,
    /// Minutes a temperature must be sustained.
    pub sustained_minutes: u32,
    /// ANC below this (10^9/L) qualifies.
    pub anc_below: f64,
    /// ANC expected to fall below this within 48 h also qualifies, when the definition says so.
    #[serde(default)]
    pub anc_expected_below: Option<f64>,
    /// Sources.
    pub sources: Vec<String>,
}

/// A neutropenia severity word.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeverityBand {
    /// `severe`, `moderate`, `mild`.
    pub name: String,
    /// Applies below this ANC (10^9/L); `None` means below the profile's neutropenia threshold.
    #[serde(default)]
    pub below: Option<f64>,
    /// A plain-language phrase.
    pub plain: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// The clozapine ANC tables.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Clozapine {
    /// The general-population table, most severe first.
    pub general: Vec<ClozapineCategory>,
    /// The benign ethnic neutropenia (BEN) table, most severe first.
    pub ben: Vec<ClozapineCategory>,
    /// The routine monitoring schedule by time on treatment.
    pub schedule: Vec<ClozapineSchedule>,
    /// A note on the 2025 REMS change.
    pub rems_note: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// One category of a clozapine table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClozapineCategory {
    /// The category name.
    pub category: String,
    /// Applies when ANC (10^9/L) is at least this and below the previous row's bound.
    pub anc_at_least: f64,
    /// The recommended action.
    pub action: String,
    /// The monitoring frequency.
    pub monitoring: String,
    /// Whether treatment is interrupted.
    pub interrupt: bool,
    /// The least triage level this category implies.
    pub level: String,
    /// Rule of confirmation, for example a repeat within 24 h.
    #[serde(default)]
    pub confirm: String,
}

/// A step of the routine clozapine ANC schedule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClozapineSchedule {
    /// From this many days on treatment (inclusive).
    pub from_days: u32,
    /// To this many days (exclusive); `None` means onwards.
    #[serde(default)]
    pub to_days: Option<u32>,
    /// Days between ANC checks.
    pub every_days: u32,
    /// Words.
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConceptsFile {
    pub concept: Vec<Concept>,
}

/// A clinical concept read from a Condition or the JSON record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concept {
    /// Stable id; also a finding id for causes.
    pub id: String,
    /// Display name.
    pub name: String,
    /// symptom, sign, condition, infection, exposure, diet, procedure, phenotype, ancestry,
    /// family-history.
    pub kind: String,
    /// SNOMED CT codes.
    pub snomed: Vec<String>,
    /// ICD-10-CM codes.
    pub icd10: Vec<String>,
    /// Text forms.
    pub synonyms: Vec<String>,
    /// For acute events, the days after onset (or abatement) it still counts; 0 = chronic.
    #[serde(default)]
    pub recent_days: u32,
    /// Concepts that hold whenever this one does (breast cancer implies cancer).
    #[serde(default)]
    pub implies: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrugsFile {
    pub drug: Vec<Drug>,
}

/// A drug and its haematological toxicity.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drug {
    /// Stable id.
    pub id: String,
    /// Generic name.
    pub name: String,
    /// RxNorm ingredient RXCUI, or empty.
    pub rxnorm: String,
    /// Brand and non-US names.
    pub synonyms: Vec<String>,
    /// WHO ATC code, or empty.
    pub atc: String,
    /// Drug class.
    pub class: String,
    /// idiosyncratic, dose-dependent, mixed or none.
    pub mechanism: String,
    /// neutropenia, pancytopenia, lymphopenia, leukopenia or none.
    pub effect: String,
    /// The cause id it feeds: drug-induced, chemotherapy or none.
    pub cause: String,
    /// Usual onset window in days after starting (after a dose, for chemotherapy).
    pub onset_days: [u32; 2],
    /// Andersohn 2007 status: over-10-reports, listed, not-applicable, not-assessed.
    pub andersohn_2007: String,
    /// strong, moderate, weak or none.
    pub evidence: String,
    /// Monitoring advice.
    #[serde(default)]
    pub monitoring: String,
    /// Sources.
    pub sources: Vec<String>,
    /// Notes.
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CausesFile {
    pub cause: Vec<Cause>,
}

/// A cause in the differential.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cause {
    /// Stable id.
    pub id: String,
    /// Clinical name.
    pub name: String,
    /// Plain-language name.
    pub plain: String,
    /// ICD-10-CM codes, most specific that fit.
    pub icd10: Vec<String>,
    /// Extra codes added when a finding is present (for example the infection's own code).
    #[serde(default)]
    pub icd10_when: Vec<CodeWhen>,
    /// A cause that must not be missed while it remains open.
    pub cant_miss: bool,
    /// Prior weight by age band (relative, not a probability).
    pub prior: Prior,
    /// Findings that raise or lower it.
    pub findings: Vec<CauseFinding>,
    /// Test ids that help confirm or exclude it, most useful first.
    pub tests: Vec<String>,
    /// One sentence on the cause.
    pub summary: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// Codes added to a cause when a finding is present.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeWhen {
    /// The finding id.
    pub finding: String,
    /// The codes.
    pub codes: Vec<String>,
}

/// Relative prior weight of a cause by age band.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prior {
    /// Under 1 year.
    pub infant: f64,
    /// 1 to 17 years.
    pub child: f64,
    /// 18 to 64 years.
    pub adult: f64,
    /// 65 years and over.
    pub older: f64,
}

/// A finding and how it moves a cause.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseFinding {
    /// The finding id (an engine finding or a concept id).
    pub id: String,
    /// Likelihood ratio when the finding is present.
    #[serde(default = "one")]
    pub lr_present: f64,
    /// Likelihood ratio when the finding is known to be absent.
    #[serde(default = "one")]
    pub lr_absent: f64,
    /// Why, in a few words.
    pub why: String,
    /// Sources of the weight.
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkupFile {
    pub test: Vec<Test>,
}

/// A test in the work-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Test {
    /// Stable id.
    pub id: String,
    /// Name.
    pub name: String,
    /// LOINC code, or empty when the test is not a single LOINC-coded observation.
    #[serde(default)]
    pub loinc: String,
    /// Why it is done.
    pub reason: String,
    /// Plain-language words.
    pub plain: String,
    /// Sources.
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesFile {
    pub rule: Vec<Rule>,
    pub params: Params,
}

/// A triage or action rule. The condition is evaluated by the engine (`leuko_core::triage`);
/// the level, the words and the sources are here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable id.
    pub id: String,
    /// triage or action.
    pub kind: String,
    /// For triage rules, the level it sets at least.
    #[serde(default)]
    pub level: String,
    /// Clinical words.
    pub text: String,
    /// Plain-language words.
    pub plain: String,
    /// Sources.
    pub sources: Vec<String>,
}

/// A numeric parameter with sources, as written in `rules.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcedValue {
    /// The value.
    pub value: f64,
    /// Sources.
    pub sources: Vec<String>,
    /// Notes, such as UNCONFIRMED.
    #[serde(default)]
    pub note: String,
}

/// The numbers of the pattern and triage logic.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Any temperature at or above this (C) is treated as fever for triage.
    pub fever_c: SourcedValue,
    /// Hours a temperature or a fever report stays current.
    pub fever_recent_hours: SourcedValue,
    /// Days a count stays current for triage.
    pub count_current_days: SourcedValue,
    /// Severe neutropenia (agranulocytosis) below this ANC.
    pub severe_anc: SourcedValue,
    /// Moderate neutropenia below this ANC.
    pub moderate_anc: SourcedValue,
    /// Profound neutropenia below this ANC.
    pub profound_anc: SourcedValue,
    /// Macrocytosis above this MCV (fL).
    pub macrocytosis_fl: SourcedValue,
    /// Microcytosis below this MCV (fL).
    pub microcytosis_fl: SourcedValue,
    /// Low B12 below this (pg/mL).
    pub b12_low: SourcedValue,
    /// Borderline B12 below this (pg/mL).
    pub b12_borderline: SourcedValue,
    /// Low folate below this (ng/mL).
    pub folate_low: SourcedValue,
    /// Raised CRP above this (mg/L).
    pub crp_high: SourcedValue,
    /// Relative lymphocytosis above this lymphocyte percent.
    pub relative_lymphocytosis_pct: SourcedValue,
    /// Monocytosis above this absolute monocyte count.
    pub monocytosis: SourcedValue,
    /// Severe thrombocytopenia below this platelet count.
    pub severe_thrombocytopenia: SourcedValue,
    /// Severe anaemia below this haemoglobin (g/dL).
    pub severe_anemia_gdl: SourcedValue,
    /// Persistence: low on counts at least this many days apart.
    pub persistent_days: SourcedValue,
    /// Chronic: low for at least this many days.
    pub chronic_days: SourcedValue,
    /// Lifelong pattern: low and stable for at least this many days.
    pub stable_years_days: SourcedValue,
    /// A fall of at least this fraction from the person's baseline.
    pub baseline_drop_fraction: SourcedValue,
    /// A fall of at least this fraction within `rapid_fall_days` is rapid.
    pub rapid_fall_fraction: SourcedValue,
    /// See `rapid_fall_fraction`.
    pub rapid_fall_days: SourcedValue,
    /// Chemotherapy counts as recent up to this many days after the last dose.
    pub chemo_recent_days: SourcedValue,
    /// Chemotherapy nadir window, first day.
    pub chemo_nadir_from_day: SourcedValue,
    /// Chemotherapy nadir window, last day.
    pub chemo_nadir_to_day: SourcedValue,
    /// A stopped drug stays a suspect for this many days.
    pub drug_stop_suspect_days: SourcedValue,
    /// Slack in days around a drug's onset window.
    pub drug_window_slack_days: SourcedValue,
    /// Cyclic neutropenia: shortest period in days.
    pub cyclic_min_days: SourcedValue,
    /// Cyclic neutropenia: longest period in days.
    pub cyclic_max_days: SourcedValue,
    /// Recovery: a rise of at least this fraction from the nadir.
    pub recovery_fraction: SourcedValue,
    /// Recheck interval for mild, well people (days).
    pub recheck_mild_days: SourcedValue,
    /// Recheck interval after a viral illness (days).
    pub recheck_viral_days: SourcedValue,
}

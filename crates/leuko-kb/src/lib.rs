//! The clinical knowledge base: typed file formats, the embedded copy, and its validator.
//!
//! Everything leuko knows about medicine lives in TOML files under `knowledge/` at the
//! workspace root: reference intervals, CTCAE v5 grade boundaries, febrile-neutropenia
//! definitions, the clozapine tables, clinical concepts, drugs, causes, tests and rules.
//! Each entry names its sources by id; [`Knowledge::validate`] checks that every id resolves,
//! that codes are well formed, and that the tables are internally consistent. The engine in
//! `leuko-core` reads these types and contains no clinical numbers of its own.
//!
//! Loading is pure (the files are embedded with `include_str!`), so the core stays free of IO.

mod model;
mod validate;

pub use model::*;
pub use validate::Problem;

use std::collections::HashMap;

/// An error while loading the knowledge base. This is a fault of the knowledge authors,
/// never of a user's input.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file did not parse against its schema.
    #[error("knowledge file {file}: {message}")]
    Parse {
        /// The file name under `knowledge/`.
        file: &'static str,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The files parsed but broke an invariant.
    #[error("knowledge base is inconsistent: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Problem>),
}

/// The knowledge files as authored (TOML), by name: the reference text, and what
/// [`Knowledge::from_files`] reads.
pub const FILES: &[(&str, &str)] = &[
    (
        "sources.toml",
        include_str!("../../../knowledge/sources.toml"),
    ),
    (
        "analytes.toml",
        include_str!("../../../knowledge/analytes.toml"),
    ),
    ("units.toml", include_str!("../../../knowledge/units.toml")),
    (
        "intervals.toml",
        include_str!("../../../knowledge/intervals.toml"),
    ),
    (
        "grading.toml",
        include_str!("../../../knowledge/grading.toml"),
    ),
    (
        "clozapine.toml",
        include_str!("../../../knowledge/clozapine.toml"),
    ),
    (
        "concepts.toml",
        include_str!("../../../knowledge/concepts.toml"),
    ),
    ("drugs.toml", include_str!("../../../knowledge/drugs.toml")),
    (
        "causes.toml",
        include_str!("../../../knowledge/causes.toml"),
    ),
    (
        "workup.toml",
        include_str!("../../../knowledge/workup.toml"),
    ),
    ("rules.toml", include_str!("../../../knowledge/rules.toml")),
];

/// The same files converted to JSON by `build.rs`, which the runtime parses (faster).
const JSON_FILES: &[(&str, &str)] = &[
    (
        "sources.toml",
        include_str!(concat!(env!("OUT_DIR"), "/sources.json")),
    ),
    (
        "analytes.toml",
        include_str!(concat!(env!("OUT_DIR"), "/analytes.json")),
    ),
    (
        "units.toml",
        include_str!(concat!(env!("OUT_DIR"), "/units.json")),
    ),
    (
        "intervals.toml",
        include_str!(concat!(env!("OUT_DIR"), "/intervals.json")),
    ),
    (
        "grading.toml",
        include_str!(concat!(env!("OUT_DIR"), "/grading.json")),
    ),
    (
        "clozapine.toml",
        include_str!(concat!(env!("OUT_DIR"), "/clozapine.json")),
    ),
    (
        "concepts.toml",
        include_str!(concat!(env!("OUT_DIR"), "/concepts.json")),
    ),
    (
        "drugs.toml",
        include_str!(concat!(env!("OUT_DIR"), "/drugs.json")),
    ),
    (
        "causes.toml",
        include_str!(concat!(env!("OUT_DIR"), "/causes.json")),
    ),
    (
        "workup.toml",
        include_str!(concat!(env!("OUT_DIR"), "/workup.json")),
    ),
    (
        "rules.toml",
        include_str!(concat!(env!("OUT_DIR"), "/rules.json")),
    ),
];

/// The knowledge base version, stamped on every assessment.
pub const VERSION: &str = "2026.11.1";

impl Knowledge {
    /// Parses the embedded knowledge files. They are validated by the test
    /// `embedded_knowledge_loads_and_validates` at build time, so they are not validated
    /// again on every start (the checks cost about as much as the parse).
    ///
    /// # Errors
    /// A [`LoadError`] when a file does not parse.
    pub fn embedded() -> Result<Knowledge, LoadError> {
        Self::load(JSON_FILES, Syntax::Json, false)
    }

    /// Parses and validates knowledge files given as `(name, text)` pairs, in the order and
    /// with the names of [`FILES`].
    ///
    /// # Errors
    /// A [`LoadError`] when a file does not parse or the whole breaks an invariant.
    pub fn from_files(files: &[(&'static str, &str)]) -> Result<Knowledge, LoadError> {
        Self::load(files, Syntax::Toml, true)
    }

    fn load(
        files: &[(&'static str, &str)],
        syntax: Syntax,
        validate: bool,
    ) -> Result<Knowledge, LoadError> {
        let text = |name: &'static str| -> Result<&str, LoadError> {
            files
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .ok_or(LoadError::Parse {
                    file: name,
                    message: "missing".to_owned(),
                })
        };
        fn parse<T: serde::de::DeserializeOwned>(
            syntax: Syntax,
            file: &'static str,
            text: &str,
        ) -> Result<T, LoadError> {
            let parsed = match syntax {
                Syntax::Toml => toml::from_str(text).map_err(|e| e.to_string()),
                Syntax::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
            };
            parsed.map_err(|message| LoadError::Parse { file, message })
        }
        let sources: SourcesFile = parse(syntax, "sources.toml", text("sources.toml")?)?;
        let analytes: AnalytesFile = parse(syntax, "analytes.toml", text("analytes.toml")?)?;
        let units: UnitsFile = parse(syntax, "units.toml", text("units.toml")?)?;
        let intervals: IntervalsFile = parse(syntax, "intervals.toml", text("intervals.toml")?)?;
        let grading: Grading = parse(syntax, "grading.toml", text("grading.toml")?)?;
        let clozapine: Clozapine = parse(syntax, "clozapine.toml", text("clozapine.toml")?)?;
        let concepts: ConceptsFile = parse(syntax, "concepts.toml", text("concepts.toml")?)?;
        let drugs: DrugsFile = parse(syntax, "drugs.toml", text("drugs.toml")?)?;
        let causes: CausesFile = parse(syntax, "causes.toml", text("causes.toml")?)?;
        let workup: WorkupFile = parse(syntax, "workup.toml", text("workup.toml")?)?;
        let rules: RulesFile = parse(syntax, "rules.toml", text("rules.toml")?)?;

        let mut digest = Fnv::default();
        for (name, body) in files {
            digest.write(name.as_bytes());
            digest.write(body.as_bytes());
        }
        let kb = Knowledge {
            version: VERSION.to_owned(),
            digest: format!("{:016x}", digest.0),
            sources: sources.source,
            analytes: analytes.analyte,
            units: units.unit,
            intervals: intervals.interval,
            profiles: intervals.profile,
            grading,
            clozapine,
            concepts: concepts.concept,
            drugs: drugs.drug,
            causes: causes.cause.into_iter().map(std::sync::Arc::new).collect(),
            tests: workup.test.into_iter().map(std::sync::Arc::new).collect(),
            rules: rules.rule,
            params: rules.params,
            index: Index::default(),
        };
        let mut kb = kb;
        kb.index = Index::build(&kb);
        let problems = if validate { kb.validate() } else { Vec::new() };
        if problems.is_empty() {
            Ok(kb)
        } else {
            Err(LoadError::Invalid(problems))
        }
    }

    /// The slot of a finding id (an engine finding or a concept), for O(1) lookups.
    pub fn finding_slot(&self, id: &str) -> Option<usize> {
        self.index.finding_slots.get(id).copied()
    }

    /// How many finding slots there are.
    pub fn finding_slot_count(&self) -> usize {
        self.index.finding_slots.len()
    }

    /// The slots of the findings of the cause at `cause_index`, in the cause's order
    /// (`usize::MAX` for an id with no slot, which the validator forbids).
    pub fn cause_finding_slots(&self, cause_index: usize) -> &[usize] {
        self.index
            .cause_slots
            .get(cause_index)
            .map_or(&[], Vec::as_slice)
    }

    /// The source with this id.
    pub fn source(&self, id: &str) -> Option<&Source> {
        self.index
            .sources
            .get(id)
            .and_then(|&i| self.sources.get(i))
    }

    /// The cause with this id.
    pub fn cause(&self, id: &str) -> Option<&Cause> {
        self.index
            .causes
            .get(id)
            .and_then(|&i| self.causes.get(i))
            .map(|c| &**c)
    }

    /// The drug with this id.
    pub fn drug(&self, id: &str) -> Option<&Drug> {
        self.index.drugs.get(id).and_then(|&i| self.drugs.get(i))
    }

    /// The concept with this id.
    pub fn concept(&self, id: &str) -> Option<&Concept> {
        self.index
            .concepts
            .get(id)
            .and_then(|&i| self.concepts.get(i))
    }

    /// The test with this id, shared.
    pub fn test_shared(&self, id: &str) -> Option<&std::sync::Arc<Test>> {
        self.index.tests.get(id).and_then(|&i| self.tests.get(i))
    }

    /// The test with this id.
    pub fn test(&self, id: &str) -> Option<&Test> {
        self.index
            .tests
            .get(id)
            .and_then(|&i| self.tests.get(i))
            .map(|t| &**t)
    }

    /// The rule with this id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.index.rules.get(id).and_then(|&i| self.rules.get(i))
    }

    /// The unit of a dimension with this spelling (normalised with [`normalize_unit`]). A
    /// power of ten whose superscript was lost (`109` for 10⁹, as in seed 001's "4х109") is
    /// read as that power.
    pub fn unit_by_spelling(&self, dimension: Dimension, spelling: &str) -> Option<&Unit> {
        // Fast path: the UCUM code or a spelling exactly as written in the knowledge base.
        if let Some(u) = self
            .index
            .units_raw
            .get(&(dimension, spelling.to_owned()))
            .and_then(|&i| self.units.get(i))
        {
            return Some(u);
        }
        if let Some(u) = self
            .index
            .units
            .get(&(dimension, spelling.trim().to_lowercase()))
            .and_then(|&i| self.units.get(i))
        {
            return Some(u);
        }
        let norm = normalize_unit(spelling);
        let hit = |n: &str| {
            self.index
                .units
                .get(&(dimension, n.to_owned()))
                .and_then(|&i| self.units.get(i))
        };
        hit(&norm).or_else(|| repair_lost_superscript(&norm).and_then(|r| hit(&r)))
    }

    /// An analyte named in text, by its name or a synonym as whole words (longest first).
    pub fn analyte_by_text(&self, text: &str) -> Option<&Analyte> {
        let words = normalize_words(text);
        let mut names: Vec<(String, &Analyte)> = self
            .analytes
            .iter()
            .flat_map(|a| {
                std::iter::once(&a.name)
                    .chain(&a.synonyms)
                    .map(move |n| (normalize_words(n), a))
            })
            .filter(|(n, _)| !n.is_empty())
            .collect();
        names.sort_by_key(|n| std::cmp::Reverse(n.0.len()));
        // Percent analytes are named with "percent" or "%"; a bare name is an absolute count.
        let is_percent = text.contains('%') || words.contains(" percent ");
        names
            .iter()
            .filter(|(_, a)| {
                (a.dimension == Dimension::Percent) == is_percent
                    || !matches!(
                        a.id,
                        AnalyteId::NeutPct
                            | AnalyteId::LymphPct
                            | AnalyteId::MonoPct
                            | AnalyteId::EosPct
                            | AnalyteId::BasoPct
                            | AnalyteId::Anc
                            | AnalyteId::Alc
                            | AnalyteId::Amc
                            | AnalyteId::Aec
                            | AnalyteId::Abc
                    )
            })
            .find(|(n, _)| words.contains(n.as_str()))
            .map(|(_, a)| *a)
    }

    /// The analyte with this id.
    pub fn analyte(&self, id: AnalyteId) -> Option<&Analyte> {
        self.analytes.iter().find(|a| a.id == id)
    }

    /// The analyte a LOINC code stands for.
    pub fn analyte_by_loinc(&self, loinc: &str) -> Option<&Analyte> {
        self.index
            .loinc
            .get(loinc)
            .and_then(|&i| self.analytes.get(i))
    }

    /// The concept a SNOMED CT code stands for.
    pub fn concept_by_snomed(&self, code: &str) -> Option<&Concept> {
        self.index
            .snomed
            .get(code)
            .and_then(|&i| self.concepts.get(i))
    }

    /// The concept an ICD-10-CM code stands for (exact code, then its three-character category).
    pub fn concept_by_icd10(&self, code: &str) -> Option<&Concept> {
        let code = code.trim().to_ascii_uppercase();
        self.index
            .icd10
            .get(&code)
            .or_else(|| code.get(..3).and_then(|c| self.index.icd10.get(c)))
            .and_then(|&i| self.concepts.get(i))
    }

    /// The drug an RxNorm ingredient code stands for.
    pub fn drug_by_rxnorm(&self, code: &str) -> Option<&Drug> {
        self.index
            .rxnorm
            .get(code.trim())
            .and_then(|&i| self.drugs.get(i))
    }

    /// The concept named in free text, by its name or a synonym as whole words.
    pub fn concept_by_text(&self, text: &str) -> Option<&Concept> {
        best_text_match(text, &self.index.concept_names).and_then(|i| self.concepts.get(i))
    }

    /// The drug named in free text, by its name or a synonym as whole words.
    pub fn drug_by_text(&self, text: &str) -> Option<&Drug> {
        best_text_match(text, &self.index.drug_names).and_then(|i| self.drugs.get(i))
    }

    /// All drugs named in free text (a combination product names several).
    pub fn drugs_in_text(&self, text: &str) -> Vec<&Drug> {
        let words = normalize_words(text);
        let mut found: Vec<usize> = Vec::new();
        for (name, i) in &self.index.drug_names {
            if contains_words(&words, name) && !found.contains(i) {
                found.push(*i);
            }
        }
        found.sort_unstable();
        found
            .into_iter()
            .filter_map(|i| self.drugs.get(i))
            .collect()
    }
}

/// Lookup tables built once after loading.
#[derive(Debug, Default, Clone)]
pub struct Index {
    sources: HashMap<String, usize>,
    causes: HashMap<String, usize>,
    drugs: HashMap<String, usize>,
    concepts: HashMap<String, usize>,
    tests: HashMap<String, usize>,
    rules: HashMap<String, usize>,
    loinc: HashMap<String, usize>,
    units: HashMap<(Dimension, String), usize>,
    units_raw: HashMap<(Dimension, String), usize>,
    snomed: HashMap<String, usize>,
    icd10: HashMap<String, usize>,
    rxnorm: HashMap<String, usize>,
    /// A slot for every finding id (engine findings, then concepts), for O(1) lookups.
    finding_slots: HashMap<String, usize>,
    /// For each cause, the slot of each of its findings, in order.
    cause_slots: Vec<Vec<usize>>,
    /// Normalised names and synonyms, longest first, with the concept index.
    concept_names: Vec<(String, usize)>,
    drug_names: Vec<(String, usize)>,
}

impl Index {
    fn build(kb: &Knowledge) -> Index {
        fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> HashMap<String, usize> {
            items
                .iter()
                .enumerate()
                .map(|(i, t)| (id(t).to_owned(), i))
                .collect()
        }
        let mut index = Index {
            sources: ids(&kb.sources, |s| &s.id),
            causes: ids(&kb.causes, |c| &c.id),
            drugs: ids(&kb.drugs, |d| &d.id),
            concepts: ids(&kb.concepts, |c| &c.id),
            tests: ids(&kb.tests, |t| &t.id),
            rules: ids(&kb.rules, |r| &r.id),
            ..Index::default()
        };
        for (i, u) in kb.units.iter().enumerate() {
            for s in std::iter::once(&u.ucum).chain(&u.spellings) {
                index
                    .units
                    .entry((u.dimension, normalize_unit(s)))
                    .or_insert(i);
                index.units_raw.entry((u.dimension, s.clone())).or_insert(i);
            }
        }
        for (i, a) in kb.analytes.iter().enumerate() {
            for code in &a.loinc {
                index.loinc.insert(code.clone(), i);
            }
        }
        for (i, c) in kb.concepts.iter().enumerate() {
            for code in &c.snomed {
                index.snomed.insert(code.clone(), i);
            }
            for code in &c.icd10 {
                index.icd10.entry(code.to_ascii_uppercase()).or_insert(i);
            }
            for name in std::iter::once(&c.name)
                .chain(&c.synonyms)
                .chain(std::iter::once(&c.id))
            {
                let n = normalize_words(name);
                if !n.is_empty() {
                    index.concept_names.push((n, i));
                }
            }
        }
        for (i, d) in kb.drugs.iter().enumerate() {
            if !d.rxnorm.is_empty() {
                index.rxnorm.insert(d.rxnorm.clone(), i);
            }
            for name in std::iter::once(&d.name)
                .chain(&d.synonyms)
                .chain(std::iter::once(&d.id))
            {
                let n = normalize_words(name);
                if !n.is_empty() {
                    index.drug_names.push((n, i));
                }
            }
        }
        for id in validate::ENGINE_FINDINGS
            .iter()
            .copied()
            .chain(kb.concepts.iter().map(|c| c.id.as_str()))
        {
            let n = index.finding_slots.len();
            index.finding_slots.entry(id.to_owned()).or_insert(n);
        }
        index.cause_slots = kb
            .causes
            .iter()
            .map(|c| {
                c.findings
                    .iter()
                    .map(|f| {
                        index
                            .finding_slots
                            .get(&f.id)
                            .copied()
                            .unwrap_or(usize::MAX)
                    })
                    .collect()
            })
            .collect();
        // Longest names first, so "chronic hepatitis c" wins over "hepatitis".
        index
            .concept_names
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        index
            .drug_names
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(&b.0)));
        index.concept_names.dedup_by(|a, b| a.0 == b.0);
        index.drug_names.dedup_by(|a, b| a.0 == b.0);
        index
    }
}

/// Normalises a unit spelling for lookup, so that `10*9/L`, `10^9/L`, `x10⁹/L`, `×10E9/L`
/// and the `x10\\S\\9/L` of HL7 feeds compare equal: lower case, no spaces, the micro sign
/// as `u`, powers of ten as `10^N`, a leading multiplication sign dropped, volumes spelled out
/// (`per microliter`, `cu mm`) shortened.
pub fn normalize_unit(unit: &str) -> String {
    let mut s = String::with_capacity(unit.len() + 4);
    for ch in unit.trim().chars() {
        match ch {
            'µ' | 'μ' => s.push('u'),
            '⁰' => s.push_str("^0"),
            '¹' => s.push_str("^1"),
            '²' => s.push_str("^2"),
            '³' => s.push_str("^3"),
            '⁴' => s.push_str("^4"),
            '⁵' => s.push_str("^5"),
            '⁶' => s.push_str("^6"),
            '⁷' => s.push_str("^7"),
            '⁸' => s.push_str("^8"),
            '⁹' => s.push_str("^9"),
            '×' | 'х' | 'Х' => s.push('x'),
            '·' => s.push('*'),
            c if c.is_whitespace() => s.push(' '),
            c => s.extend(c.to_lowercase()),
        }
    }
    // HL7 v2 escape for '^' inside a component.
    let mut s = s.replace("\\s\\", "^");
    for (from, to) in [
        ("per cubic millimeter", "/mm3"),
        ("per cubic millimetre", "/mm3"),
        ("per microliter", "/ul"),
        ("per microlitre", "/ul"),
        ("microliters", "ul"),
        ("microlitres", "ul"),
        ("microliter", "ul"),
        ("microlitre", "ul"),
        ("per liter", "/l"),
        ("per litre", "/l"),
        ("liters", "l"),
        ("litres", "l"),
        ("liter", "l"),
        ("litre", "l"),
        ("cu mm", "mm3"),
        ("cu.mm", "mm3"),
        ("mm^3", "mm3"),
        ("mcl", "ul"),
        (" per ", "/"),
        ("cells", ""),
        ("cell", ""),
        ("degrees ", "deg"),
        ("degree ", "deg"),
    ] {
        s = s.replace(from, to);
    }
    s.retain(|c| !c.is_whitespace());
    // Powers of ten: 10*9, 10e9, 10exp9, 10**9 -> 10^9.
    for (from, to) in [
        ("10**", "10^"),
        ("10*", "10^"),
        ("10exp", "10^"),
        ("10e", "10^"),
    ] {
        s = s.replace(from, to);
    }
    // A leading multiplication sign before the power of ten: x10^9/l -> 10^9/l, *10^9 -> 10^9.
    for prefix in ["x", "*"] {
        if let Some(rest) = s.strip_prefix(prefix)
            && rest.starts_with("10")
        {
            s = rest.to_owned();
        }
    }
    s
}

fn repair_lost_superscript(norm: &str) -> Option<String> {
    let rest = norm.strip_prefix("10")?;
    let mut chars = rest.chars();
    let digit = chars.next().filter(char::is_ascii_digit)?;
    Some(format!("10^{digit}{}", chars.as_str()))
}

/// Lowercases and keeps letters and digits, with single spaces between words, and a space at
/// both ends so that a whole-word search is a substring search.
pub fn normalize_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for ch in text.chars() {
        if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
        } else if !out.ends_with(' ') {
            out.push(' ');
        }
    }
    if !out.ends_with(' ') {
        out.push(' ');
    }
    if out.trim().is_empty() {
        String::new()
    } else {
        out
    }
}

fn contains_words(haystack: &str, needle: &str) -> bool {
    !needle.is_empty() && haystack.contains(needle)
}

fn best_text_match(text: &str, names: &[(String, usize)]) -> Option<usize> {
    let words = normalize_words(text);
    names
        .iter()
        .find(|(n, _)| contains_words(&words, n))
        .map(|(_, i)| *i)
}

/// The syntax of knowledge files handed to the loader.
#[derive(Clone, Copy)]
enum Syntax {
    Toml,
    Json,
}

/// FNV-1a, for a stable digest of the knowledge files (not for security).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests;

//! The screening rules: knowledge (`knowledge/screen.toml` plus the engine's parameters and the
//! clozapine tables) turned into SQL.
//!
//! [`stats_sql`] is one statement: it normalises the lab rows with leuko's functions, folds
//! them into one row of statistics per patient (a single pass, streaming aggregates only),
//! joins the medicines and the person's limits, and evaluates every rule as a pair of columns
//! `<rule>` (the level, NULL when the rule does not fire) and `<rule>_reason`.
//!
//! It runs twice ([`Pass`]): a fast pass over every row, and an exact pass over the few
//! candidate patients, which applies corrected results (status `C` replaces the result of the
//! same code and time) and follows the run of low counts for `persistent_leukopenia`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use leuko_kb::Knowledge;
use serde::Deserialize;

use crate::civil::DAY_US;

/// The analytes the rules read.
pub const ANALYTES: [&str; 5] = ["wbc", "anc", "blast-pct", "blast-abs", "temperature"];

/// `knowledge/screen.toml`.
pub const SCREEN_TOML: &str = include_str!("../../../knowledge/screen.toml");

/// A sourced number.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Param {
    /// The value.
    pub value: f64,
    /// Source ids.
    pub sources: Vec<String>,
    /// Notes.
    #[serde(default)]
    pub note: String,
}

/// One screening rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Column name and worklist `rule`.
    pub id: String,
    /// One line.
    pub title: String,
    /// The triage level when it fires.
    pub level: String,
    /// The level with a fever (severe neutropenia only).
    #[serde(default)]
    pub fever_level: Option<String>,
    /// What it checks, in words.
    pub description: String,
    /// Source ids.
    pub sources: Vec<String>,
    /// Its own numbers.
    #[serde(default)]
    pub params: BTreeMap<String, Param>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    rule: Vec<Rule>,
}

/// The rules, in output order.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Every rule.
    pub rules: Vec<Rule>,
}

impl Rules {
    /// Parses `knowledge/screen.toml` and checks it against the knowledge base.
    ///
    /// # Errors
    /// A parse error, an unknown source id, an unknown level, or a rule the SQL does not know.
    pub fn load(kb: &Knowledge) -> Result<Rules, String> {
        let file: File =
            toml::from_str(SCREEN_TOML).map_err(|e| format!("knowledge/screen.toml: {e}"))?;
        let rules = Rules { rules: file.rule };
        rules.check(kb)?;
        Ok(rules)
    }

    fn check(&self, kb: &Knowledge) -> Result<(), String> {
        let known = [
            "severe_neutropenia",
            "recurrent_severe_neutropenia",
            "blasts",
            "persistent_leukopenia",
            "baseline_fall",
            "clozapine_interrupt",
            "clozapine_overdue",
            "chemo_nadir",
        ];
        for r in &self.rules {
            if !known.contains(&r.id.as_str()) {
                return Err(format!("screen.toml: rule {} has no SQL", r.id));
            }
            for level in std::iter::once(&r.level).chain(&r.fever_level) {
                if leuko_core::Level::parse(level).is_none() {
                    return Err(format!("screen.toml: rule {}: unknown level {level}", r.id));
                }
            }
            let param_sources = r.params.values().flat_map(|p| &p.sources);
            for s in r.sources.iter().chain(param_sources) {
                if kb.source(s).is_none() {
                    return Err(format!("screen.toml: rule {}: unknown source {s}", r.id));
                }
            }
        }
        for id in known {
            if !self.rules.iter().any(|r| r.id == id) {
                return Err(format!("screen.toml: rule {id} is missing"));
            }
        }
        Ok(())
    }

    /// A rule by id (every known id is present: [`Rules::load`] checks).
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    fn param(&self, rule: &str, name: &str) -> Result<f64, String> {
        self.get(rule)
            .and_then(|r| r.params.get(name))
            .map(|p| p.value)
            .ok_or_else(|| format!("screen.toml: rule {rule} has no parameter {name}"))
    }

    fn level(&self, rule: &str) -> String {
        self.get(rule).map(|r| r.level.clone()).unwrap_or_default()
    }
}

/// Which pass of the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Every row, one pass. Corrected rows are read as rows (the latest result of a time is
    /// the corrected one); patients with corrections are re-screened exactly.
    Fast,
    /// Only these patients, with corrections applied and the low-count run followed.
    Exact {
        /// The patients.
        ids: Vec<String>,
        /// The table their lab rows are read from: `labs`, or a copy of just their rows made
        /// first (the statement reads the rows several times; a copy is read from memory).
        labs: String,
    },
    /// Every patient, exactly: one statement for peers such as DuckDB (`leuko screen
    /// --print-sql`).
    ExactAll,
}

/// Numbers the SQL needs, gathered from the knowledge base and `screen.toml`.
struct Numbers {
    as_of: i64,
    as_of_day: i64,
    severe: f64,
    fever_c: f64,
    fever_us: i64,
    severe_recent: i64,
    recurrent_window: i64,
    recurrent_span: i64,
    blast_recent: i64,
    persistent_span: i64,
    no_count: i64,
    base_recent: i64,
    base_window: i64,
    base_min: f64,
    drop: f64,
    cloz_grace: i64,
    nadir_from: i64,
    nadir_to: i64,
    cloz_general: f64,
    cloz_ben: f64,
    cloz_level_general: String,
    cloz_level_ben: String,
    schedule: Vec<(i64, Option<i64>, i64)>,
}

fn days(d: f64) -> i64 {
    (d * DAY_US as f64).round() as i64
}

/// The highest ANC below which a clozapine table interrupts, and the level there.
fn interrupt_threshold(rows: &[leuko_kb::ClozapineCategory]) -> (f64, String) {
    let threshold = rows
        .iter()
        .filter(|c| !c.interrupt)
        .map(|c| c.anc_at_least)
        .fold(f64::INFINITY, f64::min);
    let level = rows
        .iter()
        .find(|c| c.interrupt)
        .map(|c| c.level.clone())
        .unwrap_or_else(|| "urgent".into());
    (
        if threshold.is_finite() {
            threshold
        } else {
            0.0
        },
        level,
    )
}

impl Numbers {
    fn new(kb: &Knowledge, rules: &Rules, as_of: i64) -> Result<Numbers, String> {
        let p = &kb.params;
        let (cloz_general, cloz_level_general) = interrupt_threshold(&kb.clozapine.general);
        let (cloz_ben, cloz_level_ben) = interrupt_threshold(&kb.clozapine.ben);
        Ok(Numbers {
            as_of,
            as_of_day: as_of.div_euclid(DAY_US),
            severe: p.severe_anc.value,
            fever_c: p.fever_c.value,
            fever_us: (p.fever_recent_hours.value * 3_600_000_000.0).round() as i64,
            severe_recent: days(rules.param("severe_neutropenia", "recent_days")?),
            recurrent_window: days(rules.param("recurrent_severe_neutropenia", "window_days")?),
            recurrent_span: days(p.cyclic_min_days.value),
            blast_recent: days(rules.param("blasts", "recent_days")?),
            persistent_span: days(p.persistent_days.value),
            no_count: days(rules.param("persistent_leukopenia", "no_count_days")?),
            base_recent: days(rules.param("baseline_fall", "recent_days")?),
            base_window: days(rules.param("baseline_fall", "baseline_days")?),
            base_min: rules.param("baseline_fall", "min_baseline_counts")?,
            drop: p.baseline_drop_fraction.value,
            cloz_grace: days(rules.param("clozapine_overdue", "grace_days")?),
            nadir_from: days(p.chemo_nadir_from_day.value),
            nadir_to: days(p.chemo_nadir_to_day.value),
            cloz_general,
            cloz_ben,
            cloz_level_general,
            cloz_level_ben,
            schedule: kb
                .clozapine
                .schedule
                .iter()
                .map(|s| {
                    (
                        days(f64::from(s.from_days)),
                        s.to_days.map(|t| days(f64::from(t))),
                        days(f64::from(s.every_days)),
                    )
                })
                .collect(),
        })
    }
}

/// `WHERE patient_id IN (…)` for these patients (`WHERE false` for none).
pub fn in_list(ids: &[String]) -> String {
    if ids.is_empty() {
        return "WHERE false".to_owned();
    }
    format!(
        "WHERE patient_id IN ({})",
        ids.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
    )
}

/// A SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL of one pass. Tables: `labs`, `medications`, `patients` (each with the standard
/// column names: see [`crate::extract`]).
///
/// # Errors
/// When `screen.toml` lacks a parameter.
pub fn stats_sql(kb: &Knowledge, rules: &Rules, as_of: i64, pass: &Pass) -> Result<String, String> {
    let n = Numbers::new(kb, rules, as_of)?;
    let a = n.as_of;
    let analytes = ANALYTES
        .iter()
        .map(|x| quote(x))
        .collect::<Vec<_>>()
        .join(", ");
    let candidates = match pass {
        Pass::Fast | Pass::ExactAll => String::new(),
        Pass::Exact { ids, .. } => in_list(ids),
    };
    let labs = match pass {
        Pass::Exact { labs, .. } => labs.as_str(),
        Pass::Fast | Pass::ExactAll => "labs",
    };
    let exact = !matches!(pass, Pass::Fast);
    let mut sql = String::new();
    let w = &mut sql;
    // Normalised observations.
    let _ = write!(
        w,
        "WITH src AS (
  SELECT patient_id, t, leuko_analyte(code) AS analyte, code, value, unit, corrected
  FROM {labs} {candidates}
),
obs0 AS (
  SELECT patient_id, t, analyte, leuko_canonical(code, value, unit) AS v, corrected
  FROM src WHERE analyte IN ({analytes}) AND t <= {a}
),"
    );
    if exact {
        let _ = write!(
            w,
            "
corr AS (SELECT patient_id, t, analyte, v FROM obs0 WHERE corrected),
obs AS (
  SELECT o.patient_id, o.t, o.analyte, o.v, false AS corrected FROM obs0 o
  WHERE NOT o.corrected AND NOT EXISTS (
    SELECT 1 FROM corr c WHERE c.patient_id = o.patient_id AND c.t = o.t AND c.analyte = o.analyte)
  UNION ALL
  SELECT patient_id, t, analyte, v, true AS corrected FROM corr
),"
        );
    } else {
        let _ = write!(w, "\nobs AS (SELECT * FROM obs0),");
    }
    let anc = "analyte = 'anc' AND v IS NOT NULL";
    let wbc = "analyte = 'wbc' AND v IS NOT NULL";
    let sev = format!("{anc} AND v < {}", n.severe);
    let _ = write!(
        w,
        "
stats AS (
  SELECT patient_id,
    count(*) FILTER (WHERE corrected) AS n_corrected,
    count(*) AS n_results,
    count(*) FILTER (WHERE v IS NULL) AS n_unreadable,
    max(t) FILTER (WHERE {anc}) AS anc_last_t,
    last_value(v ORDER BY t, corrected) FILTER (WHERE {anc}) AS anc_last_v,
    max(t) FILTER (WHERE {wbc}) AS wbc_last_t,
    last_value(v ORDER BY t, corrected) FILTER (WHERE {wbc}) AS wbc_last_v,
    min(v) FILTER (WHERE {sev} AND t > {sr}) AS sev_min,
    max(t) FILTER (WHERE {sev} AND t > {sr}) AS sev_t,
    count(*) FILTER (WHERE {sev} AND t > {rw}) AS sev_n,
    min(t) FILTER (WHERE {sev} AND t > {rw}) AS sev_first_t,
    max(t) FILTER (WHERE {sev} AND t > {rw}) AS sev_last_t,
    max(t) FILTER (WHERE analyte = 'temperature' AND v >= {fever}) AS fever_t,
    max(t) FILTER (WHERE analyte IN ('blast-pct', 'blast-abs') AND v > 0 AND t > {br}) AS blast_t,
    max(v) FILTER (WHERE analyte IN ('blast-pct', 'blast-abs') AND v > 0 AND t > {br}) AS blast_v,
    avg(v) FILTER (WHERE {anc} AND t <= {bre} AND t > {bw}) AS anc_base,
    count(*) FILTER (WHERE {anc} AND t <= {bre} AND t > {bw}) AS anc_base_n,
    avg(v) FILTER (WHERE {wbc} AND t <= {bre} AND t > {bw}) AS wbc_base,
    count(*) FILTER (WHERE {wbc} AND t <= {bre} AND t > {bw}) AS wbc_base_n
  FROM obs GROUP BY patient_id
),",
        sr = a - n.severe_recent,
        rw = a - n.recurrent_window,
        fever = n.fever_c,
        br = a - n.blast_recent,
        bre = a - n.base_recent,
        bw = a - n.base_window,
    );
    let active = format!("start <= {a} AND (stop IS NULL OR stop > {a})");
    let _ = write!(
        w,
        "
meds AS (
  SELECT patient_id,
    min(start) FILTER (WHERE drug_id = 'clozapine' AND start <= {a}) AS cloz_first,
    bool_or(drug_id = 'clozapine' AND {active}) AS cloz_active,
    max(start) FILTER (WHERE cause = 'chemotherapy' AND start <= {a}) AS chemo_t
  FROM (SELECT patient_id, leuko_drug(drug) AS drug_id, leuko_drug_cause(drug) AS cause, start, stop
        FROM medications {candidates})
  GROUP BY patient_id
),
people AS (
  SELECT patient_id, bool_or(duffy_null) AS duffy_null,
    min(leuko_lln('wbc', birth_date, sex, duffy_null, {day})) AS wbc_lln,
    min(leuko_lln('anc', birth_date, sex, duffy_null, {day})) AS anc_lln
  FROM patients {candidates} GROUP BY patient_id
),
s AS (
  SELECT coalesce(st.patient_id, m.patient_id) AS patient_id, st.* EXCLUDE (patient_id),
    m.cloz_first, coalesce(m.cloz_active, false) AS cloz_active, m.chemo_t,
    coalesce(p.duffy_null, false) AS duffy_null,
    coalesce(p.wbc_lln, leuko_lln('wbc', NULL, NULL, NULL, {day})) AS wbc_lln,
    coalesce(p.anc_lln, leuko_lln('anc', NULL, NULL, NULL, {day})) AS anc_lln
  FROM stats st
  FULL OUTER JOIN meds m ON st.patient_id = m.patient_id
  LEFT JOIN people p ON p.patient_id = coalesce(st.patient_id, m.patient_id)
),",
        day = n.as_of_day,
    );
    // The run of low WBC counts since the last normal one (exact pass only).
    if exact {
        let _ = write!(
            w,
            "
lastnormal AS (
  SELECT o.patient_id, max(o.t) FILTER (WHERE o.v >= s.wbc_lln) AS normal_t
  FROM obs o JOIN s ON o.patient_id = s.patient_id
  WHERE o.analyte = 'wbc' AND o.v IS NOT NULL GROUP BY o.patient_id
),
run AS (
  SELECT o.patient_id, min(o.t) AS run_first_t, count(*) AS run_n
  FROM obs o JOIN s ON o.patient_id = s.patient_id
  LEFT JOIN lastnormal l ON l.patient_id = o.patient_id
  WHERE o.analyte = 'wbc' AND o.v IS NOT NULL AND o.v < s.wbc_lln
    AND (l.normal_t IS NULL OR o.t > l.normal_t)
  GROUP BY o.patient_id
),
r AS (SELECT s.*, run.run_first_t, run.run_n FROM s LEFT JOIN run ON run.patient_id = s.patient_id)"
        );
    } else {
        let _ = write!(
            w,
            "
r AS (SELECT s.*, CAST(NULL AS BIGINT) AS run_first_t, CAST(NULL AS BIGINT) AS run_n FROM s)"
        );
    }
    let date = |col: &str| format!("to_char(to_timestamp_micros({col}), '%Y-%m-%d')");
    let num = |col: &str| format!("CAST(round({col}, 2) AS VARCHAR)");
    let lvl = |id: &str| quote(&rules.level(id));
    let fever_level = quote(
        &rules
            .get("severe_neutropenia")
            .and_then(|r| r.fever_level.clone())
            .unwrap_or_else(|| rules.level("severe_neutropenia")),
    );
    // Conditions.
    let c_severe = "sev_t IS NOT NULL".to_owned();
    let c_fever = format!(
        "fever_t IS NOT NULL AND abs(fever_t - sev_t) <= {}",
        n.fever_us
    );
    let c_recurrent = format!(
        "sev_n >= 2 AND sev_last_t - sev_first_t >= {}",
        n.recurrent_span
    );
    let c_blasts = "blast_t IS NOT NULL".to_owned();
    let c_persist_candidate = format!("wbc_last_v < wbc_lln AND wbc_last_t <= {}", a - n.no_count);
    let c_persistent = format!(
        "{c_persist_candidate} AND run_n >= 2 AND wbc_last_t - run_first_t >= {}",
        n.persistent_span
    );
    let keep = 1.0 - n.drop;
    let recent = a - n.base_recent;
    let c_fall_anc = format!(
        "anc_last_t > {recent} AND anc_base_n >= {min} AND anc_last_v < anc_lln AND anc_last_v <= {keep} * anc_base",
        min = n.base_min
    );
    let c_fall_wbc = format!(
        "wbc_last_t > {recent} AND wbc_base_n >= {min} AND wbc_last_v < wbc_lln AND wbc_last_v <= {keep} * wbc_base",
        min = n.base_min
    );
    let cloz_limit = format!(
        "CASE WHEN duffy_null THEN {} ELSE {} END",
        n.cloz_ben, n.cloz_general
    );
    let c_cloz_interrupt =
        format!("cloz_active AND anc_last_t >= cloz_first AND anc_last_v < {cloz_limit}");
    let mut interval = String::from("CASE");
    for (from, to, every) in &n.schedule {
        let upper = to
            .map(|t| format!(" AND {a} - cloz_first < {t}"))
            .unwrap_or_default();
        let _ = write!(
            interval,
            " WHEN {a} - cloz_first >= {from}{upper} THEN {every}"
        );
    }
    interval.push_str(&format!(" ELSE {} END", days(7.0)));
    let c_cloz_overdue = format!(
        "cloz_active AND (anc_last_t IS NULL OR anc_last_t < cloz_first OR {a} - anc_last_t > ({interval}) + {})",
        n.cloz_grace
    );
    let c_chemo = format!(
        "chemo_t IS NOT NULL AND {a} - chemo_t >= {} AND {a} - chemo_t <= {}",
        n.nadir_from, n.nadir_to
    );
    let rule_cols: Vec<(String, String, String)> = vec![
        (
            "severe_neutropenia".into(),
            format!(
                "CASE WHEN {c_severe} THEN CASE WHEN {c_fever} THEN {fever_level} ELSE {} END END",
                lvl("severe_neutropenia")
            ),
            format!(
                "'ANC ' || {} || ' x10^9/L on ' || {} || ' (below {})' || CASE WHEN {c_fever} THEN '; temperature of {} C or more on ' || {} ELSE '' END",
                num("sev_min"),
                date("sev_t"),
                n.severe,
                n.fever_c,
                date("fever_t")
            ),
        ),
        (
            "recurrent_severe_neutropenia".into(),
            format!(
                "CASE WHEN {c_recurrent} THEN {} END",
                lvl("recurrent_severe_neutropenia")
            ),
            format!(
                "CAST(sev_n AS VARCHAR) || ' ANC results below {} between ' || {} || ' and ' || {}",
                n.severe,
                date("sev_first_t"),
                date("sev_last_t")
            ),
        ),
        (
            "blasts".into(),
            format!("CASE WHEN {c_blasts} THEN {} END", lvl("blasts")),
            format!(
                "'blasts reported (' || {} || ') on ' || {}",
                num("blast_v"),
                date("blast_t")
            ),
        ),
        (
            "persistent_leukopenia".into(),
            format!(
                "CASE WHEN {c_persistent} THEN {} END",
                lvl("persistent_leukopenia")
            ),
            format!(
                "'WBC below ' || {} || ' on ' || CAST(run_n AS VARCHAR) || ' counts from ' || {} || ' to ' || {} || ' (last ' || {} || '); no count since'",
                num("wbc_lln"),
                date("run_first_t"),
                date("wbc_last_t"),
                num("wbc_last_v")
            ),
        ),
        (
            "baseline_fall".into(),
            format!(
                "CASE WHEN ({c_fall_anc}) OR ({c_fall_wbc}) THEN {} END",
                lvl("baseline_fall")
            ),
            format!(
                "CASE WHEN {c_fall_anc} THEN 'ANC ' || {} || ' on ' || {} || ', baseline ' || {} ELSE 'WBC ' || {} || ' on ' || {} || ', baseline ' || {} END",
                num("anc_last_v"),
                date("anc_last_t"),
                num("anc_base"),
                num("wbc_last_v"),
                date("wbc_last_t"),
                num("wbc_base")
            ),
        ),
        (
            "clozapine_interrupt".into(),
            format!(
                "CASE WHEN {c_cloz_interrupt} THEN CASE WHEN duffy_null THEN {} ELSE {} END END",
                quote(&n.cloz_level_ben),
                quote(&n.cloz_level_general)
            ),
            format!(
                "'on clozapine; ANC ' || {} || ' on ' || {} || ' is below ' || CAST({cloz_limit} AS VARCHAR) || CASE WHEN duffy_null THEN ' (BEN table)' ELSE ' (general table)' END",
                num("anc_last_v"),
                date("anc_last_t")
            ),
        ),
        (
            "clozapine_overdue".into(),
            format!(
                "CASE WHEN {c_cloz_overdue} THEN {} END",
                lvl("clozapine_overdue")
            ),
            format!(
                "'on clozapine since ' || {} || '; ' || CASE WHEN anc_last_t IS NULL OR anc_last_t < cloz_first THEN 'no ANC since starting' ELSE 'last ANC ' || {} || ', every ' || CAST(({interval}) / {DAY_US} AS VARCHAR) || ' days expected' END",
                date("cloz_first"),
                date("anc_last_t")
            ),
        ),
        (
            "chemo_nadir".into(),
            format!("CASE WHEN {c_chemo} THEN {} END", lvl("chemo_nadir")),
            format!(
                "'chemotherapy started ' || {} || ' (day ' || CAST(({a} - chemo_t) / {DAY_US} AS VARCHAR) || ')'",
                date("chemo_t")
            ),
        ),
    ];
    let _ = write!(
        w,
        "\nSELECT patient_id, anc_last_v, n_results, n_unreadable,"
    );
    let _ = write!(
        w,
        " (n_corrected > 0 OR ({c_persist_candidate})) AS candidate"
    );
    for (id, level, reason) in &rule_cols {
        let _ = write!(
            w,
            ",\n  {level} AS {id},\n  CASE WHEN {level} IS NOT NULL THEN {reason} END AS {id}_reason"
        );
    }
    let _ = write!(w, "\nFROM r");
    Ok(sql)
}

/// The rule ids in output order.
pub fn rule_ids(rules: &Rules) -> Vec<String> {
    rules.rules.iter().map(|r| r.id.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn screen_rules_load_and_cite_known_sources() -> Result<(), String> {
        let kb = crate::udf::kb().map_err(|e| e.to_string())?;
        let rules = Rules::load(kb)?;
        assert_eq!(rules.rules.len(), 8);
        assert!(rules.get("severe_neutropenia").is_some());
        Ok(())
    }

    #[test]
    fn clozapine_interrupt_thresholds_come_from_the_tables() -> Result<(), String> {
        let kb = crate::udf::kb().map_err(|e| e.to_string())?;
        assert_eq!(interrupt_threshold(&kb.clozapine.general).0, 1.0);
        assert_eq!(interrupt_threshold(&kb.clozapine.ben).0, 0.5);
        Ok(())
    }
}

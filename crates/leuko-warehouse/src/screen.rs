//! `leuko screen`: the worklist of patients whose counts need action.
//!
//! 1. Register the extract ([`crate::extract`]) on a DataFusion session (embedded, or a
//!    Ballista cluster with `--cluster df://host:port`).
//! 2. The fast pass ([`Pass::Fast`]): one streaming pass over every lab row; rule hits are
//!    kept, the latest ANC of every patient goes into the histogram, and patients with
//!    corrected results or a possibly persistent leukopenia become candidates.
//! 3. The exact pass ([`Pass::Exact`]) over the candidates only; its hits replace theirs.
//! 4. Optionally, the full assessment of every flagged patient by the core engine, through
//!    the `leuko_assess` aggregate.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use datafusion::arrow::array::{
    Array, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use leuko_core::Level;

use crate::extract::{self, Mapping, Sources};
use crate::rules::{Pass, Rules, in_list, quote, stats_sql};
use crate::udf::{self, ROWS_SEEN};

/// What to screen and where the worklist goes.
#[derive(Debug, Clone)]
pub struct Config {
    /// The extract.
    pub sources: Sources,
    /// Column mapping.
    pub mapping: Mapping,
    /// Screen as of this time (microseconds); default: the latest result in the labs.
    pub as_of: Option<i64>,
    /// Worklist path: `.csv` or `.parquet`.
    pub out: PathBuf,
    /// A Ballista scheduler, `df://host:port`.
    pub cluster: Option<String>,
    /// Where to write the HTML summary (default: the worklist path with `.html`).
    pub summary: Option<PathBuf>,
    /// Where to write the full assessments of the flagged patients (JSON lines).
    pub assessments: Option<PathBuf>,
    /// Memory limit for the embedded engine, bytes (it spills to disk beyond).
    pub memory_limit: Option<usize>,
    /// Target partitions (threads) for the embedded engine; default: the cores.
    pub partitions: Option<usize>,
}

/// One worklist row.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Item {
    /// The patient.
    pub patient_id: String,
    /// The rule id.
    pub rule: String,
    /// The triage level.
    pub level: String,
    /// Why, with the values and dates.
    pub reason: String,
}

/// The result of a screen.
#[derive(Debug, Clone, Default)]
pub struct Worklist {
    /// `as_of`, microseconds.
    pub as_of: i64,
    /// Rows, sorted by level (most urgent first), then patient and rule.
    pub items: Vec<Item>,
    /// Patients with at least one result the rules read.
    pub patients: u64,
    /// Results with a known code whose value could not be read (unknown unit, implausible).
    pub unreadable: u64,
    /// Results the rules read (WBC, ANC, blasts, temperatures up to `as_of`, any readable or
    /// not), over every patient.
    pub results_read: u64,
    /// Latest ANC of every patient, by bin of 0.25 x10^9/L (the last bin is 5 and over).
    pub anc_histogram: Vec<u64>,
    /// Patients re-screened exactly.
    pub candidates: u64,
}

/// Width and count of the ANC histogram bins.
pub const ANC_BIN: f64 = 0.25;
/// See [`ANC_BIN`].
pub const ANC_BINS: usize = 21;

/// A session with leuko's functions: embedded, or connected to a Ballista scheduler.
///
/// # Errors
/// A bad cluster URL or a connection failure.
pub async fn session(config: &Config) -> Result<SessionContext, String> {
    match &config.cluster {
        Some(url) => crate::cluster::client(url).await,
        None => {
            let mut session = SessionConfig::new().with_information_schema(false);
            // Late materialisation: the scan decodes a row's other columns only when its time
            // and code pass the filter (most lab rows are analytes the rules do not read).
            session.options_mut().execution.parquet.pushdown_filters = true;
            if let Some(p) = config.partitions {
                session = session.with_target_partitions(p.max(1));
            }
            let mut runtime = RuntimeEnvBuilder::new();
            if config.memory_limit.is_some() {
                // A hash join cannot spill; a sort-merge join can, so the joins of per-patient
                // rows (one per patient: millions) stay within the limit too.
                session.options_mut().optimizer.prefer_hash_join = false;
            }
            if let Some(limit) = config.memory_limit {
                runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
            }
            let runtime = runtime.build_arc().map_err(|e| e.to_string())?;
            let ctx = SessionContext::new_with_config_rt(session, runtime);
            udf::register(&ctx);
            Ok(ctx)
        }
    }
}

/// Runs the screen; `progress` receives messages and the lab codes classified so far (a
/// measure of progress: a row's code may be classified more than once).
///
/// # Errors
/// Any failure to read the extract or run the SQL, with the file or field named.
pub async fn run(config: &Config, progress: &dyn Fn(&str, u64)) -> Result<Worklist, String> {
    let kb = udf::kb().map_err(|e| e.to_string())?;
    let rules = Rules::load(kb)?;
    let ctx = session(config).await?;
    extract::register(&ctx, &config.sources, &config.mapping).await?;
    let as_of = match config.as_of {
        Some(t) => t,
        None => {
            progress("finding the latest result time", 0);
            extract::latest_time(&ctx).await?
        }
    };
    let mut list = Worklist {
        as_of,
        anc_histogram: vec![0; ANC_BINS],
        ..Worklist::default()
    };
    ROWS_SEEN.store(0, Ordering::Relaxed);
    progress("screening", 0);
    let started = std::time::Instant::now();
    let fast = stats_sql(kb, &rules, as_of, &Pass::Fast)?;
    let mut candidates = Vec::new();
    let mut hits = Vec::new();
    for_each_row(
        &ctx,
        &fast,
        |b| read_batch(b, &rules, &mut hits, Some((&mut candidates, &mut list))),
        progress,
    )
    .await?;
    let candidate_set: BTreeSet<String> = candidates.iter().cloned().collect();
    hits.retain(|i: &Item| !candidate_set.contains(&i.patient_id));
    list.candidates = candidates.len() as u64;
    tracing::info!(
        patients = list.patients,
        results = list.results_read,
        candidates = list.candidates,
        ms = started.elapsed().as_millis(),
        "fast pass done"
    );
    let started = std::time::Instant::now();
    // The exact pass, in chunks so that the IN list and the copy stay small. The statement
    // reads the lab rows several times (DataFusion does not materialise a CTE), so the embedded
    // engine first copies the chunk's rows into memory in one scan; on a cluster the executors
    // read the files.
    for chunk in candidates.chunks(20_000) {
        progress(
            "re-screening corrected and persistent candidates exactly",
            ROWS_SEEN.load(Ordering::Relaxed),
        );
        let labs = if config.cluster.is_none() {
            copy_labs(&ctx, chunk).await?
        } else {
            "labs".to_owned()
        };
        let pass = Pass::Exact {
            ids: chunk.to_vec(),
            labs,
        };
        let sql = stats_sql(kb, &rules, as_of, &pass)?;
        for_each_row(
            &ctx,
            &sql,
            |b| read_batch(b, &rules, &mut hits, None),
            progress,
        )
        .await?;
    }
    tracing::info!(
        candidates = list.candidates,
        ms = started.elapsed().as_millis(),
        "exact pass done"
    );
    hits.sort_by(|a, b| {
        let rank = |l: &str| std::cmp::Reverse(Level::parse(l));
        (rank(&a.level), &a.patient_id, &a.rule).cmp(&(rank(&b.level), &b.patient_id, &b.rule))
    });
    hits.dedup();
    list.items = hits;
    if let Some(path) = &config.assessments {
        progress(
            "assessing the flagged patients with the engine",
            ROWS_SEEN.load(Ordering::Relaxed),
        );
        write_assessments(&ctx, &list, path).await?;
    }
    Ok(list)
}

/// The plan DataFusion (or Ballista) makes of the fast pass, for a user tuning a large screen:
/// `EXPLAIN` of the statement, as text.
///
/// # Errors
/// As [`run`].
pub async fn explain(config: &Config) -> Result<String, String> {
    let kb = udf::kb().map_err(|e| e.to_string())?;
    let rules = Rules::load(kb)?;
    let ctx = session(config).await?;
    extract::register(&ctx, &config.sources, &config.mapping).await?;
    let as_of = match config.as_of {
        Some(t) => t,
        None => extract::latest_time(&ctx).await?,
    };
    let sql = stats_sql(kb, &rules, as_of, &Pass::Fast)?;
    let batches = ctx
        .sql(&format!("EXPLAIN {sql}"))
        .await
        .map_err(|e| format!("planning the screen: {e}"))?
        .collect()
        .await
        .map_err(|e| format!("planning the screen: {e}"))?;
    let mut out = String::new();
    for b in &batches {
        let (kinds, plans) = (text(b, "plan_type")?, text(b, "plan")?);
        for i in 0..b.num_rows() {
            out.push_str(&format!("{}:\n{}\n\n", kinds.value(i), plans.value(i)));
        }
    }
    Ok(out)
}

/// Copies these patients' lab rows into an in-memory table, `labs_exact`, and names it.
async fn copy_labs(ctx: &SessionContext, ids: &[String]) -> Result<String, String> {
    const TABLE: &str = "labs_exact";
    let df = ctx
        .sql(&format!("SELECT * FROM labs {}", in_list(ids)))
        .await
        .map_err(|e| format!("planning the exact pass: {e}"))?;
    let copy = df
        .cache()
        .await
        .map_err(|e| format!("running the exact pass: {e}"))?;
    ctx.deregister_table(TABLE).map_err(|e| e.to_string())?;
    ctx.register_table(TABLE, copy.into_view())
        .map_err(|e| e.to_string())?;
    Ok(TABLE.to_owned())
}

async fn for_each_row(
    ctx: &SessionContext,
    sql: &str,
    mut f: impl FnMut(&RecordBatch) -> Result<(), String>,
    progress: &dyn Fn(&str, u64),
) -> Result<(), String> {
    let df = ctx
        .sql(sql)
        .await
        .map_err(|e| format!("planning the screen: {e}"))?;
    let mut stream = df
        .execute_stream()
        .await
        .map_err(|e| format!("running the screen: {e}"))?;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(|e| format!("running the screen: {e}"))?;
        f(&batch)?;
        progress("screening", ROWS_SEEN.load(Ordering::Relaxed));
    }
    Ok(())
}

fn column<'b, T: 'static>(b: &'b RecordBatch, name: &str) -> Result<&'b T, String> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| format!("screen output: column {name} missing or of the wrong type"))
}

/// A text column as `StringArray`, whatever its string layout (`Utf8View`, `LargeUtf8`).
fn text(b: &RecordBatch, name: &str) -> Result<StringArray, String> {
    let c = b
        .column_by_name(name)
        .ok_or_else(|| format!("screen output: no column {name}"))?;
    let c = datafusion::arrow::compute::cast(c, &DataType::Utf8).map_err(|e| e.to_string())?;
    c.as_string_opt::<i32>()
        .cloned()
        .ok_or_else(|| format!("screen output: column {name} is not text"))
}

fn read_batch(
    b: &RecordBatch,
    rules: &Rules,
    hits: &mut Vec<Item>,
    fast: Option<(&mut Vec<String>, &mut Worklist)>,
) -> Result<(), String> {
    let ids = text(b, "patient_id")?;
    if let Some((candidates, list)) = fast {
        let anc = column::<Float64Array>(b, "anc_last_v")?;
        let unreadable = column::<Int64Array>(b, "n_unreadable")?;
        let results = column::<Int64Array>(b, "n_results")?;
        let candidate = column::<BooleanArray>(b, "candidate")?;
        for i in 0..b.num_rows() {
            if !unreadable.is_null(i) {
                list.patients += 1;
                list.unreadable += u64::try_from(unreadable.value(i)).unwrap_or(0);
                list.results_read += u64::try_from(results.value(i)).unwrap_or(0);
            }
            if !anc.is_null(i) {
                let bin = (anc.value(i) / ANC_BIN).floor().max(0.0) as usize;
                if let Some(slot) = list.anc_histogram.get_mut(bin.min(ANC_BINS - 1)) {
                    *slot += 1;
                }
            }
            if !candidate.is_null(i) && candidate.value(i) && !ids.is_null(i) {
                candidates.push(ids.value(i).to_owned());
            }
        }
    }
    for rule in &rules.rules {
        let level = text(b, &rule.id)?;
        let reason = text(b, &format!("{}_reason", rule.id))?;
        for i in 0..b.num_rows() {
            if level.is_null(i) || ids.is_null(i) {
                continue;
            }
            hits.push(Item {
                patient_id: ids.value(i).to_owned(),
                rule: rule.id.clone(),
                level: level.value(i).to_owned(),
                reason: if reason.is_null(i) {
                    String::new()
                } else {
                    reason.value(i).to_owned()
                },
            });
        }
    }
    Ok(())
}

/// The worklist as an Arrow batch: `patient_id, rule, level, reason`.
pub fn to_batch(items: &[Item]) -> Result<RecordBatch, String> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("patient_id", DataType::Utf8, false),
        Field::new("rule", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
    ]));
    let mut cols = [
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    ];
    for it in items {
        cols[0].append_value(&it.patient_id);
        cols[1].append_value(&it.rule);
        cols[2].append_value(&it.level);
        cols[3].append_value(&it.reason);
    }
    let arrays = cols
        .iter_mut()
        .map(|c| Arc::new(c.finish()) as Arc<dyn Array>)
        .collect();
    RecordBatch::try_new(schema, arrays).map_err(|e| e.to_string())
}

/// Writes the worklist; the format follows the extension (`.csv` or `.parquet`).
///
/// # Errors
/// An unknown extension or a write failure, naming the path.
pub fn write_worklist(items: &[Item], path: &Path) -> Result<(), String> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let batch = to_batch(items)?;
    let file = || std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()));
    match ext.as_deref() {
        Some("csv") => {
            let mut w = datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(file()?);
            w.write(&batch)
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        Some("parquet") => {
            let mut w =
                datafusion::parquet::arrow::ArrowWriter::try_new(file()?, batch.schema(), None)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            w.write(&batch)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            w.close()
                .map(|_| ())
                .map_err(|e| format!("{}: {e}", path.display()))
        }
        _ => Err(format!(
            "--out {}: unknown extension; use .csv or .parquet",
            path.display()
        )),
    }
}

/// Runs `leuko_assess` for every flagged patient and writes one JSON object per line:
/// `{"patient_id": …, "assessment": {…}}`.
async fn write_assessments(
    ctx: &SessionContext,
    list: &Worklist,
    path: &Path,
) -> Result<(), String> {
    use std::io::Write;
    let ids: BTreeSet<&str> = list.items.iter().map(|i| i.patient_id.as_str()).collect();
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let ids: Vec<&str> = ids.into_iter().collect();
    for chunk in ids.chunks(5_000) {
        let list_sql = chunk
            .iter()
            .map(|s| quote(s))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "WITH p AS (SELECT patient_id, min(birth_date) AS birth_date, min(sex) AS sex, bool_or(duffy_null) AS duffy_null FROM patients WHERE patient_id IN ({list_sql}) GROUP BY patient_id),
m AS (SELECT patient_id, string_agg(drug || '|' || coalesce(to_char(to_timestamp_micros(start), '%Y-%m-%dT%H:%M:%SZ'), '') || '|' || coalesce(to_char(to_timestamp_micros(stop), '%Y-%m-%dT%H:%M:%SZ'), ''), ';') AS meds FROM medications WHERE patient_id IN ({list_sql}) GROUP BY patient_id)
SELECT l.patient_id, leuko_assess(to_timestamp_micros(l.t), l.code, l.value, l.unit, CASE WHEN l.corrected THEN 'C' ELSE 'F' END, p.birth_date, p.sex, p.duffy_null, m.meds, {as_of}) AS assessment
FROM labs l LEFT JOIN p ON p.patient_id = l.patient_id LEFT JOIN m ON m.patient_id = l.patient_id
WHERE l.patient_id IN ({list_sql})
GROUP BY l.patient_id ORDER BY l.patient_id",
            as_of = list.as_of
        );
        let batches = ctx
            .sql(&sql)
            .await
            .map_err(|e| format!("planning the assessments: {e}"))?
            .collect()
            .await
            .map_err(|e| format!("assessing: {e}"))?;
        for b in &batches {
            let ids = text(b, "patient_id")?;
            let json = text(b, "assessment")?;
            for i in 0..b.num_rows() {
                let line = serde_json::json!({
                    "patient_id": ids.value(i),
                    "assessment": serde_json::from_str::<serde_json::Value>(json.value(i)).map_err(|e| e.to_string())?,
                });
                writeln!(out, "{line}").map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    out.flush().map_err(|e| format!("{}: {e}", path.display()))
}

/// Counts by rule and level, for the summary.
pub fn counts(items: &[Item]) -> BTreeMap<(String, String), u64> {
    let mut m = BTreeMap::new();
    for it in items {
        *m.entry((it.rule.clone(), it.level.clone())).or_insert(0) += 1;
    }
    m
}

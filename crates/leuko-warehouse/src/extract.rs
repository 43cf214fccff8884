//! Reading a warehouse extract: CSV or Parquet files (by extension), with a column mapping.
//!
//! | table | role (default column name) | type |
//! |---|---|---|
//! | labs (required) | `patient_id`, `time`, `code` (LOINC or local), `value`, `unit`, `status` (optional: `C` = corrected, `F`/`P` …) | text, timestamp (RFC 3339; no zone = UTC), text, number, text, text |
//! | medications | `patient_id`, `drug` (name or brand), `start`, `stop` (empty while active) | text, text, timestamp, timestamp |
//! | patients | `patient_id`, `birth_date`, `sex` (`female`/`male`/`f`/`m`), `duffy_null` (`true`/`false`/empty = unknown) | text, date, text, boolean |
//!
//! A mapping entry `labs.time=collected_at` reads the role `time` of `labs` from the column
//! `collected_at`. Each file is registered as `<table>_raw` and a view `<table>` gives the
//! standard columns: `t`, `start` and `stop` as microseconds since the epoch (UTC), `corrected`
//! as a boolean. A missing optional table is an empty view.

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::synth::schema::timestamp;

/// The extract's files.
#[derive(Debug, Clone)]
pub struct Sources {
    /// Lab results.
    pub labs: PathBuf,
    /// Medicines.
    pub medications: Option<PathBuf>,
    /// Demographics.
    pub patients: Option<PathBuf>,
}

/// A role: its default column name, its type, and whether it is required.
type Role = (&'static str, Kind, bool);

/// Roles of each table.
const ROLES: [(&str, &[Role]); 3] = [
    (
        "labs",
        &[
            ("patient_id", Kind::Text, true),
            ("time", Kind::Time, true),
            ("code", Kind::Text, true),
            ("value", Kind::Number, true),
            ("unit", Kind::Text, true),
            ("status", Kind::Text, false),
        ],
    ),
    (
        "medications",
        &[
            ("patient_id", Kind::Text, true),
            ("drug", Kind::Text, true),
            ("start", Kind::Time, true),
            ("stop", Kind::Time, false),
        ],
    ),
    (
        "patients",
        &[
            ("patient_id", Kind::Text, true),
            ("birth_date", Kind::Date, false),
            ("sex", Kind::Text, false),
            ("duffy_null", Kind::Bool, false),
        ],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Time,
    Number,
    Date,
    Bool,
}

impl Kind {
    fn arrow(self) -> DataType {
        match self {
            Kind::Text => DataType::Utf8,
            Kind::Time => timestamp(),
            Kind::Number => DataType::Float64,
            Kind::Date => DataType::Date32,
            Kind::Bool => DataType::Boolean,
        }
    }
}

/// Column names by `table.role`, and the extract's local lab codes.
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    names: BTreeMap<String, String>,
    codes: LocalCodes,
}

impl Mapping {
    /// Parses `table.role=column` entries.
    ///
    /// # Errors
    /// An entry without `=`, or an unknown table or role (the message lists the known ones).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Mapping, String> {
        let mut names = BTreeMap::new();
        for e in entries {
            let e = e.as_ref();
            let (key, column) = e
                .split_once('=')
                .ok_or_else(|| format!("--map {e:?}: expected table.role=column"))?;
            let (table, role) = key
                .split_once('.')
                .ok_or_else(|| format!("--map {e:?}: expected table.role=column"))?;
            let roles = ROLES
                .iter()
                .find(|(t, _)| *t == table)
                .ok_or_else(|| {
                    format!("--map {e:?}: unknown table {table:?} (labs, medications, patients)")
                })?
                .1;
            if !roles.iter().any(|(r, _, _)| *r == role) {
                let known: Vec<&str> = roles.iter().map(|(r, _, _)| *r).collect();
                return Err(format!(
                    "--map {e:?}: unknown role {role:?} of {table} ({})",
                    known.join(", ")
                ));
            }
            names.insert(key.to_owned(), column.trim().to_owned());
        }
        Ok(Mapping {
            names,
            codes: LocalCodes::default(),
        })
    }

    /// The same mapping, reading the lab codes through `codes` first.
    #[must_use]
    pub fn with_codes(self, codes: LocalCodes) -> Mapping {
        Mapping { codes, ..self }
    }

    fn column<'a>(&'a self, table: &str, role: &'a str) -> &'a str {
        self.names
            .get(&format!("{table}.{role}"))
            .map_or(role, String::as_str)
    }
}

/// A laboratory's own test codes (`leuko screen --codes FILE`), in the same file format as
/// `leuko serve --codes` and `leuko mllp --codes` read: `CODE,ANALYTE` lines, where ANALYTE is
/// an analyte id (`wbc`, `anc`, …) or a LOINC code leuko knows, and `#` starts a comment.
///
/// The labs view reads `code` through this table (each local code becomes its analyte's LOINC
/// code, in a `CASE` in the SQL, so a Ballista executor needs no state for it); a code not in the
/// table is read as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalCodes {
    pairs: BTreeMap<String, String>,
}

impl LocalCodes {
    /// Reads the table.
    ///
    /// # Errors
    /// An unreadable file, a line that is not `CODE,ANALYTE`, an empty code, an analyte leuko
    /// does not know, or a code given twice with different analytes, naming the file, line and
    /// value.
    pub fn read(path: &Path, kb: &leuko_kb::Knowledge) -> Result<LocalCodes, String> {
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let mut pairs = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (code, target) = line
                .split_once(',')
                .ok_or_else(|| format!("{name} line {n}: {line:?} is not CODE,ANALYTE"))?;
            let (code, target) = (code.trim(), target.trim());
            if code.is_empty() {
                return Err(format!("{name} line {n}: the code is empty"));
            }
            let analyte = leuko_kb::AnalyteId::parse(target)
                .and_then(|id| kb.analyte(id))
                .or_else(|| kb.analyte_by_loinc(target))
                .ok_or_else(|| {
                    format!(
                        "{name} line {n}: {target:?} (for code {code:?}) is not an analyte id or a LOINC code leuko knows"
                    )
                })?;
            let loinc = analyte.loinc.first().ok_or_else(|| {
                format!("{name} line {n}: analyte {target:?} has no LOINC code to read it by")
            })?;
            if let Some(before) = pairs.insert(code.to_owned(), loinc.clone())
                && &before != loinc
            {
                return Err(format!(
                    "{name} line {n}: code {code:?} is mapped twice, to different analytes"
                ));
            }
        }
        Ok(LocalCodes { pairs })
    }

    /// The SQL that reads a code column through the table.
    fn sql(&self, column: &str) -> String {
        if self.pairs.is_empty() {
            return column.to_owned();
        }
        let whens: Vec<String> = self
            .pairs
            .iter()
            .map(|(code, loinc)| {
                format!(
                    "WHEN {} THEN {}",
                    crate::rules::quote(code),
                    crate::rules::quote(loinc)
                )
            })
            .collect();
        format!("CASE trim({column}) {} ELSE {column} END", whens.join(" "))
    }

    /// How many codes the table maps.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The file format by extension.
fn is_parquet(path: &Path) -> Result<bool, String> {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("parquet") => Ok(true),
        Some("csv") => Ok(false),
        other => Err(format!(
            "{}: unknown extension {:?}; expected .csv or .parquet",
            path.display(),
            other.unwrap_or("")
        )),
    }
}

fn csv_header(path: &Path) -> Result<Vec<String>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut line = String::new();
    BufReader::new(file)
        .read_line(&mut line)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if line.trim().is_empty() {
        return Err(format!(
            "{}: empty file (a header row is required)",
            path.display()
        ));
    }
    Ok(line
        .trim_end_matches(['\r', '\n'])
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .collect())
}

/// Registers the extract's tables and views on a session.
///
/// # Errors
/// A missing file or column, a bad extension, or a DataFusion error, naming the file.
pub async fn register(
    ctx: &SessionContext,
    sources: &Sources,
    mapping: &Mapping,
) -> Result<(), String> {
    let files = [
        ("labs", Some(&sources.labs)),
        ("medications", sources.medications.as_ref()),
        ("patients", sources.patients.as_ref()),
    ];
    for ((table, path), (_, roles)) in files.into_iter().zip(ROLES) {
        let view = match path {
            Some(path) => register_file(ctx, table, path, roles, mapping).await?,
            None => empty_view(table, roles),
        };
        ctx.sql(&format!("CREATE VIEW {table} AS {view}"))
            .await
            .map_err(|e| format!("{table}: {e}"))?;
    }
    Ok(())
}

async fn register_file(
    ctx: &SessionContext,
    table: &str,
    path: &Path,
    roles: &[Role],
    mapping: &Mapping,
) -> Result<String, String> {
    let raw = format!("{table}_raw");
    let location = path
        .to_str()
        .ok_or_else(|| format!("{}: the path is not UTF-8", path.display()))?;
    let columns: Vec<String> = if is_parquet(path)? {
        ctx.register_parquet(&raw, location, ParquetReadOptions::default())
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let df = ctx
            .table(&raw)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        df.schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    } else {
        let header = csv_header(path)?;
        let fields: Vec<Field> = header
            .iter()
            .map(|name| {
                let kind = roles
                    .iter()
                    .find(|(role, _, _)| mapping.column(table, role) == name)
                    .map_or(Kind::Text, |(_, k, _)| *k);
                Field::new(name, kind.arrow(), true)
            })
            .collect();
        let schema = Schema::new(fields);
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| format!(".{e}"))
            .unwrap_or_default();
        let options = CsvReadOptions::new()
            .has_header(true)
            .schema(&schema)
            .file_extension(&ext);
        ctx.register_csv(&raw, location, options)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        header
    };
    let mut select = Vec::new();
    for (role, kind, required) in roles {
        let column = mapping.column(table, role);
        let present = columns.iter().any(|c| c == column);
        if !present && *required {
            return Err(format!(
                "{}: no column {column:?} for {table}.{role} (columns: {}; map another with --map {table}.{role}=NAME)",
                path.display(),
                columns.join(", ")
            ));
        }
        let c = format!("\"{}\"", column.replace('"', "\"\""));
        let c = if *role == "code" && present {
            mapping.codes.sql(&format!("CAST({c} AS VARCHAR)"))
        } else {
            c
        };
        select.push(standard(role, *kind, present.then_some(c.as_str())));
    }
    Ok(format!("SELECT {} FROM {raw}", select.join(", ")))
}

/// One standard column from its source column (or its default when absent).
fn standard(role: &str, kind: Kind, column: Option<&str>) -> String {
    match (role, kind, column) {
        ("status", _, Some(c)) => {
            format!("coalesce(upper(trim(CAST({c} AS VARCHAR))) = 'C', false) AS corrected")
        }
        ("status", _, None) => "false AS corrected".into(),
        (role, Kind::Time, Some(c)) => {
            let name = if role == "time" { "t" } else { role };
            format!("CAST(to_timestamp_micros({c}) AS BIGINT) AS {name}")
        }
        (role, Kind::Time, None) => {
            let name = if role == "time" { "t" } else { role };
            format!("CAST(NULL AS BIGINT) AS {name}")
        }
        (role, Kind::Text, Some(c)) => format!("CAST({c} AS VARCHAR) AS {role}"),
        (role, Kind::Number, Some(c)) => format!("CAST({c} AS DOUBLE) AS {role}"),
        (role, Kind::Date, Some(c)) => format!("CAST({c} AS DATE) AS {role}"),
        (role, Kind::Bool, Some(c)) => format!("CAST({c} AS BOOLEAN) AS {role}"),
        (role, kind, None) => format!("CAST(NULL AS {}) AS {role}", sql_type(kind)),
    }
}

fn sql_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "VARCHAR",
        Kind::Time => "BIGINT",
        Kind::Number => "DOUBLE",
        Kind::Date => "DATE",
        Kind::Bool => "BOOLEAN",
    }
}

fn empty_view(table: &str, roles: &[Role]) -> String {
    let cols: Vec<String> = roles
        .iter()
        .map(|(role, kind, _)| standard(role, *kind, None))
        .collect();
    let _ = table;
    format!("SELECT {} WHERE false", cols.join(", "))
}

/// The latest result time in the labs, microseconds (the default `as_of`).
///
/// # Errors
/// A query error, or an extract without results.
pub async fn latest_time(ctx: &SessionContext) -> Result<i64, String> {
    use datafusion::arrow::array::{Array, Int64Array};
    let batches = ctx
        .sql("SELECT max(t) AS t FROM labs")
        .await
        .map_err(|e| e.to_string())?
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<Int64Array>().cloned())
        .find_map(|a| (a.len() == 1 && !a.is_null(0)).then(|| a.value(0)))
        .ok_or_else(|| "labs: no results with a time; pass --asof".to_owned())
}

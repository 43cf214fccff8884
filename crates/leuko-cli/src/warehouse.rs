//! `leuko synth` and `leuko screen`: the warehouse commands. They need DataFusion, which is
//! behind the `warehouse` feature (`cargo build --release -p leuko-cli --features warehouse`)
//! so that the rest of the CLI builds fast; without it they explain how to get it.

use clap::{Args, ValueEnum};

/// `leuko synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Generate patients until at least this many lab rows are written.
    #[arg(long)]
    pub rows: u64,
    /// The seed: the same seed gives the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output folder (created when missing).
    #[arg(long)]
    pub out: String,
    /// File format.
    #[arg(long, value_enum, default_value_t = TableFormat::Csv)]
    pub format: TableFormat,
    /// The end of the time axis (RFC 3339); default 2026-06-30T00:00:00Z.
    #[arg(long)]
    pub asof: Option<String>,
}

/// Table file format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TableFormat {
    /// Comma-separated values.
    Csv,
    /// Apache Parquet.
    Parquet,
}

/// `leuko screen`.
#[derive(Debug, Args)]
pub struct ScreenArgs {
    /// Lab results: .csv or .parquet. Required unless --print-sql.
    #[arg(long, required_unless_present = "print_sql")]
    pub labs: Option<String>,
    /// Medicines: .csv or .parquet.
    #[arg(long)]
    pub medications: Option<String>,
    /// Demographics: .csv or .parquet.
    #[arg(long)]
    pub patients: Option<String>,
    /// Screen as of this time (RFC 3339 or a date); default: the latest result time.
    #[arg(long)]
    pub asof: Option<String>,
    /// The worklist: .csv or .parquet (`patient_id,rule,level,reason`). Required unless
    /// --print-sql.
    #[arg(long, required_unless_present = "print_sql")]
    pub out: Option<String>,
    /// Run on a Ballista cluster: df://HOST:PORT of a leuko-scheduler.
    #[arg(long)]
    pub cluster: Option<String>,
    /// Column mapping entries `table.role=column` (e.g. labs.time=collected_at).
    #[arg(long = "map", value_name = "TABLE.ROLE=COLUMN")]
    pub map: Vec<String>,
    /// The laboratory's own test codes: `CODE,ANALYTE` lines (an analyte id or a LOINC code; `#`
    /// comments), as for `leuko serve --codes`. Codes not in the file are read as they are.
    #[arg(long, value_name = "FILE")]
    pub codes: Option<String>,
    /// HTML summary path; default: the worklist path with .html.
    #[arg(long)]
    pub summary: Option<String>,
    /// Also write the engine's full assessment of every flagged patient (JSON lines).
    #[arg(long)]
    pub assessments: Option<String>,
    /// Memory for the embedded engine's grouping and joins, in MiB: beyond it they spill to
    /// the temporary directory, so memory stays flat however large the extract. 0: no limit.
    #[arg(long, default_value_t = 1024)]
    pub memory_mb: usize,
    /// Threads of the embedded engine; default: the cores.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Print the rules as one SQL statement (the exact pass over every patient, for review or
    /// for another engine) and exit; needs --asof.
    #[arg(long)]
    pub print_sql: bool,
    /// Print the engine's plan of the screen (DataFusion's EXPLAIN, embedded or on the cluster)
    /// and exit.
    #[arg(long)]
    pub explain: bool,
}

#[cfg(feature = "warehouse")]
mod run {
    use std::io::IsTerminal;
    use std::path::PathBuf;

    use indicatif::{ProgressBar, ProgressStyle};
    use leuko_warehouse::{civil, extract, screen, summary, synth};

    use super::{ScreenArgs, SynthArgs, TableFormat};

    fn time_arg(flag: &str, s: &str) -> Result<i64, String> {
        civil::parse_timestamp(s).ok_or_else(|| {
            format!("{flag}: {s:?} is not an RFC 3339 date-time (2026-06-30T00:00:00Z) or a date")
        })
    }

    fn bar(quiet: bool) -> ProgressBar {
        if quiet || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    }

    pub fn synth(a: &SynthArgs) -> Result<String, String> {
        let format = match a.format {
            TableFormat::Csv => synth::Format::Csv,
            TableFormat::Parquet => synth::Format::Parquet,
        };
        let mut config = synth::Config::new(a.rows, a.seed, PathBuf::from(&a.out), format);
        if let Some(t) = &a.asof {
            config.as_of_us = time_arg("--asof", t)?;
        }
        let pb = bar(false);
        pb.set_length(a.rows);
        let mut last = 0u64;
        let s = synth::generate(&config, |rows| {
            if rows - last >= 100_000 {
                last = rows;
                pb.set_message(format!("{rows} of {} lab rows", a.rows));
            }
        })
        .map_err(|e| format!("{e:#}"))?;
        pb.finish_and_clear();
        Ok(format!(
            "wrote {} patients ({} planted), {} lab rows, {} medication rows to {}\n",
            s.patients, s.planted, s.lab_rows, s.medication_rows, a.out
        ))
    }

    pub fn screen(a: &ScreenArgs) -> Result<String, String> {
        if a.print_sql {
            let as_of = a
                .asof
                .as_deref()
                .ok_or("--print-sql needs --asof")
                .and_then(|t| time_arg("--asof", t).map_err(|_| "--asof: not a date-time"))?;
            let kb = leuko_warehouse::udf::kb().map_err(|e| e.to_string())?;
            let rules = leuko_warehouse::rules::Rules::load(kb)?;
            return leuko_warehouse::rules::stats_sql(
                kb,
                &rules,
                as_of,
                &leuko_warehouse::rules::Pass::ExactAll,
            )
            .map(|s| s + "\n");
        }
        let out_arg = a.out.clone().unwrap_or_default();
        let out = PathBuf::from(&out_arg);
        let mut mapping = extract::Mapping::parse(&a.map)?;
        if let Some(path) = &a.codes {
            let kb = leuko_warehouse::udf::kb().map_err(|e| e.to_string())?;
            mapping = mapping.with_codes(extract::LocalCodes::read(path.as_ref(), kb)?);
        }
        let config = screen::Config {
            sources: extract::Sources {
                labs: PathBuf::from(a.labs.clone().unwrap_or_default()),
                medications: a.medications.as_ref().map(PathBuf::from),
                patients: a.patients.as_ref().map(PathBuf::from),
            },
            mapping,
            as_of: a
                .asof
                .as_deref()
                .map(|t| time_arg("--asof", t))
                .transpose()?,
            out: out.clone(),
            cluster: a.cluster.clone(),
            summary: a.summary.as_ref().map(PathBuf::from),
            assessments: a.assessments.as_ref().map(PathBuf::from),
            memory_limit: (a.memory_mb > 0).then(|| a.memory_mb.saturating_mul(1024 * 1024)),
            partitions: a.threads,
        };
        // Fail on a bad --out before the work, not after.
        match out.extension().and_then(|e| e.to_str()) {
            Some("csv" | "parquet") => {}
            _ => return Err(format!("--out {out_arg}: use a .csv or .parquet path")),
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("runtime: {e}"))?;
        if a.explain {
            return runtime.block_on(screen::explain(&config));
        }
        let pb = bar(a.quiet);
        let progress = |stage: &str, rows: u64| {
            if rows > 0 {
                pb.set_message(format!("{stage}: {rows} lab codes classified"));
            } else {
                pb.set_message(stage.to_owned());
            }
        };
        let list = runtime.block_on(screen::run(&config, &progress))?;
        pb.finish_and_clear();
        screen::write_worklist(&list.items, &out)?;
        let html_path = config
            .summary
            .clone()
            .unwrap_or_else(|| out.with_extension("html"));
        std::fs::write(
            &html_path,
            summary::html(&list, a.labs.as_deref().unwrap_or("")),
        )
        .map_err(|e| format!("{}: {e}", html_path.display()))?;
        let flagged: std::collections::BTreeSet<&str> =
            list.items.iter().map(|i| i.patient_id.as_str()).collect();
        let mut as_of = String::new();
        civil::format_timestamp(&mut as_of, list.as_of);
        Ok(format!(
            "screened {} patients as of {as_of}: {} flagged ({} rows) -> {}; summary {}{}\n",
            list.patients,
            flagged.len(),
            list.items.len(),
            out_arg,
            html_path.display(),
            if list.unreadable > 0 {
                format!(
                    "; {} results unreadable (unknown unit or implausible)",
                    list.unreadable
                )
            } else {
                String::new()
            }
        ))
    }
}

#[cfg(not(feature = "warehouse"))]
mod run {
    use super::{ScreenArgs, SynthArgs};

    const MISSING: &str = "this leuko was built without the warehouse feature (DataFusion); build it with: cargo build --release -p leuko-cli --features warehouse";

    pub fn synth(_: &SynthArgs) -> Result<String, String> {
        Err(MISSING.into())
    }

    pub fn screen(_: &ScreenArgs) -> Result<String, String> {
        Err(MISSING.into())
    }
}

pub use run::{screen, synth};

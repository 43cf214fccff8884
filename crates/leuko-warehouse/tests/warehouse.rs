//! End to end: `synth` writes a warehouse with planted cases, `screen` must list every case
//! the ground truth marks `flag` and none marked `quiet`; CSV and Parquet give the same
//! worklist; a local Ballista cluster (one scheduler, two executors) gives the same worklist
//! as the embedded engine.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use leuko_warehouse::extract::{LocalCodes, Mapping, Sources};
use leuko_warehouse::screen::{self, Item};
use leuko_warehouse::synth::{self, Format, Kind};

type Result<T> = std::result::Result<T, String>;

fn generate(dir: &Path, rows: u64, format: Format) -> Result<()> {
    let config = synth::Config::new(rows, 42, dir.to_path_buf(), format);
    synth::generate(&config, |_| {})
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

fn config(dir: &Path, ext: &str, cluster: Option<String>) -> screen::Config {
    screen::Config {
        sources: Sources {
            labs: dir.join(format!("labs.{ext}")),
            medications: Some(dir.join(format!("medications.{ext}"))),
            patients: Some(dir.join(format!("patients.{ext}"))),
        },
        mapping: Mapping::default(),
        as_of: None,
        out: dir.join("worklist.csv"),
        cluster,
        summary: None,
        assessments: None,
        memory_limit: None,
        partitions: Some(2),
    }
}

fn run(config: &screen::Config) -> Result<Vec<Item>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(screen::run(config, &|_, _| {}))
        .map(|l| l.items)
}

fn truth(dir: &Path) -> Result<BTreeMap<String, (String, String)>> {
    let text = std::fs::read_to_string(dir.join("truth.csv")).map_err(|e| e.to_string())?;
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("patient_id,label,expected"));
    Ok(lines
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((
                f.next()?.to_owned(),
                (f.next()?.to_owned(), f.next()?.to_owned()),
            ))
        })
        .collect())
}

#[test]
fn screen_finds_every_planted_case_and_no_quiet_control() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    generate(dir.path(), 60_000, Format::Csv)?;
    let items = run(&config(dir.path(), "csv", None))?;
    let truth = truth(dir.path())?;
    let flagged: BTreeSet<&str> = items.iter().map(|i| i.patient_id.as_str()).collect();
    let mut missed = Vec::new();
    let mut false_alarms = Vec::new();
    let mut seen_labels = BTreeSet::new();
    for (id, (label, expected)) in &truth {
        seen_labels.insert(label.as_str());
        match (expected.as_str(), flagged.contains(id.as_str())) {
            ("flag", false) => missed.push(format!("{id} {label}")),
            ("quiet", true) => {
                let why: Vec<String> = items
                    .iter()
                    .filter(|i| &i.patient_id == id)
                    .map(|i| format!("{}: {}", i.rule, i.reason))
                    .collect();
                false_alarms.push(format!("{id} {label}: {}", why.join("; ")));
            }
            _ => {}
        }
    }
    assert!(missed.is_empty(), "planted cases not listed: {missed:#?}");
    assert!(
        false_alarms.is_empty(),
        "quiet controls listed: {false_alarms:#?}"
    );
    for k in Kind::ALL {
        assert!(
            seen_labels.contains(k.label()),
            "no {} in the warehouse",
            k.label()
        );
    }
    // Every worklist patient is in the truth file, and each planted kind is found by the rule
    // meant for it.
    let rules_of = |label: &str| -> BTreeSet<String> {
        items
            .iter()
            .filter(|i| truth.get(&i.patient_id).is_some_and(|t| t.0 == label))
            .map(|i| i.rule.clone())
            .collect()
    };
    for (label, rule) in [
        ("febrile_neutropenia", "severe_neutropenia"),
        ("cyclic", "recurrent_severe_neutropenia"),
        ("leukaemia_like", "blasts"),
        ("b12_drift", "persistent_leukopenia"),
        ("persistent_unexplained", "persistent_leukopenia"),
        ("baseline_fall", "baseline_fall"),
        ("drug_induced_onset", "baseline_fall"),
        ("clozapine_overdue", "clozapine_overdue"),
        ("clozapine_interrupt", "clozapine_interrupt"),
        ("chemo_nadir", "chemo_nadir"),
        ("unit_variant_severe", "severe_neutropenia"),
        ("code_variant_severe", "severe_neutropenia"),
        ("corrected_to_low", "severe_neutropenia"),
    ] {
        assert!(
            rules_of(label).contains(rule),
            "{label}: {:?}",
            rules_of(label)
        );
    }
    let febrile: Vec<&Item> = items
        .iter()
        .filter(|i| {
            truth
                .get(&i.patient_id)
                .is_some_and(|t| t.0 == "febrile_neutropenia")
        })
        .filter(|i| i.rule == "severe_neutropenia")
        .collect();
    assert!(
        febrile.iter().all(|i| i.level == "emergency"),
        "{febrile:?}"
    );
    Ok(())
}

#[test]
fn csv_and_parquet_give_the_same_worklist() -> Result<()> {
    let csv = tempfile::tempdir().map_err(|e| e.to_string())?;
    let pq = tempfile::tempdir().map_err(|e| e.to_string())?;
    generate(csv.path(), 20_000, Format::Csv)?;
    generate(pq.path(), 20_000, Format::Parquet)?;
    let a = run(&config(csv.path(), "csv", None))?;
    let b = run(&config(pq.path(), "parquet", None))?;
    assert!(!a.is_empty());
    assert_eq!(a, b);
    Ok(())
}

#[test]
fn bad_input_is_named() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let labs = dir.path().join("labs.csv");
    std::fs::write(
        &labs,
        "pid,time,code,value,unit\nP1,2026-01-01T00:00:00Z,751-8,0.3,10*9/L\n",
    )
    .map_err(|e| e.to_string())?;
    let mut c = config(dir.path(), "csv", None);
    c.sources.medications = None;
    c.sources.patients = None;
    let err = run(&c).err().unwrap_or_default();
    assert!(
        err.contains("patient_id") && err.contains("--map labs.patient_id="),
        "{err}"
    );
    // With the mapping it reads, and the ANC of 0.3 is severe.
    c.mapping = Mapping::parse(&["labs.patient_id=pid"])?;
    let items = run(&c)?;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].rule, "severe_neutropenia");
    // A value that is not a number names the value.
    std::fs::write(
        &labs,
        "pid,time,code,value,unit\nP1,2026-01-01T00:00:00Z,751-8,abc,10*9/L\n",
    )
    .map_err(|e| e.to_string())?;
    let err = run(&c).err().unwrap_or_default();
    assert!(err.contains("abc"), "{err}");
    assert!(Mapping::parse(&["labs.when=x"]).is_err());
    Ok(())
}

#[test]
fn local_codes_are_read_through_the_code_table() -> Result<()> {
    let kb = leuko_warehouse::udf::kb().map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    generate(dir.path(), 20_000, Format::Csv)?;
    let expected = run(&config(dir.path(), "csv", None))?;
    assert!(expected.iter().any(|i| i.rule == "severe_neutropenia"));
    // The same extract under a laboratory's own opaque codes for the ANC and the WBC (a code
    // such as HAEM-NEUT would already be read by its name).
    let labs = dir.path().join("labs.csv");
    let text = std::fs::read_to_string(&labs).map_err(|e| e.to_string())?;
    let local = text
        .replace(",751-8,", ",LAB-1001,")
        .replace(",6690-2,", ",LAB-1002,");
    assert_ne!(local, text);
    std::fs::write(&labs, local).map_err(|e| e.to_string())?;
    let unread = run(&config(dir.path(), "csv", None))?;
    assert_ne!(unread, expected, "the local codes alone should not be read");
    let codes = dir.path().join("codes.csv");
    std::fs::write(
        &codes,
        "# local codes of our laboratory\nLAB-1001,anc\nLAB-1002,6690-2  # by LOINC\n",
    )
    .map_err(|e| e.to_string())?;
    let mut c = config(dir.path(), "csv", None);
    c.mapping = Mapping::default().with_codes(LocalCodes::read(&codes, kb)?);
    assert_eq!(run(&c)?, expected);
    // A bad table is refused with the line and the value.
    for (body, needle) in [
        ("X anc\n", "line 1: \"X anc\" is not CODE,ANALYTE"),
        ("X,anc\n,wbc\n", "line 2: the code is empty"),
        (
            "# c\nX,1234-5\n",
            "line 2: \"1234-5\" (for code \"X\") is not an analyte",
        ),
        ("X,anc\nX,wbc\n", "line 2: code \"X\" is mapped twice"),
    ] {
        std::fs::write(&codes, body).map_err(|e| e.to_string())?;
        let err = LocalCodes::read(&codes, kb).err().unwrap_or_default();
        assert!(err.contains(needle), "{body:?}: {err}");
    }
    Ok(())
}

/// A child process killed when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

fn spawn(bin: &str, args: &[String]) -> Result<Proc> {
    Command::new(bin)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map(Proc)
        .map_err(|e| format!("{bin}: {e}"))
}

fn wait_for_port(port: u16) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("nothing listens on {port}"))
}

#[test]
fn ballista_cluster_gives_the_embedded_worklist() -> Result<()> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    generate(dir.path(), 20_000, Format::Parquet)?;
    let embedded = run(&config(dir.path(), "parquet", None))?;

    let scheduler_port = free_port()?;
    let _scheduler = spawn(
        env!("CARGO_BIN_EXE_leuko-scheduler"),
        &["--port".into(), scheduler_port.to_string()],
    )?;
    wait_for_port(scheduler_port)?;
    let mut executors = Vec::new();
    for i in 0..2 {
        let work: PathBuf = dir.path().join(format!("executor-{i}"));
        std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
        let (port, grpc) = (free_port()?, free_port()?);
        executors.push(spawn(
            env!("CARGO_BIN_EXE_leuko-executor"),
            &[
                "--port".into(),
                port.to_string(),
                "--grpc-port".into(),
                grpc.to_string(),
                "--scheduler-port".into(),
                scheduler_port.to_string(),
                "--work-dir".into(),
                work.display().to_string(),
                "--concurrent-tasks".into(),
                "1".into(),
            ],
        )?);
        wait_for_port(port)?;
    }
    let cluster = run(&config(
        dir.path(),
        "parquet",
        Some(format!("df://127.0.0.1:{scheduler_port}")),
    ))?;
    assert!(!embedded.is_empty());
    assert_eq!(cluster, embedded);
    Ok(())
}

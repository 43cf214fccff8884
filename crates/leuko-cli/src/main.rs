//! `leuko`: the command line.
//!
//! Exit codes: 0 success; 2 bad input (the message names the field and the value); 3 an
//! internal fault (the knowledge base failed to load, output could not be written).

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use leuko_api::AssessmentJson;
use leuko_api::text::{Color, render};
use leuko_kb::Knowledge;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

mod warehouse;

#[derive(Parser)]
#[command(
    name = "leuko",
    version,
    about = "Assess a low white blood cell count: how low, how urgent, possible causes, what to check next."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assess a FHIR R4 Bundle or a leuko JSON record (file, or - for standard input).
    Assess {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The moment of assessment (RFC 3339); data after it is ignored. Default: now.
        #[arg(long)]
        asof: Option<String>,
        /// Threshold profile: `international` (neutropenia ANC < 1.5, default) or `seeds`
        /// (leukopenia < 4.0, neutropenia < 2.0).
        #[arg(long)]
        profile: Option<String>,
        /// Colour in text output.
        #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
        color: ColorChoice,
        /// Input file; `-` or nothing reads standard input.
        file: Option<String>,
    },
    /// Run the HTTP service with its web page (http://127.0.0.1:8080/ by default).
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// The history store: a file path or sqlite://PATH (SQLite), or postgres://… (PostgreSQL).
        #[arg(long, default_value = "leuko.db")]
        db: String,
        /// Log as JSON lines instead of text.
        #[arg(long)]
        json_logs: bool,
        /// Also receive HL7 v2 ORU^R01 results over MLLP on this address.
        #[arg(long)]
        mllp: Option<String>,
        /// Local result codes for HL7 v2: a file of `CODE,ANALYTE` lines (analyte ids as in
        /// `leuko schema`, e.g. `NEUT,anc`).
        #[arg(long)]
        codes: Option<String>,
        /// How CDS Hooks clients' bearer JWTs are checked: `strict` (401 on a missing or bad
        /// token), `tolerant` (logged and counted, then served) or `off`. Default: `strict`
        /// with `--cds-issuers`, otherwise `off` (with a warning).
        #[arg(long, value_parser = ["strict", "tolerant", "off"])]
        cds_auth: Option<String>,
        /// The trusted CDS clients: a TOML file with `base_url` (this service's public URL,
        /// which `aud` must name) and `[[issuer]]` tables (`iss`, `jwks` = a JWK Set file,
        /// optional `jku` = allowed URLs).
        #[arg(long)]
        cds_issuers: Option<String>,
    },
    /// Receive HL7 v2 ORU^R01 results over MLLP and store them in the patients' histories.
    Mllp {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:2575")]
        listen: String,
        /// The history store (as for `serve`).
        #[arg(long, default_value = "leuko.db")]
        db: String,
        /// Local result codes: a file of `CODE,ANALYTE` lines.
        #[arg(long)]
        codes: Option<String>,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Generate a synthetic lab warehouse with planted, labelled cases (needs the
    /// `warehouse` feature).
    Synth(warehouse::SynthArgs),
    /// Screen a lab warehouse extract and write the worklist (needs the `warehouse` feature).
    Screen(warehouse::ScreenArgs),
    /// Print the JSON Schema of leuko's own JSON record.
    Schema,
    /// Print the knowledge base's version, digest and size.
    Knowledge,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key; the secret is printed once and only its hash is stored.
    Create {
        /// read, write or admin.
        #[arg(long)]
        role: String,
        /// The history store (as for `serve`).
        #[arg(long, default_value = "leuko.db")]
        db: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    /// Readable in a terminal.
    Text,
    /// The assessment JSON of the contract.
    Json,
    /// A FHIR R4 Bundle: RiskAssessment, derived Observations, ServiceRequest proposals.
    Fhir,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// A failure with its exit code.
struct Failure {
    code: u8,
    message: String,
}

fn input_error(message: impl Into<String>) -> Failure {
    Failure {
        code: 2,
        message: message.into(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // One line: the field and the value.
            let line = f.message.replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "leuko: {line}");
            ExitCode::from(f.code)
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let kb = Knowledge::embedded().map_err(|e| Failure {
        code: 3,
        message: format!("knowledge base failed to load (a bug): {e}"),
    })?;
    let mut stdout = std::io::stdout().lock();
    let write = |out: &mut std::io::StdoutLock, text: &str| -> Result<(), Failure> {
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("writing standard output")
            .map_err(|e| Failure {
                code: 3,
                message: format!("{e:#}"),
            })
    };
    match cli.command {
        Command::Mllp { listen, db, codes } => {
            init_logs(false);
            let codes = read_codes(codes.as_deref())?;
            let store =
                leuko_store::open(&db).map_err(|e| input_error(format!("--db {db}: {e}")))?;
            let state = leuko_server::AppState::new(kb, store);
            let runtime = tokio::runtime::Runtime::new().map_err(|e| Failure {
                code: 3,
                message: format!("runtime: {e}"),
            })?;
            let served = runtime.block_on(async {
                let term = async {
                    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    {
                        Ok(mut s) => {
                            s.recv().await;
                        }
                        Err(_) => std::future::pending::<()>().await,
                    }
                };
                // A message in flight is stored and acknowledged, or not acknowledged at all:
                // stopping between the two makes the sender send it again (idempotent).
                tokio::select! {
                    r = leuko_server::mllp::serve(state.clone(), &listen, codes) => r,
                    _ = tokio::signal::ctrl_c() => Ok(()),
                    () = term => Ok(()),
                }
            });
            // As for `serve`: the store is dropped outside the runtime.
            drop(runtime);
            drop(state);
            served.map_err(|e| input_error(format!("--listen {listen}: {e}")))
        }
        Command::Serve {
            addr,
            db,
            json_logs,
            mllp,
            codes,
            cds_auth,
            cds_issuers,
        } => {
            init_logs(json_logs);
            let codes = read_codes(codes.as_deref())?;
            let auth = cds_auth_config(cds_auth.as_deref(), cds_issuers.as_deref())?;
            let store =
                leuko_store::open(&db).map_err(|e| input_error(format!("--db {db}: {e}")))?;
            let state = leuko_server::AppState::new(kb, store).with_cds_auth(auth);
            let runtime = tokio::runtime::Runtime::new().map_err(|e| Failure {
                code: 3,
                message: format!("runtime: {e}"),
            })?;
            let served = runtime.block_on(async {
                if let Some(mllp) = &mllp {
                    let listener = tokio::net::TcpListener::bind(mllp).await.map_err(|e| {
                        std::io::Error::new(e.kind(), format!("--mllp {mllp}: {e}"))
                    })?;
                    tokio::spawn(leuko_server::mllp::run(listener, state.clone(), codes));
                }
                leuko_server::serve(state.clone(), &addr).await
            });
            // The last reference to the store is dropped here, outside the runtime: the
            // PostgreSQL client must not be dropped inside an async context.
            drop(runtime);
            drop(state);
            served.map_err(|e| input_error(format!("--addr {addr}: {e}")))
        }
        Command::Keys {
            command: KeysCommand::Create { role, db },
        } => {
            let role = leuko_store::Role::parse(&role).ok_or_else(|| {
                input_error(format!("--role: {role:?} is not one of read, write, admin"))
            })?;
            let store =
                leuko_store::open(&db).map_err(|e| input_error(format!("--db {db}: {e}")))?;
            let (id, secret) =
                leuko_server::create_key(store.as_ref(), role, OffsetDateTime::now_utc()).map_err(
                    |e| Failure {
                        code: 3,
                        message: e,
                    },
                )?;
            write(&mut stdout, &format!("{secret}\n"))?;
            let _ = writeln!(
                std::io::stderr(),
                "created key {id} with role {}; the secret above is shown once",
                role.as_str()
            );
            Ok(())
        }
        Command::Synth(args) => {
            let summary = warehouse::synth(&args).map_err(input_error)?;
            write(&mut stdout, &summary)
        }
        Command::Screen(args) => {
            // The passes and their times, when asked for (LEUKO_LOG=info).
            if std::env::var_os("LEUKO_LOG").is_some() {
                init_logs(false);
            }
            let summary = warehouse::screen(&args).map_err(input_error)?;
            write(&mut stdout, &summary)
        }
        Command::Schema => write(&mut stdout, &leuko_api::record::schema_json()),
        Command::Knowledge => write(
            &mut stdout,
            &format!(
                "knowledge {} (digest {}): {} sources, {} causes, {} drugs, {} concepts, {} tests, {} rules\n",
                kb.version,
                kb.digest,
                kb.sources.len(),
                kb.causes.len(),
                kb.drugs.len(),
                kb.concepts.len(),
                kb.tests.len(),
                kb.rules.len()
            ),
        ),
        Command::Assess {
            format,
            asof,
            profile,
            color,
            file,
        } => {
            let as_of = match asof {
                Some(s) => OffsetDateTime::parse(&s, &Rfc3339).map_err(|_| {
                    input_error(format!(
                        "--asof: {s:?} is not an RFC 3339 date-time such as 2026-02-17T20:00:00Z"
                    ))
                })?,
                // The clock is read here, at the edge; the core takes `as_of` as a parameter.
                None => OffsetDateTime::now_utc(),
            };
            let bytes = read_input(file.as_deref())?;
            let record = read_record(&kb, &bytes, as_of)?;
            let assessment =
                leuko_core::assess(&kb, &record, as_of, &leuko_core::Options { profile })
                    .map_err(|e| input_error(format!("--profile: {e}")))?;
            let out = AssessmentJson::from_assessment(&kb, &assessment);
            let text = match format {
                Format::Fhir => {
                    let bundle =
                        leuko_fhir::write::assessment_bundle(&kb, &record, &assessment, None);
                    serde_json::to_string_pretty(&bundle).map_err(|e| Failure {
                        code: 3,
                        message: e.to_string(),
                    })? + "\n"
                }
                Format::Json => {
                    serde_json::to_string_pretty(&out).map_err(|e| Failure {
                        code: 3,
                        message: e.to_string(),
                    })? + "\n"
                }
                Format::Text => {
                    let color = match color {
                        ColorChoice::Always => Color::Always,
                        ColorChoice::Never => Color::Never,
                        ColorChoice::Auto
                            if std::io::stdout().is_terminal()
                                && std::env::var_os("NO_COLOR").is_none() =>
                        {
                            Color::Always
                        }
                        ColorChoice::Auto => Color::Never,
                    };
                    render(&out, color)
                }
            };
            write(&mut stdout, &text)
        }
    }
}

/// The CDS client check from `--cds-auth` and `--cds-issuers`.
fn cds_auth_config(
    mode: Option<&str>,
    issuers: Option<&str>,
) -> Result<leuko_server::cds_auth::CdsAuth, Failure> {
    use leuko_server::cds_auth::{AuthMode, CdsAuth};
    let mode = match (mode, issuers) {
        (Some(m), _) => AuthMode::parse(m).map_err(|e| input_error(format!("--cds-auth: {e}")))?,
        (None, Some(_)) => AuthMode::Strict,
        (None, None) => AuthMode::Off,
    };
    let auth = match (mode, issuers) {
        (AuthMode::Off, _) => CdsAuth::off(),
        (_, Some(path)) => CdsAuth::from_file(mode, std::path::Path::new(path))
            .map_err(|e| input_error(format!("--cds-issuers: {e}")))?,
        (_, None) => {
            return Err(input_error(format!(
                "--cds-auth {}: needs --cds-issuers FILE (the trusted CDS clients and their keys)",
                mode.as_str()
            )));
        }
    };
    auth.log_startup();
    Ok(auth)
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEUKO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Reads a local-code table: `CODE,ANALYTE` per line; `#` starts a comment.
fn read_codes(path: Option<&str>) -> Result<leuko_hl7::LocalCodes, Failure> {
    let mut codes = leuko_hl7::LocalCodes::new();
    let Some(path) = path else { return Ok(codes) };
    let text =
        std::fs::read_to_string(path).map_err(|e| input_error(format!("--codes {path}: {e}")))?;
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (code, analyte) = line.split_once(',').ok_or_else(|| {
            input_error(format!(
                "--codes {path} line {}: {line:?} is not CODE,ANALYTE",
                i + 1
            ))
        })?;
        let analyte = leuko_kb::AnalyteId::parse(analyte.trim()).ok_or_else(|| {
            input_error(format!(
                "--codes {path} line {}: {:?} is not an analyte id",
                i + 1,
                analyte.trim()
            ))
        })?;
        codes.insert(code.trim().to_owned(), analyte);
    }
    Ok(codes)
}

const MAX_INPUT: u64 = 64 * 1024 * 1024;

fn read_input(file: Option<&str>) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    match file {
        None | Some("-") => {
            std::io::stdin()
                .take(MAX_INPUT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| input_error(format!("standard input: {e}")))?;
        }
        Some(path) => {
            let f = std::fs::File::open(path).map_err(|e| input_error(format!("{path}: {e}")))?;
            f.take(MAX_INPUT + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| input_error(format!("{path}: {e}")))?;
        }
    }
    if bytes.len() as u64 > MAX_INPUT {
        return Err(input_error(format!(
            "input is larger than {} MiB",
            MAX_INPUT / 1024 / 1024
        )));
    }
    Ok(bytes)
}

fn read_record(
    kb: &Knowledge,
    bytes: &[u8],
    as_of: OffsetDateTime,
) -> Result<leuko_core::Record, Failure> {
    leuko_api::record::read_input(kb, bytes, as_of)
        .map(|(r, _)| r)
        .map_err(|e| input_error(e.to_string()))
}

//! Prints the FHIR R4 Bundle of an assessment of a FHIR input bundle.
//!
//! `cargo run -p leuko-fhir --example fhir_out -- --asof 2026-02-17T20:00:00Z [--subject
//! Patient/1] FILE`
//!
//! A stand-in for `leuko assess --format fhir` until the CLI has it (scripts/fhir-validate.sh
//! uses whichever exists). Exit 2 on a bad argument or input, 3 on an internal fault.

use std::io::Write as _;
use std::process::ExitCode;

use leuko_kb::Knowledge;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "fhir_out: {message}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let mut asof = None;
    let mut subject = None;
    let mut file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--asof" => asof = args.next(),
            "--subject" => subject = args.next(),
            _ if file.is_none() && !arg.starts_with("--") => file = Some(arg),
            _ => return fail(2, &format!("unexpected argument {arg:?}")),
        }
    }
    let (Some(asof), Some(file)) = (asof, file) else {
        return fail(2, "usage: fhir_out --asof RFC3339 [--subject REF] FILE");
    };
    let Ok(as_of) = OffsetDateTime::parse(&asof, &Rfc3339) else {
        return fail(2, &format!("--asof: {asof:?} is not an RFC 3339 date-time"));
    };
    let kb = match Knowledge::embedded() {
        Ok(kb) => kb,
        Err(e) => return fail(3, &format!("knowledge base: {e}")),
    };
    let bytes = match std::fs::read(&file) {
        Ok(b) => b,
        Err(e) => return fail(2, &format!("{file}: {e}")),
    };
    let record = match leuko_fhir::read_bundle_bytes(&kb, &bytes) {
        Ok(r) => r,
        Err(e) => return fail(2, &format!("{file}: {e}")),
    };
    let assessment = match leuko_core::assess(&kb, &record, as_of, &leuko_core::Options::default())
    {
        Ok(a) => a,
        Err(e) => return fail(2, &e.to_string()),
    };
    let bundle =
        leuko_fhir::write::assessment_bundle(&kb, &record, &assessment, subject.as_deref());
    let text = match serde_json::to_string_pretty(&bundle) {
        Ok(t) => t,
        Err(e) => return fail(3, &e.to_string()),
    };
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{text}").is_err() {
        return fail(3, "standard output closed");
    }
    ExitCode::SUCCESS
}

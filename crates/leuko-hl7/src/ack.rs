//! Acknowledgements (original mode): `ACK^R01^ACK` with MSH, MSA and, on error, ERR.
//!
//! The ACK's MSH swaps sending and receiving application and facility, keeps the version
//! and processing id, and takes the control id `{original}-ACK`. MSA carries the code and the
//! original MSH-10; ERR carries ERR-2 (location as `OBX^3^5^1`), ERR-3 (HL7 table 0357
//! code), ERR-4 severity `E` and ERR-8 the message for a person; for versions 2.3 and 2.4,
//! whose ERR has only ERR-1, ERR-1 carries `segment^sequence^field^code&text&HL70357` as
//! well. Segments end with CR.

use time::OffsetDateTime;

use crate::error::{ErrorKind, Hl7Error, Location};
use crate::parse::{Delimiters, Message, decode_text, escape, read_delimiters, unescape};

/// MSA-1 codes (original acknowledgement mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept.
    AA,
    /// Application error.
    AE,
    /// Application reject.
    AR,
}

impl AckCode {
    fn as_str(self) -> &'static str {
        match self {
            AckCode::AA => "AA",
            AckCode::AE => "AE",
            AckCode::AR => "AR",
        }
    }
}

/// The MSH values an ACK echoes.
struct Header {
    d: Delimiters,
    sending_app: String,
    sending_fac: String,
    receiving_app: String,
    receiving_fac: String,
    control_id: String,
    processing_id: String,
    version: String,
}

/// An ACK^R01 for a parsed message, stamped with the current UTC time.
pub fn ack(message: &Message, code: AckCode, error: Option<&Hl7Error>) -> String {
    ack_with_time(message, code, error, OffsetDateTime::now_utc())
}

/// An ACK^R01 for a parsed message, stamped with `now` (deterministic; for tests).
pub fn ack_with_time(
    message: &Message,
    code: AckCode,
    error: Option<&Hl7Error>,
    now: OffsetDateTime,
) -> String {
    let msh = message.msh();
    let raw = |f: usize, c: usize| msh.map_or(String::new(), |m| m.get(f, c).to_owned());
    let header = Header {
        d: message.delimiters,
        sending_app: raw(3, 1),
        sending_fac: raw(4, 1),
        receiving_app: raw(5, 1),
        receiving_fac: raw(6, 1),
        control_id: raw(10, 1),
        processing_id: raw(11, 1),
        version: raw(12, 1),
    };
    write(&header, code, error, now)
}

/// An AR acknowledgement for bytes that do not parse: whatever of MSH can be read is echoed
/// (delimiters, applications, control id, version), the rest defaults, and ERR says why.
pub fn ack_for_unparseable(bytes: &[u8]) -> String {
    let error = match crate::parse(bytes) {
        Err(e) => e,
        Ok(_) => Hl7Error::new(
            ErrorKind::SegmentSequence,
            Location::new("MSH", 1, 1, None),
            "",
            "the message could not be read",
        ),
    };
    let text = decode_text(bytes);
    let text = text.trim_start_matches(['\r', '\n', ' ', '\t', '\u{feff}', '\u{b}']);
    let d = read_delimiters(text).unwrap_or_default();
    let line = text.split(['\r', '\n']).next().unwrap_or_default();
    let fields: Vec<&str> = if line.starts_with("MSH") {
        line.split(d.field).collect()
    } else {
        Vec::new()
    };
    // fields[0] is "MSH", fields[1] MSH-2, so MSH-n is fields[n - 1] for n >= 2.
    let get = |n: usize| {
        fields
            .get(n - 1)
            .and_then(|f| f.split(d.repetition).next())
            .and_then(|f| f.split(d.component).next())
            .map(|f| unescape(f, &d))
            .unwrap_or_default()
    };
    let version = get(12);
    let header = Header {
        d,
        sending_app: get(3),
        sending_fac: get(4),
        receiving_app: get(5),
        receiving_fac: get(6),
        control_id: get(10),
        processing_id: get(11),
        version: if version.is_empty() {
            "2.5.1".to_owned()
        } else {
            version
        },
    };
    write(
        &header,
        AckCode::AR,
        Some(&error),
        OffsetDateTime::now_utc(),
    )
}

fn ts(now: OffsetDateTime) -> String {
    let now = now.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}+0000",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

fn write(h: &Header, code: AckCode, error: Option<&Hl7Error>, now: OffsetDateTime) -> String {
    let d = &h.d;
    let e = |s: &str| escape(s, d);
    let f = d.field;
    let c = d.component;
    let processing = if h.processing_id.is_empty() {
        "P"
    } else {
        &h.processing_id
    };
    let control = format!("{}-ACK", h.control_id);
    let mut out = format!(
        "MSH{f}{enc}{f}{ra}{f}{rf}{f}{sa}{f}{sf}{f}{now}{f}{f}ACK{c}R01{c}ACK{f}{control}{f}{p}{f}{v}\r",
        enc = d.encoding_characters(),
        ra = e(&h.receiving_app),
        rf = e(&h.receiving_fac),
        sa = e(&h.sending_app),
        sf = e(&h.sending_fac),
        now = ts(now),
        control = e(&control),
        p = e(processing),
        v = e(&h.version),
    );
    let text = error.map_or(String::new(), |x| e(&x.message));
    out.push_str(&format!(
        "MSA{f}{}{f}{}{}\r",
        code.as_str(),
        e(&h.control_id),
        if text.is_empty() {
            String::new()
        } else {
            format!("{f}{text}")
        }
    ));
    if let Some(x) = error {
        let l = &x.location;
        let mut erl = format!("{}{c}{}{c}{}{c}1", e(&l.segment), l.sequence, l.field);
        if let Some(comp) = l.component {
            erl.push_str(&format!("{c}{comp}"));
        }
        // ERR-2…ERR-8 exist from v2.5; before that ERR-1 (ELD) carries the location and
        // the code as `segment^sequence^field^code&text&HL70357`.
        let old_style = matches!(h.version.as_str(), "2.3" | "2.3.1" | "2.4");
        let sub = d.subcomponent;
        let eld = if old_style {
            format!(
                "{}{c}{}{c}{}{c}{}{sub}{}{sub}HL70357",
                e(&l.segment),
                l.sequence,
                l.field,
                x.kind.code(),
                e(x.kind.text())
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "ERR{f}{eld}{f}{erl}{f}{code}{c}{name}{c}HL70357{f}E{f}{f}{f}{f}{msg}\r",
            code = x.kind.code(),
            name = e(x.kind.text()),
            msg = e(&x.to_string()),
        ));
    }
    out
}

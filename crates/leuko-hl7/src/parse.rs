//! Splitting bytes into segments, fields, repetitions, components and subcomponents.
//!
//! The field separator is the byte after `MSH` and the encoding characters are MSH-2
//! (component, repetition, escape, subcomponent, and from v2.7 an optional truncation
//! character); nothing is assumed. Segments end with CR; LF and CRLF are accepted too and
//! blank lines are skipped. Text that is not UTF-8 is read as ISO 8859-1, so no byte is
//! refused. Escape sequences are decoded after splitting: `\F\ \S\ \T\ \R\ \E\`, `\Xhh…\`
//! (hex bytes), `\.br\` (a line break); the formatting escapes `\H\` and `\N\` are dropped and
//! any other sequence passes through as written.

use crate::error::{ErrorKind, Hl7Error, Location};

/// The delimiters a message declares in MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// MSH-1, usually `|`.
    pub field: char,
    /// Usually `^`.
    pub component: char,
    /// Usually `~`.
    pub repetition: char,
    /// Usually `\`.
    pub escape: char,
    /// Usually `&`.
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

impl Delimiters {
    /// MSH-2 as written: `^~\&`.
    pub fn encoding_characters(&self) -> String {
        [
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ]
        .iter()
        .collect()
    }
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The delimiters from MSH-1/MSH-2.
    pub delimiters: Delimiters,
    /// Every segment in order, MSH first.
    pub segments: Vec<Segment>,
}

/// One segment. `fields[0]` is field 1; in MSH, field 1 is the field separator and field 2
/// the encoding characters, so HL7 numbering holds for every segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// The segment id (`OBX`).
    pub id: String,
    /// Fields 1…n.
    pub fields: Vec<Field>,
}

/// A field: one or more repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Repetitions, at least one.
    pub repetitions: Vec<Repetition>,
}

/// One repetition of a field: its components.
#[derive(Debug, Clone, PartialEq)]
pub struct Repetition {
    /// Components, at least one.
    pub components: Vec<Component>,
}

/// One component: its subcomponents, unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    /// Subcomponents, at least one, with escape sequences decoded.
    pub subcomponents: Vec<String>,
}

impl Component {
    /// The first subcomponent.
    pub fn text(&self) -> &str {
        self.subcomponents.first().map_or("", String::as_str)
    }
}

impl Repetition {
    /// Component `n` (1-based), first subcomponent; empty when absent.
    pub fn component(&self, n: usize) -> &str {
        n.checked_sub(1)
            .and_then(|i| self.components.get(i))
            .map_or("", Component::text)
    }
}

impl Field {
    /// Whether every component of every repetition is empty.
    pub fn is_empty(&self) -> bool {
        self.repetitions.iter().all(|r| {
            r.components
                .iter()
                .all(|c| c.subcomponents.iter().all(String::is_empty))
        })
    }

    /// Component `n` (1-based) of the first repetition; empty when absent.
    pub fn component(&self, n: usize) -> &str {
        self.repetitions.first().map_or("", |r| r.component(n))
    }
}

impl Segment {
    /// Field `n` (HL7 numbering, 1-based).
    pub fn field(&self, n: usize) -> Option<&Field> {
        n.checked_sub(1).and_then(|i| self.fields.get(i))
    }

    /// Component `c` of the first repetition of field `f`, unescaped; empty when absent.
    pub fn get(&self, f: usize, c: usize) -> &str {
        self.field(f).map_or("", |x| x.component(c))
    }

    /// Every repetition of field `f`.
    pub fn repetitions(&self, f: usize) -> &[Repetition] {
        self.field(f).map_or(&[], |x| x.repetitions.as_slice())
    }
}

impl Message {
    /// The first segment with this id.
    pub fn segment(&self, id: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.id == id)
    }

    /// The MSH segment (always present in a parsed message).
    pub fn msh(&self) -> Option<&Segment> {
        self.segment("MSH")
    }

    /// MSH-10, the message control id.
    pub fn control_id(&self) -> &str {
        self.msh().map_or("", |m| m.get(10, 1))
    }

    /// MSH-12.1, the version id.
    pub fn version(&self) -> &str {
        self.msh().map_or("", |m| m.get(12, 1))
    }

    /// MSH-9 as `ORU^R01`.
    pub fn message_type(&self) -> String {
        let m = self.msh();
        let t = m.map_or("", |m| m.get(9, 1));
        let e = m.map_or("", |m| m.get(9, 2));
        format!("{t}^{e}")
    }
}

/// Reads bytes as UTF-8, or as ISO 8859-1 when they are not UTF-8.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn msh_error(field: usize, value: &str, message: &str) -> Hl7Error {
    Hl7Error::new(
        ErrorKind::SegmentSequence,
        Location::new("MSH", 1, field, None),
        value,
        message,
    )
}

/// Reads the delimiters from the start of a message (`MSH|^~\&|…`).
pub(crate) fn read_delimiters(text: &str) -> Result<Delimiters, Hl7Error> {
    let start: String = text.chars().take(12).collect();
    let Some(rest) = text.strip_prefix("MSH") else {
        return Err(msh_error(
            1,
            &start,
            "a message must start with an MSH segment",
        ));
    };
    let mut chars = rest.chars();
    let field = match chars.next() {
        Some(c) if !c.is_alphanumeric() && !matches!(c, '\r' | '\n' | ' ') => c,
        other => {
            return Err(msh_error(
                1,
                &other.map(String::from).unwrap_or_default(),
                "MSH-1 must be the field separator",
            ));
        }
    };
    let enc: Vec<char> = chars
        .take_while(|&c| c != field && c != '\r' && c != '\n')
        .collect();
    let enc_text: String = enc.iter().collect();
    let (Some(&component), Some(&repetition), Some(&escape), Some(&subcomponent)) =
        (enc.first(), enc.get(1), enc.get(2), enc.get(3))
    else {
        return Err(msh_error(
            2,
            &enc_text,
            "MSH-2 must hold the four encoding characters (component, repetition, escape, subcomponent)",
        ));
    };
    let all = [field, component, repetition, escape, subcomponent];
    let distinct = all
        .iter()
        .enumerate()
        .all(|(i, c)| !all.iter().skip(i + 1).any(|d| d == c));
    if enc.len() > 5 || !distinct || all.iter().any(|c| c.is_alphanumeric()) {
        return Err(msh_error(
            2,
            &enc_text,
            "MSH-2 encoding characters must be distinct, non-alphanumeric and at most five",
        ));
    }
    Ok(Delimiters {
        field,
        component,
        repetition,
        escape,
        subcomponent,
    })
}

/// Versions leuko reads (MSH-12).
const VERSIONS: [&str; 11] = [
    "2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2",
];

/// Parses any bytes into a message.
///
/// # Errors
/// An [`Hl7Error`] naming the segment and field: no MSH, bad delimiters, a malformed
/// segment id, or a version outside 2.3–2.8.
pub fn parse(bytes: &[u8]) -> Result<Message, Hl7Error> {
    let text = decode_text(bytes);
    let text = text.trim_start_matches(['\r', '\n', ' ', '\t', '\u{feff}']);
    let d = read_delimiters(text)?;
    let mut segments = Vec::new();
    let mut counts: Vec<(String, usize)> = Vec::new();
    for line in text.split(['\r', '\n']) {
        if line.trim().is_empty() {
            continue;
        }
        let id: String = line.split(d.field).next().unwrap_or_default().to_owned();
        let n = match counts.iter_mut().find(|(i, _)| *i == id) {
            Some((_, n)) => {
                *n += 1;
                *n
            }
            None => {
                counts.push((id.clone(), 1));
                1
            }
        };
        let valid_id = id.len() == 3
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && id.bytes().next().is_some_and(|b| b.is_ascii_uppercase());
        if !valid_id {
            let shown: String = line.chars().take(20).collect();
            return Err(Hl7Error::new(
                ErrorKind::SegmentSequence,
                Location::new(&id, n, 0, None),
                shown,
                format!(
                    "segment {} does not start with a three-character segment id",
                    segments.len() + 1
                ),
            ));
        }
        let segment = if id == "MSH" {
            parse_msh(line, &d)
        } else {
            let body = line.get(id.len()..).unwrap_or_default();
            let body = body.strip_prefix(d.field).unwrap_or(body);
            Segment {
                fields: if body.is_empty() {
                    Vec::new()
                } else {
                    body.split(d.field).map(|f| parse_field(f, &d)).collect()
                },
                id,
            }
        };
        segments.push(segment);
    }
    let message = Message {
        delimiters: d,
        segments,
    };
    if message.segments.iter().filter(|s| s.id == "MSH").count() != 1 {
        return Err(msh_error(
            1,
            "MSH",
            "a message must hold exactly one MSH segment (batches are not read)",
        ));
    }
    let version = message.version();
    if !VERSIONS.contains(&version) {
        return Err(Hl7Error::new(
            ErrorKind::UnsupportedVersion,
            Location::new("MSH", 1, 12, Some(1)),
            version,
            "only HL7 v2 versions 2.3 to 2.8 are read",
        ));
    }
    Ok(message)
}

fn parse_msh(line: &str, d: &Delimiters) -> Segment {
    // "MSH" + field separator + encoding characters + field separator + MSH-3…
    let after = line.get(3..).unwrap_or_default();
    let after = after.strip_prefix(d.field).unwrap_or(after);
    let mut parts = after.splitn(2, d.field);
    let enc = parts.next().unwrap_or_default();
    let rest = parts.next();
    let raw = |s: &str| Field {
        repetitions: vec![Repetition {
            components: vec![Component {
                subcomponents: vec![s.to_owned()],
            }],
        }],
    };
    let mut fields = vec![raw(&d.field.to_string()), raw(enc)];
    if let Some(rest) = rest {
        fields.extend(rest.split(d.field).map(|f| parse_field(f, d)));
    }
    Segment {
        id: "MSH".to_owned(),
        fields,
    }
}

fn parse_field(text: &str, d: &Delimiters) -> Field {
    Field {
        repetitions: text
            .split(d.repetition)
            .map(|r| Repetition {
                components: r
                    .split(d.component)
                    .map(|c| Component {
                        subcomponents: c.split(d.subcomponent).map(|s| unescape(s, d)).collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Decodes escape sequences in one subcomponent.
pub(crate) fn unescape(text: &str, d: &Delimiters) -> String {
    if !text.contains(d.escape) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(d.escape) {
        out.push_str(rest.get(..start).unwrap_or_default());
        let after = rest.get(start + d.escape.len_utf8()..).unwrap_or_default();
        let Some(end) = after.find(d.escape) else {
            // No closing escape character: the rest is literal.
            out.push_str(rest.get(start..).unwrap_or_default());
            return out;
        };
        let seq = after.get(..end).unwrap_or_default();
        match seq {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(d.escape),
            "H" | "N" => {}
            ".br" => out.push('\n'),
            _ => match seq.strip_prefix('X').and_then(hex_bytes) {
                Some(bytes) => out.push_str(&decode_text(&bytes)),
                None => {
                    out.push(d.escape);
                    out.push_str(seq);
                    out.push(d.escape);
                }
            },
        }
        rest = after.get(end + d.escape.len_utf8()..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return None;
    }
    (0..hex.len() / 2)
        .map(|i| {
            hex.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// Escapes text for a field: the delimiters become `\F\ \S\ \T\ \R\ \E\`, CR and LF become
/// `\X0D\` and `\X0A\`.
pub fn escape(text: &str, d: &Delimiters) -> String {
    let e = d.escape;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let code = if c == e {
            Some("E")
        } else if c == d.field {
            Some("F")
        } else if c == d.component {
            Some("S")
        } else if c == d.subcomponent {
            Some("T")
        } else if c == d.repetition {
            Some("R")
        } else if c == '\r' {
            Some("X0D")
        } else if c == '\n' {
            Some("X0A")
        } else {
            None
        };
        match code {
            Some(code) => {
                out.push(e);
                out.push_str(code);
                out.push(e);
            }
            None => out.push(c),
        }
    }
    out
}

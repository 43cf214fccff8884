//! Errors that name where in the message they are and what the value was.

use std::fmt;

/// A place in a message: segment id, its position among segments of that id (1-based), the
/// field, and the component when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Segment id (`OBX`).
    pub segment: String,
    /// Which segment of that id, 1-based (the third OBX is 3).
    pub sequence: usize,
    /// Field number (HL7 numbering: MSH-1 is the field separator).
    pub field: usize,
    /// Component number, when the error is about one component.
    pub component: Option<usize>,
}

impl Location {
    /// A field of a segment.
    pub fn new(segment: &str, sequence: usize, field: usize, component: Option<usize>) -> Self {
        Location {
            segment: segment.to_owned(),
            sequence,
            field,
            component,
        }
    }

    /// The location as an HL7 ERL (ERR-2): `OBX^3^5^1` or `OBX^3^5^1^2`.
    pub fn erl(&self) -> String {
        let mut s = format!("{}^{}^{}^1", self.segment, self.sequence, self.field);
        if let Some(c) = self.component {
            s.push_str(&format!("^{c}"));
        }
        s
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.segment, self.field)?;
        if let Some(c) = self.component {
            write!(f, ".{c}")?;
        }
        if self.sequence > 1 {
            write!(f, " (segment {} #{})", self.segment, self.sequence)?;
        }
        Ok(())
    }
}

/// What went wrong, mapped to HL7 table 0357 codes for ERR-3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 100: segment sequence error (no MSH, bad segment id).
    SegmentSequence,
    /// 101: required field missing.
    RequiredFieldMissing,
    /// 102: data type error (not a number, bad timestamp, unknown unit, implausible value).
    DataType,
    /// 103: table value not found.
    TableValue,
    /// 200: unsupported message type.
    UnsupportedMessageType,
    /// 203: unsupported version id.
    UnsupportedVersion,
    /// 207: application internal error (the receiver could not store the message).
    ApplicationInternalError,
}

impl ErrorKind {
    /// The HL7 table 0357 code.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::SegmentSequence => "100",
            ErrorKind::RequiredFieldMissing => "101",
            ErrorKind::DataType => "102",
            ErrorKind::TableValue => "103",
            ErrorKind::UnsupportedMessageType => "200",
            ErrorKind::UnsupportedVersion => "203",
            ErrorKind::ApplicationInternalError => "207",
        }
    }

    /// The HL7 table 0357 text.
    pub fn text(self) -> &'static str {
        match self {
            ErrorKind::SegmentSequence => "Segment sequence error",
            ErrorKind::RequiredFieldMissing => "Required field missing",
            ErrorKind::DataType => "Data type error",
            ErrorKind::TableValue => "Table value not found",
            ErrorKind::UnsupportedMessageType => "Unsupported message type",
            ErrorKind::UnsupportedVersion => "Unsupported version id",
            ErrorKind::ApplicationInternalError => "Application internal error",
        }
    }
}

/// A message that could not be read, with where and what.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {message} (value {value:?})")]
pub struct Hl7Error {
    /// Where.
    pub location: Location,
    /// The offending value as given (unescaped).
    pub value: String,
    /// What is wrong with it.
    pub message: String,
    /// The HL7 error class.
    pub kind: ErrorKind,
}

impl Hl7Error {
    pub(crate) fn new(
        kind: ErrorKind,
        location: Location,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Hl7Error {
            location,
            value: value.into(),
            message: message.into(),
            kind,
        }
    }
}

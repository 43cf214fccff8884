//! HL7 v2 in: laboratory results (ORU^R01) read into leuko's `Record`, acknowledgements out,
//! and MLLP framing.
//!
//! * [`parse`] splits any bytes into a [`Message`]: segments (CR, also LF and CRLF), fields,
//!   repetitions, components and subcomponents, with the delimiters taken from MSH-1/MSH-2
//!   and escape sequences decoded after splitting. Versions 2.3 to 2.8 (MSH-12).
//! * [`oru_to_record`] reads PID and the OBR/OBX groups of an ORU^R01 into leuko
//!   [`Observation`](leuko_core::Observation)s in canonical units, with a stable id per result
//!   for idempotent storage and notes for what was skipped.
//! * [`ack`] and [`ack_for_unparseable`] write ACK^R01 messages (MSH, MSA, ERR).
//! * [`MllpDecoder`] and [`frame`] handle MLLP framing (0x0B … 0x1C 0x0D).
//!
//! Errors ([`Hl7Error`]) name the segment, field and component (`OBX-5.1`) and the offending
//! value. Nothing here panics on any bytes (property tests and a fuzz target check it), and
//! nothing does IO: the listener and the store live elsewhere.

mod ack;
mod error;
mod mllp;
mod oru;
mod parse;

pub use ack::{AckCode, ack, ack_for_unparseable, ack_with_time};
pub use error::{ErrorKind, Hl7Error, Location};
pub use mllp::{DEFAULT_MAX_FRAME, END_BLOCK, MllpDecoder, MllpError, START_BLOCK, frame};
pub use oru::{LocalCodes, OruObservation, OruResult, ResultStatus, oru_to_record, parse_ts};
pub use parse::{Component, Delimiters, Field, Message, Repetition, Segment, escape, parse};

//! MLLP framing: `0x0B` + message + `0x1C 0x0D`.
//!
//! [`MllpDecoder`] takes bytes as they arrive, in chunks of any size, and yields each complete
//! message: a frame split across reads is joined, several frames in one read are all
//! returned, bytes before a start block are skipped, and a frame longer than the maximum is
//! reported once and skipped up to the next start block (resynchronisation). An end block
//! not followed by CR still ends the frame.

/// Start block (VT).
pub const START_BLOCK: u8 = 0x0B;
/// End block (FS), followed by CR.
pub const END_BLOCK: u8 = 0x1C;
const CR: u8 = 0x0D;

/// The default maximum frame size: 1 MiB.
pub const DEFAULT_MAX_FRAME: usize = 1 << 20;

/// A framing error; the decoder resynchronises by itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MllpError {
    /// The frame exceeded the maximum size; it is skipped up to the next start block.
    #[error("MLLP frame longer than {max} bytes; skipped")]
    FrameTooLarge {
        /// The maximum.
        max: usize,
    },
    /// A start block arrived inside a frame; the unfinished frame was dropped.
    #[error("MLLP start block inside an unfinished frame of {dropped} bytes; dropped")]
    Unterminated {
        /// How many bytes were dropped.
        dropped: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    InFrame,
    SawEnd,
    Discard,
}

/// Reassembles MLLP frames from a byte stream.
#[derive(Debug, Clone)]
pub struct MllpDecoder {
    buf: Vec<u8>,
    max: usize,
    state: State,
    skipped: usize,
}

impl Default for MllpDecoder {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl MllpDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        MllpDecoder {
            buf: Vec::new(),
            max: max_frame,
            state: State::Idle,
            skipped: 0,
        }
    }

    /// How many bytes outside frames have been skipped so far.
    pub fn skipped_bytes(&self) -> usize {
        self.skipped
    }

    /// Whether a frame has started and not yet ended.
    pub fn in_frame(&self) -> bool {
        matches!(self.state, State::InFrame | State::SawEnd)
    }

    /// Feeds bytes; returns every frame (or framing error) completed by them, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Vec<u8>, MllpError>> {
        let mut out = Vec::new();
        for &b in chunk {
            self.byte(b, &mut out);
        }
        out
    }

    fn byte(&mut self, b: u8, out: &mut Vec<Result<Vec<u8>, MllpError>>) {
        match self.state {
            State::Idle => {
                if b == START_BLOCK {
                    self.buf.clear();
                    self.state = State::InFrame;
                } else {
                    self.skipped += 1;
                }
            }
            State::InFrame => match b {
                END_BLOCK => self.state = State::SawEnd,
                START_BLOCK => {
                    out.push(Err(MllpError::Unterminated {
                        dropped: self.buf.len(),
                    }));
                    self.buf.clear();
                }
                _ => {
                    if self.buf.len() >= self.max {
                        out.push(Err(MllpError::FrameTooLarge { max: self.max }));
                        self.buf = Vec::new();
                        self.state = State::Discard;
                    } else {
                        self.buf.push(b);
                    }
                }
            },
            State::SawEnd => {
                out.push(Ok(std::mem::take(&mut self.buf)));
                self.state = State::Idle;
                if b != CR {
                    // A sender that omits the CR: the frame is still complete.
                    self.byte(b, out);
                }
            }
            State::Discard => {
                if b == START_BLOCK {
                    self.buf.clear();
                    self.state = State::InFrame;
                } else {
                    self.skipped += 1;
                    if b == END_BLOCK {
                        self.state = State::Idle;
                    }
                }
            }
        }
    }
}

/// Wraps a message in an MLLP frame.
pub fn frame(message: impl AsRef<[u8]>) -> Vec<u8> {
    let m = message.as_ref();
    let mut out = Vec::with_capacity(m.len() + 3);
    out.push(START_BLOCK);
    out.extend_from_slice(m);
    out.push(END_BLOCK);
    out.push(CR);
    out
}

//! Wire formats: leuko's own JSON record (input, with a JSON Schema generated from the types),
//! the assessment JSON of the contract (output), and the terminal text rendering.
//!
//! Only this crate knows these formats; the core's types carry no serde derives.

pub mod output;
pub mod record;
pub mod text;

pub use output::AssessmentJson;
pub use record::{RecordError, RecordJson};

#[cfg(test)]
mod tests;

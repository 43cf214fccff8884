//! The pure assessment engine: a [`Record`], the [`Knowledge`] and an `as_of` instant in; an
//! [`Assessment`] out.
//!
//! Architecture invariant: nothing in this crate performs IO, reads the clock or the
//! environment, or draws random numbers. `as_of` is always a parameter; data after it is
//! ignored. Every clinical number comes from `leuko_kb`; every statement the engine makes
//! carries the source ids it rests on.

mod assess;
mod differential;
mod explain;
mod findings;
mod grade;
mod record;
mod reference;
mod series;
mod triage;
mod truth;
pub mod units;
mod workup;

pub use assess::*;
pub use findings::{Finding, Findings};
pub use grade::{ctcae_grade, severity_of};
pub use leuko_kb::{AnalyteId, Knowledge};
pub use record::*;
pub use reference::{AgeBand, Limit, LimitSource, personal_lln};
pub use series::periodogram_peak;
pub use truth::Truth;

#[cfg(test)]
mod tests;

//! Screening whole laboratory warehouses for low white counts that nobody acted on.
//!
//! * [`synth`]: `leuko synth`, a seeded, streaming generator of a synthetic warehouse with
//!   planted, labelled cases and a ground-truth file.
//! * [`extract`]: reading CSV or Parquet extracts with a column mapping.
//! * [`udf`]: leuko's knowledge and engine as DataFusion functions.
//! * [`rules`]: the screening rules (`knowledge/screen.toml`) as SQL.
//! * [`screen`]: `leuko screen`, the worklist, embedded or on a Ballista cluster.
//! * [`summary`]: the HTML summary.
//! * [`cluster`]: the Ballista scheduler, executor and client pieces.
//!
//! DataFusion and Ballista live here, in their own crate, so that the engine, the CLI and the
//! service build without them (the CLI's `warehouse` feature brings this crate in).

pub mod civil;
pub mod cluster;
pub mod extract;
pub mod rules;
pub mod screen;
pub mod summary;
pub mod synth;
pub mod udf;

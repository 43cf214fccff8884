//! Runs one SQL statement on an extract, embedded or on a Ballista scheduler, and prints the
//! result: `cargo run -p leuko-warehouse --example cluster_sql -- DIR SQL [df://host:port]`.

use std::path::PathBuf;

use leuko_warehouse::extract::{self, Mapping, Sources};
use leuko_warehouse::screen;

#[tokio::main]
async fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(sql)) = (args.get(1), args.get(2)) else {
        return Err("usage: cluster_sql DIR SQL [df://host:port]".into());
    };
    let dir = PathBuf::from(dir);
    let config = screen::Config {
        sources: Sources {
            labs: dir.join("labs.parquet"),
            medications: Some(dir.join("medications.parquet")),
            patients: Some(dir.join("patients.parquet")),
        },
        mapping: Mapping::default(),
        as_of: None,
        out: dir.join("out.csv"),
        cluster: args.get(3).cloned(),
        summary: None,
        assessments: None,
        memory_limit: None,
        partitions: None,
    };
    let ctx = screen::session(&config).await?;
    extract::register(&ctx, &config.sources, &config.mapping).await?;
    let df = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    df.show().await.map_err(|e| e.to_string())
}

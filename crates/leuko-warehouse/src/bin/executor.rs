//! `leuko-executor`: a Ballista executor with leuko's functions in its registry.

use std::sync::Arc;

use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use clap::Parser;

/// A Ballista executor with leuko's UDF registry compiled in.
#[derive(Debug, Parser)]
#[command(name = "leuko-executor", version)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind_host: String,
    /// Flight (data) port.
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// gRPC (control) port.
    #[arg(long, default_value_t = 50052)]
    grpc_port: u16,
    /// The scheduler's host.
    #[arg(long, default_value = "127.0.0.1")]
    scheduler_host: String,
    /// The scheduler's port.
    #[arg(long, default_value_t = 50050)]
    scheduler_port: u16,
    /// Folder for shuffle files (default: a temporary folder).
    #[arg(long)]
    work_dir: Option<String>,
    /// Task slots (default: the cores).
    #[arg(long)]
    concurrent_tasks: Option<usize>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()?;
    let defaults = ExecutorProcessConfig::default();
    let config = ExecutorProcessConfig {
        bind_host: args.bind_host.clone(),
        external_host: Some(args.bind_host.clone()),
        port: args.port,
        grpc_port: args.grpc_port,
        scheduler_host: args.scheduler_host,
        scheduler_port: args.scheduler_port,
        scheduler_connect_timeout_seconds: 30,
        work_dir: args.work_dir,
        vcores: args.concurrent_tasks.unwrap_or(defaults.vcores),
        print_thread_info: false,
        override_function_registry: Some(Arc::new(leuko_warehouse::cluster::registry())),
        ..defaults
    };
    runtime.block_on(async move {
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| anyhow::anyhow!("executor: {e}"))
    })
}

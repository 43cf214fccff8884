//! `leuko-scheduler`: a Ballista scheduler that knows leuko's functions.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use clap::Parser;

/// A Ballista scheduler with leuko's UDF registry compiled in.
#[derive(Debug, Parser)]
#[command(name = "leuko-scheduler", version)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind_host: String,
    /// Port for clients and executors (df://host:PORT).
    #[arg(long, default_value_t = 50050)]
    port: u16,
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
    runtime.block_on(async move {
        let addr: SocketAddr = format!("{}:{}", args.bind_host, args.port)
            .parse()
            .map_err(|e| anyhow::anyhow!("--bind-host/--port: {e}"))?;
        let config = SchedulerConfig {
            bind_host: args.bind_host.clone(),
            external_host: args.bind_host.clone(),
            bind_port: args.port,
            override_session_builder: Some(Arc::new(leuko_warehouse::cluster::scheduler_session)),
            ..SchedulerConfig::default()
        };
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| anyhow::anyhow!("scheduler: {e}"))?;
        start_server(cluster, addr, Arc::new(config))
            .await
            .map_err(|e| anyhow::anyhow!("scheduler: {e}"))
    })
}

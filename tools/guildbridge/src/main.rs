//! `guildbridge`: the developer's command line. `local` serves the interactions endpoint on
//! 127.0.0.1 with a development key pair; `interact` plays Discord against any endpoint.

mod create_table;
mod dev_keys;
mod interact;
mod local;
mod provision;
mod render;

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "guildbridge", version, about = "Run and poke Guildbridge locally")]
struct Cli {
    /// Where development keys (and later, local state) are kept. Git-ignored.
    #[arg(long, global = true, env = "GUILDBRIDGE_DATA_DIR", default_value = ".guildbridge")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the interactions endpoint on 127.0.0.1 (POST /interactions).
    Local {
        #[arg(long, env = "GUILDBRIDGE_ADDR", default_value = "127.0.0.1:8787")]
        addr: SocketAddr,
    },
    /// Create the DynamoDB table as the code defines it (AWS_REGION, AWS_ENDPOINT_URL, credentials
    /// from the environment), e.g. on a local DynamoDB-compatible server.
    CreateTable {
        #[arg(long, env = "TABLE_NAME")]
        table: String,
    },
    /// Create the table and the FIFO job queues (each with a dead-letter queue) at an
    /// AWS-compatible endpoint (moto's server, LocalStack) and print the functions' environment.
    Provision {
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint: String,
        /// The table's name; queues are `{prefix}-channel.fifo`, `{prefix}-sync.fifo` and `-dlq.fifo`.
        #[arg(long, default_value = "guildbridge")]
        prefix: String,
    },
    /// Sign an interaction the way Discord does, send it, and show Discord's view of the answer.
    Interact {
        /// The command as a user types it, e.g. '/settings'.
        line: String,
        #[arg(long, env = "GUILDBRIDGE_ENDPOINT", default_value = "http://127.0.0.1:8787/interactions")]
        endpoint: String,
        /// Invoke from a direct message instead of the demo guild.
        #[arg(long)]
        dm: bool,
        /// Print the raw JSON answer instead of the rendered message.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Local { addr } => local::run(&cli.data_dir, addr).await,
        Command::CreateTable { table } => create_table::run(&table).await,
        Command::Provision { endpoint, prefix } => provision::run(&endpoint, &prefix).await,
        Command::Interact { line, endpoint, dm, json } => {
            interact::run(&cli.data_dir, &line, &endpoint, interact::Options { dm, json }).await
        }
    }
}

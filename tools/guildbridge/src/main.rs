//! `guildbridge`: the developer's command line. `local` runs the whole system in one process
//! on 127.0.0.1; `interact` plays Discord against it; `register-commands` publishes the
//! command manifest; `create-table` and `provision` set up AWS-compatible resources; `tenant` manages
//! tenants and their API keys; `doctor` checks a deployment's configuration or the local stack's.

mod create_table;
mod demo;
mod dev_keys;
mod doctor;
mod interact;
mod local;
mod local_sandbox;
mod provision;
mod register;
mod render;
mod session;
mod tenant;

/// What a build without AWS answers for a command that needs it.
#[cfg(not(feature = "aws"))]
pub const NO_AWS: &str = "this build of guildbridge has no AWS (the local stack does not need it): \
     run it as `cargo run -p guildbridge --features aws -- ...`";

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "guildbridge", version, about = "Run and poke Guildbridge locally")]
struct Cli {
    /// Where development keys and local state are kept. Git-ignored.
    #[arg(long, global = true, env = "GUILDBRIDGE_DATA_DIR", default_value = ".guildbridge")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run every function in one process: the interactions endpoint (POST /interactions), the
    /// channel and sync workers, the scheduler, the embedded store and queue, and the Discord
    /// sandbox with a demo guild (real Discord when DISCORD_BOT_TOKEN is set).
    Local {
        #[arg(long, env = "GUILDBRIDGE_ADDR", default_value = "127.0.0.1:8787")]
        addr: SocketAddr,
        #[arg(long, env = "GUILDBRIDGE_SANDBOX_ADDR", default_value = "127.0.0.1:8788")]
        sandbox_addr: SocketAddr,
        /// Members of the demo guild on first start.
        #[arg(long, default_value_t = 50)]
        demo_members: u64,
        /// How often the scheduler runs (EventBridge runs it every minute).
        #[arg(long, default_value_t = 60)]
        schedule_every_secs: u64,
        /// Run the gateway ingest too (real-time lead messages over the Gateway), beside the
        /// poller.
        #[arg(long)]
        gateway: bool,
    },
    /// Sign an interaction the way Discord does, send it, and show the answer; a deferred
    /// answer is followed until the worker edits it.
    Interact {
        /// The command as a user types it, e.g. '/channel create name:demo'.
        line: String,
        /// Default: the running `guildbridge local`'s endpoint, else http://127.0.0.1:8787/interactions.
        #[arg(long, env = "GUILDBRIDGE_ENDPOINT")]
        endpoint: Option<String>,
        /// The channel the command is typed in (e.g. a channel Guildbridge created).
        #[arg(long)]
        channel: Option<u64>,
        /// Invoke from a direct message instead of the demo guild.
        #[arg(long)]
        dm: bool,
        /// Print the raw JSON answer instead of the rendered message.
        #[arg(long)]
        json: bool,
        /// Seconds to wait for a deferred answer's edit.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Bulk-overwrite the application's commands from the command manifest; sends nothing
    /// when the manifest has not changed since the last registration. Uses DISCORD_BOT_TOKEN,
    /// DISCORD_APPLICATION_ID (and DISCORD_API_BASE_URL), else a running local sandbox.
    RegisterCommands {
        /// Register in one guild (instant; for development) instead of globally.
        #[arg(long)]
        guild: Option<u64>,
        /// Print the request body and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send even when nothing changed.
        #[arg(long)]
        force: bool,
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
    /// Check a deployment's configuration, or the running local stack's, and say what is
    /// wrong and how to fix it; exits 1 when something is. A deployment is read from the
    /// variables its functions get (TABLE_NAME, CHANNEL_QUEUE_URL, SYNC_QUEUE_URL,
    /// WEBHOOK_QUEUE_URL, SECRETS_ARN, DISCORD_APPLICATION_ID; infra/README.md shows how to
    /// set them from the stack's outputs); without TABLE_NAME, the local stack is checked.
    Doctor {
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
        /// The URL Discord must call (the InteractionsEndpointUrl output).
        #[arg(long, env = "INTERACTIONS_ENDPOINT_URL")]
        interactions_url: Option<String>,
        /// The web function's address, for the redirect URIs (WebPublicUrl, or the
        /// TenantApiUrl output without `v1/`).
        #[arg(long, env = "WEB_PUBLIC_URL")]
        web_url: Option<String>,
    },
    /// Tenants and their API keys: in DynamoDB when a table is named, else in the local
    /// stack's store.
    Tenant {
        #[arg(long, env = "TABLE_NAME")]
        table: Option<String>,
        #[command(subcommand)]
        command: tenant::TenantCommand,
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
        Command::Local { addr, sandbox_addr, demo_members, schedule_every_secs, gateway } => {
            let schedule_every = Duration::from_secs(schedule_every_secs.max(1));
            let options = local::Options { addr, sandbox_addr, demo_members, schedule_every, gateway };
            local::run(&cli.data_dir, options).await
        }
        Command::Interact { line, endpoint, channel, dm, json, wait } => {
            let options = interact::Options { endpoint, dm, json, channel, wait: Duration::from_secs(wait) };
            interact::run(&cli.data_dir, &line, options).await
        }
        Command::RegisterCommands { guild, dry_run, force } => {
            register::run(&cli.data_dir, register::Options { guild, dry_run, force }).await
        }
        Command::CreateTable { table } => create_table::run(&table).await,
        Command::Provision { endpoint, prefix } => provision::run(&endpoint, &prefix).await,
        Command::Tenant { table, command } => tenant::run(&cli.data_dir, table, command).await,
        Command::Doctor { table, interactions_url, web_url } => {
            let deployment = table.map(|_| doctor::Deployment { interactions_url, web_url });
            match doctor::run(&cli.data_dir, deployment).await? {
                true => Ok(()),
                false => Err(Unhealthy.into()),
            }
        }
    }
}

/// `doctor` found problems (it printed them).
#[derive(Debug, thiserror::Error)]
#[error("the doctor found problems (above)")]
struct Unhealthy;

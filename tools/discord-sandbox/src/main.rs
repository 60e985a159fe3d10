//! `discord-sandbox`: the sandbox as a server, for the local stack and manual testing.

use std::{net::SocketAddr, path::PathBuf};

use clap::Parser;
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig};

#[derive(Debug, Parser)]
#[command(name = "discord-sandbox", about = "A Discord REST API stand-in on loopback")]
struct Args {
    #[arg(long, env = "SANDBOX_ADDR", default_value = "127.0.0.1:8788")]
    addr: SocketAddr,
    /// The bot token clients must send (`Authorization: Bot <token>`).
    #[arg(long, env = "DISCORD_BOT_TOKEN", default_value = "sandbox-bot-token", hide_env_values = true)]
    bot_token: String,
    /// Discord's OpenAPI document; request bodies are validated against it when given.
    #[arg(long, env = "DISCORD_OPENAPI_PATH")]
    openapi: Option<PathBuf>,
    /// Members in the demo guild (id 1100000000000000100).
    #[arg(long, default_value_t = 50)]
    demo_members: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let validating = args.openapi.is_some();
    let config = SandboxConfig::new(args.bot_token, args.openapi, RateLimits::discord_like());
    let sandbox = Sandbox::start(config, args.addr).await?;
    sandbox.seed_guild(GuildSeed {
        id: 1_100_000_000_000_000_100,
        name: "Guildbridge Demo".to_owned(),
        bot_permissions: 1 << 3,
        roles: vec![(1_100_000_000_000_000_400, "Member".to_owned())],
        members: args.demo_members,
        first_member_id: 1_100_000_000_000_001_000,
        bot_every: Some(10),
    });
    println!("Discord sandbox at {}", sandbox.base_url());
    if !validating {
        println!("Request validation is OFF: pass --openapi ../shared/discord-api-spec/openapi.json to turn it on.");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}

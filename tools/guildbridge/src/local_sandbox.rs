//! The Discord sandbox as the local stack runs it: a demo guild on first start, and its
//! guilds, channels and messages saved in the data folder so a restart finds them again.

use std::{
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context;
use discord_sandbox::{GuildSeed, RateLimits, Sandbox, SandboxConfig, world::Snapshot};
use tokio::sync::watch;

/// The bot token the local stack and its sandbox agree on (no real secret).
pub const BOT_TOKEN: &str = "local-sandbox-bot-token";
/// The guild `guildbridge interact` invokes from by default.
pub const DEMO_GUILD: u64 = 1_100_000_000_000_000_100;
pub const DEMO_GUILD_NAME: &str = "Guildbridge Demo";
/// The sandbox application's OAuth2 client secret (no real secret).
pub const CLIENT_SECRET: &str = "sandbox-client-secret";
const SNAPSHOT_FILE: &str = "sandbox.json";

pub struct LocalSandbox {
    sandbox: Arc<Sandbox>,
    snapshot_path: PathBuf,
}

impl LocalSandbox {
    pub async fn start(state_dir: &Path, addr: SocketAddr, demo_members: u64) -> anyhow::Result<Self> {
        fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
        let openapi = std::env::var_os("DISCORD_OPENAPI_PATH").map(PathBuf::from).filter(|path| {
            if !discord_sandbox::VALIDATES {
                tracing::warn!(
                    path = %path.display(),
                    "DISCORD_OPENAPI_PATH is set, but this build does not validate requests: \
                     run it as `cargo run -p guildbridge --features validate -- local`"
                );
            }
            discord_sandbox::VALIDATES
        });
        let config = SandboxConfig::new(BOT_TOKEN, openapi, RateLimits::discord_like());
        let sandbox = Sandbox::start(config, addr).await.with_context(|| format!("starting the sandbox on {addr}"))?;
        let snapshot_path = state_dir.join(SNAPSHOT_FILE);
        match fs::read(&snapshot_path) {
            Ok(bytes) => {
                let snapshot: Snapshot = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is damaged; delete it to start afresh", snapshot_path.display()))?;
                sandbox.restore(snapshot);
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => sandbox.seed_guild(demo_guild(demo_members)),
            Err(error) => return Err(error).with_context(|| format!("reading {}", snapshot_path.display())),
        }
        // The settings page's demo logins (kept in step with this version on every start).
        sandbox.seed_demo_people(DEMO_GUILD);
        Ok(Self { sandbox: Arc::new(sandbox), snapshot_path })
    }

    /// The application's settings as its Developer Portal page would have them for this
    /// stack: Discord calls `endpoint`, and sends people back to `web`'s callbacks.
    pub fn configure_application(&self, endpoint: &str, web: &str) {
        self.sandbox.with_world(|world| {
            world.interactions_endpoint_url = Some(endpoint.to_owned());
            world.redirect_uris = crate::doctor::REDIRECT_PATHS.iter().map(|path| format!("{web}{path}")).collect();
        });
    }

    /// Where the sandbox's own controls live (`/sandbox/...`).
    pub fn url(&self) -> String {
        format!("http://{}", self.sandbox.addr())
    }

    /// What workers use in place of `https://discord.com/api/v10`.
    pub fn api_base_url(&self) -> String {
        self.sandbox.base_url()
    }

    /// Writes the world beside the store (write then rename: a crash never leaves half a file).
    pub fn save(&self) -> anyhow::Result<()> {
        write_snapshot(&self.sandbox, &self.snapshot_path)
    }

    /// Saves every few seconds until stopped, so even a killed process loses little.
    pub fn keep_saved(&self, mut stop: watch::Receiver<bool>) -> impl Future<Output = ()> + Send + 'static {
        let (sandbox, path) = (self.sandbox.clone(), self.snapshot_path.clone());
        async move {
            while !*stop.borrow() {
                let _ = tokio::time::timeout(Duration::from_secs(3), stop.changed()).await;
                if let Err(error) = write_snapshot(&sandbox, &path) {
                    tracing::warn!(error = %format!("{error:#}"), "could not save the sandbox");
                }
            }
        }
    }
}

fn write_snapshot(sandbox: &Sandbox, path: &Path) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(&sandbox.snapshot())?;
    let partial = path.with_extension("json.partial");
    fs::write(&partial, bytes).with_context(|| format!("writing {}", partial.display()))?;
    fs::rename(&partial, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

/// The demo guild: the bot may administer it, a `Member` role, and `members` members of
/// whom every tenth is a bot.
fn demo_guild(members: u64) -> GuildSeed {
    GuildSeed {
        id: DEMO_GUILD,
        name: DEMO_GUILD_NAME.to_owned(),
        bot_permissions: discord_sandbox::world::ADMINISTRATOR,
        roles: vec![(1_100_000_000_000_000_400, "Member".to_owned())],
        members,
        first_member_id: 1_100_000_000_000_001_000,
        bot_every: Some(10),
    }
}

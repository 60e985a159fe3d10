//! What a running `guildbridge local` tells `guildbridge interact`: where its endpoint and
//! sandbox are. Written at start, removed at a clean stop.

use std::{fs, path::Path};

use anyhow::Context;
use serde::{Deserialize, Serialize};

const FILE: &str = "local.json";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub endpoint: String,
    /// The sandbox's base address when the sandbox plays Discord.
    pub sandbox_url: Option<String>,
    pub application_id: u64,
}

impl Session {
    pub fn save(&self, data_dir: &Path) -> anyhow::Result<()> {
        let path = data_dir.join(FILE);
        fs::write(&path, serde_json::to_vec_pretty(self)?).with_context(|| format!("writing {}", path.display()))
    }

    /// The running stack's session, if one is running from this data folder.
    pub fn load(data_dir: &Path) -> Option<Self> {
        let bytes = fs::read(data_dir.join(FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub fn remove(data_dir: &Path) {
        let _ = fs::remove_file(data_dir.join(FILE));
    }
}

//! Development secrets, generated on first use and kept under the data folder, so the
//! local endpoint and `interact` agree without any Discord application.

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;

const SIGNING_KEY_FILE: &str = "dev-signing-key.hex";
const STATE_KEY_FILE: &str = "dev-state-key.hex";

#[derive(Debug)]
pub struct DevKeys {
    /// Plays Discord's private key: `interact` signs with it, `local` verifies with its public half.
    pub signing: SigningKey,
    /// Signs component state for the local endpoint.
    pub state_secret: String,
}

impl DevKeys {
    pub fn load_or_create(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let signing = read_or_generate(&dir.join(SIGNING_KEY_FILE))?;
        let state = read_or_generate(&dir.join(STATE_KEY_FILE))?;
        Ok(Self { signing: SigningKey::from_bytes(&signing), state_secret: hex::encode(state) })
    }

    pub fn public_key_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }
}

fn read_or_generate(path: &PathBuf) -> anyhow::Result<[u8; 32]> {
    if path.exists() {
        let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let bytes = hex::decode(text.trim()).with_context(|| format!("{} is not hex", path.display()))?;
        let Ok(bytes) = <[u8; 32]>::try_from(bytes) else {
            bail!("{} must hold 32 bytes in hex; delete it to generate a new one", path.display());
        };
        return Ok(bytes);
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness available: {e}"))?;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(bytes).as_bytes())?;
    Ok(bytes)
}

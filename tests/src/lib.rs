//! Harness for end-to-end tests: a Lambda Runtime API that starts real function binaries
//! the way Lambda does, and the sample events those functions are fed.

pub mod emf;
pub mod endpoint;
pub mod events;
pub mod logs;
pub mod runtime_api;
pub mod stack;

use std::path::PathBuf;

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A function's release binary. The README's test command builds them first; running a test
/// without them fails here, saying how to build them.
pub fn release_binary(name: &str) -> PathBuf {
    let dir = std::env::var_os("GUILDBRIDGE_BIN_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(|dir| PathBuf::from(dir).join("release")))
        .unwrap_or_else(|| repo_root().join("target/release"));
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with `cargo build --release -p {name}` (tools/test does this)",
        path.display()
    );
    path
}

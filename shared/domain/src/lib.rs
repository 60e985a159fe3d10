//! The domain: pure data and rules, importing nothing else of Guildbridge (Cargo keeps it so:
//! this crate depends on no other of the workspace), and the [`clock`]. Subjects and their
//! channel mappings, members and sync runs, guild settings and their validation, channel
//! naming, the jobs handed to the workers, and Guildbridge's own ids. Every other layer builds on these types.

pub mod access;
pub mod clock;
pub mod error;
pub mod ids;
pub mod inputs;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod mappings;
pub mod members;
pub mod metrics;
pub mod naming;
pub mod reach;
pub mod settings;
pub mod subjects;
pub mod syncs;
pub mod teams;
pub mod templates;
pub mod tenants;
pub mod webhooks;

pub use self::{
    access::*,
    ids::*,
    inputs::{ArchiveReason, InvalidArchiveReason, InvalidPlatformUserId, PlatformUserId, snowflake},
    jobs::*,
    keys::*,
    mappings::*,
    members::*,
    reach::{Reach, is_loopback_name},
    settings::*,
    subjects::*,
    syncs::*,
    teams::*,
    templates::*,
    tenants::*,
    webhooks::*,
};

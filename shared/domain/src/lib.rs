//! The domain: pure data and rules, importing nothing else of Guildbridge (Cargo keeps it so:
//! this crate depends on no other of the workspace), and the [`clock`]. Subjects and their
//! channel mappings, members and sync runs, guild settings and their validation, channel
//! naming, the jobs handed to the workers, and Guildbridge's own ids. Every other layer builds on these types.

pub mod access;
pub mod clock;
pub mod error;
pub mod events;
pub mod ids;
pub mod jobs;
pub mod limits;
pub mod naming;
pub mod reach;
pub mod records;
pub mod settings;
pub mod teams;
pub mod templates;

pub use self::{
    access::*,
    events::*,
    ids::*,
    jobs::*,
    reach::{Reach, is_loopback_name},
    records::*,
    settings::*,
    teams::*,
    templates::*,
};

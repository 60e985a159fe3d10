//! The domain: pure data and rules, importing nothing else of Guildbridge. Subjects and their
//! channel mappings, members and sync runs, guild settings and their validation, channel
//! naming, and the jobs handed to the workers. Every other layer builds on these types.

pub mod jobs;
pub mod naming;
pub mod records;
pub mod settings;

pub use self::{jobs::*, records::*, settings::*};

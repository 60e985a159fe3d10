//! The privileged intents an application has, from its flags (`GET /applications/@me`).
//! Discord sets the full flag for verified bots and the `_LIMITED` one for bots in fewer
//! than 100 servers; either means on.

use twilight_model::oauth::ApplicationFlags;

/// Server Members: member sync may read the member list.
pub fn server_members(flags: Option<ApplicationFlags>) -> bool {
    flags
        .unwrap_or(ApplicationFlags::empty())
        .intersects(ApplicationFlags::GATEWAY_GUILD_MEMBERS | ApplicationFlags::GATEWAY_GUILD_MEMBERS_LIMITED)
}

/// Message Content: messages reach the bot with their text.
pub fn message_content(flags: Option<ApplicationFlags>) -> bool {
    flags
        .unwrap_or(ApplicationFlags::empty())
        .intersects(ApplicationFlags::GATEWAY_MESSAGE_CONTENT | ApplicationFlags::GATEWAY_MESSAGE_CONTENT_LIMITED)
}

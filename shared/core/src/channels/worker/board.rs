//! The sign-up board: one pinned message per event, edited in place to show the sign-ups
//! the platform last sent. A board someone deleted is posted again once per job (and at
//! most [`MAX_RECREATIONS`] times in all), never in a loop.

use std::time::Duration;

use twilight_model::id::{
    Id,
    marker::{ChannelMarker, GuildMarker, MessageMarker},
};

use super::{ChannelWorker, JobContext, access::discord_outcome, message_nonce, store_failure};
use crate::{
    discord::{
        responses::link_button_row,
        rest::{DiscordError, MessageBody, codes},
    },
    domain::{BoardMessage, MappingStatus, Subject, SubjectRef, add_signup_values, subject_values},
    worker::JobOutcome,
};

/// Times a deleted board is posted again before Guildbridge leaves it deleted.
pub const MAX_RECREATIONS: u32 = 3;

impl ChannelWorker {
    pub(super) async fn update_board(&self, job: &JobContext<'_>, reference: SubjectRef) -> JobOutcome {
        let guild_id = job.guild_id;
        let (mapping, subject) =
            match (self.store.mapping(guild_id, &reference).await, self.store.subject(guild_id, &reference).await) {
                (Ok(mapping), Ok(subject)) => (mapping, subject),
                (Err(error), _) | (_, Err(error)) => return store_failure(error),
            };
        let (Some(mapping), Some(subject)) = (mapping, subject) else {
            return JobOutcome::Reject { reason: format!("{reference} has no channel for a sign-up board") };
        };
        let channel = match (mapping.status, mapping.channels.text) {
            (MappingStatus::Creating, _) => {
                let reason = format!("{reference}'s channel is still being created");
                return JobOutcome::Retry { after: Duration::from_secs(10), reason };
            }
            (MappingStatus::Active, Some(channel)) => channel,
            (status, _) => {
                return JobOutcome::DoneWith(
                    serde_json::json!({ "skipped": format!("the channel is {}", status.as_str()) }),
                );
            }
        };
        let Some(signups) = subject.signups.as_ref() else {
            return JobOutcome::DoneWith(serde_json::json!({ "skipped": "no sign-ups" }));
        };
        let shows = signups.digest();
        if mapping.board.as_ref().is_some_and(|board| board.shows == shows) {
            return JobOutcome::DoneWith(serde_json::json!({ "unchanged": true }));
        }
        let body = match self.board_body(job, &subject, channel) {
            Ok(body) => body,
            Err(reason) => return JobOutcome::Reject { reason },
        };
        let now = self.clock.now();
        let deadline = job.attempt.deadline;
        let board = match mapping.board {
            Some(board) => match self.discord.edit_message(channel, board.message_id, &body, deadline).await {
                Ok(_) => BoardMessage { edited_at: now, shows, ..board },
                Err(error) if error.code() == Some(codes::UNKNOWN_MESSAGE) => {
                    if board.recreated >= MAX_RECREATIONS {
                        let reason =
                            format!("the board was deleted {} times; it is not posted again", board.recreated + 1);
                        return JobOutcome::DoneWith(serde_json::json!({ "skipped": reason }));
                    }
                    match self.post_board(job.guild_id, channel, &reference, body, board.recreated + 1, deadline).await
                    {
                        Ok(message_id) => {
                            BoardMessage { message_id, edited_at: now, shows, recreated: board.recreated + 1 }
                        }
                        Err(error) => return discord_outcome(error),
                    }
                }
                Err(error) => return discord_outcome(error),
            },
            None => match self.post_board(job.guild_id, channel, &reference, body, 0, deadline).await {
                Ok(message_id) => BoardMessage { message_id, edited_at: now, shows, recreated: 0 },
                Err(error) => return discord_outcome(error),
            },
        };
        let message_id = board.message_id;
        match self.store.record_board(guild_id, &reference, board).await {
            Ok(()) => JobOutcome::DoneWith(serde_json::json!({ "message_id": message_id.to_string() })),
            Err(error) => store_failure(error),
        }
    }

    /// The board as a message: the guild's board template and a link button to sign up.
    fn board_body(
        &self,
        job: &JobContext<'_>,
        subject: &Subject,
        channel: Id<ChannelMarker>,
    ) -> Result<MessageBody, String> {
        let mut values = subject_values(subject, Some(channel.get()));
        if let Some(signups) = &subject.signups {
            add_signup_values(&mut values, signups);
        }
        let rendered = job.settings.board_template.render(&values).map_err(|errors| errors.to_string())?;
        let mut body =
            MessageBody { content: rendered.content, embeds: Some(rendered.embeds), ..MessageBody::default() };
        if let Some(url) = &subject.signup_url {
            body.components = Some(vec![link_button_row("Sign up", url.clone())]);
        }
        Ok(body)
    }

    /// Posts the board (once per nonce: a redelivery within minutes posts nothing new) and pins it.
    async fn post_board(
        &self,
        guild_id: Id<GuildMarker>,
        channel: Id<ChannelMarker>,
        subject: &SubjectRef,
        mut body: MessageBody,
        posting: u32,
        deadline: tokio::time::Instant,
    ) -> Result<Id<MessageMarker>, DiscordError> {
        body.nonce = Some(message_nonce(&format!("board:{guild_id}:{subject}:{posting}")));
        body.enforce_nonce = true;
        let message = self.discord.create_message(channel, &body, deadline).await?;
        if let Err(error) = self.discord.pin_message(channel, message.id, deadline).await {
            // The board works unpinned; the admin sees why in the logs.
            tracing::warn!(%subject, error = %error.explain(), "the sign-up board was not pinned");
        }
        Ok(message.id)
    }
}

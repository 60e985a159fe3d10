//! A reminder by DM to a team member who pressed "Remind me": the bot's DM channel with
//! them, then the message, posted once (by its nonce).

use twilight_model::id::{Id, marker::UserMarker};

use super::{ChannelWorker, access::discord_outcome};
use crate::{
    discord::rest::{MessageBody, codes},
    domain::SubjectRef,
    worker::{Attempt, JobOutcome},
};

impl ChannelWorker {
    pub(super) async fn remind_by_dm(
        &self,
        subject: &SubjectRef,
        user_id: Id<UserMarker>,
        body: &MessageBody,
        attempt: Attempt,
    ) -> JobOutcome {
        let sent = match self.discord.create_dm(user_id, attempt.deadline).await {
            Ok(channel) => self.discord.create_message(channel.id, body, attempt.deadline).await,
            Err(error) => Err(error),
        };
        match sent {
            Ok(message) => JobOutcome::DoneWith(serde_json::json!({
                "message_id": message.id.to_string(),
                "user_id": user_id.to_string(),
            })),
            // Their choice in Discord (DMs closed, the bot blocked): nothing to retry or report.
            Err(error) if error.code() == Some(codes::CANNOT_MESSAGE_USER) => {
                tracing::info!(%subject, %user_id, "the member takes no DMs from the bot; reminder not sent");
                JobOutcome::DoneWith(serde_json::json!({ "skipped": "the member takes no DMs from the bot" }))
            }
            Err(error) => discord_outcome(error),
        }
    }
}

//! Links between the platform's users and Discord users: one to one, both ways.

use serde_json::json;
use twilight_model::id::Id;

use super::prelude::*;
use crate::{
    domain::{EventDraft, EventType, PlatformUserId},
    outbox::{EmitError, EventSink, Outbox},
    store::StoreError,
};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct LinkPath {
    /// The platform's user id (1 to 100 characters).
    #[param(min_length = 1, max_length = 100)]
    pub platform_user_id: String,
}

impl LinkPath {
    /// The id, or 404: a link that cannot exist is not found.
    fn checked(&self) -> Result<PlatformUserId, Problem> {
        PlatformUserId::parse(&self.platform_user_id).map_err(|_| Problem::not_found("link"))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkBody {
    #[schema(pattern = "^[1-9][0-9]{0,18}$")]
    pub discord_user_id: String,
}

/// Links a platform user to a Discord user: 201 when new, 200 when it was already so (a
/// platform user linked to someone else is moved over). A Discord user linked to another
/// platform user is a 409 naming that user.
#[utoipa::path(put, path = "/v1/links/{platform_user_id}", tag = "links", params(LinkPath),
    request_body = LinkBody,
    responses(
        (status = 201, description = "linked", body = LinkView),
        (status = 200, description = "already linked so", body = LinkView),
    ))]
pub async fn put_link(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<LinkPath>,
    JsonBody(body, _): JsonBody<LinkBody>,
) -> Result<Response, Problem> {
    let id = path.checked()?;
    let platform_user = id.as_str();
    let user_id = crate::domain::snowflake(&body.discord_user_id)
        .ok_or_else(|| Problem::invalid_field("discord_user_id", "a Discord user id (digits)"))?;
    let guild = caller.guild_id;
    if let Some(existing) = api.store.link_of_platform_user(guild, platform_user).await? {
        if existing.user_id == user_id {
            announce_link(&api, guild, &existing).await?;
            return Ok(Json(LinkView::from(existing)).into_response());
        }
        api.store.unlink(guild, existing.user_id).await?;
    }
    match api.store.link(guild, user_id, platform_user, api.clock.now()).await {
        Ok(()) => {}
        Err(StoreError::AlreadyExists(_)) => {
            let other = api.store.link_of_discord_user(guild, user_id).await?;
            let problem =
                Problem::conflict("discord-user-linked", "this Discord user is linked to another platform user");
            return Err(match other {
                Some(other) => problem.with_conflict(json!({ "platform_user_id": other.platform_user })),
                None => problem,
            });
        }
        Err(error) => return Err(error.into()),
    }
    let link =
        api.store.link_of_platform_user(guild, platform_user).await?.ok_or_else(|| Problem::not_found("link"))?;
    announce_link(&api, guild, &link).await?;
    Ok((StatusCode::CREATED, Json(LinkView::from(link))).into_response())
}

/// `member.linked`, keyed by the link's time: a retry of the same PUT (answered 200) queues
/// the same event again if the first answer failed, and its delivery deduplicates it.
async fn announce_link(
    api: &Api,
    guild: Id<twilight_model::id::marker::GuildMarker>,
    link: &crate::domain::UserLink,
) -> Result<(), Problem> {
    let linked = EventDraft::new(
        EventType::MemberLinked,
        format!("{}:{}:{}", link.user_id, link.platform_user, link.linked_at),
        link.linked_at,
        json!({ "user_id": link.user_id.to_string(), "platform_user_id": link.platform_user }),
    )
    .by(Some(link.platform_user.clone()));
    Outbox::new(api.store.clone(), api.queue.clone()).emit(guild, vec![linked]).await.map(|_| ()).map_err(|error| {
        match error {
            EmitError::Store(error) => Problem::from(error),
            EmitError::Queue(error) => Problem::from(error),
        }
    })
}

/// Removes a platform user's link: 204.
#[utoipa::path(delete, path = "/v1/links/{platform_user_id}", tag = "links", params(LinkPath),
    responses((status = 204, description = "unlinked")))]
pub async fn delete_link(
    caller: Connected,
    State(api): State<Arc<Api>>,
    PathParams(path): PathParams<LinkPath>,
) -> Result<StatusCode, Problem> {
    let id = path.checked()?;
    let platform_user = id.as_str();
    let link = api
        .store
        .link_of_platform_user(caller.guild_id, platform_user)
        .await?
        .ok_or_else(|| Problem::not_found("link"))?;
    api.store.unlink(caller.guild_id, link.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LinksQuery {
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{1,4096}$")]
    pub cursor: Option<String>,
}

/// The guild's links, by platform user.
#[utoipa::path(get, path = "/v1/links", tag = "links", params(LinksQuery),
    responses((status = 200, description = "a page of links", body = Page<LinkView>)))]
pub async fn list_links(
    caller: Connected,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<LinksQuery>,
) -> Result<Json<Page<LinkView>>, Problem> {
    let limit = page_limit(query.limit)?;
    let page = api.store.links_page(caller.guild_id, limit, query.cursor.as_deref()).await?;
    Ok(Json(Page { items: page.items.into_iter().map(LinkView::from).collect(), next_cursor: page.next }))
}

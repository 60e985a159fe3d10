//! Members as the last syncs saw them.

use super::prelude::*;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    /// `active` or `left`; both unless given.
    #[param(pattern = "^(active|left)$")]
    pub status: Option<String>,
    /// Only members linked (`true`) or not linked (`false`) to a platform user.
    pub linked: Option<bool>,
    /// 1 to 100; 50 unless given.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{1,4096}$")]
    pub cursor: Option<String>,
}

/// The guild's members by Discord id. Filters apply within a page, so a page may hold fewer
/// than `limit` and still have a `next_cursor`.
#[utoipa::path(get, path = "/v1/members", tag = "members", params(MembersQuery),
    responses((status = 200, description = "a page of members", body = Page<MemberView>)))]
pub async fn list_members(
    caller: Connected,
    State(api): State<Arc<Api>>,
    QueryParams(query): QueryParams<MembersQuery>,
) -> Result<Json<Page<MemberView>>, Problem> {
    let left = match query.status.as_deref() {
        None => None,
        Some("active") => Some(false),
        Some("left") => Some(true),
        Some(_) => return Err(Problem::invalid_field("status", "active or left")),
    };
    let limit = page_limit(query.limit)?;
    let page = api.store.members_page(caller.guild_id, left, limit, query.cursor.as_deref()).await?;
    let users: Vec<_> = page.items.iter().map(|member| member.member.user_id).collect();
    let mut links = api.store.links_for(caller.guild_id, &users).await?;
    let items = page
        .items
        .into_iter()
        .map(|member| {
            let link = links.remove(&member.member.user_id);
            (link.is_some(), MemberView::new(member, link))
        })
        .filter(|(linked, _)| query.linked.is_none_or(|wanted| wanted == *linked))
        .map(|(_, member)| member)
        .collect();
    Ok(Json(Page { items, next_cursor: page.next }))
}

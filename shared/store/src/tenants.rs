//! Tenants and their guild: one guild per tenant and one tenant per guild.

use async_trait::async_trait;
use guildbridge_domain::error::Cause;
use twilight_model::id::{Id, marker::GuildMarker};

use super::{
    PurgeMarker, Store, StoreError, SyncSchedule, from_item,
    items::{Condition, ItemError, ItemStore, TxWrite},
    schedule::schedule_item,
    schema::keys,
    to_item,
};
use guildbridge_domain::{BotInstall, GuildConnection, Tenant, TenantId};

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant; `AlreadyExists` when its id is taken.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    async fn tenant(&self, tenant_id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Connects a tenant and a guild, both directions at once, with the guild's sync
    /// schedule (its initial sync due at `now`). Refused with `AlreadyExists` when either
    /// side is already connected.
    async fn connect(
        &self,
        tenant_id: &TenantId,
        guild_id: Id<GuildMarker>,
        guild_name: &str,
        now: u64,
    ) -> Result<(), StoreError>;
    /// Removes the tenant's connection and the guild's sync schedule; returns the guild it had.
    async fn disconnect(&self, tenant_id: &TenantId) -> Result<Option<Id<GuildMarker>>, StoreError>;
    async fn guild_of(&self, tenant_id: &TenantId) -> Result<Option<Id<GuildMarker>>, StoreError>;
    /// The tenant's connection, with when it was made.
    async fn connection(&self, tenant_id: &TenantId) -> Result<Option<GuildConnection>, StoreError>;
    async fn tenant_of(&self, guild_id: Id<GuildMarker>) -> Result<Option<TenantId>, StoreError>;
    /// Records whether the bot is in the guild and what it was granted.
    async fn record_bot_install(&self, guild_id: Id<GuildMarker>, install: BotInstall) -> Result<(), StoreError>;
    async fn bot_install(&self, guild_id: Id<GuildMarker>) -> Result<Option<BotInstall>, StoreError>;
    /// Records that Discord confirmed the bot is in the guild, keeping the permissions
    /// recorded (a concurrent write of them is never lost: the write is conditional on
    /// what was read, and tried again).
    async fn confirm_bot_present(&self, guild_id: Id<GuildMarker>, now: u64) -> Result<(), StoreError>;
}

#[async_trait]
impl<I: ItemStore> TenantStore for Store<I> {
    /// 1 conditional PutItem.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let item = to_item(&keys::tenant_profile(&tenant.tenant_id), tenant, &[])?;
        match self.items.put(item, Some(Condition::NotExists)).await {
            Err(ItemError::ConditionFailed) => Err(StoreError::AlreadyExists("a tenant with this id")),
            other => Ok(other?),
        }
    }

    /// 1 GetItem.
    async fn tenant(&self, tenant_id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.items.get(&keys::tenant_profile(tenant_id)).await?.map(from_item).transpose()
    }

    /// 1 TransactWriteItems (2 conditional puts, the schedule's put, the purge check).
    async fn connect(
        &self,
        tenant_id: &TenantId,
        guild_id: Id<GuildMarker>,
        guild_name: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        let connection = GuildConnection {
            tenant_id: tenant_id.to_owned(),
            guild_id,
            guild_name: guild_name.to_owned(),
            connected_at: now,
        };
        let writes = vec![
            TxWrite::Put {
                item: to_item(&keys::tenant_connection(tenant_id), &connection, &[])?,
                condition: Some(Condition::NotExists),
            },
            TxWrite::Put {
                item: to_item(&keys::guild_connection(guild_id.get()), &connection, &[])?,
                condition: Some(Condition::NotExists),
            },
            // The initial sync is due at once; each sync's turn sets the next one.
            TxWrite::Put {
                item: schedule_item(&SyncSchedule { guild_id, next_at: now, failures: 0, last_error: None })?,
                condition: None,
            },
            // Not while the last tenant's data is being deleted: this one would read it.
            TxWrite::Check { key: keys::guild_purge(guild_id.get()), condition: Condition::NotExists },
        ];
        match self.items.transact(writes).await {
            Err(ItemError::TransactionCancelled(failed)) if failed.first() == Some(&0) => {
                Err(StoreError::AlreadyExists("a guild connection for this tenant"))
            }
            Err(ItemError::TransactionCancelled(failed)) if failed.contains(&3) && !failed.contains(&1) => {
                Err(StoreError::Conflict("the server's data from its previous connection is still being deleted"))
            }
            Err(ItemError::TransactionCancelled(_)) => {
                Err(StoreError::AlreadyExists("a tenant connection for this guild"))
            }
            other => Ok(other?),
        }
    }

    /// 1 GetItem + 1 TransactWriteItems (2 conditional deletes and the schedule's delete).
    async fn disconnect(&self, tenant_id: &TenantId) -> Result<Option<Id<GuildMarker>>, StoreError> {
        let Some(guild_id) = self.guild_of(tenant_id).await? else { return Ok(None) };
        let same_tenant = Condition::Equals("tenant_id", tenant_id.as_str().into());
        let writes = vec![
            TxWrite::Delete { key: keys::tenant_connection(tenant_id), condition: Some(same_tenant.clone()) },
            TxWrite::Delete { key: keys::guild_connection(guild_id.get()), condition: Some(same_tenant) },
            TxWrite::Delete { key: keys::schedule(guild_id.get()), condition: None },
            // Everything else of the guild's partition is the tenant's: it is deleted after,
            // page by page, and the guild stays fenced until then.
            TxWrite::Put {
                item: super::purge::marker_item(&PurgeMarker { guild_id, tenant_id: tenant_id.to_string() })?,
                condition: None,
            },
        ];
        match self.items.transact(writes).await {
            // Someone disconnected (or reconnected) in between: nothing of ours is left to remove.
            Err(ItemError::TransactionCancelled(_)) => Ok(None),
            other => other.map(|()| Some(guild_id)).map_err(StoreError::from),
        }
    }

    /// 1 GetItem.
    async fn guild_of(&self, tenant_id: &TenantId) -> Result<Option<Id<GuildMarker>>, StoreError> {
        Ok(self.connection(tenant_id).await?.map(|connection| connection.guild_id))
    }

    /// 1 GetItem.
    async fn connection(&self, tenant_id: &TenantId) -> Result<Option<GuildConnection>, StoreError> {
        self.items.get(&keys::tenant_connection(tenant_id)).await?.map(from_item).transpose()
    }

    /// 1 GetItem.
    async fn tenant_of(&self, guild_id: Id<GuildMarker>) -> Result<Option<TenantId>, StoreError> {
        let item = self.items.get(&keys::guild_connection(guild_id.get())).await?;
        Ok(item.map(from_item::<GuildConnection>).transpose()?.map(|c| c.tenant_id))
    }

    /// 1 PutItem.
    async fn record_bot_install(&self, guild_id: Id<GuildMarker>, install: BotInstall) -> Result<(), StoreError> {
        Ok(self.items.put(to_item(&keys::bot(guild_id.get()), &install, &[])?, None).await?)
    }

    /// 1 GetItem.
    async fn bot_install(&self, guild_id: Id<GuildMarker>) -> Result<Option<BotInstall>, StoreError> {
        self.items.get(&keys::bot(guild_id.get())).await?.map(from_item).transpose()
    }

    /// 1 GetItem + 1 conditional PutItem (more when a write races it).
    async fn confirm_bot_present(&self, guild_id: Id<GuildMarker>, now: u64) -> Result<(), StoreError> {
        for _ in 0..3 {
            let current = self.bot_install(guild_id).await?;
            // Conditional on the permissions read: the connect callback's grant is never lost.
            let (permissions, condition) = match &current {
                Some(install) => (install.permissions, Condition::Equals("permissions", install.permissions.into())),
                None => (0, Condition::NotExists),
            };
            let install = BotInstall { invited: true, permissions, updated_at: now };
            match self.items.put(to_item(&keys::bot(guild_id.get()), &install, &[])?, Some(condition)).await {
                Err(ItemError::ConditionFailed) => continue,
                other => return Ok(other?),
            }
        }
        Err(StoreError::Retryable(Cause::described("the bot's record kept changing")))
    }
}

//! `guildbridge tenant ...`: an operator's tenants and their API keys. Against DynamoDB when
//! a table is named (`--table` / `TABLE_NAME`, with the AWS SDK's own configuration), else
//! the local stack's embedded store under the data folder.

use std::{path::Path, sync::Arc};

use anyhow::Context;
use clap::Subcommand;
use guildbridge_core::{
    clock::{Clock, SystemClock},
    domain::{Tenant, TenantId},
    store::{DomainStore, Store, embedded::EmbeddedItems},
};

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its first API key (shown this once; stored only hashed).
    Create {
        id: String,
        /// An origin (`https://club.example`) the connect flow may send people back to; repeatable.
        #[arg(long = "allowed-origin", required = true)]
        allowed_origins: Vec<String>,
    },
    /// Manage a tenant's API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Issue another key (shown this once).
    Create { tenant: String },
    /// Revoke a key by its id (from `list`): it is refused at once.
    Revoke { tenant: String, key_id: String },
    /// The tenant's keys: ids, when made, whether revoked. Never the keys themselves.
    List { tenant: String },
}

pub async fn run(data_dir: &Path, table: Option<String>, command: TenantCommand) -> anyhow::Result<()> {
    let store = open(data_dir, table).await?;
    let now = SystemClock.now();
    match command {
        TenantCommand::Create { id, allowed_origins } => {
            let tenant_id = tenant_id(&id)?;
            for origin in &allowed_origins {
                check_origin(origin)?;
            }
            let tenant = Tenant { tenant_id: tenant_id.clone(), allowed_origins, created_at: now };
            store.create_tenant(&tenant).await.with_context(|| format!("creating tenant {id}"))?;
            let key = store.issue_api_key(&tenant_id, now).await?;
            println!("created tenant {id}");
            println!("API key (shown once): {}", key.secret);
            println!("key id: {}", key.record.key_id);
        }
        TenantCommand::Key { command: KeyCommand::Create { tenant } } => {
            let tenant_id = existing(store.as_ref(), &tenant).await?;
            let key = store.issue_api_key(&tenant_id, now).await?;
            println!("API key (shown once): {}", key.secret);
            println!("key id: {}", key.record.key_id);
        }
        TenantCommand::Key { command: KeyCommand::Revoke { tenant, key_id } } => {
            let tenant_id = existing(store.as_ref(), &tenant).await?;
            store.revoke_api_key(&tenant_id, &key_id, now).await.with_context(|| format!("revoking {key_id}"))?;
            println!("revoked key {key_id}");
        }
        TenantCommand::Key { command: KeyCommand::List { tenant } } => {
            let tenant_id = existing(store.as_ref(), &tenant).await?;
            for key in store.api_keys(&tenant_id).await? {
                let state = match (key.revoked_at, key.expires_at) {
                    (Some(at), _) => format!("revoked at {at}"),
                    (None, Some(at)) if at <= now => format!("expired at {at}"),
                    (None, Some(at)) => format!("active until {at}"),
                    (None, None) => "active".to_owned(),
                };
                let by = key.created_by.as_deref().unwrap_or("operator");
                println!("{}  created at {} by {by} ({:?})  {state}", key.key_id, key.created_at, key.door);
            }
        }
    }
    Ok(())
}

async fn open(data_dir: &Path, table: Option<String>) -> anyhow::Result<Arc<dyn DomainStore>> {
    Ok(match table {
        #[cfg(feature = "aws")]
        Some(table) => {
            use guildbridge_aws::dynamo::DynamoItems;
            Arc::new(Store::new(DynamoItems::new(DynamoItems::client_from_env().await, table)))
        }
        #[cfg(not(feature = "aws"))]
        Some(_) => anyhow::bail!(crate::NO_AWS),
        None => {
            let dir = data_dir.join("data");
            std::fs::create_dir_all(&dir)?;
            Arc::new(Store::new(EmbeddedItems::open(&dir.join("store.sqlite3"))?))
        }
    })
}

/// Tenant ids are the platform's own: letters, digits, `-`, `_`, `.`, at most 64.
fn tenant_id(id: &str) -> anyhow::Result<TenantId> {
    let valid = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    anyhow::ensure!(valid, "a tenant id is 1 to 64 letters, digits, '-', '_' or '.'");
    Ok(TenantId::from(id))
}

async fn existing(store: &dyn DomainStore, id: &str) -> anyhow::Result<TenantId> {
    let tenant_id = tenant_id(id)?;
    anyhow::ensure!(store.tenant(&tenant_id).await?.is_some(), "no tenant {id}");
    Ok(tenant_id)
}

/// An origin exactly: scheme and host (and port), nothing after.
fn check_origin(origin: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(origin).with_context(|| format!("{origin} is not a URL"))?;
    let exact = url.origin().ascii_serialization() == origin;
    anyhow::ensure!(
        exact && matches!(url.scheme(), "https" | "http"),
        "{origin} is not an origin: give scheme and host only, e.g. https://club.example"
    );
    Ok(())
}

//! `guildbridge create-table`: the table exactly as `guildbridge_core::store::schema` defines it.

#[cfg(feature = "aws")]
use guildbridge_aws::dynamo::{DynamoItems, create_table};
#[cfg(feature = "aws")]
use guildbridge_host::config::{self, EnvSource, StoreConfig};

/// Only the table name; the AWS SDK reads the rest of its configuration itself.
#[cfg(feature = "aws")]
struct TableName<'a>(&'a str);

#[cfg(feature = "aws")]
impl EnvSource for TableName<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (name == config::TABLE_NAME).then(|| self.0.to_owned())
    }
}

#[cfg(not(feature = "aws"))]
pub async fn run(_table: &str) -> anyhow::Result<()> {
    anyhow::bail!(crate::NO_AWS)
}

#[cfg(feature = "aws")]
pub async fn run(table: &str) -> anyhow::Result<()> {
    let config = StoreConfig::from_source(&TableName(table))?;
    let client = DynamoItems::client_from_env().await;
    create_table(&client, &config.table_name).await?;
    println!("created table {} with indexes gsi1, gsi2 and TTL on expires_at", config.table_name);
    Ok(())
}

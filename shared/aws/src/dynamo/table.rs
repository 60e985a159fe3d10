//! Creating the one table, for tests and local runs (production tables come from the
//! infrastructure template).

use aws_sdk_dynamodb::{
    Client,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType, TimeToLiveSpecification,
    },
};

use super::{classify, unavailable};
use guildbridge_store::{
    items::ItemError,
    schema::{GLOBAL_INDEXES, Index, attr},
};

/// Creates the table exactly as [`guildbridge_store::schema`] defines it (on demand, TTL on `expires_at`).
/// For tests and local runs; production tables come from the infrastructure template.
pub async fn create_table(client: &Client, table: &str) -> Result<(), ItemError> {
    let key = |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build();
    let string_attr =
        |name: &str| AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build();
    let (pk, sk) = Index::Table.key_attributes();
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(pk, KeyType::Hash).map_err(unavailable)?)
        .key_schema(key(sk, KeyType::Range).map_err(unavailable)?)
        .attribute_definitions(string_attr(pk).map_err(unavailable)?)
        .attribute_definitions(string_attr(sk).map_err(unavailable)?);
    for index in GLOBAL_INDEXES {
        let (ipk, isk) = index.key_attributes();
        request = request
            .attribute_definitions(string_attr(ipk).map_err(unavailable)?)
            .attribute_definitions(string_attr(isk).map_err(unavailable)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name().unwrap_or_default())
                    .key_schema(key(ipk, KeyType::Hash).map_err(unavailable)?)
                    .key_schema(key(isk, KeyType::Range).map_err(unavailable)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .map_err(unavailable)?,
            );
    }
    request.send().await.map_err(classify)?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(attr::EXPIRES_AT)
                .build()
                .map_err(unavailable)?,
        )
        .send()
        .await
        .map_err(classify)?;
    Ok(())
}

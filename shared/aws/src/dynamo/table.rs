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

/// How a table differs from the one the code defines: its keys and its indexes (name, keys
/// and a full projection). Empty when it is as the code expects; an error
/// when it cannot be described (missing, or no permission).
pub async fn table_differences(client: &Client, table: &str) -> Result<Vec<String>, ItemError> {
    let described = client.describe_table().table_name(table).send().await.map_err(classify)?;
    let Some(description) = described.table() else { return Ok(vec!["DynamoDB described no table".to_owned()]) };
    let keys = |schema: &[KeySchemaElement]| -> Vec<(String, String)> {
        schema.iter().map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned())).collect()
    };
    let expected = |index: Index| {
        let (pk, sk) = index.key_attributes();
        vec![(pk.to_owned(), "HASH".to_owned()), (sk.to_owned(), "RANGE".to_owned())]
    };
    let mut differences = Vec::new();
    if keys(description.key_schema()) != expected(Index::Table) {
        differences.push(format!(
            "its keys are {:?}, the code's {:?}",
            keys(description.key_schema()),
            expected(Index::Table)
        ));
    }
    for index in GLOBAL_INDEXES {
        let name = index.name().unwrap_or_default();
        let found = description.global_secondary_indexes().iter().find(|gsi| gsi.index_name() == Some(name));
        match found {
            None => differences.push(format!("it has no index {name}")),
            Some(gsi) if keys(gsi.key_schema()) != expected(index) => differences.push(format!(
                "index {name} has keys {:?}, the code's {:?}",
                keys(gsi.key_schema()),
                expected(index)
            )),
            Some(gsi) if gsi.projection().and_then(|p| p.projection_type()) != Some(&ProjectionType::All) => {
                differences.push(format!("index {name} does not project whole items"))
            }
            Some(_) => {}
        }
    }
    Ok(differences)
}

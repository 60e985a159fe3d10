//! `guildbridge create-table` makes exactly the table `guildbridge_core::store::schema` defines.

use guildbridge_core::store::schema::{GLOBAL_INDEXES, Index, attr};

async fn create(table: &str) -> std::process::Output {
    super::on_moto(&["create-table", "--table", table]).await
}

#[tokio::test]
async fn creates_the_table_the_code_defines() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(!endpoint.is_empty(), "AWS_ENDPOINT_URL is not set: run through tools/test, which starts moto's server");
    let table = format!("cli-{}", guildbridge_core::test_support::interactions::new_snowflake());
    let output = create(&table).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let client = e2e::stack::Aws::connect().dynamo;
    let description = client.describe_table().table_name(&table).send().await.expect("describe").table.expect("table");
    let key_names = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        schema.iter().map(|k| k.attribute_name().to_owned()).collect::<Vec<_>>()
    };
    let (pk, sk) = Index::Table.key_attributes();
    assert_eq!(key_names(description.key_schema()), [pk, sk]);
    let mut indexes: Vec<(String, Vec<String>)> = description
        .global_secondary_indexes()
        .iter()
        .map(|i| (i.index_name().unwrap_or_default().to_owned(), key_names(i.key_schema())))
        .collect();
    indexes.sort();
    let expected: Vec<(String, Vec<String>)> = GLOBAL_INDEXES
        .iter()
        .map(|i| {
            let (ipk, isk) = i.key_attributes();
            (i.name().unwrap_or_default().to_owned(), vec![ipk.to_owned(), isk.to_owned()])
        })
        .collect();
    assert_eq!(indexes, expected);
    let ttl = client.describe_time_to_live().table_name(&table).send().await.expect("ttl");
    assert_eq!(ttl.time_to_live_description().and_then(|d| d.attribute_name()), Some(attr::EXPIRES_AT));

    let again = create(&table).await;
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(!again.status.success() && stderr.contains("ResourceInUse"), "creating it twice is an error: {stderr}");
    let bad = create("x").await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("TABLE_NAME is malformed"));
}

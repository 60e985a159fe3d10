//! `guildbridge provision --endpoint URL`: the table and the FIFO queues (with dead-letter
//! queues) at an AWS-compatible endpoint, then the functions' environment as `KEY=value`.

#[cfg(not(feature = "aws"))]
pub async fn run(_endpoint: &str, _prefix: &str) -> anyhow::Result<()> {
    anyhow::bail!(crate::NO_AWS)
}

#[cfg(feature = "aws")]
pub async fn run(endpoint: &str, prefix: &str) -> anyhow::Result<()> {
    use aws_config::BehaviorVersion;
    use guildbridge_core::worker::DEFAULT_MAX_RECEIVES;
    use guildbridge_host::provision::provision;

    let shared_config = aws_config::defaults(BehaviorVersion::latest()).endpoint_url(endpoint).load().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&shared_config);
    let sqs = aws_sdk_sqs::Client::new(&shared_config);
    let provisioned = provision(&dynamo, &sqs, prefix, DEFAULT_MAX_RECEIVES).await?;
    eprintln!(
        "provisioned at {endpoint}: table {}, queues {} and {} (dead letters: {} and {})",
        provisioned.table_name,
        provisioned.channel_queue_url,
        provisioned.sync_queue_url,
        provisioned.channel_dead_letter_url,
        provisioned.sync_dead_letter_url
    );
    println!("AWS_ENDPOINT_URL={endpoint}");
    for (name, value) in provisioned.env() {
        println!("{name}={value}");
    }
    Ok(())
}

//! Clients of moto's DynamoDB-, SQS- and Secrets Manager-compatible server on loopback, as
//! the test command starts it (`AWS_ENDPOINT_URL`). The one place tests build them.

/// Where moto's server is. Fails the test, never skips it, when it is not there.
pub fn endpoint() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: this test needs moto's DynamoDB/SQS-compatible server. Run it through \
         tools/test, which installs and starts one, or start one yourself (`moto_server -H 127.0.0.1 -p 5055`, \
         then `export AWS_ENDPOINT_URL=http://127.0.0.1:5055`)."
    );
    endpoint
}

/// A name no other test (in this process or another) is using: a table's or a queue's.
/// Time-based ids collide when parallel test processes start on a coarse clock.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}-{:016x}", std::process::id(), fastrand::u64(..))
}

/// A client of each service moto plays, with moto's test credentials.
#[derive(Debug, Clone)]
pub struct MotoClients {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl MotoClients {
    pub fn connect() -> Self {
        let endpoint = endpoint();
        let credentials = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "moto");
        let region = aws_sdk_dynamodb::config::Region::new("us-east-1");
        let behavior = aws_sdk_dynamodb::config::BehaviorVersion::latest();
        let dynamo = aws_sdk_dynamodb::Config::builder()
            .behavior_version(behavior)
            .endpoint_url(&endpoint)
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .build();
        let sqs = aws_sdk_sqs::Config::builder()
            .behavior_version(behavior)
            .endpoint_url(&endpoint)
            .region(region.clone())
            .credentials_provider(credentials.clone())
            .build();
        let secrets = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(behavior)
            .endpoint_url(&endpoint)
            .region(region)
            .credentials_provider(credentials)
            .build();
        Self {
            dynamo: aws_sdk_dynamodb::Client::from_conf(dynamo),
            sqs: aws_sdk_sqs::Client::from_conf(sqs),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets),
        }
    }
}

//! Guildbridge's AWS adapters: the item store on DynamoDB ([`dynamo::DynamoItems`], with the
//! table's creation for tests and local runs) and the job queues on SQS FIFO
//! ([`sqs::SqsQueues`]). They implement the ports of `guildbridge-store`; nothing below them
//! knows AWS, so the local stack builds without the SDK's DynamoDB and SQS clients.

pub mod dynamo;
pub mod sqs;

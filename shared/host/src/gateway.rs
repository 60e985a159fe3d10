//! The gateway ingest's process: shards of Discord's Gateway (twilight-gateway, which
//! heartbeats, resumes and reconnects), each handing its MESSAGE_CREATEs in order to the
//! ingest; beside them a pulse (the heartbeat in the table, and the relayed set kept fresh)
//! and a catch-up after each new session.

use std::{ops::Range, time::Duration};

use tokio::{sync::mpsc, time::Instant};
use twilight_gateway::{CloseFrame, Event, EventTypeFlags, Intents, Shard, ShardId, ShardState, StreamExt as _};

use crate::{
    discord::rest::{BotToken, DiscordClient, DiscordError},
    domain::error::Report,
    relay::{GatewayIngest, ShardOf},
};

/// GUILDS, GUILD_MESSAGES and the privileged MESSAGE_CONTENT.
pub const INTENTS: Intents = Intents::GUILDS.union(Intents::GUILD_MESSAGES).union(Intents::MESSAGE_CONTENT);

/// How the process runs.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The shards this process runs (all of Discord's recommendation when `None`).
    pub shards: Option<Range<u32>>,
    /// The total shard count (Discord's recommendation when `None`).
    pub total: Option<u32>,
    /// The heartbeat in the table, this often.
    pub pulse_every: Duration,
    /// The relayed set read from the store, this often.
    pub refresh_every: Duration,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self { shards: None, total: None, pulse_every: Duration::from_secs(5), refresh_every: Duration::from_secs(15) }
    }
}

impl GatewayOptions {
    /// The shards from `GATEWAY_SHARDS` (`first..end`) and `GATEWAY_SHARD_TOTAL`; unset, all
    /// of Discord's recommendation.
    pub fn from_env(shards: Option<&str>, total: Option<&str>) -> Result<Self, GatewayError> {
        let bad = |what: &str| GatewayError::Config(what.to_owned());
        let shards = match shards.map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => {
                let (first, end) =
                    text.split_once("..").ok_or_else(|| bad("GATEWAY_SHARDS is first..end, like 0..4"))?;
                let parse = |n: &str| n.trim().parse::<u32>().map_err(|_| bad("GATEWAY_SHARDS holds whole numbers"));
                Some(parse(first)?..parse(end)?)
            }
        };
        let total = match total.map(str::trim).filter(|text| !text.is_empty()) {
            None => None,
            Some(text) => Some(text.parse::<u32>().map_err(|_| bad("GATEWAY_SHARD_TOTAL is a whole number"))?),
        };
        if shards.is_some() && total.is_none() {
            return Err(bad("GATEWAY_SHARDS needs GATEWAY_SHARD_TOTAL: every task must count the same shards"));
        }
        Ok(Self { shards, total, ..Self::default() })
    }
}

/// Resolves on SIGTERM (how ECS stops a task) or Ctrl-C.
pub async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("the gateway's configuration: {0}")]
    Config(String),
    #[error("could not ask Discord where the Gateway is")]
    Discover(#[source] DiscordError),
    #[error("shards {first}..{end} do not fit in {total}")]
    Shards { first: u32, end: u32, total: u32 },
    /// Discord closed a shard for good: 4004 a wrong token, 4014 an intent the application
    /// lacks (turn the Message Content intent on in the Developer Portal, or run without the
    /// gateway: the poller relays alone).
    #[error("Discord closed shard {shard} for good: {code} {reason}")]
    Closed { shard: u32, code: u16, reason: String },
}

/// Runs the shards until `stop` (or a shard is closed for good).
pub async fn run(
    ingest: GatewayIngest,
    discord: DiscordClient,
    token: &BotToken,
    options: GatewayOptions,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), GatewayError> {
    let info = discord.gateway_bot(Instant::now() + Duration::from_secs(30)).await.map_err(GatewayError::Discover)?;
    let total = options.total.unwrap_or(info.shards).max(1);
    let range = options.shards.clone().unwrap_or(0..total);
    if range.end > total || range.is_empty() {
        return Err(GatewayError::Shards { first: range.start, end: range.end, total });
    }
    let label = format!("{}..={} of {total}", range.start, range.end - 1);
    tracing::info!(url = %info.url, shards = %label, "gateway ingest starting");
    if let Err(error) = ingest.refresh().await {
        tracing::warn!(error = %Report(&error), "could not read the relayed channels; the pulse tries again");
    }
    let config =
        twilight_gateway::ConfigBuilder::new(token.expose().to_owned(), INTENTS).proxy_url(info.url.clone()).build();
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(pulse(ingest.clone(), options.clone(), label, stop.clone()));
    for id in range {
        let shard = Shard::with_config(ShardId::new(id, total), config.clone());
        tasks.spawn(run_shard(shard, ingest.clone(), ShardOf { id, total }, stop.clone()));
    }
    let outcome = loop {
        tokio::select! {
            _ = stop.changed() => break Ok(()),
            done = tasks.join_next() => match done {
                Some(Ok(Err(error))) => break Err(error),
                Some(_) => continue,
                None => break Ok(()),
            },
        }
    };
    tasks.abort_all();
    outcome
}

/// The heartbeat, the relayed set, and catch-ups while channels are behind.
async fn pulse(
    ingest: GatewayIngest,
    options: GatewayOptions,
    label: String,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), GatewayError> {
    let mut refreshed = Instant::now();
    loop {
        if refreshed.elapsed() >= options.refresh_every {
            refreshed = Instant::now();
            if let Err(error) = ingest.refresh().await {
                tracing::warn!(error = %Report(&error), "could not read the relayed channels");
            }
        }
        if ingest.behind() > 0 {
            let report = ingest.catch_up(Instant::now() + Duration::from_secs(60)).await;
            tracing::info!(read = report.read, relayed = report.relayed, pending = report.pending, "gateway catch-up");
        }
        if let Err(error) = ingest.pulse(&label).await {
            tracing::warn!(error = %Report(&error), "could not record the gateway's heartbeat");
        }
        let pause = if ingest.behind() > 0 { Duration::from_secs(1) } else { options.pulse_every };
        if tokio::time::timeout(pause, stop.changed()).await.is_ok() {
            return Ok(());
        }
    }
}

/// One shard: its events in order; MESSAGE_CREATEs go to a task of their own, in order, so
/// the store's latency never holds up the shard's heartbeats.
async fn run_shard(
    mut shard: Shard,
    ingest: GatewayIngest,
    of: ShardOf,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), GatewayError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<twilight_model::channel::Message>();
    let relaying = ingest.clone();
    let relay = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if let Err(error) = relaying.on_message(&message).await {
                tracing::warn!(error = %Report(&error), "gateway message not relayed; the next catch-up reads it");
            }
        }
    });
    // Close frames always come through.
    let wanted = EventTypeFlags::READY | EventTypeFlags::RESUMED | EventTypeFlags::MESSAGE_CREATE;
    let outcome = loop {
        let event = tokio::select! {
            _ = stop.changed() => break Ok(()),
            event = shard.next_event(wanted) => event,
        };
        match event {
            Some(Ok(Event::Ready(_))) => {
                tracing::info!(shard = of.id, "gateway session started; its channels are caught up");
                ingest.session_started(of);
            }
            Some(Ok(Event::Resumed)) => tracing::info!(shard = of.id, "gateway session resumed"),
            Some(Ok(Event::MessageCreate(message))) => {
                let _ = tx.send(message.message);
            }
            Some(Ok(Event::GatewayClose(frame))) => {
                if matches!(shard.state(), ShardState::FatallyClosed) {
                    let CloseFrame { code, reason } = frame.unwrap_or(CloseFrame::NORMAL);
                    break Err(GatewayError::Closed { shard: of.id, code, reason: reason.into_owned() });
                }
                tracing::info!(shard = of.id, "gateway connection closed; reconnecting");
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => tracing::warn!(shard = of.id, error = %Report(&error), "gateway receive failed"),
            None => break Ok(()),
        }
    };
    drop(tx);
    let _ = relay.await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_runs_the_shards_it_is_given_out_of_the_same_total() {
        let all = GatewayOptions::from_env(None, None).expect("defaults");
        assert_eq!((all.shards, all.total), (None, None), "Discord's recommendation");
        let some = GatewayOptions::from_env(Some("4..8"), Some("16")).expect("a range");
        assert_eq!((some.shards, some.total), (Some(4..8), Some(16)));
        assert!(GatewayOptions::from_env(Some("4..8"), None).is_err(), "a range needs its total");
        assert!(GatewayOptions::from_env(Some("four"), Some("16")).is_err());
        assert!(GatewayOptions::from_env(None, Some("x")).is_err());
    }
}

//! An event's timeline: reminders before it starts, the start message, its end and its
//! summary, its archive once the guild's retention has passed since the end, and the
//! sign-up board's next turn.
//! [`plan_subject`] writes what is due when a subject is put; [`run_timeline`], on every
//! schedule tick, does what is due: each reminder, start and archive is decided once by
//! condition (posted or done, or skipped as too late), however often or late the schedule
//! fires, and an action once decided is never planned again.

use crate::domain::error::Report;
use std::collections::BTreeMap;

use twilight_model::id::{
    Id,
    marker::{GuildMarker, UserMarker},
};

use crate::{
    discord::responses::link_button_row,
    domain::{
        ChannelMapping, GuildSettings, Job, MappingStatus, MessageParts, Subject, SubjectRef, Team, TeamLine,
        add_signup_values, add_summary_values, offset_text, subject_values,
    },
    queue::{JobQueue, QueueError},
    store::{ActionOutcome, ActionRecord, DomainStore, DueAction, StoreError},
};

/// Due actions handled per schedule event; the rest stay due for the next one.
const DUE_PER_RUN: u32 = 500;
/// A start message more than this late is skipped (its offset is zero).
const START_GRACE_SECS: u64 = 3600;
pub const BOARD: &str = crate::store::BOARD_TURN;
pub const START: &str = "start";
pub const END: &str = "end";
/// The event summed up: at its end, unless its results brought it earlier ([`post_summary`]).
pub const SUMMARY: &str = "summary";
/// A summary more than this late (the schedule was down) is skipped.
const SUMMARY_GRACE_SECS: u64 = 24 * 3600;
/// The retention's archive: the channel, its threads and its team roles.
pub const ARCHIVE: &str = "archive";
/// `reminder:<minutes before the start>`.
const REMINDER_PREFIX: &str = "reminder:";

#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What one schedule event did with the timeline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimelineReport {
    pub due: u64,
    /// Reminders and start messages queued (decided now or by an earlier run that stopped).
    pub posted: u64,
    /// Reminders and start messages found too late, recorded as skipped.
    pub skipped: u64,
    pub completed: u64,
    pub boards: u64,
    /// Reminders queued as DMs, to team members who asked for them.
    pub dms: u64,
    /// Channels whose retention ran out, their archive queued.
    pub archives: u64,
    /// Actions whose channel is still being made: they stay due.
    pub waiting: u64,
}

fn reminder_action(minutes: u32) -> String {
    format!("{REMINDER_PREFIX}{minutes}")
}

/// The minutes of a `reminder:N` action; `None` for the others.
fn reminder_minutes(action: &str) -> Option<u32> {
    action.strip_prefix(REMINDER_PREFIX).and_then(|minutes| minutes.parse().ok())
}

/// What is due for the subject under these settings, by action.
fn planned(subject: &Subject, settings: &GuildSettings) -> Vec<(String, u64)> {
    let mut actions = Vec::new();
    if let Some(starts) = subject.starts_at {
        for minutes in settings.reminder_offsets() {
            actions.push((reminder_action(minutes), starts.saturating_sub(u64::from(minutes) * 60)));
        }
        if settings.start_message.is_some() {
            actions.push((START.to_owned(), starts));
        }
    }
    if let Some(ends) = subject.ends_at {
        actions.push((END.to_owned(), ends));
        if settings.summary_template.is_some() {
            actions.push((SUMMARY.to_owned(), ends));
        }
    }
    // An event that never says when it ends is kept from its start.
    if let Some(ended) = subject.ends_at.or(subject.starts_at) {
        let retention = u64::from(settings.archive_retention_hours) * 3600;
        actions.push((ARCHIVE.to_owned(), ended.saturating_add(retention)));
    }
    actions
}

/// After a subject is put: its reminders, start and end planned (moved when `starts_at`
/// moved; one already decided stays decided), and its board updated now or at its next turn.
/// `channel_requested`: a channel job was just queued (the board follows it in the queue).
pub async fn plan_subject(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    subject: &Subject,
    channel_requested: bool,
    now: u64,
) -> Result<(), TimelineError> {
    let settings = store.settings(guild_id).await?.settings;
    store.plan_actions(guild_id, &subject.subject, &planned(subject, &settings)).await?;
    let Some(signups) = &subject.signups else { return Ok(()) };
    let mapping = store.mapping(guild_id, &subject.subject).await?;
    let live = mapping.as_ref().is_some_and(|m| matches!(m.status, MappingStatus::Active | MappingStatus::Creating));
    if !(live || channel_requested) {
        return Ok(());
    }
    let shows = signups.digest();
    let board = mapping.and_then(|mapping| mapping.board);
    let next_turn = board.as_ref().map(|board| board.edited_at + u64::from(settings.signup_update_hours) * 3600);
    match board {
        Some(board) if board.shows == shows => {}
        Some(_) if !signups.significant && next_turn.is_some_and(|turn| turn > now) => {
            let due = DueAction {
                guild_id,
                subject: subject.subject.clone(),
                action: BOARD.to_owned(),
                at: next_turn.unwrap_or(now),
            };
            store.plan_action(&due).await?;
        }
        _ => {
            let job = Job::UpdateBoard { guild_id, subject: subject.subject.clone(), shows, asked_at: now };
            queue.enqueue(&job).await?;
        }
    }
    Ok(())
}

/// Upcoming events planned per settings change; events further out keep their plan until
/// they are put again.
const REPLAN_LIMIT: u32 = 1000;

/// After the settings were saved: when the reminders, the start message, the summary or the
/// retention changed, every upcoming event and every subject with an open channel is planned
/// again (a new reminder is added, a removed one dropped, the archive moved; one already
/// decided stays decided); when the sync interval changed, the next sync moves to one new
/// interval from now; when team roles or team voice changed, every team of a subject with
/// an open channel is brought in line. Returns how many subjects were replanned.
pub async fn settings_saved(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    before: &GuildSettings,
    after: &GuildSettings,
    now: u64,
) -> Result<usize, TimelineError> {
    if before.sync_interval_hours != after.sync_interval_hours {
        let interval = u64::from(after.sync_interval_hours.max(1)) * 3600;
        store.reschedule(guild_id, now.saturating_add(interval)).await?;
    }
    let teams_of = |s: &GuildSettings| (s.team_roles, s.team_voice, s.team_voice_pattern.clone());
    if teams_of(before) != teams_of(after) {
        let teams = teams_follow(store, queue, guild_id, now).await?;
        tracing::info!(%guild_id, teams, "teams asked to follow the new team settings");
    }
    let plan_of = |settings: &GuildSettings| {
        (
            settings.reminder_offsets(),
            settings.start_message.is_some(),
            settings.summary_template.is_some(),
            settings.archive_retention_hours,
        )
    };
    if plan_of(before) == plan_of(after) {
        return Ok(0);
    }
    let mut subjects = store.upcoming_events(guild_id, now, REPLAN_LIMIT).await?;
    subjects.extend(open_subjects(store, guild_id).await?);
    subjects.sort_by(|a, b| a.subject.cmp(&b.subject));
    subjects.dedup_by(|a, b| a.subject == b.subject);
    for subject in &subjects {
        store.plan_actions(guild_id, &subject.subject, &planned(subject, after)).await?;
    }
    Ok(subjects.len())
}

/// Every team of a subject with an open channel, asked to follow the guild's new team
/// settings (each its own job, told apart from its revision's by `now`). Returns how many.
async fn teams_follow(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    now: u64,
) -> Result<usize, TimelineError> {
    let mut queued = 0;
    for subject in open_subjects(store, guild_id).await? {
        for (team, _) in store.teams(guild_id, &subject.subject).await? {
            if team.removed {
                continue;
            }
            let job = Job::SyncTeam {
                guild_id,
                subject: subject.subject.clone(),
                team_id: team.team_id,
                revision: team.revision,
                settings_saved_at: Some(now),
            };
            queue.enqueue(&job).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Mappings read per page when the subjects with open channels are listed.
const OPEN_PAGE: u32 = 100;

/// The subjects whose channel is open (active, or completed and waiting for retention).
async fn open_subjects(store: &dyn DomainStore, guild_id: Id<GuildMarker>) -> Result<Vec<Subject>, StoreError> {
    let mut subjects = Vec::new();
    for status in [MappingStatus::Active, MappingStatus::Completed] {
        let mut cursor = None;
        loop {
            let page = store.mappings_oldest_first(guild_id, status, OPEN_PAGE, cursor.as_deref()).await?;
            for mapping in page.mappings {
                if let Some(subject) = store.subject(guild_id, &mapping.subject).await? {
                    subjects.push(subject);
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(subjects)
}

/// Plans every subject with an open channel under the guild's settings: for guilds whose
/// subjects were put before their archive was a due action of its own (the backfill).
pub async fn plan_open_subjects(store: &dyn DomainStore, guild_id: Id<GuildMarker>) -> Result<usize, TimelineError> {
    let settings = store.settings(guild_id).await?.settings;
    let subjects = open_subjects(store, guild_id).await?;
    for subject in &subjects {
        store.plan_actions(guild_id, &subject.subject, &planned(subject, &settings)).await?;
    }
    Ok(subjects.len())
}

/// [`settings_saved`] after a save that already stands, from every door that saves settings:
/// a failure is logged (the events keep their plan, and the guild its next sync, until they
/// are put again or the settings are saved again).
pub async fn replan_logged(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    before: &GuildSettings,
    after: &GuildSettings,
    now: u64,
) {
    match settings_saved(store, queue, guild_id, before, after, now).await {
        Ok(0) => {}
        Ok(events) => tracing::info!(%guild_id, events, "upcoming events replanned for the new settings"),
        Err(error) => tracing::warn!(%guild_id, error = %Report(&error), "replanning upcoming events failed"),
    }
}

/// Does what is due. Each action is handled on its own: one that fails stays due and is
/// tried again next time, without holding back the others; one waiting for its channel
/// stays due too.
pub async fn run_timeline(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    now: u64,
) -> Result<TimelineReport, TimelineError> {
    let mut report = TimelineReport::default();
    for due in store.due_actions(now, DUE_PER_RUN).await? {
        report.due += 1;
        if let Err(error) = handle(store, queue, &due, now, &mut report).await {
            tracing::warn!(guild_id = %due.guild_id, subject = %due.subject, action = %due.action, error = %Report(&error), "a due action failed; it stays due");
        }
    }
    Ok(report)
}

async fn handle(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    due: &DueAction,
    now: u64,
    report: &mut TimelineReport,
) -> Result<(), TimelineError> {
    let guild_id = due.guild_id;
    let step = match due.action.as_str() {
        BOARD => {
            let subject = store.subject(guild_id, &due.subject).await?;
            if let Some(signups) = subject.and_then(|subject| subject.signups) {
                let shows = signups.digest();
                let job = Job::UpdateBoard { guild_id, subject: due.subject.clone(), shows, asked_at: due.at };
                queue.enqueue(&job).await?;
                report.boards += 1;
            }
            Step::Clear
        }
        END => {
            if store.mark_completed(guild_id, &due.subject, now).await? {
                report.completed += 1;
            }
            Step::Clear
        }
        ARCHIVE => archive_once(store, queue, due, now, report).await?,
        _ => post_once(store, queue, due, now, report).await?,
    };
    match step {
        Step::Clear => store.clear_action(due).await?,
        Step::Wait => report.waiting += 1,
    }
    Ok(())
}

/// What becomes of a due action after its turn.
enum Step {
    /// Decided (or nothing left to do): it leaves the schedule.
    Clear,
    /// Its channel is still being made: it stays due.
    Wait,
}

/// Whether the decision that stands is this due time's: a decision made for another time
/// (the action moved while it was being decided) stands, and nothing is done again.
fn decided_now(decided: &ActionRecord, due: &DueAction) -> bool {
    decided.due_at == due.at
}

/// The retention's archive: decided once, then the channel's archive queued (its job is
/// idempotent, so a run that stopped after deciding queues it again safely).
async fn archive_once(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    due: &DueAction,
    now: u64,
    report: &mut TimelineReport,
) -> Result<Step, TimelineError> {
    let guild_id = due.guild_id;
    let settings = store.settings(guild_id).await?.settings;
    let outcome = match store.mapping(guild_id, &due.subject).await?.map(|mapping| mapping.status) {
        Some(MappingStatus::Creating) => return Ok(Step::Wait),
        Some(status) if status.is_open() => ActionOutcome::Done,
        Some(status) => ActionOutcome::Skipped(format!("the channel is {}", status.as_str())),
        None => ActionOutcome::Skipped(format!("{} has no channel", due.subject)),
    };
    let record = ActionRecord { action: due.action.clone(), due_at: due.at, decided_at: now, outcome };
    let decided = store.decide_action(guild_id, &due.subject, &record).await?.record;
    if decided.outcome == ActionOutcome::Done && decided_now(&decided, due) {
        let reason = format!("ended more than {} hours ago (retention)", settings.archive_retention_hours);
        let job = Job::ArchiveChannel { guild_id, subject: due.subject.clone(), reason, reply: None };
        queue.enqueue(&job).await?;
        report.archives += 1;
    }
    Ok(Step::Clear)
}

/// A reminder or the start message: decided once (skipped when later than its own offset,
/// or when there is no channel to post in; waiting while its channel is being made), then
/// queued under its own key.
async fn post_once(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    due: &DueAction,
    now: u64,
    report: &mut TimelineReport,
) -> Result<Step, TimelineError> {
    let guild_id = due.guild_id;
    let Some(subject) = store.subject(guild_id, &due.subject).await? else { return Ok(Step::Clear) };
    let settings = store.settings(guild_id).await?.settings;
    let mapping = store.mapping(guild_id, &due.subject).await?;
    let allowed_lateness = match reminder_minutes(&due.action) {
        Some(minutes) => u64::from(minutes) * 60,
        None if due.action == SUMMARY => SUMMARY_GRACE_SECS,
        None => START_GRACE_SECS,
    };
    let late = now.saturating_sub(due.at);
    let creating = mapping.as_ref().is_some_and(|mapping| mapping.status == MappingStatus::Creating);
    if creating && late <= allowed_lateness {
        return Ok(Step::Wait);
    }
    let extra = match due.action.as_str() {
        SUMMARY => summary_values(store, guild_id, &subject, &BTreeMap::new()).await?,
        _ => BTreeMap::new(),
    };
    let message = message_for(&due.action, &subject, &settings, mapping.as_ref(), extra);
    let outcome = match &message {
        _ if late > allowed_lateness => {
            ActionOutcome::Skipped(format!("{late} s late at {now}; more than its {allowed_lateness} s"))
        }
        Err(reason) => ActionOutcome::Skipped(reason.clone()),
        Ok(_) => ActionOutcome::Posted,
    };
    let record = ActionRecord { action: due.action.clone(), due_at: due.at, decided_at: now, outcome };
    let decided = store.decide_action(guild_id, &due.subject, &record).await?.record;
    if !decided_now(&decided, due) {
        tracing::info!(%guild_id, subject = %due.subject, action = %due.action, decided_for = decided.due_at, "already decided for another time");
        return Ok(Step::Clear);
    }
    match (decided.outcome, message) {
        (ActionOutcome::Posted, Ok((content, parts))) => {
            // The channel first; then the DMs (a failure leaves the action due, and the
            // next run queues both again under the same keys).
            let job = Job::SendMessage {
                guild_id,
                subject: due.subject.clone(),
                content: content.clone(),
                message_key: due.action.clone(),
                allow_mentions: false,
                reply_to: None,
                parts: parts.clone(),
                team: None,
            };
            queue.enqueue(&job).await?;
            report.posted += 1;
            if reminder_minutes(&due.action).is_some() {
                report.dms += remind_by_dm(store, queue, due, &content, &parts).await?;
            }
        }
        (ActionOutcome::Skipped(reason), _) => {
            tracing::info!(guild_id = %guild_id, subject = %due.subject, action = %due.action, %reason, "skipped");
            report.skipped += 1;
        }
        (ActionOutcome::Posted | ActionOutcome::Done, _) => {}
    }
    Ok(Step::Clear)
}

/// Queues the reminder as a DM to each member of the event's teams who pressed "Remind me"
/// (each under its own key, so a repeat is one DM), without the button. Returns how many.
async fn remind_by_dm(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    due: &DueAction,
    content: &str,
    parts: &MessageParts,
) -> Result<u64, TimelineError> {
    let recipients = dm_recipients(store, due.guild_id, &due.subject).await?;
    let parts = MessageParts { remind_button: false, ..parts.clone() };
    for user_id in &recipients {
        let job = Job::RemindByDm {
            guild_id: due.guild_id,
            subject: due.subject.clone(),
            user_id: *user_id,
            message_key: due.action.clone(),
            content: content.to_owned(),
            parts: parts.clone(),
        };
        queue.enqueue(&job).await?;
    }
    Ok(recipients.len() as u64)
}

/// The linked members of the subject's teams whose link says `reminder_dms`.
async fn dm_recipients(
    store: &dyn DomainStore,
    guild_id: Id<GuildMarker>,
    subject: &SubjectRef,
) -> Result<Vec<Id<UserMarker>>, StoreError> {
    let mut members: Vec<String> = store
        .teams(guild_id, subject)
        .await?
        .into_iter()
        .filter(|(team, _)| !team.removed)
        .flat_map(|(team, _)| team.members)
        .collect();
    members.sort();
    members.dedup();
    if members.is_empty() {
        return Ok(Vec::new());
    }
    // Links are one to one, so distinct members are distinct Discord users.
    let users: Vec<Id<UserMarker>> = store.links_of_platform_users(guild_id, &members).await?.into_values().collect();
    let links = store.discord_links(guild_id, &users).await?;
    Ok(links.into_iter().filter(|link| link.reminder_dms).map(|link| link.user_id).collect())
}

/// The message an action posts, or why there is none. `extra`: values of its own (a
/// summary's teams and results).
fn message_for(
    action: &str,
    subject: &Subject,
    settings: &GuildSettings,
    mapping: Option<&ChannelMapping>,
    extra: BTreeMap<String, String>,
) -> Result<(String, MessageParts), String> {
    // A summary also goes to an event that has ended (its channel kept until retention).
    let summary = action == SUMMARY;
    let channel = match mapping {
        Some(mapping) if mapping.status == MappingStatus::Active => mapping.channels.text,
        Some(mapping) if summary && mapping.status.is_open() => mapping.channels.text,
        _ => None,
    }
    .ok_or_else(|| format!("{} has no active channel", subject.subject))?;
    let mut values: BTreeMap<String, String> = subject_values(subject, Some(channel.get()));
    let template = match reminder_minutes(action) {
        Some(minutes) => {
            values.insert("offset".to_owned(), offset_text(minutes));
            settings.reminders.iter().find(|reminder| reminder.before_minutes == minutes).map(|r| &r.template)
        }
        None if summary => settings.summary_template.as_ref(),
        None => settings.start_message.as_ref(),
    }
    .ok_or_else(|| format!("the settings no longer have a {action} message"))?;
    if let Some(signups) = &subject.signups {
        add_signup_values(&mut values, signups);
    }
    values.extend(extra);
    let rendered = template.render(&values).map_err(|errors| errors.to_string())?;
    let reminder = reminder_minutes(action).is_some();
    let mut parts = MessageParts { embeds: rendered.embeds, components: Vec::new(), remind_button: reminder };
    if let Some(url) = &subject.signup_url {
        parts.components.push(link_button_row("Sign up", url.clone()));
    }
    Ok((rendered.content.unwrap_or_default(), parts))
}

/// What [`post_summary`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryOutcome {
    /// Decided now and queued.
    Queued(Job),
    /// Decided before (posted at its end, by its results, or skipped): nothing is posted again.
    AlreadyDecided(ActionRecord),
    /// The guild has no such subject.
    UnknownSubject,
    /// Nothing to post: no summary template, or no open channel.
    Nothing(String),
}

/// The summary now, with these results as its top entries: decided once (whatever decided
/// it first, the end or an earlier call, stands), then queued under its own key. The
/// planned summary at the end then finds it decided and posts nothing. A decision whose
/// job could not be queued is left due now, for the schedule to queue.
pub async fn post_summary(
    store: &dyn DomainStore,
    queue: &dyn JobQueue,
    guild_id: Id<GuildMarker>,
    reference: &SubjectRef,
    results: &BTreeMap<String, String>,
    now: u64,
) -> Result<SummaryOutcome, TimelineError> {
    let Some(subject) = store.subject(guild_id, reference).await? else {
        return Ok(SummaryOutcome::UnknownSubject);
    };
    let settings = store.settings(guild_id).await?.settings;
    if settings.summary_template.is_none() {
        return Ok(SummaryOutcome::Nothing("the settings have no summary_template".to_owned()));
    }
    let mapping = store.mapping(guild_id, reference).await?;
    let extra = summary_values(store, guild_id, &subject, results).await?;
    let (content, parts) = match message_for(SUMMARY, &subject, &settings, mapping.as_ref(), extra) {
        Ok(message) => message,
        Err(reason) => return Ok(SummaryOutcome::Nothing(reason)),
    };
    let record =
        ActionRecord { action: SUMMARY.to_owned(), due_at: now, decided_at: now, outcome: ActionOutcome::Posted };
    let decision = store.decide_action(guild_id, reference, &record).await?;
    if !decision.ours {
        return Ok(SummaryOutcome::AlreadyDecided(decision.record));
    }
    let job = Job::SendMessage {
        guild_id,
        subject: reference.clone(),
        content,
        message_key: SUMMARY.to_owned(),
        allow_mentions: false,
        reply_to: None,
        parts,
        team: None,
    };
    if let Err(error) = queue.enqueue(&job).await {
        // Decided, not queued: due now, the schedule's next tick queues it (a decision for
        // this very time), without the results it was asked with.
        let due = DueAction { guild_id, subject: reference.clone(), action: SUMMARY.to_owned(), at: now };
        if let Err(error) = store.plan_action(&due).await {
            tracing::error!(%guild_id, subject = %reference, error = %Report(&error), "a decided summary was neither queued nor planned");
        }
        return Err(error.into());
    }
    Ok(SummaryOutcome::Queued(job))
}

/// A summary's own values: the event's teams with their linked members (as mentions, which
/// ping nobody) and the results' top entries.
async fn summary_values(
    store: &dyn DomainStore,
    guild_id: Id<GuildMarker>,
    subject: &Subject,
    results: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, StoreError> {
    let teams: Vec<Team> = store
        .teams(guild_id, &subject.subject)
        .await?
        .into_iter()
        .map(|(team, _)| team)
        .filter(|t| !t.removed)
        .collect();
    let mut members: Vec<String> = teams.iter().flat_map(|team| team.members.iter().cloned()).collect();
    members.sort();
    members.dedup();
    let links =
        if members.is_empty() { Default::default() } else { store.links_of_platform_users(guild_id, &members).await? };
    let lines: Vec<TeamLine> = teams
        .iter()
        .map(|team| TeamLine {
            name: team.name.clone(),
            members: team.members.iter().filter_map(|m| links.get(m)).map(|user| format!("<@{user}>")).collect(),
            unlinked: team.members.iter().filter(|m| !links.contains_key(*m)).count(),
        })
        .collect();
    let mut values = BTreeMap::new();
    add_summary_values(&mut values, subject.signups.as_ref(), &lines, results);
    Ok(values)
}

//! `GET livechat/inquiries.stream`: the queue as Server-Sent Events, and
//! `POST livechat/inquiries.streamTicket`: a ticket for browsers, whose `EventSource` cannot
//! send headers.
//!
//! Every event's SSE `id` is its sequence number in the store's log. A client that reconnects
//! with `Last-Event-ID` (or `?lastEventId=`) first gets every event after that one from the
//! log, then live ones: the stream subscribes to the hub *before* reading the log and skips
//! live events at or below the last one replayed, so nothing falls between the two and nothing
//! comes twice — across restarts (the log is durable) and across servers (on PostgreSQL, every
//! server's hub follows every server's commits, numbered in one order).
//!
//! What is sent:
//! - first, on a fresh stream: `snapshot`, `{"seq", "queueOrder", "inquiries": […], "agents":
//!   […], "truncated"}`, what the user sees now, with the `id` the stream continues from; also
//!   instead of a replay too long to be worth it (over
//!   [`LiveConfig::replay_limit`](crate::live::LiveConfig)) or from a position the log does not
//!   have;
//! - first, on a resumed stream: `ready`, `{"seq", "resumed": true}`, then the replay;
//! - unnamed events (`onmessage`): `{"type": "added"|"changed"|"removed", …inquiry, "event":
//!   {…}}`, Rocket.Chat's inquiry-observer shape plus the Lobby event that caused it;
//! - `agent`: `{"type": "changed"|"removed", …agent, "event": {…}}`;
//! - `heartbeat` every [`LiveConfig::heartbeat`](crate::live::LiveConfig), carrying the `id`
//!   of the last event looked at (so a reconnect does not re-read what this user may not see).

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use lobby_core::{
    Agent, AgentAvailability, DepartmentFilter, DepartmentId, EventKind, EventQuery, EventSeq, InquiryFilter,
    InquiryQuery, InquiryStatus, Permission, ReservationFilter, StatusSet, StoreExt, Timestamp, User, UserId,
};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::{success, Reply};
use crate::auth::{authenticate, constant_time_eq, AuthUser, StoredToken};
use crate::error::ApiError;
use crate::input::{optional, Additional, JsonBody, Kind, QueryParams};
use crate::live::{self, Change, LiveEvent, LOG_PAGE};
use crate::{wire, AppState};

/// How long a stream ticket is good for.
pub const TICKET_LIFETIME_MS: i64 = 60_000;
const TICKET_PURPOSE: &str = "lobby inquiries.stream ticket";

/// `POST livechat/inquiries.streamTicket` (Lobby's own): a ticket that lets the caller open
/// `inquiries.stream?ticket=…` within a minute. It is good for nothing else, and stops working
/// when the login it was made with signs out or expires.
pub async fn ticket(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Reply {
    crate::input::check_object(&body, &[], Additional::Rejected)?;
    let token = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or_default();
    let expires = state.engine().config().clock.now().plus_millis(TICKET_LIFETIME_MS);
    let ticket = make_ticket(user.id(), expires, &crate::auth::token_hash(token));
    Ok(success(json!({ "ticket": ticket, "expiresAt": expires })))
}

/// `<user id>.<expiry, ms>.<HMAC-SHA-256 hex>`, keyed by the stored hash of the login token: any
/// server reading the same store can check it, and signing out revokes it.
fn make_ticket(user: &UserId, expires: Timestamp, key: &str) -> String {
    format!("{user}.{}.{}", expires.as_millis(), hex::encode(ticket_mac(user.as_str(), expires.as_millis(), key)))
}

fn ticket_mac(user: &str, expires: i64, key: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("{TICKET_PURPOSE}\n{user}\n{expires}").as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The user a ticket was made for, if it is genuine, unexpired, and its login still stands.
async fn redeem_ticket(state: &AppState, ticket: &str) -> Result<User, ApiError> {
    let mut parts = ticket.rsplitn(3, '.');
    let (Some(mac), Some(expires), Some(user)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ApiError::not_logged_in());
    };
    let (Ok(mac), Ok(expires)) = (hex::decode(mac), expires.parse::<i64>()) else {
        return Err(ApiError::not_logged_in());
    };
    if expires < state.engine().config().clock.now().as_millis() || expires > i64::MAX / 2 {
        return Err(ApiError::not_logged_in());
    }
    let Ok(user_id) = UserId::new(user) else { return Err(ApiError::not_logged_in()) };
    let user = state.run(move |engine| engine.user(&user_id)).await?.filter(|u| u.active);
    let Some(user) = user else { return Err(ApiError::not_logged_in()) };
    // The ticket dies with its login: signed out, or past the token lifetime.
    let (now, lifetime) = (state.now(), state.security().token_lifetime);
    let genuine = user.login_token_hashes.iter().map(|entry| StoredToken::parse(entry)).fold(false, |found, login| {
        let matches = constant_time_eq(&ticket_mac(user.id.as_str(), expires, &login.hash), &mac);
        found | (matches && login.is_live(now, lifetime))
    });
    if genuine {
        Ok(user)
    } else {
        Err(ApiError::not_logged_in())
    }
}

/// What one user may see on the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Managers: everything.
    Everything,
    /// Agents (and other users who may view rooms): the public queue, their departments' queues,
    /// their own chats and offers; their own agent record.
    Own {
        /// The user.
        user: UserId,
        /// The departments it serves.
        departments: BTreeSet<DepartmentId>,
    },
}

impl Scope {
    fn of(user: &User, agent: Option<&Agent>, manager: bool) -> Self {
        if manager {
            return Self::Everything;
        }
        Self::Own { user: user.id.clone(), departments: agent.map(|a| a.departments.clone()).unwrap_or_default() }
    }

    /// Follows changes to the user's own agent record (departments joined or left).
    fn update(&mut self, live: &LiveEvent) {
        if let Self::Own { user, departments } = self {
            if let Some(Some(agent)) = live.agents.get(user) {
                departments.clone_from(&agent.departments);
            }
        }
    }

    fn sees_inquiry(&self, live: &LiveEvent) -> bool {
        let Some(inquiry) = &live.inquiry else { return false };
        match self {
            Self::Everything => true,
            Self::Own { user, departments } => {
                inquiry.department.as_ref().is_none_or(|d| departments.contains(d))
                    || inquiry.served_by_id() == Some(user)
                    || inquiry.offered_to() == Some(user)
                    || live.previous_agent() == Some(user)
            }
        }
    }
}

/// The SSE event for `live` as `scope` sees it, if it sees it.
pub fn render(scope: &Scope, live: &LiveEvent) -> Option<SseEvent> {
    let id = live.seq().to_string();
    if let (Some(change), Some(inquiry)) = (live.change(), &live.inquiry) {
        let body = if scope.sees_inquiry(live) {
            let mut body = wire::inquiry(inquiry);
            body["type"] = json!(change.as_str());
            body["event"] = json!(live.event);
            body
        } else if matches!(
            &live.event.event.kind,
            EventKind::Transition { transition: lobby_core::machine::TransitionKind::TransferToDepartment, .. }
        ) {
            // It may have left this user's queue for a department it does not serve: say it
            // is gone, and nothing more.
            json!({ "type": Change::Removed.as_str(), "_id": inquiry.id, "rid": inquiry.rid })
        } else {
            return None;
        };
        return Some(SseEvent::default().id(id).data(body.to_string()));
    }
    let (EventKind::AgentChanged { agent, .. } | EventKind::AgentRemoved { agent }) = &live.event.event.kind else {
        return None;
    };
    let mine = match scope {
        Scope::Everything => true,
        Scope::Own { user, .. } => user == agent,
    };
    if !mine {
        return None;
    }
    let body = match live.agents.get(agent).and_then(Option::as_ref) {
        Some(record) => {
            let mut body = agent_json(record);
            body["type"] = json!(Change::Changed.as_str());
            // The record was read after the event (a replay reads it much later): the
            // availability the event recorded wins.
            if let EventKind::AgentChanged { availability, .. } = &live.event.event.kind {
                body["statusLivechat"] = json!(availability.as_str());
                body["online"] = json!(*availability == AgentAvailability::Available);
            }
            body
        }
        None => json!({ "type": Change::Removed.as_str(), "_id": agent }),
    };
    let mut body = body;
    body["event"] = json!(live.event);
    Some(SseEvent::default().event("agent").id(id).data(body.to_string()))
}

/// An agent as the stream and the statistics show it.
pub fn agent_json(agent: &Agent) -> Value {
    json!({
        "_id": agent.id,
        "username": agent.username,
        "statusLivechat": agent.availability.as_str(),
        "statusSince": agent.availability_since,
        "activeChats": agent.active_chats,
        "maxChats": agent.max_chats,
        "departments": agent.departments,
        "online": agent.availability == AgentAvailability::Available,
    })
}

/// `GET livechat/inquiries.stream?ticket&lastEventId`, or with `X-User-Id`/`X-Auth-Token`, and
/// `Last-Event-ID` to resume. Needs `view-l-room`.
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let user = match (header("x-user-id"), header("x-auth-token"), query.get("ticket")) {
        (Some(user_id), Some(token), _) => authenticate(&state, user_id, token).await?,
        (None, None, Some(ticket)) => redeem_ticket(&state, ticket).await?,
        _ => return Err(ApiError::not_logged_in()),
    };
    query.check(&[optional("ticket", Kind::String), optional("lastEventId", Kind::String)])?;
    let resume = match header("last-event-id").filter(|v| !v.is_empty()).or(query.get("lastEventId")) {
        Some(text) => {
            Some(text.parse::<u64>().map_err(|_| ApiError::invalid_params("Last-Event-ID must be an event number"))?)
        }
        None => None,
    };
    if !state.engine().allows(&user, Permission::ViewLRoom) {
        return Err(ApiError::forbidden());
    }
    let manager = state.engine().allows(&user, Permission::ViewLivechatManager);
    let id = user.id.clone();
    let agent = state.run(move |engine| engine.agent(&id)).await?;
    let scope = Scope::of(&user, agent.as_ref(), manager);
    // Subscribe before anything is read from the log.
    let live = state.live().subscribe();
    let (sender, receiver) = mpsc::channel(OUTBOX);
    tokio::spawn(pump(state.clone(), scope, live, resume, sender));
    let mut response = Sse::new(ReceiverStream::new(receiver)).into_response();
    // Proxies (nginx) must not hold the events back.
    response.headers_mut().insert("x-accel-buffering", axum::http::HeaderValue::from_static("no"));
    Ok(response)
}

type Outbox = mpsc::Sender<Result<SseEvent, Infallible>>;

/// Events queued for one client beyond what its socket holds; a live event that finds them all
/// taken disconnects the client.
const OUTBOX: usize = 64;

/// Feeds one stream until its client goes away or falls behind.
async fn pump(
    state: AppState,
    mut scope: Scope,
    mut live: broadcast::Receiver<Arc<LiveEvent>>,
    resume: Option<u64>,
    out: Outbox,
) {
    let config = state.live().config();
    let store = state.store();
    let head = match tokio::task::spawn_blocking(move || live::head(&store)).await {
        Ok(Ok(head)) => head,
        _ => return,
    };
    let mut last = match resume {
        Some(seq) if seq <= head && head - seq <= config.replay_limit => {
            let ready = json!({ "seq": seq, "resumed": true });
            if send(&out, SseEvent::default().event("ready").id(seq.to_string()).data(ready.to_string())).await {
                return;
            }
            match replay(&state, &mut scope, seq, None, &out).await {
                Some(last) => last,
                None => return,
            }
        }
        // A fresh stream, or a position too far back (or one this log never had): the view as
        // it is, then what changes after `head`. Events after `head` that the snapshot already
        // shows come again, each with the state it left, so applying them in order ends where
        // the store is.
        _ => {
            let Some(snapshot) = snapshot(&state, &scope, head).await else { return };
            if send(&out, SseEvent::default().event("snapshot").id(head.to_string()).data(snapshot.to_string())).await {
                return;
            }
            head
        }
    };
    let mut heartbeat = tokio::time::interval(config.heartbeat);
    heartbeat.reset();
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    let seq = event.seq();
                    if seq <= last {
                        continue;
                    }
                    if seq > last + 1 {
                        // Never expected (the feed is gap-free), but cheap to make sure of.
                        if replay(&state, &mut scope, last, Some(seq - 1), &out).await.is_none() {
                            return;
                        }
                    }
                    scope.update(&event);
                    if let Some(rendered) = render(&scope, &event) {
                        if !offer(&out, rendered, last) {
                            return;
                        }
                    }
                    last = seq;
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    slow(&out, last, missed);
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = heartbeat.tick() => {
                let now = state.engine().config().clock.now();
                let beat = SseEvent::default().event("heartbeat").id(last.to_string()).data(json!({ "ts": now }).to_string());
                if !offer(&out, beat, last) {
                    return;
                }
            }
            () = out.closed() => return,
            () = state.closing() => return,
        }
    }
}

/// The most a snapshot lists of waiting, and of served, conversations.
const SNAPSHOT_LIMIT: usize = 1000;

/// What `scope` sees now: waiting conversations (its queues) in queue order, the conversations
/// it serves or has on offer (a manager: all served and offered ones), and agents (a manager:
/// all; an agent: itself).
async fn snapshot(state: &AppState, scope: &Scope, head: u64) -> Option<Value> {
    let store = state.store();
    let scope = scope.clone();
    let order = state.engine().config().routing.queue_order;
    let read = tokio::task::spawn_blocking(move || -> Result<Value, lobby_core::StoreError> {
        let departments = match &scope {
            Scope::Everything => DepartmentFilter::Any,
            Scope::Own { departments, .. } => {
                let mut set: BTreeSet<Option<DepartmentId>> = departments.iter().cloned().map(Some).collect();
                set.insert(None);
                DepartmentFilter::In(set)
            }
        };
        let query = |statuses: StatusSet, departments: DepartmentFilter| InquiryQuery {
            filter: InquiryFilter { statuses, departments, reservation: ReservationFilter::Any },
            sort: order.sort(),
            offset: 0,
            limit: SNAPSHOT_LIMIT,
        };
        // Offered ones too: a manager sees them wait; an agent sees its own among its chats.
        let unserved = match &scope {
            Scope::Everything => StatusSet::of([InquiryStatus::Queued, InquiryStatus::Open, InquiryStatus::Offered]),
            Scope::Own { .. } => StatusSet::waiting(),
        };
        let waiting = store.list_inquiries(&query(unserved, departments))?;
        let mut truncated = waiting.total > waiting.items.len();
        let mut inquiries: Vec<Value> = waiting.items.iter().map(wire::inquiry).collect();
        let mut agents = Vec::new();
        match &scope {
            Scope::Everything => {
                let served =
                    store.list_inquiries(&query(StatusSet::only(InquiryStatus::Taken), DepartmentFilter::Any))?;
                truncated |= served.total > served.items.len();
                inquiries.extend(served.items.iter().map(wire::inquiry));
                agents.extend(store.agents()?.iter().map(|agent| agent_json(&agent.value)));
            }
            Scope::Own { user, .. } => {
                if let Some(agent) = store.agent(user)? {
                    for id in &agent.value.chats {
                        if let Some(inquiry) = store.inquiry(id)? {
                            inquiries.push(wire::inquiry(&inquiry.value));
                        }
                    }
                    agents.push(agent_json(&agent.value));
                }
            }
        }
        Ok(json!({
            "seq": head,
            // The field the queue is ordered by (then by queue age): `queuedAt`,
            // `priorityWeight` or `estimatedWaitingTimeQueue`.
            "queueOrder": order.sort().field.wire_name(),
            "inquiries": inquiries,
            "agents": agents,
            "truncated": truncated,
        }))
    })
    .await;
    match read {
        Ok(Ok(snapshot)) => Some(snapshot),
        Ok(Err(error)) => {
            tracing::warn!(%error, "reading a stream's snapshot failed");
            None
        }
        Err(_) => None,
    }
}

/// Queues a live event without waiting: a client whose outbox is full is not keeping up, and is
/// disconnected rather than waited for. `false` when the stream must end.
fn offer(out: &Outbox, event: SseEvent, last: u64) -> bool {
    match out.try_send(Ok(event)) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            slow(out, last, 0);
            false
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Counts and logs a stream dropped for falling behind. Its client resumes from the log.
fn slow(out: &Outbox, last: u64, missed: u64) {
    metrics::counter!("lobby_stream_slow_disconnects_total").increment(1);
    tracing::info!(last, missed, "stream fell behind; disconnecting it (its client resumes from the log)");
    let _ = out.try_send(Ok(SseEvent::default().comment("too slow: reconnect with Last-Event-ID")));
}

/// Sends one event, waiting for room (snapshots and replays, which read at the client's
/// pace); `true` when the client has gone.
async fn send(out: &Outbox, event: SseEvent) -> bool {
    out.send(Ok(event)).await.is_err()
}

/// Sends the logged events after `after` (up to `until`, or to the end of the log) that `scope`
/// may see. Returns the last sequence number looked at, or `None` when the client went away or
/// the log could not be read (the stream then ends, and the client resumes).
async fn replay(state: &AppState, scope: &mut Scope, after: u64, until: Option<u64>, out: &Outbox) -> Option<u64> {
    let mut last = after;
    loop {
        let store = state.store();
        let page = tokio::task::spawn_blocking(move || {
            let events = store.events(&EventQuery::all().after(EventSeq(last)).limit(LOG_PAGE))?;
            events.into_iter().map(|event| LiveEvent::load(&store, event)).collect::<Result<Vec<_>, _>>()
        })
        .await;
        let page = match page {
            Ok(Ok(page)) => page,
            Ok(Err(error)) => {
                tracing::warn!(%error, "reading the log for a stream failed");
                return None;
            }
            Err(_) => return None,
        };
        if page.is_empty() {
            return Some(last);
        }
        for event in page {
            if until.is_some_and(|until| event.seq() > until) {
                return Some(last);
            }
            scope.update(&event);
            if let Some(rendered) = render(scope, &event) {
                if send(out, rendered).await {
                    return None;
                }
            }
            last = event.seq();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_are_bound_to_their_user_expiry_and_login() {
        let user = UserId::new("u1").unwrap();
        let expires = Timestamp::from_millis(1_000);
        let ticket = make_ticket(&user, expires, "hash-a");
        let mut parts = ticket.rsplitn(3, '.');
        let mac = hex::decode(parts.next().unwrap()).unwrap();
        assert_eq!(parts.next(), Some("1000"));
        assert_eq!(parts.next(), Some("u1"));
        assert!(constant_time_eq(&ticket_mac("u1", 1_000, "hash-a"), &mac));
        assert!(!constant_time_eq(&ticket_mac("u1", 1_001, "hash-a"), &mac));
        assert!(!constant_time_eq(&ticket_mac("u2", 1_000, "hash-a"), &mac));
        assert!(!constant_time_eq(&ticket_mac("u1", 1_000, "hash-b"), &mac));
    }
}

//! Real-time statistics: `livechat/queue` (Rocket.Chat's), `livechat/inquiries.stats` and
//! `livechat/inquiries.history` (Lobby's). All of them read the live views ([`crate::live`]),
//! kept current from the commit feed, not the store's inquiries.

use std::cmp::Reverse;
use std::time::Duration;

use axum::extract::State;
use lobby_core::{has_room, AgentAvailability, InquiryId, Permission};
use serde_json::{json, Value};

use super::{success, Reply};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{optional, required, Kind, QueryParams};
use crate::live::{retention_start, today_start};
use crate::routes::stream::agent_json;
use crate::AppState;

/// The fields `livechat/queue` sorts by.
const QUEUE_SORT_FIELDS: [&str; 3] = ["chats", "user.username", "department.name"];

/// `GET livechat/queue?agentId&departmentId&includeOfflineAgents&offset&count&sort`
/// (Rocket.Chat's): how many open, served conversations each agent has, per department, most
/// first. Agents who are not available are left out unless `includeOfflineAgents=true`. Needs
/// `view-l-room`.
pub async fn queue(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check_paged(&[
        optional("agentId", Kind::String),
        optional("departmentId", Kind::String),
        optional("includeOfflineAgents", Kind::String),
    ])?;
    if !state.engine().allows(&user.0, Permission::ViewLRoom) {
        return Err(ApiError::forbidden());
    }
    let paging = query.paging();
    let sort = match query.get("sort") {
        Some(raw) => Some(parse_queue_sort(raw)?),
        None => None,
    };
    let agent_filter = query.get("agentId").filter(|id| !id.is_empty());
    let department_filter = query.get("departmentId").filter(|id| !id.is_empty() && *id != "undefined");
    let include_offline = query.get("includeOfflineAgents") == Some("true");
    let now = state.live().now();
    let mut rows: Vec<(Value, usize, String, String)> = Vec::new();
    for ((agent_id, department), chats) in now.served() {
        let agent = now.agents().get(agent_id);
        let available = agent.is_some_and(|a| a.availability == AgentAvailability::Available);
        if !include_offline && !available {
            continue;
        }
        if agent_filter.is_some_and(|wanted| wanted != agent_id.as_str()) {
            continue;
        }
        if department_filter.is_some_and(|wanted| department.as_ref().is_none_or(|d| d.as_str() != wanted)) {
            continue;
        }
        let username = agent.map(|a| a.username.clone()).unwrap_or_else(|| agent_id.to_string());
        let department_name = now.department_name(department.as_ref()).unwrap_or_default().to_owned();
        let department_json = match department {
            // Rocket.Chat's aggregation leaves both fields out for a conversation without one.
            None => json!({}),
            Some(id) => json!({ "_id": id, "name": department_name }),
        };
        let row = json!({
            "user": { "_id": agent_id, "username": username, "status": if available { "online" } else { "offline" } },
            "department": department_json,
            "chats": chats,
        });
        rows.push((row, *chats, username, department_name));
    }
    drop(now);
    match sort {
        None | Some(("chats", false)) => {
            rows.sort_by(|a, b| (Reverse(a.1), &a.2, &a.3).cmp(&(Reverse(b.1), &b.2, &b.3)))
        }
        Some(("chats", true)) => rows.sort_by(|a, b| (a.1, &a.2, &a.3).cmp(&(b.1, &b.2, &b.3))),
        Some(("user.username", ascending)) => {
            rows.sort_by(|a, b| (&a.2, &a.3).cmp(&(&b.2, &b.3)));
            if !ascending {
                rows.reverse();
            }
        }
        Some((_, ascending)) => {
            rows.sort_by(|a, b| (&a.3, &a.2).cmp(&(&b.3, &b.2)));
            if !ascending {
                rows.reverse();
            }
        }
    }
    let total = rows.len();
    let queue: Vec<Value> = rows.into_iter().skip(paging.offset).take(paging.limit()).map(|row| row.0).collect();
    Ok(success(json!({ "count": queue.len(), "offset": paging.offset, "total": total, "queue": queue })))
}

/// `{"chats":-1}`-style: one of [`QUEUE_SORT_FIELDS`] and 1 or -1. Returns the field and
/// whether it is ascending.
fn parse_queue_sort(raw: &str) -> Result<(&'static str, bool), ApiError> {
    let invalid = || ApiError::invalid_sort(raw);
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else { return Err(invalid()) };
    let mut entries = map.iter();
    let (Some((name, direction)), None) = (entries.next(), entries.next()) else { return Err(invalid()) };
    let field = QUEUE_SORT_FIELDS.iter().find(|field| *field == name).ok_or_else(invalid)?;
    match direction.as_f64() {
        Some(1.0) => Ok((field, true)),
        Some(-1.0) => Ok((field, false)),
        _ => Err(invalid()),
    }
}

/// The longest service-level threshold accepted (a day).
const MAX_SERVICE_LEVEL_SECONDS: usize = 86_400;

/// `GET livechat/inquiries.stats?serviceLevelSeconds` (Lobby's): the queue now, and what happened
/// over the last 5 minutes, the last hour and today (UTC), with a chart of the last hour. Needs
/// `view-livechat-manager`.
///
/// The present comes from counters the live thread keeps on every commit: O(departments +
/// agents). The windows come from the facts it keeps since the earlier of midnight and an hour
/// ago: O(k + t log t) for k facts and t takes in a window, whatever the length of the log.
pub async fn stats(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&[optional("serviceLevelSeconds", Kind::Count)])?;
    if !state.engine().allows(&user.0, Permission::ViewLivechatManager) {
        return Err(ApiError::forbidden());
    }
    let threshold = match query.count("serviceLevelSeconds") {
        Some(seconds) if seconds > MAX_SERVICE_LEVEL_SECONDS => {
            return Err(ApiError::invalid_params(format!("must be <= {MAX_SERVICE_LEVEL_SECONDS}")))
        }
        Some(seconds) => Duration::from_secs(seconds as u64),
        None => state.live().config().service_level,
    };
    let engine = state.engine();
    let clock_now = engine.config().clock.now();
    let live = state.live();
    let present = {
        let now = live.now();
        let by_department: Vec<Value> = now
            .waiting_by_department()
            .iter()
            .map(|(id, waiting)| json!({ "_id": id, "name": now.department_name(id.as_ref()), "waiting": waiting }))
            .collect();
        let by_priority: Vec<Value> = now
            .waiting_by_priority()
            .iter()
            .map(|(priority, waiting)| json!({ "priorityWeight": priority.get(), "waiting": waiting }))
            .collect();
        let oldest = now.oldest_waiting_since();
        let mut eligible = 0;
        let mut loads = Vec::new();
        for agent in now.agents().values() {
            let limit = engine.config().routing.chat_limit(agent, None);
            let available = agent.availability == AgentAvailability::Available;
            eligible += usize::from(available && has_room(agent, limit));
            let mut load = agent_json(agent);
            load["limit"] = json!(limit);
            load["secondsInStatus"] = json!(clock_now.millis_since(agent.availability_since) / 1000);
            loads.push(load);
        }
        json!({
            "waiting": now.waiting(),
            "waitingByDepartment": by_department,
            "waitingByPriority": by_priority,
            "oldestWaitingSince": oldest,
            "oldestWaitSeconds": oldest.map(|since| clock_now.millis_since(since) as f64 / 1000.0),
            "agents": {
                "total": now.agents().len(),
                "available": now.available_agents(),
                "eligible": eligible,
            },
            "agentLoads": loads,
        })
    };
    let windows = [
        (clock_now.plus_millis(-5 * 60_000), clock_now),
        (clock_now.plus_millis(-3_600_000), clock_now),
        (today_start(clock_now), clock_now),
    ];
    let summaries = live.summaries(&windows, threshold);
    let series: Vec<Value> = live
        .series(clock_now, 60, threshold)
        .into_iter()
        .filter(|point| point.at >= retention_start(clock_now))
        .map(|point| json!({ "ts": point.at, "waiting": point.waiting, "serviceLevel": point.service_level }))
        .collect();
    Ok(success(json!({
        "ts": clock_now,
        "ready": live.is_ready(),
        "serviceLevelSeconds": threshold.as_secs(),
        "now": present,
        "windows": {
            "fiveMinutes": summaries[0].to_json(),
            "oneHour": summaries[1].to_json(),
            "today": summaries[2].to_json(),
        },
        "lastHour": series,
    })))
}

/// `GET livechat/inquiries.history?inquiryId=` (Lobby's): everything recorded about one
/// inquiry, oldest first — transitions, routing decisions with their candidates, timers that
/// fired. Needs `view-l-room`.
pub async fn history(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&[required("inquiryId", Kind::String)])?;
    let id = InquiryId::new(query.get("inquiryId").unwrap_or_default())?;
    let actor = user.actor();
    let events = state.run(move |engine| engine.history(&actor, &id)).await?;
    Ok(success(json!({ "events": events })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_sorts_take_one_known_field() {
        assert_eq!(parse_queue_sort(r#"{"chats":1}"#).unwrap(), ("chats", true));
        assert_eq!(parse_queue_sort(r#"{"user.username":-1}"#).unwrap(), ("user.username", false));
        assert!(parse_queue_sort(r#"{"chats":2}"#).is_err());
        assert!(parse_queue_sort(r#"{"ts":1}"#).is_err());
        assert!(parse_queue_sort(r#"{"chats":1,"user.username":1}"#).is_err());
    }
}

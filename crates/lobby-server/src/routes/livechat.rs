//! Agents, departments, agent status, and the visitor side (`visitor`, `room`, `room.close`).

use axum::extract::State;
use axum::http::StatusCode;
use lobby_core::{
    Actor, AgentAvailability, CoreError, DepartmentId, DepartmentSettings, InquiryStatus, RoomId, UserId,
    VisitorDetails,
};
use serde_json::{json, Map, Value};

use super::{paged, success, Reply};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{check_object, get_bool, get_count, get_str, optional, required, Additional, JsonBody, Kind};
use crate::input::{QueryParams, PAGING};
use crate::{wire, AppState};

/// The comment recorded when a visitor closes its conversation.
pub const CLOSED_BY_VISITOR: &str = "Closed by visitor";

/// `POST livechat/users/agent {"username"}`: makes a user an agent. Needs
/// `view-livechat-manager`.
pub async fn add_agent(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[required("username", Kind::String)], Additional::Rejected)?;
    let username = get_str(&body, "username").unwrap_or_default().to_owned();
    let actor = user.actor();
    let agent = state.run(move |engine| engine.add_agent(&actor, &username)).await?;
    state.request_dispatch();
    Ok(success(json!({ "user": { "_id": agent.id, "username": agent.username } })))
}

/// `GET livechat/users/agent?offset&count`: agents by username. Needs `view-livechat-manager`.
pub async fn list_agents(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&PAGING[..2])?;
    let paging = query.paging();
    let actor = user.actor();
    let (users, total) = state
        .run(move |engine| {
            let page = engine.list_agents(&actor, paging)?;
            let mut users = Vec::with_capacity(page.items.len());
            for agent in &page.items {
                users.push(wire::agent(agent, engine.user(&agent.id)?.as_ref()));
            }
            Ok((users, page.total))
        })
        .await?;
    Ok(paged("users", users, paging, total))
}

/// `POST livechat/department {"department":{…},"agents":[{"agentId"}]}`. Needs
/// `manage-livechat-departments`.
pub async fn create_department(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[required("department", Kind::Object), optional("agents", Kind::ObjectArray)],
        Additional::Rejected,
    )?;
    let department = body["department"].as_object().cloned().unwrap_or_default();
    // Rocket.Chat's schema lets other department fields through (`additionalProperties: true`).
    check_object(
        &department,
        &[
            required("name", Kind::String),
            required("email", Kind::String),
            required("enabled", Kind::Boolean),
            required("showOnRegistration", Kind::Boolean),
            required("showOnOfflineForm", Kind::Boolean),
            optional("description", Kind::String),
            optional("maxNumberSimultaneousChat", Kind::Count),
            optional("fallbackForwardDepartment", Kind::NullableString),
        ],
        Additional::Allowed,
    )?;
    let mut agent_ids = Vec::new();
    for agent in body.get("agents").and_then(Value::as_array).into_iter().flatten() {
        let agent = agent.as_object().cloned().unwrap_or_default();
        check_object(
            &agent,
            &[required("agentId", Kind::String), optional("username", Kind::String)],
            Additional::Allowed,
        )?;
        agent_ids.push(UserId::new(get_str(&agent, "agentId").unwrap_or_default())?);
    }
    let settings = department_settings(&department)?;
    let actor = user.actor();
    let (department, agents) = state.run(move |engine| engine.create_department(&actor, &settings, &agent_ids)).await?;
    let agents: Vec<_> = agents.iter().map(|agent| wire::department_agent(agent, &department)).collect();
    state.request_dispatch();
    Ok(success(json!({ "department": wire::department(&department), "agents": agents })))
}

fn department_settings(department: &Map<String, Value>) -> Result<DepartmentSettings, ApiError> {
    let mut settings = DepartmentSettings::named(get_str(department, "name").unwrap_or_default());
    settings.email = get_str(department, "email").unwrap_or_default().to_owned();
    settings.enabled = get_bool(department, "enabled").unwrap_or(true);
    settings.show_on_registration = get_bool(department, "showOnRegistration").unwrap_or(true);
    settings.show_on_offline_form = get_bool(department, "showOnOfflineForm").unwrap_or(true);
    settings.description = get_str(department, "description").unwrap_or_default().to_owned();
    settings.max_chats_per_agent = match get_count(department, "maxNumberSimultaneousChat") {
        Some(n) => u32::try_from(n).map_err(|_| ApiError::invalid_params("must be <= 4294967295"))?,
        None => 0,
    };
    settings.fallback = match get_str(department, "fallbackForwardDepartment").filter(|d| !d.is_empty()) {
        Some(id) => Some(DepartmentId::new(id)?),
        None => None,
    };
    Ok(settings)
}

/// `GET livechat/department?offset&count`: departments by name. Needs `view-l-room`.
pub async fn list_departments(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&PAGING[..2])?;
    let paging = query.paging();
    let actor = user.actor();
    let page = state.run(move |engine| engine.list_departments(&actor, paging)).await?;
    Ok(paged("departments", page.items.iter().map(wire::department).collect(), paging, page.total))
}

/// `POST livechat/agent.status {"status"?,"agentId"?}`: sets (or, without `status`, toggles)
/// availability. Own status needs `view-l-room`; another agent's `manage-livechat-agents`.
pub async fn agent_status(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[optional("status", Kind::OneOf(&["available", "not-available"])), optional("agentId", Kind::String)],
        Additional::Rejected,
    )?;
    let availability = get_str(&body, "status").map(|status| match status {
        "available" => AgentAvailability::Available,
        _ => AgentAvailability::NotAvailable,
    });
    let agent_id = match get_str(&body, "agentId") {
        Some(id) => UserId::new(id)?,
        None => user.id().clone(),
    };
    let actor = user.actor();
    let agent = state.run(move |engine| engine.set_agent_availability(&actor, &agent_id, availability)).await?;
    if agent.availability == AgentAvailability::Available {
        state.request_dispatch();
    }
    Ok(success(json!({ "status": agent.availability.as_str() })))
}

/// `POST livechat/visitor {"visitor":{"token","name"?,"email"?,"department"?}}` (no auth):
/// registers a visitor, or updates the one with this token.
pub async fn register_visitor(State(state): State<AppState>, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[required("visitor", Kind::Object)], Additional::Rejected)?;
    let visitor = body["visitor"].as_object().cloned().unwrap_or_default();
    // Rocket.Chat checks `Match.ObjectIncluding`: other visitor fields are let through.
    check_object(
        &visitor,
        &[
            required("token", Kind::String),
            optional("name", Kind::String),
            optional("email", Kind::String),
            optional("department", Kind::String),
            optional("username", Kind::String),
            optional("phone", Kind::Any),
            optional("customFields", Kind::Any),
        ],
        Additional::Allowed,
    )?;
    let non_empty = |name: &str| get_str(&visitor, name).filter(|v| !v.is_empty()).map(str::to_owned);
    let details = VisitorDetails {
        token: get_str(&visitor, "token").unwrap_or_default().to_owned(),
        name: non_empty("name"),
        email: non_empty("email"),
        department: non_empty("department"),
    };
    let visitor = state.run(move |engine| engine.register_visitor(&details)).await?;
    Ok(success(json!({ "visitor": wire::visitor(&visitor) })))
}

/// `GET livechat/room?token=&rid=` (no auth): the visitor's open conversation, or a new one
/// whose inquiry enters the queue (`newRoom: true`). With `rid`, that room, which must be the
/// visitor's and not closed.
pub async fn room(State(state): State<AppState>, query: QueryParams) -> Reply {
    query.check(&[required("token", Kind::String), optional("rid", Kind::String)])?;
    let token = query.get("token").unwrap_or_default().to_owned();
    let rid = match query.get("rid").filter(|rid| !rid.is_empty()) {
        Some(rid) => Some(RoomId::new(rid).map_err(|_| invalid_room())?),
        None => None,
    };
    let opened = state
        .run(move |engine| {
            engine.visitor_by_token(&token)?.ok_or(CoreError::VisitorNotFound)?;
            match rid {
                Some(rid) => {
                    let inquiry = engine.inquiry_by_room(&Actor::System, &rid)?;
                    Ok(inquiry
                        .filter(|i| i.visitor.token == token && i.status != InquiryStatus::Closed)
                        .map(|inquiry| (inquiry, false)))
                }
                None => engine.open_room(&token, None).map(|opened| Some((opened.inquiry, opened.new_room))),
            }
        })
        .await?;
    let (inquiry, new_room) = opened.ok_or_else(invalid_room)?;
    if new_room {
        state.request_dispatch();
    }
    Ok(success(json!({ "room": wire::room(&inquiry), "newRoom": new_room })))
}

fn invalid_room() -> ApiError {
    ApiError::coded(StatusCode::BAD_REQUEST, "Room not found", "invalid-room")
}

/// `POST livechat/room.close {"rid","token"}` (no auth): the visitor closes its conversation.
pub async fn close_by_visitor(State(state): State<AppState>, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[required("rid", Kind::String), required("token", Kind::String)], Additional::Rejected)?;
    let rid = RoomId::new(get_str(&body, "rid").unwrap_or_default()).map_err(|_| invalid_room())?;
    let token = get_str(&body, "token").unwrap_or_default().to_owned();
    let closed = state
        .run(move |engine| {
            engine.visitor_by_token(&token)?.ok_or(CoreError::VisitorNotFound)?;
            engine.close(&Actor::Visitor(token), &rid, CLOSED_BY_VISITOR)
        })
        .await?;
    state.request_dispatch();
    Ok(success(json!({ "rid": closed.rid, "comment": CLOSED_BY_VISITOR })))
}

/// `POST livechat/room.closeByUser {"rid","comment"?,…}`: an agent closes a conversation. Needs
/// `close-livechat-room` for its own, `close-others-livechat-room` for others'.
pub async fn close_by_user(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[
            required("rid", Kind::String),
            optional("comment", Kind::String),
            optional("tags", Kind::StringArray),
            optional("generateTranscriptPdf", Kind::Boolean),
            optional("transcriptEmail", Kind::Object),
            optional("forceClose", Kind::Boolean),
        ],
        Additional::Rejected,
    )?;
    let rid = RoomId::new(get_str(&body, "rid").unwrap_or_default())?;
    let comment = get_str(&body, "comment").unwrap_or_default().to_owned();
    let actor = user.actor();
    state.run(move |engine| engine.close(&actor, &rid, &comment)).await?;
    state.request_dispatch();
    Ok(success(json!({})))
}

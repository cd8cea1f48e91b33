//! Agents, departments, agent status, and the visitor side (`visitor`, `room`, `room.close`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use lobby_core::{
    Actor, AgentAvailability, AgentUpdate, Attributes, CoreError, DepartmentId, DepartmentSettings, InquiryStatus,
    Permission, RoomId, RoutingRules, RoutingTarget, TimerSetting, TransferTarget, UserId, VisitorDetails,
};
use serde_json::{json, Map, Value};

use super::{paged, success, Page, Reply};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::input::{check_object, get_bool, get_count, get_str, optional, required, Additional, JsonBody, Kind};
use crate::input::{QueryParams, PAGING};
use crate::{wire, AppState};
use lobby_core::hours::{BusinessHours, Schedule};

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
pub async fn list_agents(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply<Page<Value>> {
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

/// `GET livechat/agent.attributes?agentId=` (Lobby's own): an agent's routing attributes; the
/// caller's own without `agentId`. Own needs `view-l-room`; another's `view-livechat-manager`.
pub async fn agent_attributes(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply {
    query.check(&[optional("agentId", Kind::String)])?;
    let agent_id = match query.get("agentId").filter(|id| !id.is_empty()) {
        Some(id) => Some(UserId::new(id).map_err(|_| CoreError::NotAnAgent)?),
        None => None,
    };
    let actor = user.actor();
    let agent = state.run(move |engine| engine.agent_profile(&actor, agent_id.as_ref())).await?;
    Ok(success(json!({ "agentId": agent.id, "attributes": agent.attributes.as_value() })))
}

/// `POST livechat/agent.attributes {"agentId","attributes"}` (Lobby's own): replaces an agent's
/// routing attributes. Needs `manage-livechat-agents`.
pub async fn set_agent_attributes(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[required("agentId", Kind::String), required("attributes", Kind::Object)],
        Additional::Rejected,
    )?;
    let agent_id = UserId::new(get_str(&body, "agentId").unwrap_or_default()).map_err(|_| CoreError::NotAnAgent)?;
    let update =
        AgentUpdate { attributes: Some(Attributes::new(body["attributes"].clone())?), ..AgentUpdate::default() };
    let actor = user.actor();
    let agent = state.run(move |engine| engine.update_agent(&actor, &agent_id, &update)).await?;
    state.request_dispatch();
    Ok(success(json!({ "agentId": agent.id, "attributes": agent.attributes.as_value() })))
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
    check_department_fields(&department)?;
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
    Ok(success(json!({ "department": wire::department(&department, state.now()), "agents": agents })))
}

/// The department object of `livechat/department`. Rocket.Chat's schema lets other fields
/// through (`additionalProperties: true`).
fn check_department_fields(department: &Map<String, Value>) -> Result<(), ApiError> {
    check_object(
        department,
        &[
            required("name", Kind::String),
            required("email", Kind::String),
            required("enabled", Kind::Boolean),
            required("showOnRegistration", Kind::Boolean),
            required("showOnOfflineForm", Kind::Boolean),
            optional("description", Kind::String),
            optional("maxNumberSimultaneousChat", Kind::Count),
            optional("fallbackForwardDepartment", Kind::NullableString),
            optional(AUTO_TRANSFER_FIELD, Kind::NullableCount),
            optional(MAX_QUEUE_WAIT_FIELD, Kind::NullableCount),
            optional(VISITOR_INACTIVITY_FIELD, Kind::NullableCount),
            optional(BUSINESS_HOURS_FIELD, Kind::NullableObject),
            optional(ROUTING_RULES_FIELD, Kind::ObjectArray),
        ],
        Additional::Allowed,
    )
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
    settings.timers.auto_transfer = timer_setting(department, AUTO_TRANSFER_FIELD)?;
    settings.timers.max_queue_wait = timer_setting(department, MAX_QUEUE_WAIT_FIELD)?;
    settings.timers.visitor_inactivity = timer_setting(department, VISITOR_INACTIVITY_FIELD)?;
    settings.business_hours = match department.get(BUSINESS_HOURS_FIELD).filter(|v| !v.is_null()) {
        Some(value) => {
            let schedule: Schedule = serde_json::from_value(value.clone())
                .map_err(|error| ApiError::invalid_params(format!("Invalid {BUSINESS_HOURS_FIELD}: {error}")))?;
            Some(BusinessHours::try_from(schedule)?)
        }
        None => None,
    };
    settings.routing_rules = match department.get(ROUTING_RULES_FIELD).and_then(Value::as_array) {
        Some(targets) => RoutingRules::new(targets.iter().map(routing_target).collect::<Result<_, _>>()?)?,
        None => RoutingRules::none(),
    };
    Ok(settings)
}

/// The department field with its routing rules (absent or `[]`: the server's default):
/// `[{"expression", "timeout"?, "priorityBoost"?}]`, timeouts in seconds.
pub const ROUTING_RULES_FIELD: &str = "routingRules";

/// One routing target from the wire. A malformed expression answers 400 with the parser's
/// message and position (`unexpected token 'AND' at 12`).
fn routing_target(value: &Value) -> Result<RoutingTarget, ApiError> {
    let target = value.as_object().cloned().unwrap_or_default();
    check_object(
        &target,
        &[
            required("expression", Kind::String),
            optional("timeout", Kind::NullableCount),
            optional("priorityBoost", Kind::NullableCount),
        ],
        Additional::Rejected,
    )?;
    let mut parsed = RoutingTarget::parse(get_str(&target, "expression").unwrap_or_default())?;
    if let Some(seconds) = get_count(&target, "timeout") {
        if seconds > MAX_TIMER_SECONDS {
            return Err(ApiError::invalid_params(format!("timeout must be <= {MAX_TIMER_SECONDS}")));
        }
        parsed = parsed.with_timeout(std::time::Duration::from_secs(seconds));
    }
    if let Some(boost) = get_count(&target, "priorityBoost") {
        let boost = u8::try_from(boost).map_err(|_| ApiError::invalid_params("priorityBoost must be <= 255"))?;
        parsed = parsed.with_boost(boost);
    }
    Ok(parsed)
}

/// The department field with its weekly opening times (absent or `null`: always open):
/// `{"timezone", "intervals": [{"day", "open", "close"}], "whenClosed": "refuse"|"queue"}`.
pub const BUSINESS_HOURS_FIELD: &str = "businessHours";

/// The department field that overrides `--auto-transfer-timeout` (seconds; 0 = off, absent or
/// `null` = the server's).
pub const AUTO_TRANSFER_FIELD: &str = "autoTransferTimeoutInSeconds";
/// The department field that overrides `--max-queue-wait` (seconds; 0 = off, absent or `null` =
/// the server's).
pub const MAX_QUEUE_WAIT_FIELD: &str = "maxQueueWaitInSeconds";
/// The department field that overrides `--visitor-inactivity-timeout` (seconds; 0 = off, absent
/// or `null` = the server's), as Rocket.Chat's enterprise departments name it.
pub const VISITOR_INACTIVITY_FIELD: &str = "visitorInactivityTimeoutInSeconds";

fn timer_setting(department: &Map<String, Value>, field: &str) -> Result<TimerSetting, ApiError> {
    match get_count(department, field) {
        None => Ok(TimerSetting::Inherit),
        Some(seconds) if seconds <= MAX_TIMER_SECONDS => Ok(TimerSetting::from_seconds(seconds)),
        Some(_) => Err(ApiError::invalid_params(format!("must be <= {MAX_TIMER_SECONDS}"))),
    }
}

/// The longest department timer accepted (30 days), as for the server's flags.
const MAX_TIMER_SECONDS: u64 = 30 * 24 * 3600;

/// `PUT livechat/department/:_id {"department":{…}}`: replaces a department's settings (its
/// agents are set through `livechat/department` and the agent routes). Needs
/// `manage-livechat-departments`.
pub async fn update_department(
    State(state): State<AppState>,
    Path(id): Path<String>,
    user: AuthUser,
    JsonBody(body): JsonBody,
) -> Reply {
    check_object(
        &body,
        &[required("department", Kind::Object), optional("agents", Kind::ObjectArray)],
        Additional::Rejected,
    )?;
    let department = body["department"].as_object().cloned().unwrap_or_default();
    check_department_fields(&department)?;
    let id = DepartmentId::new(id)?;
    let settings = department_settings(&department)?;
    let actor = user.actor();
    let department = state.run(move |engine| engine.update_department(&actor, &id, &settings)).await?;
    state.request_dispatch();
    Ok(success(json!({ "department": wire::department(&department, state.now()) })))
}

/// `POST livechat/room.forward {"roomId","userId"?,"departmentId"?,"comment"?,"clientAction"?}`:
/// hands a conversation to an agent, or to a department's queue; `departmentId` wins when both
/// are given, as in Rocket.Chat. Needs `view-l-room` and `transfer-livechat-guest`.
pub async fn forward(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[
            required("roomId", Kind::String),
            optional("userId", Kind::NullableString),
            optional("departmentId", Kind::NullableString),
            optional("comment", Kind::NullableString),
            optional("clientAction", Kind::NullableBoolean),
        ],
        Additional::Rejected,
    )?;
    if !state.engine().allows(&user.0, Permission::ViewLRoom) {
        return Err(ApiError::forbidden());
    }
    let rid = RoomId::new(get_str(&body, "roomId").unwrap_or_default())
        .map_err(|_| forward_error(CoreError::RoomNotFound))?;
    let non_empty = |name: &str| get_str(&body, name).filter(|v| !v.is_empty());
    let target = match (non_empty("departmentId"), non_empty("userId")) {
        (Some(department), _) => TransferTarget::Department(DepartmentId::new(department)?),
        (None, Some(agent)) => match UserId::new(agent) {
            Ok(agent) => TransferTarget::Agent(agent),
            Err(_) => return Err(forward_error(CoreError::NotAnAgent)),
        },
        (None, None) => {
            return Err(ApiError::coded(StatusCode::BAD_REQUEST, "Forwarding failed", "error-forwarding-chat"))
        }
    };
    let comment = get_str(&body, "comment").unwrap_or_default().to_owned();
    let actor = user.actor();
    state.run_mapped(move |engine| engine.transfer(&actor, &rid, &target, &comment), forward_error).await?;
    state.request_dispatch();
    Ok(success(json!({})))
}

/// Rocket.Chat's codes for a failed forward: an agent who does not exist or cannot take the
/// conversation is "offline" to it, an unknown room is an invalid room.
fn forward_error(error: CoreError) -> ApiError {
    match error {
        CoreError::NotAnAgent
        | CoreError::InvalidUser
        | CoreError::AgentNotAvailable
        | CoreError::AgentAtCapacity { .. } => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "The selected agent is offline or cannot take the conversation",
            "error-user-is-offline",
        ),
        CoreError::RoomNotFound => ApiError::coded(StatusCode::BAD_REQUEST, "Room not found", "error-invalid-room"),
        CoreError::RoomClosed => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "This conversation is already closed",
            "This_conversation_is_already_closed",
        ),
        other => other.into(),
    }
}

/// `POST livechat/room.onHold {"roomId"}`: puts a served conversation on hold; it stops counting
/// against its agent's limit. Needs `on-hold-livechat-room` (and `on-hold-others-livechat-room`
/// for someone else's). Rocket.Chat's error codes.
pub async fn on_hold(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[required("roomId", Kind::String)], Additional::Rejected)?;
    let rid =
        RoomId::new(get_str(&body, "roomId").unwrap_or_default()).map_err(|_| hold_error(CoreError::RoomNotFound))?;
    let actor = user.actor();
    state.run_mapped(move |engine| engine.hold(&actor, &rid), hold_error).await?;
    Ok(success(json!({})))
}

/// `POST livechat/room.resumeOnHold {"roomId"}`: takes a conversation off hold; its agent must
/// have a free slot. Needs `view-l-room` (and `on-hold-others-livechat-room` for someone
/// else's).
pub async fn resume_on_hold(State(state): State<AppState>, user: AuthUser, JsonBody(body): JsonBody) -> Reply {
    check_object(&body, &[required("roomId", Kind::String)], Additional::Rejected)?;
    let rid =
        RoomId::new(get_str(&body, "roomId").unwrap_or_default()).map_err(|_| resume_error(CoreError::RoomNotFound))?;
    let actor = user.actor();
    state.run_mapped(move |engine| engine.resume(&actor, &rid), resume_error).await?;
    Ok(success(json!({})))
}

/// Rocket.Chat's codes for `room.onHold`: a closed room is `error-room-already-closed`, a
/// room the caller may not touch `Not_authorized` (400, as in Rocket.Chat).
fn hold_error(error: CoreError) -> ApiError {
    match error {
        CoreError::RoomClosed => {
            ApiError::coded(StatusCode::BAD_REQUEST, "The room is already closed", "error-room-already-closed")
        }
        other => resume_error(other),
    }
}

/// Rocket.Chat's codes for `room.resumeOnHold`.
fn resume_error(error: CoreError) -> ApiError {
    match error {
        CoreError::RoomNotFound => ApiError::coded(StatusCode::BAD_REQUEST, "Room not found", "error-invalid-room"),
        CoreError::NotAllowed => ApiError::coded(StatusCode::BAD_REQUEST, "Not authorized", "Not_authorized"),
        CoreError::RoomClosed => ApiError::coded(
            StatusCode::BAD_REQUEST,
            "This conversation is already closed",
            "This_conversation_is_already_closed",
        ),
        other => other.into(),
    }
}

/// `POST livechat/message {"token","rid","msg","_id"?,"agent"?}` (no auth): the visitor writes
/// in its conversation. Lobby keeps only the last message and the timestamps the timers need.
pub async fn visitor_message(State(state): State<AppState>, JsonBody(body): JsonBody) -> Reply {
    check_object(
        &body,
        &[
            required("token", Kind::String),
            required("rid", Kind::String),
            required("msg", Kind::String),
            optional("_id", Kind::NullableString),
            optional("agent", Kind::Object),
        ],
        Additional::Rejected,
    )?;
    let token = get_str(&body, "token").unwrap_or_default().to_owned();
    let rid = RoomId::new(get_str(&body, "rid").unwrap_or_default()).map_err(|_| invalid_room())?;
    let msg = get_str(&body, "msg").unwrap_or_default().to_owned();
    let visitor_error = |error| match error {
        CoreError::RoomNotFound => invalid_room(),
        other => ApiError::from(other),
    };
    let message = state.run_mapped(move |engine| engine.visitor_message(&token, &rid, &msg), visitor_error).await?;
    state.request_dispatch();
    Ok(success(json!({ "message": wire::message(&message) })))
}

/// `GET livechat/department?offset&count`: departments by name. Needs `view-l-room`.
pub async fn list_departments(State(state): State<AppState>, user: AuthUser, query: QueryParams) -> Reply<Page<Value>> {
    query.check(&PAGING[..2])?;
    let paging = query.paging();
    let actor = user.actor();
    let page = state.run(move |engine| engine.list_departments(&actor, paging)).await?;
    Ok(paged("departments", page.items.iter().map(|d| wire::department(d, state.now())).collect(), paging, page.total))
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
            optional("attributes", Kind::Object),
        ],
        Additional::Allowed,
    )?;
    let non_empty = |name: &str| get_str(&visitor, name).filter(|v| !v.is_empty()).map(str::to_owned);
    let details = VisitorDetails {
        token: get_str(&visitor, "token").unwrap_or_default().to_owned(),
        name: non_empty("name"),
        email: non_empty("email"),
        department: non_empty("department"),
        attributes: match visitor.get("attributes") {
            Some(attributes) => Some(Attributes::new(attributes.clone())?),
            None => None,
        },
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

//! Response shapes for records that are not inquiries (inquiries serialise themselves in
//! Rocket.Chat's shape). Field names follow Rocket.Chat's documents.

use lobby_core::{
    Agent, Department, DepartmentId, Inquiry, InquiryId, InquiryStatus, Message, RoomId, RoutingExplanation,
    TimerSetting, Timestamp, User, Visitor,
};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// An inquiry as `inquiries.list` returns it: only `_id, rid, name, ts, department, status`.
#[derive(Debug)]
pub struct InquiryListItem(pub Inquiry);

impl Serialize for InquiryListItem {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Fields<'a> {
            _id: &'a InquiryId,
            rid: &'a RoomId,
            name: &'a str,
            ts: Timestamp,
            #[serde(skip_serializing_if = "Option::is_none")]
            department: Option<&'a DepartmentId>,
            status: InquiryStatus,
        }
        let inquiry = &self.0;
        Fields {
            _id: &inquiry.id,
            rid: &inquiry.rid,
            name: &inquiry.name,
            ts: inquiry.ts,
            department: inquiry.department.as_ref(),
            status: inquiry.status,
        }
        .serialize(serializer)
    }
}

/// `{"inquiry": …, "success": true}`: what `inquiries.take` and `inquiries.getOne` answer,
/// serialised straight from the inquiry.
#[derive(Debug, Serialize)]
pub struct InquiryReply {
    inquiry: Option<Inquiry>,
    success: bool,
}

impl InquiryReply {
    pub fn new(inquiry: Option<Inquiry>) -> Self {
        Self { inquiry, success: true }
    }
}

/// The whole inquiry document.
pub fn inquiry(inquiry: &Inquiry) -> Value {
    serde_json::to_value(inquiry).unwrap_or(Value::Null)
}

/// A user as `users.create`, `login` (`me`) and `me` return it; never its secrets.
pub fn user(user: &User, agent: Option<&Agent>) -> Value {
    let mut out = json!({
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "type": "user",
        "active": user.active,
        "roles": user.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "status": "offline",
        "createdAt": user.created_at,
        "_updatedAt": user.updated_at,
    });
    if let Some(email) = &user.email {
        out["emails"] = json!([{ "address": email, "verified": false }]);
    }
    if let Some(agent) = agent {
        out["statusLivechat"] = json!(agent.availability.as_str());
    }
    out
}

/// `inquiries.explain`'s answer: the explanation's own JSON shape (see
/// [`lobby_core::RoutingExplanation`]).
pub fn explanation(explanation: &RoutingExplanation) -> Value {
    serde_json::to_value(explanation).unwrap_or(Value::Null)
}

/// An agent in `GET livechat/users/agent`.
pub fn agent(agent: &Agent, user: Option<&User>) -> Value {
    let mut out = json!({
        "_id": agent.id,
        "username": agent.username,
        "statusLivechat": agent.availability.as_str(),
        "livechat": { "maxNumberSimultaneousChat": agent.max_chats },
        "departments": agent.departments,
        "activeChats": agent.active_chats,
    });
    if !agent.attributes.is_empty() {
        out["attributes"] = agent.attributes.as_value().clone();
    }
    if let Some(user) = user {
        out["name"] = json!(user.name);
        out["status"] = json!("offline");
        if let Some(email) = &user.email {
            out["emails"] = json!([{ "address": email, "verified": false }]);
        }
    }
    out
}

/// A department as the department routes answer it, with whether it is open at `now` by its
/// business hours (`"open"`; always `true` without any).
pub fn department(department: &Department, now: Timestamp) -> Value {
    let mut out = json!({
        "_id": department.id,
        "name": department.name,
        "enabled": department.enabled,
        "description": department.description,
        "email": department.email,
        "showOnRegistration": department.show_on_registration,
        "showOnOfflineForm": department.show_on_offline_form,
        "maxNumberSimultaneousChat": department.max_chats_per_agent,
        "type": "d",
        "_updatedAt": department.updated_at,
    });
    if let Some(fallback) = &department.fallback {
        out["fallbackForwardDepartment"] = json!(fallback);
    }
    for (field, setting) in [
        ("autoTransferTimeoutInSeconds", department.timers.auto_transfer),
        ("maxQueueWaitInSeconds", department.timers.max_queue_wait),
        ("visitorInactivityTimeoutInSeconds", department.timers.visitor_inactivity),
    ] {
        match setting {
            TimerSetting::Inherit => {}
            TimerSetting::Off => out[field] = json!(0),
            TimerSetting::After(millis) => out[field] = json!(millis / 1000),
        }
    }
    if let Some(hours) = &department.business_hours {
        out["businessHours"] = json!(hours);
    }
    if !department.routing_rules.is_empty() {
        out["routingRules"] = json!(department.routing_rules);
    }
    out["open"] = json!(department.is_open(now));
    out
}

/// A message as `livechat/message` and `chat.sendMessage` answer it.
pub fn message(message: &Message) -> Value {
    let mut out = json!({
        "_id": message.id,
        "rid": message.rid,
        "msg": message.msg,
        "ts": message.ts,
        "u": message.author,
        "_updatedAt": message.ts,
    });
    if let Some(token) = &message.token {
        out["token"] = json!(token);
    }
    out
}

/// A department's agent link, as `livechat/department` returns it.
pub fn department_agent(agent: &Agent, department: &Department) -> Value {
    json!({
        "agentId": agent.id,
        "username": agent.username,
        "departmentId": department.id,
        "departmentEnabled": department.enabled,
        "count": 0,
        "order": 0,
    })
}

pub fn visitor(visitor: &Visitor) -> Value {
    let mut out = Map::new();
    out.insert("_id".into(), json!(visitor.id));
    out.insert("username".into(), json!(visitor.username));
    out.insert("token".into(), json!(visitor.token));
    if let Some(name) = &visitor.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(email) = &visitor.email {
        out.insert("visitorEmails".into(), json!([{ "address": email }]));
    }
    if let Some(department) = &visitor.department {
        out.insert("department".into(), json!(department));
    }
    out.insert("status".into(), json!(visitor.status));
    out.insert("ts".into(), json!(visitor.created_at));
    out.insert("_updatedAt".into(), json!(visitor.updated_at));
    Value::Object(out)
}

/// The livechat room of an inquiry, as `GET livechat/room` returns it.
pub fn room(inquiry: &Inquiry) -> Value {
    let mut out = json!({
        "_id": inquiry.rid,
        "t": "l",
        "fname": inquiry.name,
        "v": inquiry.visitor,
        "open": inquiry.status != InquiryStatus::Closed,
        "ts": inquiry.ts,
        "_updatedAt": inquiry.updated_at,
    });
    if let Some(department) = &inquiry.department {
        out["departmentId"] = json!(department);
    }
    if let Some(served_by) = &inquiry.served_by {
        out["servedBy"] = json!(served_by);
    }
    if let Some(source) = &inquiry.source {
        out["source"] = json!(source);
    }
    if let Some(last_message) = &inquiry.last_message {
        out["lastMessage"] = json!(last_message);
    }
    if let Some(response_by) = &inquiry.response_by {
        out["responseBy"] = json!(response_by);
    }
    if inquiry.waiting_response {
        out["waitingResponse"] = json!(true);
    }
    if inquiry.on_hold_since.is_some() {
        out["onHold"] = json!(true);
    }
    out
}

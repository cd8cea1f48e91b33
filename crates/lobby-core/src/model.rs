//! The records Lobby keeps. Inquiries serialise exactly as Rocket.Chat's REST API writes them;
//! the other records are storage shapes (the server builds Rocket.Chat's response shapes).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, InquiryId, RoomId, UserId, VisitorId};
use crate::time::Timestamp;
use crate::CoreError;

/// Where an inquiry is in its life. See [`crate::machine`] for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InquiryStatus {
    /// Waiting, not yet released to agents.
    Queued,
    /// Released: listed by `inquiries.list` and can be taken.
    Open,
    /// Served by exactly one agent.
    Taken,
    /// Terminal; kept for history.
    Closed,
}

impl InquiryStatus {
    /// Every status, in life order.
    pub const ALL: [InquiryStatus; 4] = [Self::Queued, Self::Open, Self::Taken, Self::Closed];

    /// The wire name (`queued`, `open`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Open => "open",
            Self::Taken => "taken",
            Self::Closed => "closed",
        }
    }

    /// Waiting for an agent: still in the queue, released or not.
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Queued | Self::Open)
    }
}

impl std::fmt::Display for InquiryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InquiryStatus {
    type Err = CoreError;
    fn from_str(s: &str) -> Result<Self, CoreError> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| CoreError::invalid("status", format!("unknown status {s:?}")))
    }
}

/// The room type marker `t`; livechat rooms are always `"l"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RoomType {
    /// A livechat room.
    #[default]
    #[serde(rename = "l")]
    Livechat,
}

/// A visitor's presence as shown on the inquiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VisitorStatus {
    /// Connected and active.
    #[default]
    Online,
    /// Connected, busy.
    Busy,
    /// Connected, away.
    Away,
    /// Gone.
    Offline,
}

/// The visitor summary embedded in an inquiry (`v`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorSummary {
    /// The visitor's `_id`.
    #[serde(rename = "_id")]
    pub id: VisitorId,
    /// Its generated username (`guest-…`).
    pub username: String,
    /// The token its widget holds.
    pub token: String,
    /// Its presence.
    #[serde(default)]
    pub status: VisitorStatus,
}

impl VisitorSummary {
    /// An online visitor.
    pub fn new(id: VisitorId, username: impl Into<String>, token: impl Into<String>) -> Self {
        Self { id, username: username.into(), token: token.into(), status: VisitorStatus::Online }
    }
}

/// An agent reserved for an inquiry (`defaultAgent`): routing offers it to this agent first,
/// and other agents do not see it in their queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultAgent {
    /// The reserved agent's id.
    pub agent_id: UserId,
    /// Its username.
    pub username: String,
}

/// The agent serving a taken inquiry (`servedBy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedBy {
    /// The agent's id.
    #[serde(rename = "_id")]
    pub id: UserId,
    /// Its username.
    pub username: String,
    /// When it started serving.
    pub ts: Timestamp,
}

/// Where the conversation came from (`source.type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    /// Created through the REST API.
    Api,
    /// The chat widget (the default).
    #[default]
    Widget,
    /// Email.
    Email,
    /// SMS.
    Sms,
    /// An app.
    App,
    /// Anything else.
    Other,
}

/// Where the conversation came from (`source`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InquirySource {
    /// Its type (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: SourceType,
}

/// `priorityWeight`: 1 (highest) to 5 (lowest), or 99 when no priority is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct PriorityWeight(u8);

impl PriorityWeight {
    /// No priority set (`99`).
    pub const UNSET: PriorityWeight = PriorityWeight(99);
    /// The highest priority (`1`).
    pub const HIGHEST: PriorityWeight = PriorityWeight(1);
    /// The lowest priority (`5`).
    pub const LOWEST: PriorityWeight = PriorityWeight(5);

    /// 1 to 5, or 99; anything else is an error.
    pub fn new(weight: u8) -> Result<Self, CoreError> {
        if (1..=5).contains(&weight) || weight == 99 {
            Ok(Self(weight))
        } else {
            Err(CoreError::invalid("priorityWeight", "must be 1 to 5, or 99 for none"))
        }
    }

    /// The weight as a number.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Whether no priority is set.
    pub fn is_unset(&self) -> bool {
        *self == Self::UNSET
    }
}

impl Default for PriorityWeight {
    fn default() -> Self {
        Self::UNSET
    }
}

impl TryFrom<u8> for PriorityWeight {
    type Error = CoreError;
    fn try_from(weight: u8) -> Result<Self, CoreError> {
        Self::new(weight)
    }
}

impl From<PriorityWeight> for u8 {
    fn from(weight: PriorityWeight) -> u8 {
        weight.0
    }
}

/// `estimatedWaitingTimeQueue` when no SLA applies, as in Rocket.Chat.
pub const NO_SLA_MINUTES: u64 = 9_999_999;

fn no_sla() -> u64 {
    NO_SLA_MINUTES
}

fn is_no_sla(minutes: &u64) -> bool {
    *minutes == NO_SLA_MINUTES
}

/// One waiting customer conversation, in Rocket.Chat's wire shape.
///
/// Optional fields that are unset are omitted on the wire, so the seed document's examples
/// round-trip unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inquiry {
    /// `_id`.
    #[serde(rename = "_id")]
    pub id: InquiryId,
    /// `rid`: the room this inquiry is the queue entry of.
    pub rid: RoomId,
    /// `name`: the visitor's display name.
    pub name: String,
    /// `message`: the first message.
    #[serde(default)]
    pub message: String,
    /// `ts`: when the conversation was created.
    pub ts: Timestamp,
    /// `status`: where it is in its life.
    pub status: InquiryStatus,
    /// `t`: always `"l"`.
    #[serde(default)]
    pub t: RoomType,
    /// `department`: whose queue it is in; none for the public queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    /// The visitor (`v` on the wire).
    #[serde(rename = "v")]
    pub visitor: VisitorSummary,
    /// `defaultAgent`: the agent it is reserved for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent: Option<DefaultAgent>,
    /// `priorityWeight`.
    #[serde(default, skip_serializing_if = "PriorityWeight::is_unset")]
    pub priority_weight: PriorityWeight,
    /// `estimatedWaitingTimeQueue`: SLA minutes.
    #[serde(default = "no_sla", skip_serializing_if = "is_no_sla")]
    pub estimated_waiting_time_queue: u64,
    /// When the inquiry first entered the queue. Returning it to the queue keeps this, so a
    /// returned conversation does not lose its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    /// `takenAt`: when it was last taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<Timestamp>,
    /// `servedBy`: the agent serving it, kept on close as history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<ServedBy>,
    /// Agents the room was offered to (Rocket.Chat's legacy field, kept for round-trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<UserId>>,
    /// `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<InquirySource>,
    /// `_updatedAt`.
    #[serde(rename = "_updatedAt")]
    pub updated_at: Timestamp,
}

impl Inquiry {
    /// A new inquiry entering the queue at `at`: status `queued`, no department, no reservation,
    /// no priority or SLA. Change other fields with struct update syntax:
    /// `Inquiry { department: Some(id), ..Inquiry::new(…) }`.
    pub fn new(id: InquiryId, rid: RoomId, visitor: VisitorSummary, name: impl Into<String>, at: Timestamp) -> Self {
        Self {
            id,
            rid,
            name: name.into(),
            message: String::new(),
            ts: at,
            status: InquiryStatus::Queued,
            t: RoomType::Livechat,
            department: None,
            visitor,
            default_agent: None,
            priority_weight: PriorityWeight::UNSET,
            estimated_waiting_time_queue: NO_SLA_MINUTES,
            queued_at: Some(at),
            taken_at: None,
            served_by: None,
            agents: None,
            source: None,
            updated_at: at,
        }
    }

    /// The instant that orders the queue: first queued, else created.
    pub fn age_key(&self) -> Timestamp {
        self.queued_at.unwrap_or(self.ts)
    }

    /// The agent serving it, when taken.
    pub fn served_by_id(&self) -> Option<&UserId> {
        self.served_by.as_ref().map(|served| &served.id)
    }
}

/// A role name such as `admin` or `livechat-agent`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Role(String);

impl Role {
    /// `admin`.
    pub const ADMIN: &'static str = "admin";
    /// `livechat-manager`.
    pub const LIVECHAT_MANAGER: &'static str = "livechat-manager";
    /// `livechat-agent`.
    pub const LIVECHAT_AGENT: &'static str = "livechat-agent";
    /// `user`.
    pub const USER: &'static str = "user";

    /// A role by name: 1 to 64 characters without spaces.
    pub fn new(name: impl Into<String>) -> Result<Self, CoreError> {
        let name = name.into();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CoreError::invalid("roles", "role names are 1 to 64 characters without spaces"));
        }
        Ok(Self(name))
    }

    /// `admin`.
    pub fn admin() -> Self {
        Self(Self::ADMIN.into())
    }

    /// `livechat-manager`.
    pub fn livechat_manager() -> Self {
        Self(Self::LIVECHAT_MANAGER.into())
    }

    /// `livechat-agent`.
    pub fn livechat_agent() -> Self {
        Self(Self::LIVECHAT_AGENT.into())
    }

    /// `user`.
    pub fn user() -> Self {
        Self(Self::USER.into())
    }

    /// The role's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person who signs in: managers, agents, admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's `_id`.
    pub id: UserId,
    /// Unique regardless of case.
    pub username: String,
    /// Display name.
    pub name: String,
    /// Unique regardless of case, when set.
    pub email: Option<String>,
    /// Its roles.
    pub roles: BTreeSet<Role>,
    /// A deactivated user holds no permission and cannot sign in.
    pub active: bool,
    /// A password hash in PHC string format, computed by the embedder (the core does no crypto).
    pub password_hash: Option<String>,
    /// Hashes of the login tokens issued to this user.
    pub login_token_hashes: Vec<String>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl User {
    /// Whether it holds the role named `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }
}

/// Whether an agent accepts conversations (`statusLivechat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentAvailability {
    /// Takes conversations.
    Available,
    /// Signed in but not taking conversations.
    #[default]
    NotAvailable,
    /// Signed out.
    Offline,
}

impl AgentAvailability {
    /// The wire name (`available`, `not-available`, `offline`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "available",
            Self::NotAvailable => "not-available",
            Self::Offline => "offline",
        }
    }
}

/// The routing side of a user who serves conversations. Its id is the user's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    /// The user's id.
    pub id: UserId,
    /// The user's username.
    pub username: String,
    /// Whether it takes conversations now.
    pub availability: AgentAvailability,
    /// The departments it serves.
    pub departments: BTreeSet<DepartmentId>,
    /// Simultaneous chats this agent may serve; 0 = no own limit: the department's limit
    /// applies, then the global one (where a global 0 means unlimited), as in Rocket.Chat.
    pub max_chats: u32,
    /// Inquiries this agent serves now; kept in the same commit as every take and release.
    pub active_chats: u32,
    /// Inquiries ever assigned to this agent (round robin spreads by this).
    pub assigned_total: u64,
    /// When routing last gave it a conversation.
    pub last_routed_at: Option<Timestamp>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Agent {
    /// A new agent profile for a user: available, in no department, with no own limit.
    pub fn new(id: UserId, username: impl Into<String>, now: Timestamp) -> Self {
        Self {
            id,
            username: username.into(),
            availability: AgentAvailability::Available,
            departments: BTreeSet::new(),
            max_chats: 0,
            active_chats: 0,
            assigned_total: 0,
            last_routed_at: None,
            updated_at: now,
        }
    }

    /// Whether this agent takes conversations of `department` (`None`: the public queue) at
    /// all: it is available and, for a department, a member. Capacity is checked separately.
    pub fn can_serve(&self, department: Option<&DepartmentId>) -> bool {
        self.availability == AgentAvailability::Available
            && department.is_none_or(|department| self.departments.contains(department))
    }
}

/// A team with its own queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    /// The department's `_id`.
    pub id: DepartmentId,
    /// Unique regardless of case.
    pub name: String,
    /// A disabled department takes no new conversations.
    pub enabled: bool,
    /// Free text.
    pub description: String,
    /// Contact address.
    pub email: String,
    /// `showOnRegistration`.
    pub show_on_registration: bool,
    /// `showOnOfflineForm`.
    pub show_on_offline_form: bool,
    /// Per-agent chat limit for this department's conversations; 0 = no department limit.
    pub max_chats_per_agent: u32,
    /// Where conversations go when no agent of this department can take them.
    pub fallback: Option<DepartmentId>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Department {
    /// An enabled department with default settings: no limit, no fallback.
    pub fn new(id: DepartmentId, name: impl Into<String>, now: Timestamp) -> Self {
        Self {
            id,
            name: name.into(),
            enabled: true,
            description: String::new(),
            email: String::new(),
            show_on_registration: true,
            show_on_offline_form: true,
            max_chats_per_agent: 0,
            fallback: None,
            updated_at: now,
        }
    }
}

/// A customer, known by the token its widget holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    /// The visitor's `_id`.
    pub id: VisitorId,
    /// Its generated username (`guest-…`).
    pub username: String,
    /// The token its widget holds.
    pub token: String,
    /// Display name, when given.
    pub name: Option<String>,
    /// Contact address, when given.
    pub email: Option<String>,
    /// The department it asked for.
    pub department: Option<DepartmentId>,
    /// Its presence.
    pub status: VisitorStatus,
    /// The room of the visitor's conversation that is not closed yet, if any.
    pub open_room: Option<RoomId>,
    /// When it registered.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Visitor {
    /// The summary an inquiry embeds (`v`).
    pub fn summary(&self) -> VisitorSummary {
        VisitorSummary {
            id: self.id.clone(),
            username: self.username.clone(),
            token: self.token.clone(),
            status: self.status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_weight_accepts_only_documented_values() {
        assert!(PriorityWeight::new(0).is_err());
        assert!(PriorityWeight::new(6).is_err());
        assert_eq!(PriorityWeight::new(99).unwrap(), PriorityWeight::UNSET);
        assert!(serde_json::from_str::<PriorityWeight>("7").is_err());
    }

    #[test]
    fn status_parses_its_wire_names_only() {
        assert_eq!("open".parse::<InquiryStatus>().unwrap(), InquiryStatus::Open);
        assert!("ready".parse::<InquiryStatus>().is_err());
    }
}

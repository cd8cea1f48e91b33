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
    pub const ALL: [InquiryStatus; 4] = [Self::Queued, Self::Open, Self::Taken, Self::Closed];

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
    #[default]
    #[serde(rename = "l")]
    Livechat,
}

/// A visitor's presence as shown on the inquiry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VisitorStatus {
    #[default]
    Online,
    Busy,
    Away,
    Offline,
}

/// The visitor summary embedded in an inquiry (`v`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorSummary {
    #[serde(rename = "_id")]
    pub id: VisitorId,
    pub username: String,
    pub token: String,
    #[serde(default)]
    pub status: VisitorStatus,
}

/// An agent reserved for an inquiry (`defaultAgent`): routing offers it to this agent first,
/// and other agents do not see it in their queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DefaultAgent {
    pub agent_id: UserId,
    pub username: String,
}

/// The agent serving a taken inquiry (`servedBy`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServedBy {
    #[serde(rename = "_id")]
    pub id: UserId,
    pub username: String,
    pub ts: Timestamp,
}

/// Where the conversation came from (`source.type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    Api,
    #[default]
    Widget,
    Email,
    Sms,
    App,
    Other,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct InquirySource {
    #[serde(rename = "type")]
    pub kind: SourceType,
}

/// `priorityWeight`: 1 (highest) to 5 (lowest), or 99 when no priority is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct PriorityWeight(u8);

impl PriorityWeight {
    pub const UNSET: PriorityWeight = PriorityWeight(99);
    pub const HIGHEST: PriorityWeight = PriorityWeight(1);
    pub const LOWEST: PriorityWeight = PriorityWeight(5);

    pub fn new(weight: u8) -> Result<Self, CoreError> {
        if (1..=5).contains(&weight) || weight == 99 {
            Ok(Self(weight))
        } else {
            Err(CoreError::invalid("priorityWeight", "must be 1 to 5, or 99 for none"))
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }

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
    #[serde(rename = "_id")]
    pub id: InquiryId,
    pub rid: RoomId,
    pub name: String,
    #[serde(default)]
    pub message: String,
    pub ts: Timestamp,
    pub status: InquiryStatus,
    #[serde(default)]
    pub t: RoomType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<DepartmentId>,
    pub v: VisitorSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_agent: Option<DefaultAgent>,
    #[serde(default, skip_serializing_if = "PriorityWeight::is_unset")]
    pub priority_weight: PriorityWeight,
    #[serde(default = "no_sla", skip_serializing_if = "is_no_sla")]
    pub estimated_waiting_time_queue: u64,
    /// When the inquiry first entered the queue. Returning it to the queue keeps this, so a
    /// returned conversation does not lose its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<ServedBy>,
    /// Agents the room was offered to (Rocket.Chat's legacy field, kept for round-trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<UserId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<InquirySource>,
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
            v: visitor,
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
    pub const ADMIN: &'static str = "admin";
    pub const LIVECHAT_MANAGER: &'static str = "livechat-manager";
    pub const LIVECHAT_AGENT: &'static str = "livechat-agent";
    pub const USER: &'static str = "user";

    pub fn new(name: impl Into<String>) -> Result<Self, CoreError> {
        let name = name.into();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(CoreError::invalid("roles", "role names are 1 to 64 characters without spaces"));
        }
        Ok(Self(name))
    }

    pub fn admin() -> Self {
        Self(Self::ADMIN.into())
    }

    pub fn livechat_manager() -> Self {
        Self(Self::LIVECHAT_MANAGER.into())
    }

    pub fn livechat_agent() -> Self {
        Self(Self::LIVECHAT_AGENT.into())
    }

    pub fn user() -> Self {
        Self(Self::USER.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person who signs in: managers, agents, admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub name: String,
    pub email: Option<String>,
    pub roles: BTreeSet<Role>,
    pub active: bool,
    /// A password hash in PHC string format, computed by the embedder (the core does no crypto).
    pub password_hash: Option<String>,
    /// Hashes of the login tokens issued to this user.
    pub login_token_hashes: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }
}

/// Whether an agent accepts conversations (`statusLivechat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentAvailability {
    Available,
    #[default]
    NotAvailable,
    Offline,
}

impl AgentAvailability {
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
    pub id: UserId,
    pub username: String,
    pub availability: AgentAvailability,
    pub departments: BTreeSet<DepartmentId>,
    /// Simultaneous chats this agent may serve; 0 = no own limit: the department's limit
    /// applies, then the global one (where a global 0 means unlimited), as in Rocket.Chat.
    pub max_chats: u32,
    /// Inquiries this agent serves now; kept in the same commit as every take and release.
    pub active_chats: u32,
    /// Inquiries ever assigned to this agent (round robin spreads by this).
    pub assigned_total: u64,
    pub last_routed_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// A team with its own queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Department {
    pub id: DepartmentId,
    pub name: String,
    pub enabled: bool,
    pub description: String,
    pub email: String,
    pub show_on_registration: bool,
    pub show_on_offline_form: bool,
    /// Per-agent chat limit for this department's conversations; 0 = no department limit.
    pub max_chats_per_agent: u32,
    /// Where conversations go when no agent of this department can take them.
    pub fallback: Option<DepartmentId>,
    pub updated_at: Timestamp,
}

/// A customer, known by the token its widget holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    pub id: VisitorId,
    pub username: String,
    pub token: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub department: Option<DepartmentId>,
    pub status: VisitorStatus,
    /// The room of the visitor's conversation that is not closed yet, if any.
    pub open_room: Option<RoomId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Visitor {
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

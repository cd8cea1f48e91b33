//! The inquiry: one waiting customer conversation, in Rocket.Chat's wire shape.

use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, InquiryId, RoomId, UserId};
use crate::time::Timestamp;
use crate::CoreError;

use super::{Attributes, Deadline, VisitorSummary};

/// Where an inquiry is in its life. See [`crate::machine`] for the transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InquiryStatus {
    /// Waiting, not yet released to agents.
    Queued,
    /// Released: listed by `inquiries.list` and can be taken.
    Open,
    /// Offered to one agent, who accepts or rejects it before the offer expires (offer mode,
    /// Lobby's); the offer counts against that agent's capacity.
    Offered,
    /// Served by exactly one agent.
    Taken,
    /// Terminal; kept for history.
    Closed,
}

impl InquiryStatus {
    /// Every status, in life order.
    pub const ALL: [InquiryStatus; 5] = [Self::Queued, Self::Open, Self::Offered, Self::Taken, Self::Closed];

    /// The wire name (`queued`, `open`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Open => "open",
            Self::Offered => "offered",
            Self::Taken => "taken",
            Self::Closed => "closed",
        }
    }

    /// Waiting for an agent: still in the queue, released or not (an offered inquiry is held
    /// for one agent, so it is not).
    pub fn is_waiting(self) -> bool {
        matches!(self, Self::Queued | Self::Open)
    }

    /// The visitor still waits for an agent to start: waiting, or offered to one.
    pub fn is_unserved(self) -> bool {
        matches!(self, Self::Queued | Self::Open | Self::Offered)
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

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The author of a message (`u`): an agent, or the visitor (with its token beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageAuthor {
    /// The user's or visitor's `_id`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its username.
    pub username: String,
}

/// A message as the conversation keeps its last one (`lastMessage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastMessage {
    /// The message's `_id`.
    #[serde(rename = "_id")]
    pub id: String,
    /// Its text.
    pub msg: String,
    /// When it was sent.
    pub ts: Timestamp,
    /// Who sent it.
    pub u: MessageAuthor,
    /// The visitor's token, on a visitor's message (how Rocket.Chat tells them apart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The first agent response (`responseBy`), as Rocket.Chat keeps it on the room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseBy {
    /// The agent who answered first.
    #[serde(rename = "_id")]
    pub id: UserId,
    /// Its username.
    pub username: String,
    /// When that first answer came.
    pub first_response_ts: Timestamp,
    /// When an agent last wrote.
    pub last_message_ts: Timestamp,
}

/// A pending offer (Lobby's `offer`): the agent it is held for and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Offer {
    /// The agent it is offered to, and when it was offered (`ts`).
    pub agent: ServedBy,
    /// When the offer lapses if the agent has not answered.
    pub expires_at: Timestamp,
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
    /// `offer` (Lobby's): the pending offer, exactly while the status is `offered`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
    /// `onHoldSince` (Lobby's; the room shows Rocket.Chat's `onHold`): since when a taken
    /// conversation is on hold. An on-hold conversation does not count against its agent's
    /// capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_hold_since: Option<Timestamp>,
    /// Agents the room was offered to (Rocket.Chat's legacy field, kept for round-trips).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agents: Option<Vec<UserId>>,
    /// `source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<InquirySource>,
    /// `lastMessage`: the conversation's last message, kept current while it waits too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<LastMessage>,
    /// `responseBy`: the agent who answered first, and when an agent last wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_by: Option<ResponseBy>,
    /// `waitingResponse`: the visitor wrote and no agent has answered since.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub waiting_response: bool,
    /// `contactLastMessageAt`: when the visitor last wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_last_message_at: Option<Timestamp>,
    /// `autoTransfers` (Lobby's): how many times the auto-transfer timer has fired for it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub auto_transfers: u32,
    /// `attributes` (Lobby's): what routing rules read as `task.` (topic, language, …); set
    /// when it is enqueued and changed by managers; omitted when empty.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// `excludedAgents` (Lobby's): agents routing will not give it to again (they let it time out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_agents: Vec<UserId>,
    /// `deadlines` (Lobby's): its pending timers, which follow from its state (see
    /// [`TimerConfig::inquiry_deadlines`](crate::TimerConfig::inquiry_deadlines)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlines: Vec<Deadline>,
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
            offer: None,
            on_hold_since: None,
            agents: None,
            source: None,
            last_message: None,
            response_by: None,
            waiting_response: false,
            contact_last_message_at: None,
            auto_transfers: 0,
            attributes: Attributes::empty(),
            excluded_agents: Vec::new(),
            deadlines: Vec::new(),
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

    /// The agent it is offered to, while an offer is pending.
    pub fn offered_to(&self) -> Option<&UserId> {
        self.offer.as_ref().map(|offer| &offer.agent.id)
    }

    /// The agent whose `chats` hold it: the one serving it or the one it is offered to. Kept
    /// in the agent's record until the conversation leaves that agent.
    pub fn holder(&self) -> Option<&UserId> {
        match self.status {
            InquiryStatus::Taken => self.served_by_id(),
            InquiryStatus::Offered => self.offered_to(),
            _ => None,
        }
    }

    /// Whether it takes one of its holder's chat slots: offered, or taken and not on hold.
    pub fn uses_a_slot(&self) -> bool {
        match self.status {
            InquiryStatus::Taken => self.on_hold_since.is_none(),
            InquiryStatus::Offered => true,
            _ => false,
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

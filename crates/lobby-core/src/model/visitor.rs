//! Visitors: the customers waiting in the queue.

use serde::{Deserialize, Serialize};

use super::Attributes;

use crate::ids::{DepartmentId, RoomId, VisitorId};
use crate::time::Timestamp;

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
    /// Routing attributes its widget declared (language, topic, …), copied to each
    /// conversation it opens. Self-declared by an unauthenticated visitor: rules that grant
    /// something (a VIP queue) should read attributes a manager sets instead.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
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

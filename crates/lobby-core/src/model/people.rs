//! The people who sign in and serve: users, their roles, and agents.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::model::{Attributes, Deadline};
use crate::time::Timestamp;
use crate::CoreError;

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
    /// Since when it has had that availability (the agent-leave timer counts from here).
    #[serde(default = "Timestamp::epoch")]
    pub availability_since: Timestamp,
    /// The departments it serves.
    pub departments: BTreeSet<DepartmentId>,
    /// Simultaneous chats this agent may serve; 0 = no own limit: the department's limit
    /// applies, then the global one (where a global 0 means unlimited), as in Rocket.Chat.
    pub max_chats: u32,
    /// The chats that count against its limit now; kept in the same commit as every take and
    /// release.
    pub active_chats: u32,
    /// The conversations it serves now, by inquiry.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub chats: BTreeSet<InquiryId>,
    /// The conversations offered to it and not yet answered (offer mode); each holds a slot.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub offers: BTreeSet<InquiryId>,
    /// What routing rules read as `worker.` (skills, languages, level, …); `{}` when unset.
    #[serde(default, skip_serializing_if = "Attributes::is_empty")]
    pub attributes: Attributes,
    /// Inquiries ever assigned (or offered) to this agent (round robin spreads by this).
    pub assigned_total: u64,
    /// Offers it let lapse in a row; reset when it accepts one. Enough of them set it away
    /// ([`TimerConfig::missed_offers_before_away`](crate::TimerConfig::missed_offers_before_away)).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub missed_offers: u32,
    /// Set not-available because every department it serves closed for the day (business
    /// hours); it becomes available again when one of them opens, unless it changed its status
    /// by hand meanwhile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub away_for_hours: bool,
    /// When routing last gave it a conversation.
    pub last_routed_at: Option<Timestamp>,
    /// Its pending timers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlines: Vec<Deadline>,
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
            availability_since: now,
            departments: BTreeSet::new(),
            max_chats: 0,
            active_chats: 0,
            chats: BTreeSet::new(),
            offers: BTreeSet::new(),
            attributes: Attributes::empty(),
            assigned_total: 0,
            missed_offers: 0,
            away_for_hours: false,
            last_routed_at: None,
            deadlines: Vec::new(),
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

fn is_zero(n: &u32) -> bool {
    *n == 0
}

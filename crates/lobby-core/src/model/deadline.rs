//! Deadlines: the pending timers of a conversation, an agent or a department, kept in the record
//! they concern so that they survive a crash and fire once across servers.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// What a deadline does when it is due. Each is a Rocket.Chat setting, made exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerRule {
    /// The serving agent has not answered in time: the conversation moves on to another agent,
    /// or back to the queue (`Livechat_auto_transfer_chat_timeout`).
    AutoTransfer,
    /// The conversation has waited too long since it first queued: it moves to its
    /// department's fallback, or closes (`Livechat_max_queue_wait_time`).
    QueueOverflow,
    /// The agent went away and stayed away: its conversations are forwarded or closed
    /// (`Livechat_agent_leave_action`).
    AgentLeave,
    /// An offer was not answered in time: it goes to the next agent (offer mode, Lobby's).
    OfferTimeout,
    /// The conversation has been on hold too long: it closes
    /// (`Livechat_auto_close_on_hold_chats_timeout`).
    OnHoldAutoClose,
    /// The agent wrote and the visitor has not answered: the conversation closes or goes on
    /// hold (`Livechat_abandoned_rooms_action` after `Livechat_visitor_inactivity_timeout`).
    VisitorInactivity,
}

impl TimerRule {
    /// Every rule.
    pub const ALL: [TimerRule; 6] = [
        Self::AutoTransfer,
        Self::QueueOverflow,
        Self::AgentLeave,
        Self::OfferTimeout,
        Self::OnHoldAutoClose,
        Self::VisitorInactivity,
    ];

    /// The rule's wire name (`auto-transfer`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AutoTransfer => "auto-transfer",
            Self::QueueOverflow => "queue-overflow",
            Self::AgentLeave => "agent-leave",
            Self::OfferTimeout => "offer-timeout",
            Self::OnHoldAutoClose => "on-hold-auto-close",
            Self::VisitorInactivity => "visitor-inactivity",
        }
    }
}

impl std::fmt::Display for TimerRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pending timer: which rule, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Deadline {
    /// What happens.
    pub rule: TimerRule,
    /// When: the rule acts at this instant or at the first firing after it.
    pub due: Timestamp,
}

/// The earliest of `deadlines`, which is what stores index a record by.
pub fn earliest(deadlines: &[Deadline]) -> Option<Timestamp> {
    deadlines.iter().map(|d| d.due).min()
}

/// A department's own value for a timer: the global one, none, or its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimerSetting {
    /// Use the server-wide setting.
    #[default]
    Inherit,
    /// No such timer for this department.
    Off,
    /// This department's timeout, in milliseconds.
    After(u64),
}

impl TimerSetting {
    /// From a number of seconds as the REST routes take it: 0 turns the timer off.
    pub fn from_seconds(seconds: u64) -> Self {
        if seconds == 0 {
            Self::Off
        } else {
            Self::After(seconds.saturating_mul(1000))
        }
    }

    /// The timeout in force given the server-wide one (`None`: off).
    pub fn resolve(self, global: Option<Duration>) -> Option<Duration> {
        match self {
            Self::Inherit => global,
            Self::Off => None,
            Self::After(millis) => Some(Duration::from_millis(millis)),
        }
    }

    /// Whether it is the default.
    pub fn is_inherit(&self) -> bool {
        *self == Self::Inherit
    }
}

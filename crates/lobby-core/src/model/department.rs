//! Departments: teams with their own queue.

use serde::{Deserialize, Serialize};

use crate::hours::{BusinessHours, HoursState};
use crate::ids::DepartmentId;
use crate::model::{Deadline, TimerSetting};
use crate::rules::RoutingRules;
use crate::time::Timestamp;

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
    /// Where conversations go when no agent of this department can take them, and when they
    /// wait longer than its queue allows.
    pub fallback: Option<DepartmentId>,
    /// Its own values for the conversation timers.
    #[serde(default, skip_serializing_if = "DepartmentTimers::is_default")]
    pub timers: DepartmentTimers,
    /// Its weekly opening times; `None` = always open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_hours: Option<BusinessHours>,
    /// Whether it was last opened or closed, and when: what the business-hours deadline counts
    /// from. `None` until the first opening or closing is applied (right after the schedule is
    /// set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours_state: Option<HoursState>,
    /// Which of its agents may serve which conversations, relaxing with queue age; empty =
    /// the global default ([`RoutingConfig::rules`](crate::RoutingConfig::rules)).
    #[serde(default, skip_serializing_if = "RoutingRules::is_empty")]
    pub routing_rules: RoutingRules,
    /// Its pending timers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlines: Vec<Deadline>,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// A department's own values for the conversation timers; each inherits the server-wide one
/// unless set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DepartmentTimers {
    /// How long its agents have to answer before the conversation moves on.
    #[serde(default, skip_serializing_if = "TimerSetting::is_inherit")]
    pub auto_transfer: TimerSetting,
    /// How long a conversation may wait, counted from when it first queued.
    #[serde(default, skip_serializing_if = "TimerSetting::is_inherit")]
    pub max_queue_wait: TimerSetting,
    /// How long the visitor has to answer an agent before the abandoned-rooms action applies.
    #[serde(default, skip_serializing_if = "TimerSetting::is_inherit")]
    pub visitor_inactivity: TimerSetting,
}

impl DepartmentTimers {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
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
            timers: DepartmentTimers::default(),
            business_hours: None,
            hours_state: None,
            routing_rules: RoutingRules::none(),
            deadlines: Vec::new(),
            updated_at: now,
        }
    }

    /// Whether it is open at `at` by its business hours (always, without any). Routing and the
    /// queue go by this, computed, rather than by [`Department::hours_state`], so they are
    /// exact to the millisecond even before the deadline that records the change fires.
    pub fn is_open(&self, at: Timestamp) -> bool {
        self.business_hours.as_ref().is_none_or(|hours| hours.is_open(at))
    }
}

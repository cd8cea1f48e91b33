//! Timer policy, as pure functions: which deadlines a record's state calls for under the timer
//! settings. The engine stores the result with every record it writes (stores index it), and
//! recomputes it when a deadline comes due, so a timer is cancelled or moved simply by the
//! record changing — there is no separate schedule to keep in step.
//!
//! | rule | armed while | due at |
//! |---|---|---|
//! | [`TimerRule::QueueOverflow`] | the inquiry waits (queued or open) | first queued + max queue wait |
//! | [`TimerRule::AutoTransfer`] | it is taken and its agent has not written since | taken + auto-transfer timeout |
//! | [`TimerRule::AgentLeave`] | the agent is away or offline with conversations | away since + leave timeout |
//!
//! A department's [`DepartmentTimers`] override the server-wide values for its conversations.

use std::time::Duration;

use crate::model::{
    Agent, AgentAvailability, Deadline, Department, DepartmentTimers, Inquiry, InquiryStatus, TimerRule,
};

/// The server-wide timer settings. Every timer is off by default, as in Rocket.Chat.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TimerConfig {
    /// How long an agent has to write after taking or being given a conversation before it
    /// moves on (`Livechat_auto_transfer_chat_timeout`); `None` = off.
    pub auto_transfer: Option<Duration>,
    /// How many times auto-transfer moves one conversation; the next time it fires, the
    /// conversation goes back to the queue for good (no more automatic assignment), and an
    /// event says so.
    pub auto_transfer_max_hops: u32,
    /// How long a conversation may wait, counted from when it first queued, before it moves to
    /// its department's fallback or closes (`Livechat_max_queue_wait_time`); `None` = off.
    pub max_queue_wait: Option<Duration>,
    /// What happens to an agent's conversations when it goes away and stays away.
    pub agent_leave: AgentLeave,
    /// Offer mode (Lobby's): automatic routing offers each conversation to one agent for this
    /// long instead of assigning it; the agent accepts or rejects, and an offer that lapses
    /// goes to the next agent. `None` = direct assignment, as in Rocket.Chat.
    pub offer_timeout: Option<Duration>,
    /// After this many lapsed offers in a row an agent is set not-available; 0 = never.
    pub missed_offers_before_away: u32,
    /// How long a conversation may stay on hold before it closes
    /// (`Livechat_auto_close_on_hold_chats_timeout`); `None` = off.
    pub on_hold_auto_close: Option<Duration>,
    /// What happens when the visitor does not answer an agent within
    /// [`TimerConfig::visitor_inactivity`] (`Livechat_abandoned_rooms_action`).
    pub abandoned_rooms: AbandonedRoomsAction,
    /// How long the visitor has to answer the agent's last message
    /// (`Livechat_visitor_inactivity_timeout`); `None` = off.
    pub visitor_inactivity: Option<Duration>,
}

/// `Livechat_abandoned_rooms_action`: what becomes of a conversation whose visitor went silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AbandonedRoomsAction {
    /// Nothing.
    #[default]
    None,
    /// It closes.
    Close,
    /// It goes on hold, freeing the agent's slot.
    OnHold,
}

impl AbandonedRoomsAction {
    /// The setting's value as the server flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Close => "close",
            Self::OnHold => "on-hold",
        }
    }
}

/// `Livechat_agent_leave_action` with `Livechat_agent_leave_action_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgentLeave {
    /// What to do.
    pub action: AgentLeaveAction,
    /// How long the agent must stay away (not available, or offline) first.
    pub timeout: Duration,
}

/// What happens to the conversations of an agent who left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AgentLeaveAction {
    /// They stay with the agent.
    #[default]
    None,
    /// Each is routed to another agent, as auto-transfer does, or back to the queue.
    Forward,
    /// Each is closed.
    Close,
}

impl AgentLeaveAction {
    /// The setting's value as Rocket.Chat spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Forward => "forward",
            Self::Close => "close",
        }
    }
}

impl TimerConfig {
    /// The auto-transfer timeout for a conversation of `department`.
    pub fn auto_transfer_for(&self, department: Option<&Department>) -> Option<Duration> {
        overrides(department).auto_transfer.resolve(self.auto_transfer)
    }

    /// The max queue wait for a conversation of `department`.
    pub fn max_queue_wait_for(&self, department: Option<&Department>) -> Option<Duration> {
        overrides(department).max_queue_wait.resolve(self.max_queue_wait)
    }

    /// The visitor-inactivity timeout for a conversation of `department`; `None` when off or
    /// when abandoned rooms are left alone.
    pub fn visitor_inactivity_for(&self, department: Option<&Department>) -> Option<Duration> {
        if self.abandoned_rooms == AbandonedRoomsAction::None {
            return None;
        }
        overrides(department).visitor_inactivity.resolve(self.visitor_inactivity)
    }

    /// Whether auto-transfer has used up its hops for `inquiry`: it is not armed again, and
    /// dispatch no longer assigns the inquiry by itself.
    pub fn auto_transfer_exhausted(&self, inquiry: &Inquiry) -> bool {
        inquiry.auto_transfers > self.auto_transfer_max_hops
    }

    /// The deadlines `inquiry` calls for; `department` is its department's record, if it has
    /// one (for the overrides). Sorted by due time.
    pub fn inquiry_deadlines(&self, inquiry: &Inquiry, department: Option<&Department>) -> Vec<Deadline> {
        let mut deadlines = Vec::new();
        let mut push = |rule, due| deadlines.push(Deadline { rule, due });
        if inquiry.status.is_unserved() {
            if let Some(wait) = self.max_queue_wait_for(department) {
                push(TimerRule::QueueOverflow, inquiry.age_key().plus(wait));
            }
        }
        if let Some(offer) = &inquiry.offer {
            push(TimerRule::OfferTimeout, offer.expires_at);
        }
        if inquiry.status == InquiryStatus::Taken {
            match inquiry.on_hold_since {
                Some(since) => {
                    if let Some(timeout) = self.on_hold_auto_close {
                        push(TimerRule::OnHoldAutoClose, since.plus(timeout));
                    }
                }
                None => {
                    let taken_at = inquiry.taken_at.unwrap_or(inquiry.updated_at);
                    let agent_wrote = inquiry.response_by.as_ref().map(|r| r.last_message_ts);
                    let answered = agent_wrote.is_some_and(|at| at >= taken_at);
                    if let Some(timeout) = self.auto_transfer_for(department) {
                        if !answered && !self.auto_transfer_exhausted(inquiry) {
                            push(TimerRule::AutoTransfer, taken_at.plus(timeout));
                        }
                    }
                    // The agent wrote last: the visitor owes an answer.
                    let visitor_silent =
                        agent_wrote.filter(|at| inquiry.contact_last_message_at.is_none_or(|visitor| visitor < *at));
                    if let (Some(at), Some(timeout)) = (visitor_silent, self.visitor_inactivity_for(department)) {
                        push(TimerRule::VisitorInactivity, at.plus(timeout));
                    }
                }
            }
        }
        // Earliest first: that is the one to act on when several are due.
        deadlines.sort_by_key(|d| (d.due, d.rule));
        deadlines
    }

    /// The deadlines `agent` calls for.
    pub fn agent_deadlines(&self, agent: &Agent) -> Vec<Deadline> {
        let away = agent.availability != AgentAvailability::Available;
        if away && !agent.chats.is_empty() && self.agent_leave.action != AgentLeaveAction::None {
            vec![Deadline { rule: TimerRule::AgentLeave, due: agent.availability_since.plus(self.agent_leave.timeout) }]
        } else {
            vec![]
        }
    }
}

fn overrides(department: Option<&Department>) -> DepartmentTimers {
    department.map(|d| d.timers).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DepartmentId, InquiryId, RoomId, UserId, VisitorId};
    use crate::model::{ResponseBy, ServedBy, TimerSetting, VisitorSummary};
    use crate::time::Timestamp;

    const MINUTE: Duration = Duration::from_secs(60);

    fn inquiry(status: InquiryStatus) -> Inquiry {
        let visitor = VisitorSummary::new(VisitorId::new("v").unwrap(), "guest", "token");
        let mut inquiry = Inquiry::new(
            InquiryId::new("i").unwrap(),
            RoomId::new("r").unwrap(),
            visitor,
            "V",
            Timestamp::from_millis(0),
        );
        inquiry.status = status;
        if status == InquiryStatus::Taken {
            let ts = Timestamp::from_millis(10_000);
            inquiry.served_by = Some(ServedBy { id: UserId::new("a").unwrap(), username: "a".into(), ts });
            inquiry.taken_at = Some(ts);
        }
        inquiry
    }

    fn config() -> TimerConfig {
        TimerConfig {
            auto_transfer: Some(MINUTE),
            auto_transfer_max_hops: 2,
            max_queue_wait: Some(10 * MINUTE),
            agent_leave: AgentLeave { action: AgentLeaveAction::Forward, timeout: MINUTE },
            ..TimerConfig::default()
        }
    }

    #[test]
    fn waiting_inquiries_overflow_from_when_they_first_queued() {
        let mut waiting = inquiry(InquiryStatus::Open);
        waiting.queued_at = Some(Timestamp::from_millis(5_000));
        let due = Timestamp::from_millis(5_000).plus(10 * MINUTE);
        assert_eq!(config().inquiry_deadlines(&waiting, None), [Deadline { rule: TimerRule::QueueOverflow, due }]);
        assert_eq!(TimerConfig::default().inquiry_deadlines(&waiting, None), [], "off by default");
    }

    #[test]
    fn taken_inquiries_transfer_until_the_agent_writes_or_the_hops_run_out() {
        let mut taken = inquiry(InquiryStatus::Taken);
        let due = Timestamp::from_millis(10_000).plus(MINUTE);
        assert_eq!(config().inquiry_deadlines(&taken, None), [Deadline { rule: TimerRule::AutoTransfer, due }]);
        taken.response_by = Some(ResponseBy {
            id: UserId::new("a").unwrap(),
            username: "a".into(),
            first_response_ts: Timestamp::from_millis(12_000),
            last_message_ts: Timestamp::from_millis(12_000),
        });
        assert_eq!(config().inquiry_deadlines(&taken, None), [], "the agent wrote after taking it");
        taken.response_by = None;
        taken.auto_transfers = 3;
        assert_eq!(config().inquiry_deadlines(&taken, None), [], "hops used up");
        assert_eq!(config().inquiry_deadlines(&inquiry(InquiryStatus::Closed), None), []);
    }

    #[test]
    fn departments_override_the_server_wide_values() {
        let mut department = Department::new(DepartmentId::new("d").unwrap(), "D", Timestamp::EPOCH);
        department.timers.auto_transfer = TimerSetting::Off;
        department.timers.max_queue_wait = TimerSetting::from_seconds(30);
        let config = config();
        assert_eq!(config.auto_transfer_for(Some(&department)), None);
        assert_eq!(config.max_queue_wait_for(Some(&department)), Some(Duration::from_secs(30)));
        assert_eq!(config.max_queue_wait_for(None), Some(10 * MINUTE));
        assert_eq!(TimerSetting::from_seconds(0), TimerSetting::Off);
    }

    #[test]
    fn agents_away_with_conversations_have_a_leave_deadline() {
        let mut agent = Agent::new(UserId::new("a").unwrap(), "a", Timestamp::EPOCH);
        agent.chats.insert(InquiryId::new("i").unwrap());
        assert_eq!(config().agent_deadlines(&agent), [], "available");
        agent.availability = AgentAvailability::NotAvailable;
        agent.availability_since = Timestamp::from_millis(1_000);
        let due = Timestamp::from_millis(1_000).plus(MINUTE);
        assert_eq!(config().agent_deadlines(&agent), [Deadline { rule: TimerRule::AgentLeave, due }]);
        agent.chats.clear();
        assert_eq!(config().agent_deadlines(&agent), [], "nothing to forward");
    }
}

//! Routing policy, as pure functions: the order waiting inquiries are served in, the chat limit
//! that applies to an agent, who may take a conversation now, and which of them each routing
//! method picks. Nothing here reads or writes a store; [`crate::Engine`] reads the agents,
//! asks this module, and commits the choice.

use std::sync::Arc;

use crate::ids::UserId;
use crate::model::{Agent, Department, Inquiry};
use crate::query::{InquirySort, SortField};
use crate::rules::RoutingRules;

/// The order in which waiting inquiries are served (Rocket.Chat's `Omnichannel_sorting_mechanism`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueOrder {
    /// Oldest first (`queuedAt`).
    #[default]
    Timestamp,
    /// `priorityWeight` 1 first, then oldest.
    Priority,
    /// Smallest `estimatedWaitingTimeQueue` first, then oldest.
    Sla,
}

impl QueueOrder {
    /// The listing order that serves the queue in this order.
    pub fn sort(self) -> InquirySort {
        let field = match self {
            Self::Timestamp => SortField::QueuedAt,
            Self::Priority => SortField::PriorityWeight,
            Self::Sla => SortField::EstimatedWaitingTime,
        };
        InquirySort::ascending(field)
    }
}

/// Routing settings.
#[derive(Debug, Clone)]
pub struct RoutingConfig {
    /// How waiting inquiries reach agents.
    pub method: RoutingMethod,
    /// The order waiting inquiries are served in.
    pub queue_order: QueueOrder,
    /// Global per-agent chat limit (`Livechat_maximum_chats_per_agent`); 0 = unlimited.
    pub max_chats_per_agent: u32,
    /// Accept new conversations when no agent is available (else
    /// [`CoreError::NoAgentOnline`](crate::CoreError::NoAgentOnline)).
    pub queue_without_agents: bool,
    /// How many recently closed conversations the wait estimate averages over.
    pub wait_estimate_sample: usize,
    /// The routing rules of the public queue and of every department without its own.
    pub rules: RoutingRules,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            method: RoutingMethod::default(),
            queue_order: QueueOrder::default(),
            max_chats_per_agent: 0,
            queue_without_agents: true,
            wait_estimate_sample: 50,
            rules: RoutingRules::none(),
        }
    }
}

impl RoutingConfig {
    /// The rules that apply to conversations of `department`: its own, else the global default.
    pub fn rules_for<'a>(&'a self, department: Option<&'a Department>) -> &'a RoutingRules {
        department.map(|d| &d.routing_rules).filter(|rules| !rules.is_empty()).unwrap_or(&self.rules)
    }

    /// The chat limit that applies to `agent` for a conversation of `department`: the agent's
    /// own, else the department's, else the global one; 0 = none, as in Rocket.Chat.
    pub fn chat_limit(&self, agent: &Agent, department: Option<&Department>) -> u32 {
        [agent.max_chats, department.map_or(0, |d| d.max_chats_per_agent), self.max_chats_per_agent]
            .into_iter()
            .find(|&limit| limit > 0)
            .unwrap_or(0)
    }

    /// Available agents of `department` (every agent for the public queue, `None`) with room
    /// for one more conversation, with the limit that applies to each, in the order given.
    pub fn candidates<'a>(
        &self,
        agents: impl IntoIterator<Item = &'a Agent>,
        department: Option<&Department>,
    ) -> Vec<Candidate> {
        let department_id = department.map(|d| &d.id);
        agents
            .into_iter()
            .filter(|agent| agent.can_serve(department_id))
            .filter_map(|agent| {
                let limit = self.chat_limit(agent, department);
                has_room(agent, limit).then(|| Candidate { agent: agent.clone(), limit })
            })
            .collect()
    }
}

/// Whether an agent at this limit (0 = none) can take one more conversation.
pub fn has_room(agent: &Agent, limit: u32) -> bool {
    limit == 0 || agent.active_chats < limit
}

/// An agent that could take a conversation now, with its load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The agent as last read.
    pub agent: Agent,
    /// The limit that applies to this conversation; 0 = none.
    pub limit: u32,
}

impl Candidate {
    /// `(agent, active chats, limit)`, as routing decisions record it.
    pub fn load(&self) -> (UserId, u32, u32) {
        (self.agent.id.clone(), self.agent.active_chats, self.limit)
    }
}

/// Chooses among candidates. Implement it for custom or external routing; the engine calls it
/// with available agents that have room, in a stable order, and commits the choice atomically.
pub trait RoutingStrategy: Send + Sync {
    /// A short name for events and logs.
    fn name(&self) -> &str;
    /// The index in `candidates` of the chosen agent; `None` leaves the inquiry waiting.
    fn choose(&self, inquiry: &Inquiry, candidates: &[Candidate]) -> Option<usize>;
}

/// Rocket.Chat's `Livechat_Routing_Method`.
#[derive(Clone, Default)]
pub enum RoutingMethod {
    /// Agents take conversations themselves; dispatch only releases them.
    #[default]
    ManualSelection,
    /// Round robin: the agent with the fewest conversations ever assigned.
    AutoSelection,
    /// The agent with the fewest active conversations, then the longest since last routed.
    LoadBalancing,
    /// The agent routed longest ago, whatever its load.
    LoadRotation,
    /// Any other rule.
    Custom(Arc<dyn RoutingStrategy>),
}

impl std::fmt::Debug for RoutingMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl RoutingMethod {
    /// The method's name, as events record it.
    pub fn name(&self) -> &str {
        match self {
            Self::ManualSelection => "manual-selection",
            Self::AutoSelection => "auto-selection",
            Self::LoadBalancing => "load-balancing",
            Self::LoadRotation => "load-rotation",
            Self::Custom(strategy) => strategy.name(),
        }
    }

    /// Whether dispatch assigns inquiries to agents (every method but manual selection).
    pub fn assigns(&self) -> bool {
        !matches!(self, Self::ManualSelection)
    }

    /// The candidate this method picks, with the reason; `None` for manual selection.
    pub fn choose(&self, inquiry: &Inquiry, candidates: &[Candidate]) -> Option<(usize, String)> {
        let best = |key| (0..candidates.len()).min_by(|&a, &b| compare(key, &candidates[a], &candidates[b]));
        match self {
            Self::ManualSelection => None,
            Self::AutoSelection => best(Key::Assigned)
                .map(|i| (i, format!("fewest conversations assigned ({})", candidates[i].agent.assigned_total))),
            Self::LoadBalancing => best(Key::Load)
                .map(|i| (i, format!("fewest active conversations ({})", candidates[i].agent.active_chats))),
            Self::LoadRotation => best(Key::LastRouted).map(|i| (i, "longest since last routed".to_owned())),
            Self::Custom(strategy) => strategy
                .choose(inquiry, candidates)
                .filter(|&i| i < candidates.len())
                .map(|i| (i, format!("chosen by {}", strategy.name()))),
        }
    }

    /// Every candidate in the order this method prefers them: the first is what
    /// [`RoutingMethod::choose`] picks. `None` for manual selection (agents pick for
    /// themselves); for a custom strategy, its choice first and the rest as given, since a
    /// strategy names only its choice.
    pub fn ranking(&self, inquiry: &Inquiry, candidates: &[Candidate]) -> Option<Vec<usize>> {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        let key = match self {
            Self::ManualSelection => return None,
            Self::AutoSelection => Key::Assigned,
            Self::LoadBalancing => Key::Load,
            Self::LoadRotation => Key::LastRouted,
            Self::Custom(_) => {
                if let Some((chosen, _)) = self.choose(inquiry, candidates) {
                    order.remove(chosen);
                    order.insert(0, chosen);
                }
                return Some(order);
            }
        };
        order.sort_by(|&a, &b| compare(key, &candidates[a], &candidates[b]));
        Some(order)
    }
}

/// What a built-in method sorts candidates by, before usernames.
#[derive(Clone, Copy)]
enum Key {
    /// Round robin: fewest ever assigned.
    Assigned,
    /// Fewest active, then routed longest ago.
    Load,
    /// Routed longest ago.
    LastRouted,
}

/// The one order `choose` and `ranking` share, so explain's rank 1 is dispatch's choice.
/// `None` (never routed) sorts before any time: new agents go first. Usernames break ties, so
/// the choice does not depend on the order agents were read in.
fn compare(key: Key, a: &Candidate, b: &Candidate) -> std::cmp::Ordering {
    let key_of = |c: &Candidate| match key {
        Key::Assigned => (c.agent.assigned_total, None),
        Key::Load => (u64::from(c.agent.active_chats), last_routed(c)),
        Key::LastRouted => (0, last_routed(c)),
    };
    key_of(a).cmp(&key_of(b)).then_with(|| a.agent.username.cmp(&b.agent.username))
}

fn last_routed(candidate: &Candidate) -> Option<i64> {
    candidate.agent.last_routed_at.map(|t| t.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InquiryId, RoomId};
    use crate::model::{AgentAvailability, VisitorSummary};
    use crate::time::Timestamp;

    fn agent(name: &str, active: u32, assigned: u64, last_routed: Option<i64>) -> Agent {
        Agent {
            active_chats: active,
            assigned_total: assigned,
            last_routed_at: last_routed.map(Timestamp::from_millis),
            ..Agent::new(UserId::new(name).unwrap(), name, Timestamp::EPOCH)
        }
    }

    fn candidates(agents: &[Agent]) -> Vec<Candidate> {
        RoutingConfig::default().candidates(agents, None)
    }

    fn inquiry() -> Inquiry {
        let visitor = VisitorSummary::new(crate::VisitorId::new("v").unwrap(), "guest", "token");
        Inquiry::new(InquiryId::new("i").unwrap(), RoomId::new("r").unwrap(), visitor, "V", Timestamp::EPOCH)
    }

    fn chosen(method: RoutingMethod, agents: &[Agent]) -> Option<String> {
        let candidates = candidates(agents);
        method.choose(&inquiry(), &candidates).map(|(i, _)| candidates[i].agent.username.clone())
    }

    #[test]
    fn each_method_picks_its_documented_agent() {
        let agents = [agent("ana", 2, 1, Some(50)), agent("bob", 1, 9, Some(10)), agent("cid", 1, 5, Some(30))];
        assert_eq!(chosen(RoutingMethod::ManualSelection, &agents), None);
        assert_eq!(chosen(RoutingMethod::AutoSelection, &agents).as_deref(), Some("ana"));
        assert_eq!(chosen(RoutingMethod::LoadBalancing, &agents).as_deref(), Some("bob"), "1 chat, routed longest ago");
        assert_eq!(chosen(RoutingMethod::LoadRotation, &agents).as_deref(), Some("bob"));
    }

    #[test]
    fn the_ranking_starts_with_the_choice_and_follows_the_same_order() {
        let agents = [agent("ana", 2, 1, Some(50)), agent("bob", 1, 9, Some(10)), agent("cid", 1, 5, Some(30))];
        let candidates = candidates(&agents);
        let names = |method: RoutingMethod| {
            let order = method.ranking(&inquiry(), &candidates).unwrap();
            assert_eq!(Some(order[0]), method.choose(&inquiry(), &candidates).map(|(i, _)| i), "rank 1 is the choice");
            order.iter().map(|&i| candidates[i].agent.username.as_str()).collect::<Vec<_>>()
        };
        assert_eq!(names(RoutingMethod::AutoSelection), ["ana", "cid", "bob"]);
        assert_eq!(names(RoutingMethod::LoadBalancing), ["bob", "cid", "ana"]);
        assert_eq!(names(RoutingMethod::LoadRotation), ["bob", "cid", "ana"]);
        assert_eq!(RoutingMethod::ManualSelection.ranking(&inquiry(), &candidates), None);
    }

    #[test]
    fn never_routed_agents_go_first_and_usernames_break_ties() {
        let agents = [agent("zed", 0, 0, Some(1)), agent("amy", 0, 0, None), agent("abe", 0, 0, None)];
        assert_eq!(chosen(RoutingMethod::LoadRotation, &agents).as_deref(), Some("abe"));
        assert_eq!(chosen(RoutingMethod::AutoSelection, &agents).as_deref(), Some("abe"));
    }

    #[test]
    fn limits_fall_back_from_agent_to_department_to_global() {
        let config = RoutingConfig { max_chats_per_agent: 7, ..RoutingConfig::default() };
        let mut department = Department::new(crate::DepartmentId::new("d").unwrap(), "D", Timestamp::EPOCH);
        let mut ana = agent("ana", 0, 0, None);
        assert_eq!(config.chat_limit(&ana, None), 7);
        department.max_chats_per_agent = 3;
        assert_eq!(config.chat_limit(&ana, Some(&department)), 3);
        ana.max_chats = 2;
        assert_eq!(config.chat_limit(&ana, Some(&department)), 2);
        assert_eq!(RoutingConfig::default().chat_limit(&agent("bob", 0, 0, None), None), 0, "0 = unlimited");
    }

    #[test]
    fn candidates_are_available_members_with_room() {
        let department = Department::new(crate::DepartmentId::new("d").unwrap(), "D", Timestamp::EPOCH);
        let mut member = agent("member", 1, 0, None);
        member.departments.insert(department.id.clone());
        member.max_chats = 2;
        let mut full = member.clone();
        full.username = "full".into();
        full.active_chats = 2;
        let mut away = member.clone();
        away.username = "away".into();
        away.availability = AgentAvailability::NotAvailable;
        let outsider = agent("outsider", 0, 0, None);
        let names = |c: Vec<Candidate>| c.into_iter().map(|c| c.agent.username).collect::<Vec<_>>();
        let all = [member, full, away, outsider];
        assert_eq!(names(RoutingConfig::default().candidates(&all, Some(&department))), ["member"]);
        assert_eq!(names(RoutingConfig::default().candidates(&all, None)), ["member", "outsider"]);
    }
}

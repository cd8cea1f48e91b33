//! Why routing would or would not give an inquiry to each agent, as a pure function of the
//! records: the same checks, in the same terms, as [`Engine::dispatch`](crate::Engine::dispatch)
//! makes, so that what [`Engine::explain`](crate::Engine::explain) calls eligible is what
//! dispatch chooses from.

use serde::Serialize;

use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::model::{Agent, AgentAvailability, Department, Inquiry, InquiryStatus};
use crate::routing::{has_room, Candidate, RoutingConfig};
use crate::rules::{PriorityBoost, Stage};
use crate::time::Timestamp;

/// Why an inquiry waits, and who routing would give it to: [`Engine::explain`](crate::Engine::explain).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingExplanation {
    /// The inquiry.
    pub inquiry: InquiryId,
    /// Its status.
    pub status: InquiryStatus,
    /// Its department; `None` for the public queue.
    pub department: Option<DepartmentId>,
    /// The routing method's name.
    pub strategy: String,
    /// Which routing target applies now.
    pub target: CurrentTarget,
    /// Every agent, in username order, with its verdict.
    pub agents: Vec<AgentVerdict>,
    /// Where it stands in its department's queue (1 = next); `None` unless waiting.
    pub queue_position: Option<usize>,
    /// Where dispatch looks next when no agent here is eligible: the department's fallback.
    pub fallback: Option<DepartmentId>,
}

/// The routing target that applies to an inquiry now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum CurrentTarget {
    /// Neither the department nor the global default has rules: every agent in scope matches.
    NoRules,
    /// Target `index` (from 0) applies.
    #[serde(rename_all = "camelCase")]
    Target {
        /// Its place in the rule, from 0.
        index: usize,
        /// Its expression's source.
        expression: String,
        /// Its boost in dispatch order.
        priority_boost: PriorityBoost,
        /// When the next target applies; `None` = never.
        relaxes_at: Option<Timestamp>,
    },
    /// Every target timed out: every agent in scope matches.
    Relaxed,
}

impl CurrentTarget {
    /// The view of `stage` for an inquiry first queued at `queued_at`.
    pub fn of(stage: &Stage<'_>, queued_at: Timestamp) -> Self {
        match stage {
            Stage::NoRules => Self::NoRules,
            Stage::Target { index, target, .. } => Self::Target {
                index: *index,
                expression: target.expression.source().to_owned(),
                priority_boost: target.priority_boost,
                relaxes_at: stage.relaxes_at(queued_at),
            },
            Stage::Relaxed => Self::Relaxed,
        }
    }
}

/// One agent's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentVerdict {
    /// The agent.
    pub agent: UserId,
    /// Its username.
    pub username: String,
    /// Eligible, or the first reason it is not.
    pub verdict: Verdict,
}

/// Whether routing may give the inquiry to an agent now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum Verdict {
    /// Routing may choose it.
    Eligible {
        /// 1 = the agent dispatch would choose now; `None` under manual selection, where
        /// every eligible agent may take it.
        rank: Option<usize>,
    },
    /// Routing will not choose it, for this reason (the first that applies, in the order of
    /// [`Ineligible`]'s variants).
    Ineligible {
        /// Why not.
        reason: Ineligible,
    },
}

/// Why routing will not give an inquiry to an agent; checked in this order, first one wins.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Ineligible {
    /// Not a member of the inquiry's department (and not the agent it is reserved for).
    NotInDepartment,
    /// Signed out.
    Offline,
    /// Signed in but not taking conversations.
    NotAvailable,
    /// The department is closed by its business hours.
    DepartmentClosed,
    /// It let an offer of this inquiry lapse (or declined it); routing will not come back.
    ExcludedAfterMissedOffer,
    /// Every slot in use.
    AtCapacity {
        /// Slots in use.
        active: u32,
        /// Its limit for this conversation.
        limit: u32,
    },
    /// It does not match the current routing target.
    ExpressionFalse {
        /// The failing terms with the values they saw, as one line:
        /// ``expression false: `level >= 3` (level = 2)``.
        explanation: String,
        /// The failing comparisons as written, e.g. `level >= 3`.
        terms: Vec<String>,
    },
}

impl std::fmt::Display for Ineligible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInDepartment => f.write_str("not in the department"),
            Self::Offline => f.write_str("offline"),
            Self::NotAvailable => f.write_str("not available"),
            Self::DepartmentClosed => f.write_str("department closed"),
            Self::ExcludedAfterMissedOffer => f.write_str("excluded after a missed offer"),
            Self::AtCapacity { active, limit } => write!(f, "at capacity ({active} of {limit})"),
            Self::ExpressionFalse { explanation, .. } => f.write_str(explanation),
        }
    }
}

/// The verdict on every agent for `inquiry` in `department` (its own; `None` for the public
/// queue) at `stage`, with ranks under the routing method: the same filters and order as
/// dispatch's choice in the inquiry's own department. Agents come back in username order.
pub fn verdicts(
    routing: &RoutingConfig,
    inquiry: &Inquiry,
    department: Option<&Department>,
    stage: &Stage<'_>,
    agents: &[Agent],
    now: Timestamp,
) -> Vec<AgentVerdict> {
    let open = department.is_none_or(|d| d.is_open(now));
    let reserved = inquiry.default_agent.as_ref().map(|reserved| &reserved.agent_id);
    let department_id = department.map(|d| &d.id);
    let mut sorted: Vec<&Agent> = agents.iter().collect();
    sorted.sort_by(|a, b| a.username.cmp(&b.username));
    let reasons: Vec<Option<Ineligible>> = sorted
        .iter()
        .map(|agent| {
            let is_reserved = reserved == Some(&agent.id);
            let limit = routing.chat_limit(agent, department);
            if !is_reserved && department_id.is_some_and(|d| !agent.departments.contains(d)) {
                Some(Ineligible::NotInDepartment)
            } else if agent.availability == AgentAvailability::Offline {
                Some(Ineligible::Offline)
            } else if agent.availability == AgentAvailability::NotAvailable {
                Some(Ineligible::NotAvailable)
            } else if !open {
                Some(Ineligible::DepartmentClosed)
            } else if inquiry.excluded_agents.contains(&agent.id) {
                Some(Ineligible::ExcludedAfterMissedOffer)
            } else if !has_room(agent, limit) {
                Some(Ineligible::AtCapacity { active: agent.active_chats, limit })
            } else {
                stage.mismatch(agent, inquiry).map(|why| Ineligible::ExpressionFalse {
                    explanation: why.to_string(),
                    terms: why.terms.into_iter().map(|term| term.source).collect(),
                })
            }
        })
        .collect();
    // Ranks: the reserved agent first when eligible (dispatch offers it first), then the
    // method's order among the other eligible members.
    let eligible: Vec<usize> = (0..sorted.len()).filter(|&i| reasons[i].is_none()).collect();
    let reserved_eligible = eligible.iter().copied().find(|&i| reserved == Some(&sorted[i].id));
    let members: Vec<usize> =
        eligible.iter().copied().filter(|&i| department_id.is_none_or(|d| sorted[i].departments.contains(d))).collect();
    let candidates: Vec<Candidate> = members
        .iter()
        .map(|&i| Candidate { agent: sorted[i].clone(), limit: routing.chat_limit(sorted[i], department) })
        .collect();
    let mut ranks: Vec<Option<usize>> = vec![None; sorted.len()];
    if let Some(order) = routing.method.ranking(inquiry, &candidates) {
        let mut ranked: Vec<usize> = reserved_eligible.into_iter().collect();
        ranked.extend(order.into_iter().map(|c| members[c]).filter(|&i| Some(i) != reserved_eligible));
        for (rank, i) in ranked.into_iter().enumerate() {
            ranks[i] = Some(rank + 1);
        }
    }
    sorted
        .iter()
        .zip(reasons)
        .enumerate()
        .map(|(i, (agent, reason))| AgentVerdict {
            agent: agent.id.clone(),
            username: agent.username.clone(),
            verdict: match reason {
                Some(reason) => Verdict::Ineligible { reason },
                None => Verdict::Eligible { rank: ranks[i] },
            },
        })
        .collect()
}

//! [`Engine`]: every operation, as read → decide (pure) → versioned commit, retried when another
//! writer got there first.
//!
//! The children split the operations by what they act on — [`inquiries`] (the life of one
//! conversation), [`dispatch`] (routing many at once, the agent's queue, positions) and
//! [`directory`] (users, agents, departments, visitors) — while the steps they all share live
//! here, private to the engine: [`Engine::retry`], [`Engine::authorize`],
//! [`Engine::transition`] and the capacity helpers.

mod directory;
mod dispatch;
mod inquiries;

use std::sync::Arc;
use std::time::Duration;

pub use directory::{AgentUpdate, DepartmentSettings, NewUser, VisitorDetails};
pub use dispatch::{DispatchReport, QueuePosition, QueueRequest};
pub use inquiries::{ListRequest, NewInquiry, OpenedRoom, TransferTarget};

use crate::event::{Actor, EventKind, NewEvent};
use crate::ids::DepartmentId;
use crate::machine::{self, Transition};
use crate::model::{Agent, Department, Inquiry, ServedBy, User};
use crate::permissions::{Permission, PermissionPolicy};
use crate::routing::{has_room, RoutingConfig};
use crate::store::{Commit, Record, Store, StoreError, StoreExt, Versioned, Write};
use crate::time::{Clock, SystemClock, Timestamp};
use crate::CoreError;

/// How the engine behaves; every field has a Rocket.Chat-like default.
#[derive(Clone)]
pub struct EngineConfig {
    /// Which roles grant which permission.
    pub permissions: PermissionPolicy,
    /// Routing method, queue order and limits.
    pub routing: RoutingConfig,
    /// How many times an operation re-reads and retries after losing a race before giving up
    /// with [`CoreError::Contention`].
    pub max_commit_attempts: u32,
    /// Where "now" comes from; a [`ManualClock`](crate::ManualClock) in tests and simulations.
    pub clock: Arc<dyn Clock>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            permissions: PermissionPolicy::default(),
            routing: RoutingConfig::default(),
            max_commit_attempts: 200,
            clock: Arc::new(SystemClock),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("permissions", &self.permissions)
            .field("routing", &self.routing)
            .field("max_commit_attempts", &self.max_commit_attempts)
            .finish_non_exhaustive()
    }
}

/// The routing engine over a store. Cheap to share behind an `Arc`; every method takes `&self`
/// and is safe to call from many threads (and, with a shared store, many processes) at once.
pub struct Engine<S> {
    store: S,
    config: EngineConfig,
}

impl<S: Store> Engine<S> {
    /// An engine with the default configuration (manual selection, the system clock).
    pub fn new(store: S) -> Self {
        Self::with_config(store, EngineConfig::default())
    }

    /// An engine with its own configuration.
    pub fn with_config(store: S, config: EngineConfig) -> Self {
        Self { store, config }
    }

    /// The store underneath, for reads the engine does not offer.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Whether `user` holds `permission` under this engine's policy.
    pub fn allows(&self, user: &User, permission: Permission) -> bool {
        self.config.permissions.allows(user, permission)
    }

    /// The chat limit that applies to `agent` for a conversation of `department`; 0 = none.
    pub fn chat_limit(&self, agent: &Agent, department: Option<&DepartmentId>) -> Result<u32, CoreError> {
        let department = self.department_record(department)?;
        Ok(self.config.routing.chat_limit(agent, department.as_ref()))
    }

    // ---- the steps every operation shares ------------------------------------------------------

    fn now(&self) -> Timestamp {
        self.config.clock.now()
    }

    /// Runs `attempt` until it does not lose a race: a version conflict means someone else
    /// changed what it read, so it reads again. Backs off to let the winner finish.
    fn retry<T>(&self, mut attempt: impl FnMut() -> Result<T, CoreError>) -> Result<T, CoreError> {
        for round in 0..self.config.max_commit_attempts {
            match attempt() {
                Err(CoreError::Store(StoreError::Conflict { .. })) => backoff(round),
                other => return other,
            }
        }
        Err(CoreError::Contention)
    }

    /// Loads the acting user and checks one permission. The system actor may do anything;
    /// a user id that does not exist is refused like a missing permission.
    fn authorize(&self, actor: &Actor, permission: Permission) -> Result<Option<Versioned<User>>, CoreError> {
        match actor {
            Actor::System => Ok(None),
            Actor::User(id) => {
                let user = self.store.user(id)?.ok_or(CoreError::Unauthorized { permission })?;
                if self.config.permissions.allows(&user.value, permission) {
                    Ok(Some(user))
                } else {
                    Err(CoreError::Unauthorized { permission })
                }
            }
            Actor::Visitor(_) => Err(CoreError::Unauthorized { permission }),
        }
    }

    /// Applies `transition` and commits it with `extra` writes and one event, all-or-nothing.
    fn transition(
        &self,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        transition: Transition,
        extra: Vec<Write>,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        let now = self.now();
        let next = machine::apply(&inquiry.value, &transition, now)?;
        let event = NewEvent {
            at: now,
            actor: actor.clone(),
            inquiry: Some(next.id.clone()),
            kind: EventKind::Transition {
                transition: transition.kind(),
                agent: next.served_by_id().cloned(),
                previous_agent: inquiry.value.served_by_id().cloned(),
                department: next.department.clone(),
                reason,
            },
        };
        let mut writes = vec![Write::update(inquiry.version, Record::Inquiry(next.clone()))];
        writes.extend(extra);
        self.store.commit(Commit { writes, events: vec![event] })?;
        Ok(next)
    }

    fn department_record(&self, id: Option<&DepartmentId>) -> Result<Option<Department>, CoreError> {
        match id {
            Some(id) => Ok(self.store.department(id)?.map(|found| found.value)),
            None => Ok(None),
        }
    }

    /// Available, a member of `department`, and within capacity for one more of its
    /// conversations.
    fn check_can_serve(&self, agent: &Agent, department: Option<&DepartmentId>) -> Result<(), CoreError> {
        if !agent.can_serve(None) {
            return Err(CoreError::AgentNotAvailable);
        }
        let limit = self.chat_limit(agent, department)?;
        if !has_room(agent, limit) {
            return Err(CoreError::AgentAtCapacity { limit });
        }
        Ok(())
    }

    fn served_by(&self, agent: &Agent) -> ServedBy {
        ServedBy { id: agent.id.clone(), username: agent.username.clone(), ts: self.now() }
    }

    /// The agent after one more conversation was assigned to it.
    fn with_assignment(&self, mut agent: Agent) -> Agent {
        let now = self.now();
        agent.active_chats += 1;
        agent.assigned_total += 1;
        agent.last_routed_at = Some(now);
        agent.updated_at = now;
        agent
    }

    /// The write that frees the serving agent's slot, if the agent still exists.
    fn release_agent_writes(&self, inquiry: &Inquiry) -> Result<Vec<Write>, CoreError> {
        let Some(agent_id) = inquiry.served_by_id() else { return Ok(vec![]) };
        let Some(agent) = self.store.agent(agent_id)? else { return Ok(vec![]) };
        let mut freed = agent.value;
        freed.active_chats = freed.active_chats.saturating_sub(1);
        freed.updated_at = self.now();
        Ok(vec![Write::update(agent.version, Record::Agent(freed))])
    }
}

fn backoff(round: u32) {
    if round < 3 {
        std::thread::yield_now();
    } else {
        // Up to ~1 ms, randomised so that colliding writers spread out.
        let ceiling = 1u64 << round.min(10);
        std::thread::sleep(Duration::from_micros(rand::Rng::gen_range(&mut rand::thread_rng(), 1..=ceiling)));
    }
}

//! Every call the simulator makes on the engine goes through a [`Driver`], as a [`Call`] value.
//! That gives one place to set the virtual clock, collect the engine's events, and write the event
//! log: each call as a JSON line with its outcome, followed by the events it committed, with the
//! engine's random ids replaced by stable labels (`d0` departments, `a3` agents, `c17`
//! conversations). Replaying a log is re-issuing its calls through a fresh driver and comparing
//! the lines (see [`crate::replay`]).

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::sync::Arc;

use lobby_core::{
    Actor, AgentAvailability, AgentUpdate, Clock, DepartmentId, DepartmentSettings, Engine, EngineConfig, Event,
    InquiryId, ManualClock, NewInquiry, NewUser, PriorityWeight, QueueRequest, Role, RoomId, RoutingConfig, Store,
    Timestamp, UserId, VisitorId, VisitorStatus, VisitorSummary,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::scenario::{QueueOrderChoice, Routing};
use crate::SimError;

/// Simulated time zero, 2024-01-01T00:00:00Z in milliseconds. Fixed so that logs are identical
/// run to run.
pub const START_MILLIS: i64 = 1_704_067_200_000;

macro_rules! label {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.strip_prefix($prefix)
                    .and_then(|n| n.parse().ok())
                    .map($name)
                    .ok_or_else(|| serde::de::Error::custom(format!("expected {}<number>, got {text:?}", $prefix)))
            }
        }
    };
}

label!(
    /// A department by creation order: `d0`, `d1`, …
    DepartmentRef, "d"
);
label!(
    /// An agent by creation order: `a0`, `a1`, … (also its username).
    AgentRef, "a"
);
label!(
    /// A conversation by arrival order: `c0`, `c1`, … Its room is `r<n>`, its visitor `v<n>`
    /// with token `t<n>`.
    ConversationRef, "c"
);

/// Who closes a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Closer {
    /// The visitor, who gave up waiting.
    Visitor,
    /// The serving agent, done with it.
    Agent(AgentRef),
}

/// One operation on the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Call {
    /// `create_department`.
    CreateDepartment {
        /// Its label.
        department: DepartmentRef,
        /// Its name.
        name: String,
    },
    /// `create_user` + `add_agent` + `update_agent` (limit and department).
    CreateAgent {
        /// Its label and username.
        agent: AgentRef,
        /// Its one department.
        department: DepartmentRef,
        /// Its chat limit.
        capacity: u32,
    },
    /// `set_agent_availability`.
    SetAvailability {
        /// Whose.
        agent: AgentRef,
        /// Available, or not-available.
        available: bool,
    },
    /// `enqueue` with the room id `r<n>` and the visitor `v<n>`.
    Enqueue {
        /// Its label.
        conversation: ConversationRef,
        /// Its department.
        department: DepartmentRef,
        /// Priority weight, if set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        priority: Option<u8>,
        /// SLA minutes, if set.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sla_minutes: Option<u64>,
    },
    /// `queue_position`.
    QueuePosition {
        /// Whose.
        conversation: ConversationRef,
    },
    /// `dispatch` as the system.
    Dispatch,
    /// `queued_for_user` for the agent itself, first page of one.
    QueuedForUser {
        /// Whose queue.
        agent: AgentRef,
    },
    /// `take` by the agent itself.
    Take {
        /// Who takes.
        agent: AgentRef,
        /// What.
        conversation: ConversationRef,
    },
    /// `close` by the visitor or the serving agent.
    Close {
        /// What.
        conversation: ConversationRef,
        /// Who.
        by: Closer,
    },
}

/// What a call returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It succeeded and returns nothing the simulator needs.
    Done,
    /// `queue_position`'s answer.
    Position {
        /// 1 = next.
        position: usize,
        /// The engine's estimate in milliseconds.
        estimated_wait_ms: Option<u64>,
    },
    /// `dispatch`'s report.
    Dispatched {
        /// Released to agents.
        released: usize,
        /// Assigned to an agent.
        assigned: usize,
        /// Left waiting.
        unassigned: usize,
    },
    /// `queued_for_user`'s first item and total.
    Queue {
        /// The oldest conversation (in queue order) the agent may take.
        first: Option<ConversationRef>,
        /// How many it may take.
        total: usize,
    },
    /// The engine refused.
    Refused {
        /// The engine's error code.
        code: String,
        /// Its message.
        message: String,
    },
}

/// A log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LogLine {
    /// First line: how to rebuild the engine.
    Header {
        /// The format marker and version.
        lobby_sim_events: u32,
        /// Routing method.
        routing: String,
        /// Queue order.
        queue_order: String,
        /// The scenario, for reference.
        scenario: serde_json::Value,
        /// The replication's seed.
        seed: u64,
    },
    /// A call, when it was made (milliseconds after [`START_MILLIS`]) and what it returned.
    Call {
        /// Milliseconds after [`START_MILLIS`].
        at: i64,
        /// The call.
        call: Call,
        /// Its outcome.
        outcome: Outcome,
    },
    /// An event the engine committed during the preceding call, ids replaced by labels.
    Event {
        /// The event, as the engine serialises it.
        event: serde_json::Value,
    },
}

/// Where a driver's log lines go.
pub struct LogSink {
    writer: Option<Box<dyn Write>>,
    hasher: Sha256,
    lines: u64,
    captured: Option<Vec<String>>,
}

impl LogSink {
    /// Hash only.
    pub fn hash_only() -> Self {
        Self { writer: None, hasher: Sha256::new(), lines: 0, captured: None }
    }

    /// Write lines to `writer` and hash them.
    pub fn to_writer(writer: Box<dyn Write>) -> Self {
        Self { writer: Some(writer), ..Self::hash_only() }
    }

    /// Keep lines in memory (for replay) and hash them.
    pub fn capturing() -> Self {
        Self { captured: Some(Vec::new()), ..Self::hash_only() }
    }

    fn push(&mut self, line: &str) -> Result<(), SimError> {
        self.hasher.update(line.as_bytes());
        self.hasher.update(b"\n");
        self.lines += 1;
        if let Some(writer) = &mut self.writer {
            writeln!(writer, "{line}").map_err(|source| SimError::Io { path: "event log".into(), source })?;
        }
        if let Some(captured) = &mut self.captured {
            captured.push(line.to_owned());
        }
        Ok(())
    }

    /// Lines captured since the last call (capturing sinks only).
    pub fn take_captured(&mut self) -> Vec<String> {
        self.captured.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Flushes the writer and returns the SHA-256 of every line written, and their number.
    pub fn finish(mut self) -> Result<(String, u64), SimError> {
        if let Some(writer) = &mut self.writer {
            writer.flush().map_err(|source| SimError::Io { path: "event log".into(), source })?;
        }
        Ok((hex::encode(self.hasher.finalize()), self.lines))
    }
}

/// The engine with a virtual clock, the label maps and an optional log.
pub struct Driver<S> {
    engine: Engine<S>,
    clock: Arc<ManualClock>,
    now: i64,
    feed: lobby_core::Subscription,
    departments: Vec<DepartmentId>,
    agents: Vec<UserId>,
    inquiries: Vec<Option<InquiryId>>,
    conversation_of: HashMap<InquiryId, ConversationRef>,
    labels: HashMap<String, String>,
    log: Option<LogSink>,
}

/// The engine configuration the simulator runs: the routing method and queue order of the
/// scenario, no global chat limit (each agent has its own), queueing allowed without agents.
pub fn engine_config(routing: Routing, queue_order: QueueOrderChoice, clock: Arc<dyn Clock>) -> EngineConfig {
    EngineConfig {
        routing: RoutingConfig {
            method: routing.method(),
            queue_order: queue_order.order(),
            ..RoutingConfig::default()
        },
        clock,
        ..EngineConfig::default()
    }
}

impl<S: Store> Driver<S> {
    /// A driver over an empty `store`.
    pub fn new(
        store: S,
        routing: Routing,
        queue_order: QueueOrderChoice,
        log: Option<LogSink>,
    ) -> Result<Self, SimError> {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(START_MILLIS), 0));
        let engine = Engine::with_config(store, engine_config(routing, queue_order, clock.clone()));
        let feed = engine.subscribe().map_err(SimError::engine("subscribe"))?;
        Ok(Self {
            engine,
            clock,
            now: 0,
            feed,
            departments: Vec::new(),
            agents: Vec::new(),
            inquiries: Vec::new(),
            conversation_of: HashMap::new(),
            labels: HashMap::new(),
            log,
        })
    }

    /// The engine, for reads.
    pub fn engine(&self) -> &Engine<S> {
        &self.engine
    }

    /// The real id of an agent.
    pub fn agent_id(&self, agent: AgentRef) -> Option<&UserId> {
        self.agents.get(agent.0 as usize)
    }

    /// The conversation an inquiry belongs to.
    pub fn conversation_of(&self, inquiry: &InquiryId) -> Option<ConversationRef> {
        self.conversation_of.get(inquiry).copied()
    }

    /// The agent with this user id.
    pub fn agent_of(&self, user: &UserId) -> Option<AgentRef> {
        self.labels
            .get(user.as_str())
            .and_then(|label| label.strip_prefix('a'))
            .and_then(|n| n.parse().ok())
            .map(AgentRef)
    }

    /// Writes a line to the log, if there is one.
    pub fn log_line(&mut self, line: &LogLine) -> Result<(), SimError> {
        if let Some(log) = &mut self.log {
            let text = serde_json::to_string(line).expect("log lines serialise");
            log.push(&text)?;
        }
        Ok(())
    }

    /// The log, to finish or read captured lines from.
    pub fn log_mut(&mut self) -> Option<&mut LogSink> {
        self.log.as_mut()
    }

    /// Takes the log out of the driver.
    pub fn take_log(&mut self) -> Option<LogSink> {
        self.log.take()
    }

    /// Moves the virtual clock to `at` milliseconds after [`START_MILLIS`]; never backwards.
    pub fn set_time(&mut self, at: i64) {
        if at > self.now {
            self.clock.advance(at - self.now);
            self.now = at;
        }
    }

    /// Runs one call at the current time; returns its outcome and the events it committed.
    /// Engine refusals are outcomes, not errors: only unknown labels and log I/O fail.
    pub fn call(&mut self, call: Call) -> Result<(Outcome, Vec<Event>), SimError> {
        let outcome = match self.execute(&call)? {
            Ok(outcome) => outcome,
            Err(error) => Outcome::Refused { code: error.code().to_owned(), message: error.to_string() },
        };
        let events = self.feed.drain();
        if self.log.is_some() {
            self.log_line(&LogLine::Call { at: self.now, call, outcome: outcome.clone() })?;
            for event in &events {
                let mut value = serde_json::to_value(event).expect("events serialise");
                relabel(&mut value, &self.labels);
                self.log_line(&LogLine::Event { event: value })?;
            }
        }
        Ok((outcome, events))
    }

    fn department(&self, department: DepartmentRef) -> Result<&DepartmentId, SimError> {
        self.departments.get(department.0 as usize).ok_or_else(|| unknown(department))
    }

    fn agent(&self, agent: AgentRef) -> Result<&UserId, SimError> {
        self.agents.get(agent.0 as usize).ok_or_else(|| unknown(agent))
    }

    fn inquiry(&self, conversation: ConversationRef) -> Result<&InquiryId, SimError> {
        self.inquiries.get(conversation.0 as usize).and_then(Option::as_ref).ok_or_else(|| unknown(conversation))
    }

    fn execute(&mut self, call: &Call) -> Result<Result<Outcome, lobby_core::CoreError>, SimError> {
        let system = Actor::System;
        Ok(match call {
            Call::CreateDepartment { department, name } => {
                if department.0 as usize != self.departments.len() {
                    return Err(out_of_order(department));
                }
                let settings = DepartmentSettings::named(name.clone());
                match self.engine.create_department(&system, &settings, &[]) {
                    Ok((created, _)) => {
                        self.labels.insert(created.id.to_string(), department.to_string());
                        self.departments.push(created.id);
                        Ok(Outcome::Done)
                    }
                    Err(error) => Err(error),
                }
            }
            Call::CreateAgent { agent, department, capacity } => {
                if agent.0 as usize != self.agents.len() {
                    return Err(out_of_order(agent));
                }
                let department = self.department(*department)?.clone();
                let username = agent.to_string();
                let created = (|| {
                    let user = self.engine.create_user(
                        &system,
                        NewUser {
                            username: username.clone(),
                            name: username.clone(),
                            email: None,
                            password_hash: None,
                            roles: [Role::livechat_agent()].into_iter().collect(),
                            active: true,
                        },
                    )?;
                    self.engine.add_agent(&system, &username)?;
                    let update = AgentUpdate {
                        max_chats: Some(*capacity),
                        departments: Some([department.clone()].into_iter().collect()),
                        ..AgentUpdate::default()
                    };
                    self.engine.update_agent(&system, &user.id, &update)?;
                    Ok(user.id)
                })();
                match created {
                    Ok(id) => {
                        self.labels.insert(id.to_string(), username);
                        self.agents.push(id);
                        Ok(Outcome::Done)
                    }
                    Err(error) => Err(error),
                }
            }
            Call::SetAvailability { agent, available } => {
                let availability =
                    if *available { AgentAvailability::Available } else { AgentAvailability::NotAvailable };
                let id = self.agent(*agent)?.clone();
                self.engine.set_agent_availability(&system, &id, Some(availability)).map(|_| Outcome::Done)
            }
            Call::Enqueue { conversation, department, priority, sla_minutes } => {
                let n = conversation.0 as usize;
                if n != self.inquiries.len() {
                    return Err(out_of_order(conversation));
                }
                let department = self.department(*department)?.clone();
                let visitor = VisitorSummary {
                    id: VisitorId::new(format!("v{n}")).expect("valid id"),
                    username: format!("guest-{n}"),
                    token: format!("t{n}"),
                    status: VisitorStatus::Online,
                };
                let mut new = NewInquiry::new(visitor, format!("Visitor {n}"));
                new.department = Some(department);
                new.room = Some(room(*conversation));
                new.sla_minutes = *sla_minutes;
                if let Some(weight) = priority {
                    new.priority =
                        PriorityWeight::new(*weight).map_err(|e| SimError::invalid("priority", e.to_string()))?;
                }
                match self.engine.enqueue(&system, new) {
                    Ok(inquiry) => {
                        self.labels.insert(inquiry.id.to_string(), conversation.to_string());
                        self.conversation_of.insert(inquiry.id.clone(), *conversation);
                        self.inquiries.push(Some(inquiry.id));
                        Ok(Outcome::Done)
                    }
                    Err(error) => {
                        self.inquiries.push(None);
                        Err(error)
                    }
                }
            }
            Call::QueuePosition { conversation } => {
                let id = self.inquiry(*conversation)?.clone();
                self.engine.queue_position(&system, &id).map(|p| Outcome::Position {
                    position: p.position,
                    estimated_wait_ms: p.estimated_wait.map(|w| w.as_millis() as u64),
                })
            }
            Call::Dispatch => self.engine.dispatch(&system).map(|r| Outcome::Dispatched {
                released: r.released,
                assigned: r.assigned,
                unassigned: r.unassigned,
            }),
            Call::QueuedForUser { agent } => {
                let id = self.agent(*agent)?.clone();
                let request = QueueRequest { paging: lobby_core::Paging::new(0, 1), ..QueueRequest::default() };
                match self.engine.queued_for_user(&Actor::User(id), &request) {
                    Ok(page) => {
                        let first = match page.items.first() {
                            Some(inquiry) => Some(
                                self.conversation_of(&inquiry.id)
                                    .ok_or_else(|| SimError::Inconsistent(format!("unknown inquiry {}", inquiry.id)))?,
                            ),
                            None => None,
                        };
                        Ok(Outcome::Queue { first, total: page.total })
                    }
                    Err(error) => Err(error),
                }
            }
            Call::Take { agent, conversation } => {
                let id = self.agent(*agent)?.clone();
                let inquiry = self.inquiry(*conversation)?.clone();
                self.engine.take(&Actor::User(id), &inquiry, None).map(|_| Outcome::Done)
            }
            Call::Close { conversation, by } => {
                let actor = match by {
                    Closer::Visitor => Actor::Visitor(format!("t{}", conversation.0)),
                    Closer::Agent(agent) => Actor::User(self.agent(*agent)?.clone()),
                };
                self.inquiry(*conversation)?;
                let comment = match by {
                    Closer::Visitor => "abandoned",
                    Closer::Agent(_) => "",
                };
                self.engine.close(&actor, &room(*conversation), comment).map(|_| Outcome::Done)
            }
        })
    }
}

/// The room id of a conversation: `r<n>`.
pub fn room(conversation: ConversationRef) -> RoomId {
    RoomId::new(format!("r{}", conversation.0)).expect("valid id")
}

fn unknown(what: impl fmt::Display) -> SimError {
    SimError::Inconsistent(format!("{what} was never created"))
}

fn out_of_order(what: impl fmt::Display) -> SimError {
    SimError::Inconsistent(format!("{what} is created out of order"))
}

/// Replaces every string that is a generated id by its label, wherever it appears. A routing
/// decision lists its candidates in the store's key order, which is the order of the random ids,
/// so candidate lists are sorted by label (`a2` before `a10`).
fn relabel(value: &mut serde_json::Value, labels: &HashMap<String, String>) {
    match value {
        serde_json::Value::String(text) => {
            if let Some(label) = labels.get(text.as_str()) {
                label.clone_into(text);
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(|item| relabel(item, labels)),
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                relabel(item, labels);
                if key == "candidates" {
                    if let serde_json::Value::Array(candidates) = item {
                        candidates.sort_by_cached_key(|candidate| {
                            let label = candidate.get(0).and_then(|l| l.as_str()).unwrap_or_default();
                            (label.len(), label.to_owned())
                        });
                    }
                }
            }
        }
        _ => {}
    }
}

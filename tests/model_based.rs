//! Model-based test: random sequences of engine operations run against the engine on a real
//! store and against a small reference model written independently of it. Every result (the
//! new status or the exact error) and the final state must agree. Runs on the memory and sled
//! stores.

use std::collections::BTreeSet;
use std::sync::Arc;

use lobby::*;
use proptest::prelude::*;

const AGENTS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Enqueue { department: Option<usize> },
    Release(usize),
    Take { inquiry: usize, agent: usize },
    Return(usize),
    Transfer { inquiry: usize, agent: usize },
    Close(usize),
    SetAvailable { agent: usize, available: bool },
    SetLimit { agent: usize, limit: u32 },
    Dispatch,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => prop::option::of(0usize..2).prop_map(|department| Op::Enqueue { department }),
        2 => (0usize..12).prop_map(Op::Release),
        4 => (0usize..12, 0..AGENTS).prop_map(|(inquiry, agent)| Op::Take { inquiry, agent }),
        1 => (0usize..12).prop_map(Op::Return),
        1 => (0usize..12, 0..AGENTS).prop_map(|(inquiry, agent)| Op::Transfer { inquiry, agent }),
        1 => (0usize..12).prop_map(Op::Close),
        1 => (0..AGENTS, any::<bool>()).prop_map(|(agent, available)| Op::SetAvailable { agent, available }),
        1 => (0..AGENTS, 0u32..3).prop_map(|(agent, limit)| Op::SetLimit { agent, limit }),
        1 => Just(Op::Dispatch),
    ]
}

/// What the model says an operation returns: a status, or the name of the error.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Status(InquiryStatus),
    Error(&'static str),
    Done,
}

fn error_name(error: &CoreError) -> &'static str {
    match error {
        CoreError::InquiryAlreadyTaken => "already-taken",
        CoreError::IllegalTransition { .. } => "illegal",
        CoreError::AgentNotAvailable => "not-available",
        CoreError::AgentAtCapacity { .. } => "at-capacity",
        CoreError::InvalidInput { .. } => "invalid",
        CoreError::RoomClosed => "room-closed",
        CoreError::AlreadyServedBy => "same-agent",
        other => panic!("the model never expects {other:?}"),
    }
}

#[derive(Debug, Clone)]
struct ModelInquiry {
    status: InquiryStatus,
    agent: Option<usize>,
    department: Option<usize>,
}

#[derive(Debug, Clone)]
struct ModelAgent {
    available: bool,
    limit: u32,
    active: u32,
    assigned: u64,
    departments: BTreeSet<usize>,
}

/// The reference: plain vectors and the rules as the docs state them.
#[derive(Debug, Default)]
struct Model {
    inquiries: Vec<ModelInquiry>,
    agents: Vec<ModelAgent>,
}

impl Model {
    fn new() -> Self {
        let departments = [BTreeSet::from([0]), BTreeSet::from([0, 1]), BTreeSet::new()];
        let agents = departments
            .into_iter()
            .map(|departments| ModelAgent { available: true, limit: 0, active: 0, assigned: 0, departments })
            .collect();
        Self { inquiries: vec![], agents }
    }

    fn has_room(&self, agent: usize) -> bool {
        let a = &self.agents[agent];
        a.limit == 0 || a.active < a.limit
    }

    fn serve_check(&self, agent: usize) -> Result<(), &'static str> {
        if !self.agents[agent].available {
            return Err("not-available");
        }
        if !self.has_room(agent) {
            return Err("at-capacity");
        }
        Ok(())
    }

    fn assign(&mut self, inquiry: usize, agent: usize) {
        self.inquiries[inquiry].status = InquiryStatus::Taken;
        self.inquiries[inquiry].agent = Some(agent);
        self.agents[agent].active += 1;
        self.agents[agent].assigned += 1;
    }

    fn free_agent_of(&mut self, inquiry: usize) {
        if let Some(agent) = self.inquiries[inquiry].agent.take() {
            self.agents[agent].active -= 1;
        }
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        use InquiryStatus::*;
        match *op {
            Op::Enqueue { department } => {
                self.inquiries.push(ModelInquiry { status: Queued, agent: None, department });
                Outcome::Status(Queued)
            }
            Op::Release(i) => match self.inquiries[i].status {
                Queued => {
                    self.inquiries[i].status = Open;
                    Outcome::Status(Open)
                }
                _ => Outcome::Error("illegal"),
            },
            Op::Take { inquiry: i, agent } => {
                if self.inquiries[i].status == Taken {
                    return Outcome::Error("already-taken");
                }
                if let Err(e) = self.serve_check(agent) {
                    return Outcome::Error(e);
                }
                if self.inquiries[i].status != Open {
                    return Outcome::Error("illegal");
                }
                self.assign(i, agent);
                Outcome::Status(Taken)
            }
            Op::Return(i) => {
                if self.inquiries[i].status != Taken {
                    return Outcome::Error("illegal");
                }
                self.free_agent_of(i);
                self.inquiries[i].status = Queued;
                Outcome::Status(Queued)
            }
            Op::Transfer { inquiry: i, agent } => {
                if self.inquiries[i].status == Closed {
                    return Outcome::Error("room-closed");
                }
                if self.inquiries[i].status != Taken {
                    return Outcome::Error("illegal");
                }
                if self.inquiries[i].agent == Some(agent) {
                    return Outcome::Error("same-agent");
                }
                if let Err(e) = self.serve_check(agent) {
                    return Outcome::Error(e);
                }
                self.free_agent_of(i);
                self.assign(i, agent);
                Outcome::Status(Taken)
            }
            Op::Close(i) => {
                if self.inquiries[i].status == Closed {
                    return Outcome::Error("illegal");
                }
                if self.inquiries[i].status == Taken {
                    let agent = self.inquiries[i].agent.expect("taken has an agent");
                    self.agents[agent].active -= 1;
                }
                self.inquiries[i].status = Closed;
                Outcome::Status(Closed)
            }
            Op::SetAvailable { agent, available } => {
                self.agents[agent].available = available;
                Outcome::Done
            }
            Op::SetLimit { agent, limit } => {
                self.agents[agent].limit = limit;
                Outcome::Done
            }
            Op::Dispatch => {
                // Auto selection in queue order (enqueue order): the available agent of the
                // inquiry's department (any agent without one) with room and the fewest
                // assignments, ties by username (agent0 < agent1 < agent2).
                for i in 0..self.inquiries.len() {
                    if !self.inquiries[i].status.is_waiting() {
                        continue;
                    }
                    let department = self.inquiries[i].department;
                    let chosen = (0..self.agents.len())
                        .filter(|&a| self.agents[a].available && self.has_room(a))
                        .filter(|&a| department.is_none_or(|d| self.agents[a].departments.contains(&d)))
                        .min_by_key(|&a| (self.agents[a].assigned, a));
                    match chosen {
                        Some(agent) => self.assign(i, agent),
                        None if self.inquiries[i].status == Queued => self.inquiries[i].status = Open,
                        None => {}
                    }
                }
                Outcome::Done
            }
        }
    }
}

struct Subject<S: Store> {
    engine: Engine<S>,
    agents: Vec<UserId>,
    departments: Vec<DepartmentId>,
    inquiries: Vec<Inquiry>,
}

impl<S: Store> Subject<S> {
    fn new(store: S) -> Self {
        let config = EngineConfig {
            routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
            // One millisecond per reading: enqueue order is queue order.
            clock: Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000), 1)),
            ..EngineConfig::default()
        };
        let engine = Engine::with_config(store, config);
        let departments: Vec<DepartmentId> = ["d0", "d1"]
            .iter()
            .map(|name| engine.create_department(&Actor::System, &DepartmentSettings::named(*name), &[]).unwrap().0.id)
            .collect();
        let model = Model::new();
        let agents = (0..AGENTS)
            .map(|n| {
                let username = format!("agent{n}");
                let roles = [Role::livechat_agent()];
                let new = NewUser::new(username.clone(), username.clone(), roles);
                let user = engine.create_user(&Actor::System, new).unwrap();
                engine.add_agent(&Actor::System, &username).unwrap();
                let update = AgentUpdate {
                    max_chats: None,
                    departments: Some(model.agents[n].departments.iter().map(|d| departments[*d].clone()).collect()),
                };
                engine.update_agent(&Actor::System, &user.id, &update).unwrap();
                user.id
            })
            .collect();
        Self { engine, agents, departments, inquiries: vec![] }
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        let system = &Actor::System;
        let status = |result: Result<Inquiry, CoreError>| match result {
            Ok(inquiry) => Outcome::Status(inquiry.status),
            Err(error) => Outcome::Error(error_name(&error)),
        };
        match *op {
            Op::Enqueue { department } => {
                let n = self.inquiries.len();
                let visitor = VisitorSummary::new(
                    VisitorId::new(format!("v{n}")).unwrap(),
                    format!("guest-{n}"),
                    format!("token-{n}"),
                );
                let mut new = NewInquiry::new(visitor, format!("Visitor {n}"));
                new.department = department.map(|d| self.departments[d].clone());
                let inquiry = self.engine.enqueue(system, new).unwrap();
                self.inquiries.push(inquiry.clone());
                Outcome::Status(inquiry.status)
            }
            Op::Release(i) => status(self.engine.release(system, &self.inquiries[i].id)),
            Op::Take { inquiry, agent } => {
                status(self.engine.take(system, &self.inquiries[inquiry].id, Some(&self.agents[agent])))
            }
            Op::Return(i) => status(self.engine.return_to_queue(system, &self.inquiries[i].rid)),
            Op::Transfer { inquiry, agent } => status(self.engine.transfer(
                system,
                &self.inquiries[inquiry].rid,
                &TransferTarget::Agent(self.agents[agent].clone()),
                "",
            )),
            Op::Close(i) => status(self.engine.close(system, &self.inquiries[i].rid, "")),
            Op::SetAvailable { agent, available } => {
                let availability =
                    if available { AgentAvailability::Available } else { AgentAvailability::NotAvailable };
                self.engine.set_agent_availability(system, &self.agents[agent], Some(availability)).unwrap();
                Outcome::Done
            }
            Op::SetLimit { agent, limit } => {
                let update = AgentUpdate { max_chats: Some(limit), departments: None };
                self.engine.update_agent(system, &self.agents[agent], &update).unwrap();
                Outcome::Done
            }
            Op::Dispatch => {
                self.engine.dispatch(system).unwrap();
                Outcome::Done
            }
        }
    }

    fn assert_agrees_with(&self, model: &Model) {
        for (n, (inquiry, expected)) in self.inquiries.iter().zip(&model.inquiries).enumerate() {
            let stored = self.engine.inquiry(&Actor::System, &inquiry.id).unwrap().unwrap();
            assert_eq!(stored.status, expected.status, "status of inquiry {n}");
            let agent = stored.served_by_id().map(|id| self.agents.iter().position(|a| a == id).unwrap());
            let expected_agent = if expected.status == InquiryStatus::Closed { agent } else { expected.agent };
            assert_eq!(agent, expected_agent, "agent of inquiry {n}");
        }
        for (n, (id, expected)) in self.agents.iter().zip(&model.agents).enumerate() {
            let agent = self.engine.agent(id).unwrap().unwrap();
            assert_eq!((agent.active_chats, agent.assigned_total), (expected.active, expected.assigned), "agent {n}");
        }
        for status in InquiryStatus::ALL {
            let request = ListRequest { status, paging: Paging::new(0, 0), ..ListRequest::default() };
            let total = self.engine.list(&Actor::System, &request).unwrap().total;
            assert_eq!(total, model.inquiries.iter().filter(|i| i.status == status).count(), "{status} total");
        }
    }
}

fn run<S: Store>(store: S, ops: &[Op]) {
    let mut model = Model::new();
    let mut subject = Subject::new(store);
    for (step, op) in ops.iter().enumerate() {
        // Operations on inquiries that do not exist yet are skipped by both sides.
        let target = match op {
            Op::Release(i) | Op::Return(i) | Op::Close(i) => Some(*i),
            Op::Take { inquiry, .. } | Op::Transfer { inquiry, .. } => Some(*inquiry),
            _ => None,
        };
        if target.is_some_and(|i| i >= model.inquiries.len()) {
            continue;
        }
        let expected = model.apply(op);
        let got = subject.apply(op);
        assert_eq!(got, expected, "step {step}: {op:?}");
    }
    subject.assert_agrees_with(&model);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn memory_store_agrees_with_the_model(ops in prop::collection::vec(op(), 1..80)) {
        run(MemoryStore::new(), &ops);
    }
}

proptest! {
    // Each case opens a fresh sled database, so fewer cases than in memory.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sled_store_agrees_with_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let store = lobby_sled::SledStore::temporary().expect("temporary sled store");
        run(&store, &ops);
        store.check_integrity().expect("indexes, unique keys and agent loads agree with the records");
    }
}

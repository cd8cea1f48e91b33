//! Model-based test: random sequences of engine operations run against the engine on a real
//! store and against a small reference model written independently of it. Every result (the
//! new status or the exact error) and the final state must agree. Runs on the memory and sled
//! stores, with direct assignment and in offer mode (accept, reject, lapse, missed offers), and
//! with holds and resumes in both.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use lobby::*;
use proptest::prelude::*;

const AGENTS: usize = 3;
/// How long an offer stands in offer mode; `Op::Expire` moves the clock past it.
const OFFER_MILLIS: i64 = 3_600_000;
/// Lapsed offers in a row that set an agent away.
const MISSED_BEFORE_AWAY: u32 = 2;

/// How routing hands over conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Direct,
    Offers,
}

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        department: Option<usize>,
    },
    Release(usize),
    Take {
        inquiry: usize,
        agent: usize,
    },
    Return(usize),
    Transfer {
        inquiry: usize,
        agent: usize,
    },
    Close(usize),
    SetAvailable {
        agent: usize,
        available: bool,
    },
    SetLimit {
        agent: usize,
        limit: u32,
    },
    Dispatch,
    Accept {
        inquiry: usize,
        agent: usize,
    },
    Reject {
        inquiry: usize,
        agent: usize,
    },
    /// Moves the clock past every pending offer and fires what is due.
    Expire,
    Hold(usize),
    Resume(usize),
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
        2 => Just(Op::Dispatch),
        2 => (0usize..12, 0..AGENTS).prop_map(|(inquiry, agent)| Op::Accept { inquiry, agent }),
        1 => (0usize..12, 0..AGENTS).prop_map(|(inquiry, agent)| Op::Reject { inquiry, agent }),
        1 => Just(Op::Expire),
        1 => (0usize..12).prop_map(Op::Hold),
        1 => (0usize..12).prop_map(Op::Resume),
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
        CoreError::OfferedToAnotherAgent => "offered-to-another",
        CoreError::NoPendingOffer => "no-offer",
        CoreError::AlreadyOnHold => "already-on-hold",
        CoreError::NotOnHold => "not-on-hold",
        CoreError::UnservedCannotHold => "unserved",
        other => panic!("the model never expects {other:?}"),
    }
}

#[derive(Debug, Clone)]
struct ModelInquiry {
    status: InquiryStatus,
    /// Who serves it, or who it is offered to.
    agent: Option<usize>,
    department: Option<usize>,
    on_hold: bool,
    /// Agents who declined it or let its offer lapse.
    excluded: BTreeSet<usize>,
    /// When its pending offer was made (offers lapse in this order).
    offered_at: u64,
}

#[derive(Debug, Clone)]
struct ModelAgent {
    available: bool,
    limit: u32,
    active: u32,
    assigned: u64,
    missed: u32,
    departments: BTreeSet<usize>,
}

/// The reference: plain vectors and the rules as the docs state them.
#[derive(Debug)]
struct Model {
    mode: Mode,
    inquiries: Vec<ModelInquiry>,
    agents: Vec<ModelAgent>,
    /// Counts offers, to order their deadlines.
    offers_made: u64,
}

impl Model {
    fn new(mode: Mode) -> Self {
        let departments = [BTreeSet::from([0]), BTreeSet::from([0, 1]), BTreeSet::new()];
        let agents = departments
            .into_iter()
            .map(|departments| ModelAgent { available: true, limit: 0, active: 0, assigned: 0, missed: 0, departments })
            .collect();
        Self { mode, inquiries: vec![], agents, offers_made: 0 }
    }

    /// Whom routing gives inquiry `i`: an available agent of its department (any agent without
    /// one) with room, not excluded, with the fewest assignments, ties by username.
    fn pick(&self, i: usize) -> Option<usize> {
        let inquiry = &self.inquiries[i];
        (0..self.agents.len())
            .filter(|&a| self.agents[a].available && self.has_room(a) && !inquiry.excluded.contains(&a))
            .filter(|&a| inquiry.department.is_none_or(|d| self.agents[a].departments.contains(&d)))
            .min_by_key(|&a| (self.agents[a].assigned, a))
    }

    /// Routing hands inquiry `i` to agent `a`: an assignment, or in offer mode an offer.
    fn hand_over(&mut self, i: usize, a: usize) {
        match self.mode {
            Mode::Direct => self.assign(i, a),
            Mode::Offers => {
                self.inquiries[i].status = InquiryStatus::Offered;
                self.inquiries[i].agent = Some(a);
                self.inquiries[i].offered_at = self.offers_made;
                self.offers_made += 1;
                self.agents[a].active += 1;
                self.agents[a].assigned += 1;
            }
        }
    }

    /// The offer of inquiry `i` ends without its agent: the slot is freed, the agent excluded
    /// (a lapse counts as missed), and the inquiry is offered on or waits in the queue.
    fn pass_on(&mut self, i: usize, lapsed: bool) {
        let a = self.inquiries[i].agent.take().expect("an offer has an agent");
        self.agents[a].active -= 1;
        if lapsed {
            self.agents[a].missed += 1;
            if self.agents[a].available && self.agents[a].missed >= MISSED_BEFORE_AWAY {
                self.agents[a].available = false;
                self.agents[a].missed = 0;
            }
        }
        self.inquiries[i].excluded.insert(a);
        self.inquiries[i].status = InquiryStatus::Queued;
        if let Some(next) = self.pick(i) {
            self.hand_over(i, next);
        }
    }

    fn offer_check(&self, i: usize, agent: usize) -> Result<(), &'static str> {
        match (self.inquiries[i].status, self.inquiries[i].agent) {
            (InquiryStatus::Offered, Some(a)) if a == agent => Ok(()),
            (InquiryStatus::Offered, _) => Err("offered-to-another"),
            _ => Err("no-offer"),
        }
    }

    fn accept(&mut self, i: usize) {
        let a = self.inquiries[i].agent.expect("offered");
        self.inquiries[i].status = InquiryStatus::Taken;
        self.agents[a].missed = 0;
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

    /// Frees the agent holding `inquiry`: its slot too, unless the inquiry was on hold.
    fn free_agent_of(&mut self, inquiry: usize) {
        if let Some(agent) = self.inquiries[inquiry].agent.take() {
            if !self.inquiries[inquiry].on_hold {
                self.agents[agent].active -= 1;
            }
        }
        self.inquiries[inquiry].on_hold = false;
    }

    fn apply(&mut self, op: &Op) -> Outcome {
        use InquiryStatus::*;
        match *op {
            Op::Enqueue { department } => {
                self.inquiries.push(ModelInquiry {
                    status: Queued,
                    agent: None,
                    department,
                    on_hold: false,
                    excluded: BTreeSet::new(),
                    offered_at: 0,
                });
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
                if self.inquiries[i].status == Offered {
                    // Only the agent it is offered to may take it, which accepts the offer.
                    if let Err(e) = self.offer_check(i, agent) {
                        return Outcome::Error(e);
                    }
                    self.accept(i);
                    return Outcome::Status(Taken);
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
                if matches!(self.inquiries[i].status, Taken | Offered) {
                    let agent = self.inquiries[i].agent.expect("taken or offered has an agent");
                    if !self.inquiries[i].on_hold {
                        self.agents[agent].active -= 1;
                    }
                }
                if self.inquiries[i].status == Offered {
                    self.inquiries[i].agent = None;
                }
                self.inquiries[i].on_hold = false;
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
                // Auto selection in queue order (enqueue order): see `pick`.
                for i in 0..self.inquiries.len() {
                    if !self.inquiries[i].status.is_waiting() {
                        continue;
                    }
                    match self.pick(i) {
                        Some(agent) => self.hand_over(i, agent),
                        None if self.inquiries[i].status == Queued => self.inquiries[i].status = Open,
                        None => {}
                    }
                }
                Outcome::Done
            }
            Op::Accept { inquiry: i, agent } => {
                if let Err(e) = self.offer_check(i, agent) {
                    return Outcome::Error(e);
                }
                self.accept(i);
                Outcome::Status(Taken)
            }
            Op::Reject { inquiry: i, agent } => {
                if let Err(e) = self.offer_check(i, agent) {
                    return Outcome::Error(e);
                }
                self.pass_on(i, false);
                Outcome::Status(self.inquiries[i].status)
            }
            Op::Expire => {
                // Every pending offer lapses, oldest first; the offers they pass on to are newer.
                let mut pending: Vec<usize> =
                    (0..self.inquiries.len()).filter(|&i| self.inquiries[i].status == Offered).collect();
                pending.sort_by_key(|&i| self.inquiries[i].offered_at);
                for i in pending {
                    self.pass_on(i, true);
                }
                Outcome::Done
            }
            Op::Hold(i) => {
                let inquiry = &self.inquiries[i];
                if inquiry.status == Closed {
                    return Outcome::Error("room-closed");
                }
                if inquiry.on_hold {
                    return Outcome::Error("already-on-hold");
                }
                if inquiry.status != Taken {
                    return Outcome::Error("unserved");
                }
                let agent = inquiry.agent.expect("taken has an agent");
                self.inquiries[i].on_hold = true;
                self.agents[agent].active -= 1;
                Outcome::Status(Taken)
            }
            Op::Resume(i) => {
                let inquiry = &self.inquiries[i];
                if inquiry.status == Closed {
                    return Outcome::Error("room-closed");
                }
                if !inquiry.on_hold {
                    return Outcome::Error("not-on-hold");
                }
                let agent = inquiry.agent.expect("on hold has an agent");
                if !self.has_room(agent) {
                    return Outcome::Error("at-capacity");
                }
                self.inquiries[i].on_hold = false;
                self.agents[agent].active += 1;
                Outcome::Status(Taken)
            }
        }
    }
}

struct Subject<S: Store> {
    engine: Engine<S>,
    clock: Arc<ManualClock>,
    agents: Vec<UserId>,
    departments: Vec<DepartmentId>,
    inquiries: Vec<Inquiry>,
}

impl<S: Store> Subject<S> {
    fn new(store: S, mode: Mode) -> Self {
        // One millisecond per reading: enqueue order is queue order.
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(1_700_000_000_000), 1));
        let offer_timeout = (mode == Mode::Offers).then(|| Duration::from_millis(OFFER_MILLIS as u64));
        let config = EngineConfig {
            routing: RoutingConfig { method: RoutingMethod::AutoSelection, ..RoutingConfig::default() },
            timers: TimerConfig {
                offer_timeout,
                missed_offers_before_away: MISSED_BEFORE_AWAY,
                ..TimerConfig::default()
            },
            clock: clock.clone(),
            ..EngineConfig::default()
        };
        let engine = Engine::with_config(store, config);
        let departments: Vec<DepartmentId> = ["d0", "d1"]
            .iter()
            .map(|name| engine.create_department(&Actor::System, &DepartmentSettings::named(*name), &[]).unwrap().0.id)
            .collect();
        let model = Model::new(mode);
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
                    ..AgentUpdate::default()
                };
                engine.update_agent(&Actor::System, &user.id, &update).unwrap();
                user.id
            })
            .collect();
        Self { engine, clock, agents, departments, inquiries: vec![] }
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
                let update = AgentUpdate { max_chats: Some(limit), departments: None, ..AgentUpdate::default() };
                self.engine.update_agent(system, &self.agents[agent], &update).unwrap();
                Outcome::Done
            }
            Op::Dispatch => {
                self.engine.dispatch(system).unwrap();
                Outcome::Done
            }
            Op::Accept { inquiry, agent } => {
                status(self.engine.accept_offer(&Actor::User(self.agents[agent].clone()), &self.inquiries[inquiry].id))
            }
            Op::Reject { inquiry, agent } => status(self.engine.reject_offer(
                &Actor::User(self.agents[agent].clone()),
                &self.inquiries[inquiry].id,
                "",
            )),
            Op::Expire => {
                self.clock.advance(OFFER_MILLIS + 1);
                self.engine.fire_due().unwrap();
                Outcome::Done
            }
            Op::Hold(i) => status(self.engine.hold(system, &self.inquiries[i].rid)),
            Op::Resume(i) => status(self.engine.resume(system, &self.inquiries[i].rid)),
        }
    }

    fn assert_agrees_with(&self, model: &Model) {
        for (n, (inquiry, expected)) in self.inquiries.iter().zip(&model.inquiries).enumerate() {
            let stored = self.engine.inquiry(&Actor::System, &inquiry.id).unwrap().unwrap();
            assert_eq!(stored.status, expected.status, "status of inquiry {n}");
            let position = |id: &UserId| self.agents.iter().position(|a| a == id).unwrap();
            let agent = stored.holder().map(position);
            let expected_agent = if expected.status == InquiryStatus::Closed { None } else { expected.agent };
            assert_eq!(agent, expected_agent, "agent of inquiry {n}");
            assert_eq!(stored.on_hold_since.is_some(), expected.on_hold, "hold of inquiry {n}");
            let excluded: BTreeSet<usize> = stored.excluded_agents.iter().map(position).collect();
            assert_eq!(excluded, expected.excluded, "excluded agents of inquiry {n}");
        }
        for (n, (id, expected)) in self.agents.iter().zip(&model.agents).enumerate() {
            let agent = self.engine.agent(id).unwrap().unwrap();
            assert_eq!((agent.active_chats, agent.assigned_total), (expected.active, expected.assigned), "agent {n}");
            let available = agent.availability == AgentAvailability::Available;
            assert_eq!((available, agent.missed_offers), (expected.available, expected.missed), "agent {n}");
        }
        for status in InquiryStatus::ALL {
            let request = ListRequest { status, paging: Paging::new(0, 0), ..ListRequest::default() };
            let total = self.engine.list(&Actor::System, &request).unwrap().total;
            assert_eq!(total, model.inquiries.iter().filter(|i| i.status == status).count(), "{status} total");
        }
    }
}

fn run<S: Store>(store: S, mode: Mode, ops: &[Op]) {
    let mut model = Model::new(mode);
    let mut subject = Subject::new(store, mode);
    for (step, op) in ops.iter().enumerate() {
        // Operations on inquiries that do not exist yet are skipped by both sides.
        let target = match op {
            Op::Release(i) | Op::Return(i) | Op::Close(i) | Op::Hold(i) | Op::Resume(i) => Some(*i),
            Op::Take { inquiry, .. }
            | Op::Transfer { inquiry, .. }
            | Op::Accept { inquiry, .. }
            | Op::Reject { inquiry, .. } => Some(*inquiry),
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
        run(MemoryStore::new(), Mode::Direct, &ops);
    }

    #[test]
    fn memory_store_agrees_with_the_model_in_offer_mode(ops in prop::collection::vec(op(), 1..80)) {
        run(MemoryStore::new(), Mode::Offers, &ops);
    }
}

proptest! {
    // Each case opens a fresh sled database, so fewer cases than in memory.
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn sled_store_agrees_with_the_model(ops in prop::collection::vec(op(), 1..80), offers in any::<bool>()) {
        let store = lobby_sled::SledStore::temporary().expect("temporary sled store");
        run(&store, if offers { Mode::Offers } else { Mode::Direct }, &ops);
        store.check_integrity().expect("indexes, unique keys and agent loads agree with the records");
    }
}

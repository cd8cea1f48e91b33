//! The discrete-event loop: a heap of timed happenings (arrivals, abandonments, ends of handling,
//! shift starts and ends), each handled at its time by calls on the real engine through a
//! [`Driver`]. Nothing sleeps; the engine's clock jumps from one happening to the next.
//!
//! Two happenings never share a millisecond: one due at or before the previous one's time is
//! handled a millisecond after it. The engine orders its queue by millisecond timestamps and
//! breaks ties by its random inquiry ids, so equal times would make runs differ; a shift of a
//! millisecond is far below anything measured.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use lobby_core::machine::TransitionKind;
use lobby_core::{Event, EventKind, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp, LogNormal};
use serde::Serialize;

use crate::driver::{AgentRef, Call, Closer, ConversationRef, DepartmentRef, Driver, LogLine, LogSink, Outcome};
use crate::estimate::{self, EstimateScores, QueueSnapshot, ROCKET_CHAT_RECENT_CHATS};
use crate::scenario::{Arrivals, HandleTime, Patience, Routing, Scenario};
use crate::stats::{gini, mean, percentile};
use crate::SimError;

/// How many recent closes the engine's wait estimate averages (its default).
const ENGINE_ESTIMATE_SAMPLE: usize = 50;

/// What to collect besides the metrics.
#[derive(Default)]
pub struct ReplicationOptions<'a> {
    /// Write (or only hash) the event log.
    pub log: Option<LogSink>,
    /// Record the queue length every this many simulated seconds, for plots.
    pub sample_every: Option<f64>,
    /// Called now and then with the share of simulated time done (0 to 1).
    pub progress: Option<&'a mut dyn FnMut(f64)>,
    /// Do not ask the engine for queue positions (a quarter of the engine's work), so no wait
    /// estimates are scored.
    pub skip_wait_estimates: bool,
}

/// One replication's results.
#[derive(Debug, Clone, Serialize)]
pub struct Replication {
    /// Its seed.
    pub seed: u64,
    /// What visitors and agents experienced.
    pub metrics: Metrics,
    /// Wait estimates scored over all served conversations.
    #[serde(skip)]
    pub estimates_all: EstimateScores,
    /// Wait estimates scored over served conversations that found every slot busy.
    #[serde(skip)]
    pub estimates_queued: EstimateScores,
    /// Queue length over time (minutes, waiting conversations), if asked for.
    #[serde(skip)]
    pub queue_length: Vec<(f64, f64)>,
    /// Service level of the conversations arriving in each interval (minutes at its start, share).
    #[serde(skip)]
    pub service_level_over_time: Vec<(f64, f64)>,
    /// SHA-256 and line count of the event log, if one was kept.
    pub event_log: Option<(String, u64)>,
    /// Conversations simulated, warm-up included.
    pub simulated_conversations: u64,
    /// Happenings handled.
    pub events: u64,
    /// Calls made on the engine.
    pub engine_calls: u64,
    /// Wall-clock time the replication took, seconds.
    pub wall_seconds: f64,
}

/// What visitors and agents experienced in one replication, counting conversations that arrived
/// after the warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Conversations that arrived after the warm-up.
    pub conversations: u64,
    /// Of those, served by an agent.
    pub served: u64,
    /// Closed by the visitor before an agent took them.
    pub abandoned: u64,
    /// Still waiting when everything else had finished (no agent left to serve them).
    pub unanswered: u64,
    /// Share of conversations that waited at all (served after a wait, abandoned or unanswered).
    pub p_wait: f64,
    /// Average speed of answer: mean wait of served conversations, seconds.
    pub asa_seconds: f64,
    /// Share of conversations served within the threshold (abandoned ones count as missed).
    pub service_level: f64,
    /// Share of conversations abandoned.
    pub abandonment_rate: f64,
    /// Chat slots in use over chat slots staffed, after the warm-up.
    pub occupancy: f64,
    /// Gini coefficient of conversations per staffed hour across agents (0 = perfectly even).
    pub gini: f64,
    /// Wait percentiles of served conversations, seconds.
    pub wait_p50: f64,
    /// 80th percentile.
    pub wait_p80: f64,
    /// 90th percentile.
    pub wait_p90: f64,
    /// 95th percentile.
    pub wait_p95: f64,
    /// 99th percentile.
    pub wait_p99: f64,
    /// Longest wait of a served conversation, seconds.
    pub wait_max: f64,
}

/// The seed of replication `index` of a run seeded `seed`: the seed itself for the first, a
/// SplitMix64 mix for the others so that neighbouring seeds do not share replications.
pub fn replication_seed(seed: u64, index: u32) -> u64 {
    if index == 0 {
        return seed;
    }
    let mut z = seed.wrapping_add(u64::from(index).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Runs one replication of `scenario` under `routing` on an empty `store`.
pub fn run_replication<S: Store>(
    scenario: &Scenario,
    routing: Routing,
    index: u32,
    store: S,
    options: ReplicationOptions<'_>,
) -> Result<Replication, SimError> {
    let started = Instant::now();
    let seed = replication_seed(scenario.seed, index);
    let ReplicationOptions { log, sample_every, progress, skip_wait_estimates } = options;
    let logging = log.is_some();
    let driver = Driver::new(store, routing, scenario.queue_order, log)?;
    let mut sim = Sim::new(scenario, routing, seed, driver, sample_every);
    sim.score_estimates = !skip_wait_estimates;
    if logging {
        let header = LogLine::Header {
            lobby_sim_events: 1,
            routing: routing.name().to_owned(),
            queue_order: scenario.queue_order.name().to_owned(),
            scenario: serde_json::to_value(scenario.to_file()).expect("scenarios serialise"),
            seed,
        };
        sim.driver.log_line(&header)?;
    }
    sim.setup()?;
    sim.run(progress)?;
    sim.check_engine_agrees()?;
    let event_log = match sim.driver.take_log() {
        Some(log) => Some(log.finish()?),
        None => None,
    };
    let mut replication = sim.finish(seed);
    replication.event_log = event_log;
    replication.wall_seconds = started.elapsed().as_secs_f64();
    Ok(replication)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    Arrival(usize),
    Abandon(usize),
    Complete(usize),
    ShiftStart(usize),
    ShiftEnd(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Serving { agent: usize, since: i64 },
    Abandoned,
    Closed,
}

struct Conversation {
    department: usize,
    arrived: i64,
    handle_ms: i64,
    state: State,
    counted: bool,
    /// No slot was free when it arrived.
    queued: bool,
    engine_estimate: Option<f64>,
    rocket_chat_estimate: Option<f64>,
    throughput_estimate: Option<f64>,
    wait_ms: Option<i64>,
}

struct AgentState {
    label: AgentRef,
    department: usize,
    capacity: u32,
    on_shift: bool,
    active: u32,
    /// Conversations assigned inside the measured window.
    assigned: u64,
    staffed_since: Option<i64>,
    staffed_ms: i64,
}

struct DepartmentState {
    label: DepartmentRef,
    next_arrival: f64,
    arrival_rng: ChaCha8Rng,
    handle_rng: ChaCha8Rng,
    patience_rng: ChaCha8Rng,
    agents: Vec<usize>,
    waiting: usize,
    recent_handle: VecDeque<f64>,
    recent_handle_sum: f64,
    recent_chat: VecDeque<f64>,
    recent_chat_sum: f64,
}

struct Sim<'a, S> {
    scenario: &'a Scenario,
    routing: Routing,
    driver: Driver<S>,
    heap: BinaryHeap<Reverse<(i64, u64, Happening)>>,
    sequence: u64,
    now: i64,
    window: (i64, i64),
    conversations: Vec<Conversation>,
    agents: Vec<AgentState>,
    departments: Vec<DepartmentState>,
    choice_rng: ChaCha8Rng,
    /// Integrals over the window: slot-milliseconds in use and staffed.
    busy_slot_ms: f64,
    staffed_slot_ms: f64,
    integrated_to: i64,
    active_slots: u64,
    staffed_slots: u64,
    happenings: u64,
    engine_calls: u64,
    estimates_all: EstimateScores,
    estimates_queued: EstimateScores,
    sample_every: Option<i64>,
    next_sample: i64,
    queue_length: Vec<(f64, f64)>,
    score_estimates: bool,
}

impl<'a, S: Store> Sim<'a, S> {
    fn new(scenario: &'a Scenario, routing: Routing, seed: u64, driver: Driver<S>, sample_every: Option<f64>) -> Self {
        let stream = |n: u64| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(n);
            rng
        };
        let departments = (0..scenario.departments.len())
            .map(|d| DepartmentState {
                label: DepartmentRef(d as u32),
                next_arrival: 0.0,
                arrival_rng: stream(4 * d as u64),
                handle_rng: stream(4 * d as u64 + 1),
                patience_rng: stream(4 * d as u64 + 2),
                agents: Vec::new(),
                waiting: 0,
                recent_handle: VecDeque::new(),
                recent_handle_sum: 0.0,
                recent_chat: VecDeque::new(),
                recent_chat_sum: 0.0,
            })
            .collect();
        let warm_up = scenario.warm_up.as_millis();
        Self {
            scenario,
            routing,
            driver,
            heap: BinaryHeap::new(),
            sequence: 0,
            now: 0,
            window: (warm_up, warm_up + scenario.length.as_millis()),
            conversations: Vec::new(),
            agents: Vec::new(),
            departments,
            choice_rng: stream(u64::MAX),
            busy_slot_ms: 0.0,
            staffed_slot_ms: 0.0,
            integrated_to: 0,
            active_slots: 0,
            staffed_slots: 0,
            happenings: 0,
            engine_calls: 0,
            estimates_all: EstimateScores::default(),
            estimates_queued: EstimateScores::default(),
            sample_every: sample_every.map(|s| ((s * 1000.0).round() as i64).max(1)),
            next_sample: 0,
            queue_length: Vec::new(),
            score_estimates: true,
        }
    }

    fn schedule(&mut self, at: i64, what: Happening) {
        self.sequence += 1;
        self.heap.push(Reverse((at, self.sequence, what)));
    }

    fn call(&mut self, call: Call) -> Result<(Outcome, Vec<Event>), SimError> {
        self.engine_calls += 1;
        self.driver.call(call)
    }

    /// A call that must succeed; the events it caused update the simulator's state.
    fn call_ok(&mut self, call: Call) -> Result<Outcome, SimError> {
        let (outcome, events) = self.call(call.clone())?;
        if let Outcome::Refused { code, message } = &outcome {
            return Err(SimError::Inconsistent(format!("{call:?} was refused: {message} [{code}]")));
        }
        self.apply(&events)?;
        Ok(outcome)
    }

    fn setup(&mut self) -> Result<(), SimError> {
        let end = self.window.1;
        for (d, model) in self.scenario.departments.iter().enumerate() {
            let department = DepartmentRef(d as u32);
            self.call_ok(Call::CreateDepartment { department, name: model.name.clone() })?;
            let mut periods: Vec<Option<(i64, i64)>> = vec![None; model.agents as usize];
            for shift in &model.shifts {
                periods.extend(std::iter::repeat_n(
                    Some((shift.start.as_millis(), shift.end.as_millis())),
                    shift.agents as usize,
                ));
            }
            for period in periods {
                let index = self.agents.len();
                let label = AgentRef(index as u32);
                self.call_ok(Call::CreateAgent { agent: label, department, capacity: model.capacity })?;
                let on_shift = period.is_none_or(|(start, stop)| start <= 0 && stop > 0);
                self.agents.push(AgentState {
                    label,
                    department: d,
                    capacity: model.capacity,
                    on_shift: true,
                    active: 0,
                    assigned: 0,
                    staffed_since: None,
                    staffed_ms: 0,
                });
                self.departments[d].agents.push(index);
                self.update_staffing(index, false);
                if !on_shift {
                    self.call_ok(Call::SetAvailability { agent: label, available: false })?;
                    self.agents[index].on_shift = false;
                    self.update_staffing(index, true);
                }
                if let Some((start, stop)) = period {
                    if start > 0 && start < end {
                        self.schedule(start, Happening::ShiftStart(index));
                    }
                    if stop > 0 && stop < end {
                        self.schedule(stop, Happening::ShiftEnd(index));
                    }
                }
            }
            if let Some(first) = self.next_arrival(d) {
                self.schedule(first, Happening::Arrival(d));
            }
        }
        Ok(())
    }

    /// The next arrival time of department `d` in milliseconds, by thinning for hourly rates;
    /// `None` once arrivals stop at the end of the window.
    fn next_arrival(&mut self, d: usize) -> Option<i64> {
        let arrivals = &self.scenario.departments[d].arrivals;
        let peak = arrivals.peak();
        if peak <= 0.0 {
            return None;
        }
        let end = self.window.1 as f64 / 1000.0;
        let gap = Exp::new(peak).expect("positive rate");
        let state = &mut self.departments[d];
        loop {
            state.next_arrival += gap.sample(&mut state.arrival_rng);
            if state.next_arrival >= end {
                return None;
            }
            let accept = match arrivals {
                Arrivals::Constant(_) => true,
                Arrivals::ByHour(_) => state.arrival_rng.gen::<f64>() * peak < arrivals.rate_at(state.next_arrival),
            };
            if accept {
                return Some((state.next_arrival * 1000.0).round() as i64);
            }
        }
    }

    fn run(&mut self, mut progress: Option<&mut dyn FnMut(f64)>) -> Result<(), SimError> {
        let horizon = self.window.1.max(1) as f64;
        while let Some(Reverse((due, _, what))) = self.heap.pop() {
            let at = due.max(self.now + 1);
            self.sample_until(at);
            self.integrate_to(at);
            self.now = at;
            self.driver.set_time(at);
            match what {
                Happening::Arrival(d) => self.arrive(d)?,
                Happening::Abandon(c) => self.abandon(c)?,
                Happening::Complete(c) => self.complete(c)?,
                Happening::ShiftStart(a) => self.shift(a, true)?,
                Happening::ShiftEnd(a) => self.shift(a, false)?,
            }
            self.happenings += 1;
            if self.happenings & 2047 == 0 {
                if let Some(report) = progress.as_mut() {
                    report((at as f64 / horizon).min(1.0));
                }
            }
        }
        let end = self.window.1.max(self.now);
        self.sample_until(self.window.1);
        self.integrate_to(end);
        for index in 0..self.agents.len() {
            self.close_staffed_period(index, end);
        }
        if let Some(report) = progress.as_mut() {
            report(1.0);
        }
        Ok(())
    }

    fn sample_until(&mut self, at: i64) {
        let Some(every) = self.sample_every else { return };
        while self.next_sample < at && self.next_sample <= self.window.1 {
            let waiting: usize = self.departments.iter().map(|d| d.waiting).sum();
            self.queue_length.push((self.next_sample as f64 / 60_000.0, waiting as f64));
            self.next_sample += every;
        }
    }

    fn integrate_to(&mut self, at: i64) {
        let (start, end) = self.window;
        let from = self.integrated_to.max(start);
        let to = at.min(end);
        if to > from {
            let span = (to - from) as f64;
            self.busy_slot_ms += span * self.active_slots as f64;
            self.staffed_slot_ms += span * self.staffed_slots as f64;
        }
        self.integrated_to = self.integrated_to.max(at);
    }

    fn is_staffed(agent: &AgentState) -> bool {
        agent.on_shift || agent.active > 0
    }

    /// Keeps the staffed totals right after an agent's shift or load changed; `was` is whether it
    /// counted as staffed before the change.
    fn update_staffing(&mut self, index: usize, was: bool) {
        let now = self.now;
        let agent = &self.agents[index];
        let is = Self::is_staffed(agent);
        let capacity = u64::from(agent.capacity);
        if is && !was {
            self.staffed_slots += capacity;
            self.agents[index].staffed_since = Some(now);
        } else if was && !is {
            self.staffed_slots -= capacity;
            self.close_staffed_period(index, now);
        }
    }

    fn close_staffed_period(&mut self, index: usize, at: i64) {
        let (start, end) = self.window;
        let agent = &mut self.agents[index];
        if let Some(since) = agent.staffed_since.take() {
            let overlap = at.min(end) - since.max(start);
            agent.staffed_ms += overlap.max(0);
        }
    }

    fn sample_handle_time(&mut self, d: usize) -> i64 {
        let rng = &mut self.departments[d].handle_rng;
        let seconds = match self.scenario.departments[d].handle_time {
            HandleTime::Exponential { mean } => Exp::new(1.0 / mean.as_secs()).expect("positive mean").sample(rng),
            HandleTime::LogNormal { mean, sd } => {
                let (m, s) = (mean.as_secs(), sd.as_secs());
                let sigma2 = (1.0 + (s * s) / (m * m)).ln();
                LogNormal::new(m.ln() - sigma2 / 2.0, sigma2.sqrt()).expect("valid lognormal").sample(rng)
            }
            HandleTime::Constant { value } => value.as_secs(),
        };
        ((seconds * 1000.0).round() as i64).max(1)
    }

    fn sample_patience(&mut self, d: usize) -> Option<i64> {
        let rng = &mut self.departments[d].patience_rng;
        let seconds = match self.scenario.departments[d].patience {
            Patience::Infinite => return None,
            Patience::Exponential { mean } => Exp::new(1.0 / mean.as_secs()).expect("positive mean").sample(rng),
            Patience::Constant { value } => value.as_secs(),
        };
        Some((seconds * 1000.0).round() as i64)
    }

    fn arrive(&mut self, d: usize) -> Result<(), SimError> {
        if let Some(next) = self.next_arrival(d) {
            self.schedule(next, Happening::Arrival(d));
        }
        let n = self.conversations.len();
        let conversation = ConversationRef(n as u32);
        let handle_ms = self.sample_handle_time(d);
        let patience = self.sample_patience(d);
        let model = &self.scenario.departments[d];
        let (priority, sla_minutes) = (model.priority, model.sla_minutes);
        self.conversations.push(Conversation {
            department: d,
            arrived: self.now,
            handle_ms,
            state: State::Waiting,
            counted: self.now >= self.window.0,
            queued: false,
            engine_estimate: None,
            rocket_chat_estimate: None,
            throughput_estimate: None,
            wait_ms: None,
        });
        self.departments[d].waiting += 1;
        let department = self.departments[d].label;
        self.call_ok(Call::Enqueue { conversation, department, priority, sla_minutes })?;
        if let Some(patience) = patience {
            self.schedule(self.now + patience, Happening::Abandon(n));
        }
        if self.score_estimates {
            self.estimate(n, d)?;
        }
        self.route(d)
    }

    /// Records what every estimator says about conversation `n` now, before routing runs.
    fn estimate(&mut self, n: usize, d: usize) -> Result<(), SimError> {
        let conversation = ConversationRef(n as u32);
        let Outcome::Position { position, estimated_wait_ms } = self.call_ok(Call::QueuePosition { conversation })?
        else {
            return Err(SimError::Inconsistent("queue_position answered something else".into()));
        };
        let (free_slots, slots) = self.slots(d);
        let state = &self.departments[d];
        let snapshot = QueueSnapshot {
            position,
            free_slots,
            slots,
            mean_handle_time: (!state.recent_handle.is_empty())
                .then(|| state.recent_handle_sum / state.recent_handle.len() as f64),
            mean_chat_duration: (!state.recent_chat.is_empty())
                .then(|| state.recent_chat_sum / state.recent_chat.len() as f64),
        };
        let record = &mut self.conversations[n];
        record.queued = position as u64 > free_slots;
        record.engine_estimate = estimated_wait_ms.map(|ms| ms as f64 / 1000.0);
        record.rocket_chat_estimate = estimate::rocket_chat(&snapshot, ROCKET_CHAT_RECENT_CHATS);
        record.throughput_estimate = estimate::throughput(&snapshot);
        Ok(())
    }

    /// Free and total chat slots of the department's agents on shift.
    fn slots(&self, d: usize) -> (u64, u64) {
        let mut free = 0;
        let mut total = 0;
        for &a in &self.departments[d].agents {
            let agent = &self.agents[a];
            if agent.on_shift {
                total += u64::from(agent.capacity);
                free += u64::from(agent.capacity.saturating_sub(agent.active));
            }
        }
        (free, total)
    }

    /// After anything that may let a conversation be served: auto methods dispatch; under manual
    /// selection, dispatch releases and agents with a free slot take from their own queue.
    fn route(&mut self, d: usize) -> Result<(), SimError> {
        self.call_ok(Call::Dispatch)?;
        if self.routing != Routing::Manual {
            return Ok(());
        }
        while self.departments[d].waiting > 0 {
            let Some(agent) = self.pick_free_agent(d) else { break };
            let label = self.agents[agent].label;
            let Outcome::Queue { first, .. } = self.call_ok(Call::QueuedForUser { agent: label })? else {
                return Err(SimError::Inconsistent("queued_for_user answered something else".into()));
            };
            let Some(conversation) = first else { break };
            self.call_ok(Call::Take { agent: label, conversation })?;
        }
        Ok(())
    }

    /// Manual selection's agent model: whoever looks at the queue first. Each free slot of an
    /// agent on shift is equally likely to be the one that takes the next conversation.
    fn pick_free_agent(&mut self, d: usize) -> Option<usize> {
        let (free, _) = self.slots(d);
        if free == 0 {
            return None;
        }
        let mut ticket = self.choice_rng.gen_range(0..free);
        for &a in &self.departments[d].agents {
            let agent = &self.agents[a];
            if !agent.on_shift {
                continue;
            }
            let slots = u64::from(agent.capacity.saturating_sub(agent.active));
            if ticket < slots {
                return Some(a);
            }
            ticket -= slots;
        }
        None
    }

    /// Updates the simulator from the engine's events: an assignment or take starts service.
    fn apply(&mut self, events: &[Event]) -> Result<(), SimError> {
        for event in events {
            let EventKind::Transition { transition, agent: Some(agent), .. } = &event.event.kind else { continue };
            if !matches!(transition, TransitionKind::Assign | TransitionKind::Take) {
                continue;
            }
            let Some(inquiry) = &event.event.inquiry else { continue };
            let conversation = self
                .driver
                .conversation_of(inquiry)
                .ok_or_else(|| SimError::Inconsistent(format!("the engine served an unknown inquiry {inquiry}")))?;
            let agent = self
                .driver
                .agent_of(agent)
                .ok_or_else(|| SimError::Inconsistent(format!("an unknown agent {agent} served {conversation}")))?;
            self.start_service(conversation.0 as usize, agent.0 as usize)?;
        }
        Ok(())
    }

    fn start_service(&mut self, c: usize, a: usize) -> Result<(), SimError> {
        let now = self.now;
        let conversation = &mut self.conversations[c];
        if conversation.state != State::Waiting {
            return Err(SimError::Inconsistent(format!("c{c} was served while {:?}", conversation.state)));
        }
        if self.agents[a].department != conversation.department {
            return Err(SimError::Inconsistent(format!("a{a} served c{c} of another department")));
        }
        conversation.state = State::Serving { agent: a, since: now };
        let wait = now - conversation.arrived;
        conversation.wait_ms = Some(wait);
        let handle = conversation.handle_ms;
        let counted = conversation.counted;
        if counted && self.score_estimates {
            let actual = wait as f64 / 1000.0;
            let queued = conversation.queued;
            let estimates =
                [conversation.engine_estimate, conversation.rocket_chat_estimate, conversation.throughput_estimate];
            for scores in std::iter::once(&mut self.estimates_all).chain(queued.then_some(&mut self.estimates_queued)) {
                scores.engine.add(estimates[0], actual);
                scores.rocket_chat.add(estimates[1], actual);
                scores.throughput.add(estimates[2], actual);
            }
        }
        self.departments[conversation.department].waiting -= 1;
        let agent = &mut self.agents[a];
        if agent.active >= agent.capacity {
            return Err(SimError::Inconsistent(format!("a{a} was given more than {} chats", agent.capacity)));
        }
        let was = Self::is_staffed(agent);
        agent.active += 1;
        if now >= self.window.0 && now <= self.window.1 {
            agent.assigned += 1;
        }
        self.active_slots += 1;
        self.update_staffing(a, was);
        self.schedule(now + handle, Happening::Complete(c));
        Ok(())
    }

    fn complete(&mut self, c: usize) -> Result<(), SimError> {
        let State::Serving { agent: a, since } = self.conversations[c].state else {
            return Err(SimError::Inconsistent(format!("c{c} completed while {:?}", self.conversations[c].state)));
        };
        let label = self.agents[a].label;
        self.call_ok(Call::Close { conversation: ConversationRef(c as u32), by: Closer::Agent(label) })?;
        let now = self.now;
        let d = self.conversations[c].department;
        self.conversations[c].state = State::Closed;
        let agent = &mut self.agents[a];
        let was = Self::is_staffed(agent);
        agent.active -= 1;
        self.active_slots -= 1;
        self.update_staffing(a, was);
        let arrived = self.conversations[c].arrived;
        self.remember_close(d, Some((now - since) as f64 / 1000.0), (now - arrived) as f64 / 1000.0);
        self.route(d)
    }

    fn abandon(&mut self, c: usize) -> Result<(), SimError> {
        if self.conversations[c].state != State::Waiting {
            return Ok(());
        }
        self.call_ok(Call::Close { conversation: ConversationRef(c as u32), by: Closer::Visitor })?;
        let d = self.conversations[c].department;
        self.conversations[c].state = State::Abandoned;
        self.departments[d].waiting -= 1;
        let duration = (self.now - self.conversations[c].arrived) as f64 / 1000.0;
        self.remember_close(d, None, duration);
        Ok(())
    }

    /// The recent closes that the engine's and Rocket.Chat's estimates average over.
    fn remember_close(&mut self, d: usize, handle: Option<f64>, chat_duration: f64) {
        let state = &mut self.departments[d];
        if let Some(handle) = handle {
            state.recent_handle.push_back(handle);
            state.recent_handle_sum += handle;
            if state.recent_handle.len() > ENGINE_ESTIMATE_SAMPLE {
                state.recent_handle_sum -= state.recent_handle.pop_front().unwrap_or(0.0);
            }
        }
        state.recent_chat.push_back(chat_duration);
        state.recent_chat_sum += chat_duration;
        if state.recent_chat.len() > ROCKET_CHAT_RECENT_CHATS {
            state.recent_chat_sum -= state.recent_chat.pop_front().unwrap_or(0.0);
        }
    }

    fn shift(&mut self, a: usize, starts: bool) -> Result<(), SimError> {
        let label = self.agents[a].label;
        self.call_ok(Call::SetAvailability { agent: label, available: starts })?;
        let was = Self::is_staffed(&self.agents[a]);
        self.agents[a].on_shift = starts;
        self.update_staffing(a, was);
        if starts {
            self.route(self.agents[a].department)?;
        }
        Ok(())
    }

    /// Every agent's load in the engine matches the simulator's count.
    fn check_engine_agrees(&self) -> Result<(), SimError> {
        for agent in &self.agents {
            let id = self.driver.agent_id(agent.label).ok_or_else(|| SimError::Inconsistent("lost an agent".into()))?;
            let found = self.driver.engine().agent(id).map_err(SimError::engine("read an agent"))?;
            let active = found.map(|a| a.active_chats);
            if active != Some(agent.active) {
                return Err(SimError::Inconsistent(format!(
                    "{} has {active:?} active chats in the engine, {} in the simulator",
                    agent.label, agent.active
                )));
            }
        }
        Ok(())
    }

    fn finish(self, seed: u64) -> Replication {
        let threshold = self.scenario.sl_threshold.as_millis();
        let mut metrics = Metrics::default();
        let mut waits = Vec::new();
        let mut waited = 0u64;
        let mut within = 0u64;
        for conversation in self.conversations.iter().filter(|c| c.counted) {
            metrics.conversations += 1;
            match (conversation.state, conversation.wait_ms) {
                (State::Abandoned, _) => {
                    metrics.abandoned += 1;
                    waited += 1;
                }
                (State::Waiting, _) => {
                    metrics.unanswered += 1;
                    waited += 1;
                }
                (_, Some(wait)) => {
                    metrics.served += 1;
                    waited += u64::from(wait > 0);
                    within += u64::from(wait <= threshold);
                    waits.push(wait as f64 / 1000.0);
                }
                (_, None) => {}
            }
        }
        let n = metrics.conversations.max(1) as f64;
        metrics.p_wait = waited as f64 / n;
        metrics.service_level = within as f64 / n;
        metrics.abandonment_rate = metrics.abandoned as f64 / n;
        metrics.asa_seconds = mean(&waits);
        waits.sort_by(f64::total_cmp);
        metrics.wait_p50 = percentile(&waits, 0.50);
        metrics.wait_p80 = percentile(&waits, 0.80);
        metrics.wait_p90 = percentile(&waits, 0.90);
        metrics.wait_p95 = percentile(&waits, 0.95);
        metrics.wait_p99 = percentile(&waits, 0.99);
        metrics.wait_max = waits.last().copied().unwrap_or(0.0);
        metrics.occupancy = if self.staffed_slot_ms > 0.0 { self.busy_slot_ms / self.staffed_slot_ms } else { 0.0 };
        let rates: Vec<f64> = self
            .agents
            .iter()
            .filter(|a| a.staffed_ms > 0)
            .map(|a| a.assigned as f64 / (a.staffed_ms as f64 / 3_600_000.0))
            .collect();
        metrics.gini = gini(&rates);

        // Service level of the conversations arriving in each interval, for plots.
        let span = self.window.1 - self.window.0;
        let bucket = if span <= 24 * 3_600_000 { 15 * 60_000 } else { 3_600_000 };
        let buckets = (span.max(1) as f64 / bucket as f64).ceil() as usize;
        let mut totals = vec![(0u64, 0u64); buckets];
        for conversation in self.conversations.iter().filter(|c| c.counted) {
            let index = (((conversation.arrived - self.window.0) / bucket) as usize).min(buckets - 1);
            totals[index].0 += 1;
            if conversation.wait_ms.is_some_and(|w| w <= threshold) && conversation.state != State::Abandoned {
                totals[index].1 += 1;
            }
        }
        let service_level_over_time = totals
            .iter()
            .enumerate()
            .filter(|(_, (all, _))| *all > 0)
            .map(|(i, (all, ok))| ((self.window.0 + i as i64 * bucket) as f64 / 60_000.0, *ok as f64 / *all as f64))
            .collect();
        Replication {
            seed,
            metrics,
            estimates_all: self.estimates_all,
            estimates_queued: self.estimates_queued,
            queue_length: self.queue_length,
            service_level_over_time,
            event_log: None,
            simulated_conversations: self.conversations.len() as u64,
            events: self.happenings,
            engine_calls: self.engine_calls,
            wall_seconds: 0.0,
        }
    }
}

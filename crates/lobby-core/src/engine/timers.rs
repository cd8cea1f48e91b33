//! Firing deadlines: every record whose deadline is due gets its rule's action, each as one
//! versioned commit. The deadlines a record should have are recomputed from its state when it
//! comes due ([`TimerConfig`](crate::TimerConfig)), so a timer that was cancelled or moved in
//! the meantime — or whose setting changed — does nothing but re-index the record, and two
//! servers firing at once produce one effect: the loser's commit conflicts, it reads again, and
//! finds nothing due.

use std::collections::{BTreeSet, HashMap};

use crate::event::{Actor, EventKind, NewEvent};
use crate::ids::{DepartmentId, InquiryId, UserId};
use crate::machine::{self, Transition};
use crate::model::{Agent, Deadline, Department, Inquiry, InquiryStatus, TimerRule};
use crate::store::{Commit, DueRecord, Record, RecordKey, Store, StoreExt, Versioned, Write};
use crate::time::Timestamp;
use crate::timers::{AbandonedRoomsAction, AgentLeaveAction};
use crate::CoreError;

use super::{Assignment, Engine};

/// What one [`Engine::fire_due`] call did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FireReport {
    /// Deadlines whose rule acted (one commit each).
    pub fired: usize,
    /// Records whose stored deadlines no longer matched their state or the settings: re-indexed,
    /// nothing else.
    pub rescheduled: usize,
}

/// Records read per call to [`Store::due`].
const FIRE_BATCH: usize = 100;
/// How often one call handles the same record: more than a record can ever have due at once, so
/// a store that kept listing a record could not hold the caller forever.
const MAX_FIRINGS_PER_RECORD: usize = 8;

enum Fired {
    Acted,
    Rescheduled,
    Nothing,
}

impl<S: Store> Engine<S> {
    /// When the earliest pending deadline of any record is due, if there is one: when
    /// [`Engine::fire_due`] next has work.
    pub fn next_deadline(&self) -> Result<Option<Timestamp>, CoreError> {
        Ok(self.store.due(Timestamp::MAX, 1)?.first().map(|due| due.due))
    }

    /// Performs every action due now (by the engine's clock), oldest deadline first: each is one
    /// compare-and-set commit with an event naming the rule, the deadline and the outcome. Safe
    /// to call from any number of threads and servers at once: each deadline acts once. After a
    /// long pause every overdue deadline acts once; a clock that moved back acts on nothing
    /// twice, because an action removes or moves its deadline.
    pub fn fire_due(&self) -> Result<FireReport, CoreError> {
        let now = self.now();
        let mut report = FireReport::default();
        let mut handled: HashMap<RecordKey, usize> = HashMap::new();
        loop {
            let mut progressed = false;
            for DueRecord { key, .. } in self.store.due(now, FIRE_BATCH)? {
                let count = handled.entry(key.clone()).or_default();
                if *count >= MAX_FIRINGS_PER_RECORD {
                    continue;
                }
                *count += 1;
                progressed = true;
                match self.fire_record(&key, now)? {
                    Fired::Acted => report.fired += 1,
                    Fired::Rescheduled => report.rescheduled += 1,
                    Fired::Nothing => {}
                }
            }
            if !progressed {
                return Ok(report);
            }
        }
    }

    fn fire_record(&self, key: &RecordKey, now: Timestamp) -> Result<Fired, CoreError> {
        match key {
            RecordKey::Inquiry(id) => self.fire_inquiry(id, now),
            RecordKey::Agent(id) => self.fire_agent(id, now),
            RecordKey::Department(_) | RecordKey::User(_) | RecordKey::Visitor(_) => Ok(Fired::Nothing),
        }
    }

    fn fire_inquiry(&self, id: &InquiryId, now: Timestamp) -> Result<Fired, CoreError> {
        self.retry(|| {
            let Some(inquiry) = self.store.inquiry(id)? else { return Ok(Fired::Nothing) };
            let department = self.department_record(inquiry.value.department.as_ref())?;
            let fresh = self.config.timers.inquiry_deadlines(&inquiry.value, department.as_ref());
            let Some(deadline) = fresh.iter().copied().find(|d| d.due <= now) else {
                return self.reschedule(Record::Inquiry(inquiry.value), inquiry.version, &fresh);
            };
            match deadline.rule {
                TimerRule::QueueOverflow => self.overflow(inquiry, department, deadline, now)?,
                TimerRule::AutoTransfer => self.auto_transfer(inquiry, deadline)?,
                TimerRule::OfferTimeout => self.offer_lapsed(inquiry, deadline)?,
                TimerRule::OnHoldAutoClose => self.on_hold_too_long(inquiry, deadline, now)?,
                TimerRule::VisitorInactivity => self.visitor_silent(inquiry, department, deadline)?,
                TimerRule::AgentLeave => return Ok(Fired::Nothing),
            }
            Ok(Fired::Acted)
        })
    }

    fn fire_agent(&self, id: &UserId, now: Timestamp) -> Result<Fired, CoreError> {
        self.retry(|| {
            let Some(agent) = self.store.agent(id)? else { return Ok(Fired::Nothing) };
            let fresh = self.config.timers.agent_deadlines(&agent.value);
            let Some(deadline) = fresh.iter().copied().find(|d| d.due <= now) else {
                return self.reschedule(Record::Agent(agent.value), agent.version, &fresh);
            };
            self.agent_left(agent, deadline)?;
            Ok(Fired::Acted)
        })
    }

    /// Nothing is due after all: store the deadlines the record calls for now, if they differ.
    fn reschedule(&self, record: Record, version: crate::Version, fresh: &[Deadline]) -> Result<Fired, CoreError> {
        if record.deadlines() == fresh {
            return Ok(Fired::Nothing);
        }
        self.commit(Commit { writes: vec![Write::update(version, record)], events: vec![] })?;
        Ok(Fired::Rescheduled)
    }

    fn timer_event(&self, inquiry: Option<&InquiryId>, deadline: Deadline, outcome: String) -> NewEvent {
        NewEvent {
            at: self.now(),
            actor: Actor::System,
            inquiry: inquiry.cloned(),
            kind: EventKind::TimerFired { rule: deadline.rule, due: deadline.due, outcome },
        }
    }

    /// Queue overflow: the conversation moves to the first department along its fallback chain
    /// whose own max wait it has not passed (an enabled one), or, if there is none, closes.
    fn overflow(
        &self,
        inquiry: Versioned<Inquiry>,
        department: Option<Department>,
        deadline: Deadline,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        let waited = now.millis_since(inquiry.value.age_key()) / 1000;
        let mut visited: BTreeSet<DepartmentId> = department.iter().map(|d| d.id.clone()).collect();
        let mut next = department.and_then(|d| d.fallback);
        let mut target = None;
        while let Some(id) = next.take() {
            if !visited.insert(id.clone()) {
                break;
            }
            let Some(candidate) = self.store.department(&id)?.map(|d| d.value) else { break };
            let limit = self.config.timers.max_queue_wait_for(Some(&candidate));
            let passed = limit.is_some_and(|limit| inquiry.value.age_key().plus(limit) <= now);
            if candidate.enabled && !passed {
                target = Some(candidate);
            } else {
                next = candidate.fallback;
            }
        }
        match target {
            Some(fallback) => {
                let outcome = format!("moved to department {} after waiting {waited} s", fallback.name);
                let cause = self.timer_event(Some(&inquiry.value.id), deadline, outcome.clone());
                let transition = Transition::TransferToDepartment { department: fallback.id };
                // An offer pending meanwhile is withdrawn.
                let writes = self.release_agent_writes(&inquiry.value)?;
                self.transition_after(vec![cause], &Actor::System, inquiry, transition, writes, outcome)?;
            }
            None => {
                let outcome = format!("closed: waited {waited} s, longer than the queue allows");
                let cause = self.timer_event(Some(&inquiry.value.id), deadline, outcome.clone());
                let mut writes = self.release_agent_writes(&inquiry.value)?;
                writes.extend(self.visitor_release_writes(&inquiry.value)?);
                self.transition_after(vec![cause], &Actor::System, inquiry, Transition::Close, writes, outcome)?;
            }
        }
        Ok(())
    }

    /// Auto-transfer: the silent agent loses the conversation (and is not given it again); it
    /// goes to the next agent routing picks, or back to the queue under manual selection, when no
    /// one can take it, or for good once the hops are used up.
    fn auto_transfer(&self, inquiry: Versioned<Inquiry>, deadline: Deadline) -> Result<(), CoreError> {
        let Versioned { version, value: mut current } = inquiry;
        let silent = current.served_by_id().cloned();
        let mut writes = self.release_agent_writes(&current)?;
        current.auto_transfers += 1;
        if let Some(agent) = &silent {
            if !current.excluded_agents.contains(agent) {
                current.excluded_agents.push(agent.clone());
            }
        }
        let hops = self.config.timers.auto_transfer_max_hops;
        let silent_name = current.served_by.as_ref().map_or("no one", |s| s.username.as_str()).to_owned();
        let (transition, outcome, mut causes) = if self.config.timers.auto_transfer_exhausted(&current) {
            let outcome = format!("{silent_name} did not answer; gave up after {hops} transfers: back in the queue");
            (Transition::ReturnToQueue, outcome, vec![])
        } else if !self.config.routing.method.assigns() {
            (Transition::ReturnToQueue, format!("{silent_name} did not answer: back in the queue"), vec![])
        } else if self.config.timers.offer_timeout.is_some() {
            // Offer mode: dispatch offers it to the next agent, who may decline.
            let outcome = format!("{silent_name} did not answer: back in the queue to be offered to another agent");
            (Transition::ReturnToQueue, outcome, vec![])
        } else {
            let agents = self.store.agents()?;
            match self.pick_agent(&current, &agents)? {
                Some(Assignment { agent, department, decision }) => {
                    current.department = department;
                    let outcome = format!("{silent_name} did not answer: moved to {}", agent.value.username);
                    let routed = NewEvent {
                        at: self.now(),
                        actor: Actor::System,
                        inquiry: Some(current.id.clone()),
                        kind: EventKind::Routed(decision),
                    };
                    let served = self.served_by(&agent.value);
                    let assigned = self.with_assignment(agent.value, &current.id);
                    writes.push(Write::update(agent.version, Record::Agent(assigned)));
                    (Transition::TransferToAgent { agent: served }, outcome, vec![routed])
                }
                None => {
                    let outcome =
                        format!("{silent_name} did not answer, and no other agent can take it: back in the queue");
                    (Transition::ReturnToQueue, outcome, vec![])
                }
            }
        };
        causes.insert(0, self.timer_event(Some(&current.id), deadline, outcome.clone()));
        let inquiry = Versioned { version, value: current };
        self.transition_after(causes, &Actor::System, inquiry, transition, writes, outcome)?;
        Ok(())
    }

    /// Agent leave: every conversation of an agent who stayed away is forwarded (routed to
    /// another agent, or back to the queue) or closed, all in one commit with the agent.
    fn agent_left(&self, agent: Versioned<Agent>, deadline: Deadline) -> Result<(), CoreError> {
        let action = self.config.timers.agent_leave.action;
        let now = self.now();
        let mut leaving = agent.value.clone();
        let mut others: Vec<Versioned<Agent>> =
            self.store.agents()?.into_iter().filter(|a| a.value.id != leaving.id).collect();
        let mut touched: BTreeSet<UserId> = BTreeSet::new();
        let mut writes = Vec::new();
        let mut events = Vec::new();
        let mut outcomes = Vec::new();
        for id in agent.value.chats.iter() {
            let Some(inquiry) = self.store.inquiry(id)? else {
                leaving.chats.remove(id);
                continue;
            };
            if inquiry.value.status != InquiryStatus::Taken || inquiry.value.served_by_id() != Some(&leaving.id) {
                leaving.chats.remove(id);
                continue;
            }
            leaving = self.with_release(leaving, &inquiry.value);
            let mut current = inquiry.value.clone();
            let (transition, outcome) = match action {
                AgentLeaveAction::Close | AgentLeaveAction::None => {
                    writes.extend(self.visitor_release_writes(&current)?);
                    (Transition::Close, format!("closed {}", current.rid))
                }
                AgentLeaveAction::Forward => {
                    if !current.excluded_agents.contains(&leaving.id) {
                        current.excluded_agents.push(leaving.id.clone());
                    }
                    // In offer mode it goes back to the queue, and dispatch offers it on.
                    let direct = self.config.routing.method.assigns() && self.config.timers.offer_timeout.is_none();
                    let choice = if direct { self.pick_agent(&current, &others)? } else { None };
                    match choice {
                        Some(Assignment { agent: chosen, department, decision }) => {
                            current.department = department;
                            events.push(NewEvent {
                                at: now,
                                actor: Actor::System,
                                inquiry: Some(current.id.clone()),
                                kind: EventKind::Routed(decision),
                            });
                            let served = self.served_by(&chosen.value);
                            let outcome = format!("forwarded {} to {}", current.rid, chosen.value.username);
                            if let Some(slot) = others.iter_mut().find(|a| a.value.id == chosen.value.id) {
                                slot.value = self.with_assignment(chosen.value, &current.id);
                                touched.insert(slot.value.id.clone());
                            }
                            (Transition::TransferToAgent { agent: served }, outcome)
                        }
                        None => (Transition::ReturnToQueue, format!("returned {} to the queue", current.rid)),
                    }
                }
            };
            let next = machine::apply(&current, &transition, now)?;
            events.push(self.transition_event(&Actor::System, &current, &next, transition.kind(), outcome.clone()));
            writes.push(Write::update(inquiry.version, Record::Inquiry(next)));
            outcomes.push(outcome);
        }
        let summary = match outcomes.is_empty() {
            true => format!("{} stayed away; it served nothing any more", leaving.username),
            false => format!("{} stayed away ({}): {}", leaving.username, action.as_str(), outcomes.join(", ")),
        };
        events.insert(0, self.timer_event(None, deadline, summary));
        writes.push(Write::update(agent.version, Record::Agent(leaving)));
        for other in others.into_iter().filter(|a| touched.contains(&a.value.id)) {
            writes.push(Write::update(other.version, Record::Agent(other.value)));
        }
        self.commit(Commit { writes, events })?;
        Ok(())
    }

    /// Offer timeout: the agent let the offer lapse; it goes to the next agent (see
    /// [`Engine::pass_on`]).
    fn offer_lapsed(&self, inquiry: Versioned<Inquiry>, deadline: Deadline) -> Result<(), CoreError> {
        let name = inquiry.value.offer.as_ref().map_or("no one", |o| o.agent.username.as_str()).to_owned();
        let outcome = format!("{name} did not answer the offer in time");
        let cause = self.timer_event(Some(&inquiry.value.id), deadline, outcome.clone());
        self.pass_on(&Actor::System, inquiry, Transition::ExpireOffer, vec![cause], outcome)?;
        Ok(())
    }

    /// On-hold auto-close: the conversation stayed on hold too long.
    fn on_hold_too_long(
        &self,
        inquiry: Versioned<Inquiry>,
        deadline: Deadline,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        let held = inquiry.value.on_hold_since.map_or(0, |since| now.millis_since(since) / 1000);
        let outcome = format!("closed: on hold for {held} s");
        let cause = self.timer_event(Some(&inquiry.value.id), deadline, outcome.clone());
        let mut writes = self.release_agent_writes(&inquiry.value)?;
        writes.extend(self.visitor_release_writes(&inquiry.value)?);
        self.transition_after(vec![cause], &Actor::System, inquiry, Transition::Close, writes, outcome)?;
        Ok(())
    }

    /// Visitor inactivity: the agent wrote and the visitor never answered; the abandoned-rooms
    /// action applies.
    fn visitor_silent(
        &self,
        inquiry: Versioned<Inquiry>,
        department: Option<Department>,
        deadline: Deadline,
    ) -> Result<(), CoreError> {
        let timeout = self.config.timers.visitor_inactivity_for(department.as_ref()).unwrap_or_default().as_secs();
        let id = inquiry.value.id.clone();
        match self.config.timers.abandoned_rooms {
            AbandonedRoomsAction::OnHold => {
                let outcome = format!("on hold: the visitor did not answer for {timeout} s");
                let cause = self.timer_event(Some(&id), deadline, outcome.clone());
                self.hold_now(vec![cause], &Actor::System, inquiry, outcome)?;
            }
            AbandonedRoomsAction::Close | AbandonedRoomsAction::None => {
                let outcome = format!("closed: the visitor did not answer for {timeout} s");
                let cause = self.timer_event(Some(&id), deadline, outcome.clone());
                let mut writes = self.release_agent_writes(&inquiry.value)?;
                writes.extend(self.visitor_release_writes(&inquiry.value)?);
                self.transition_after(vec![cause], &Actor::System, inquiry, Transition::Close, writes, outcome)?;
            }
        }
        Ok(())
    }
}

//! Business hours: a department opens and closes by its weekly schedule
//! ([`BusinessHours`](crate::hours::BusinessHours)). Each opening or closing is a deadline in
//! the department's record, so it is exact, survives restarts and applies once across servers.
//!
//! Closing sets every agent of the department not-available, unless another department it
//! serves is open (a department without hours always is); opening makes the agents it closed
//! available again. An agent who changes its status by hand in between is left alone. Routing
//! does not wait for the deadline: it asks [`Department::is_open`] at the instant it decides.

use crate::event::{Actor, EventKind, NewEvent};
use crate::hours::HoursState;
use crate::model::{Agent, AgentAvailability, Deadline, Department};
use crate::store::{Commit, Record, Store, StoreExt, Versioned, Write};
use crate::time::Timestamp;
use crate::CoreError;

use super::Engine;

impl<S: Store> Engine<S> {
    /// Whether `agent` may be available at `now` as far as business hours go: it serves no
    /// department, or at least one of its departments is open.
    pub(super) fn hours_allow(&self, agent: &Agent, now: Timestamp) -> Result<bool, CoreError> {
        if agent.departments.is_empty() {
            return Ok(true);
        }
        for id in &agent.departments {
            match self.store.department(id)? {
                Some(department) if department.value.is_open(now) => return Ok(true),
                Some(_) => {}
                // A department that vanished closes nothing.
                None => return Ok(true),
            }
        }
        Ok(false)
    }

    /// The business-hours deadline of `department` is due: record whether it is open now and
    /// move its agents accordingly, in one commit.
    pub(super) fn open_or_close(
        &self,
        department: Versioned<Department>,
        deadline: Deadline,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        let Versioned { version, value: mut department } = department;
        let open = department.is_open(now);
        let changed = department.hours_state.is_none_or(|state| state.open != open);
        // Without a schedule (it was removed) there is nothing left to follow.
        department.hours_state = department.business_hours.is_some().then_some(HoursState { open, since: now });
        let mut writes = Vec::new();
        let mut events = Vec::new();
        let mut moved = Vec::new();
        if changed {
            for agent in self.store.agents()? {
                if !agent.value.departments.contains(&department.id) {
                    continue;
                }
                if let Some(next) = self.after_hours_change(&agent.value, open, now)? {
                    moved.push(next.username.clone());
                    events.push(NewEvent {
                        at: now,
                        actor: Actor::System,
                        inquiry: None,
                        kind: EventKind::AgentChanged {
                            agent: next.id.clone(),
                            availability: next.availability,
                            reason: format!(
                                "business hours: {} {}",
                                department.name,
                                if open { "opened" } else { "closed" }
                            ),
                        },
                    });
                    writes.push(Write::update(agent.version, Record::Agent(next)));
                }
            }
        }
        let verb = if open { "open" } else { "closed" };
        let outcome = match moved.is_empty() {
            true => format!("{} is {verb}", department.name),
            false => format!("{} is {verb}: {}", department.name, moved.join(", ")),
        };
        events.insert(0, self.timer_event(None, deadline, outcome));
        department.updated_at = now;
        writes.insert(0, Write::update(version, Record::Department(department)));
        self.commit(Commit { writes, events })?;
        Ok(())
    }

    /// `agent` after one of its departments opened (`open`) or closed, if that changes it.
    fn after_hours_change(&self, agent: &Agent, open: bool, now: Timestamp) -> Result<Option<Agent>, CoreError> {
        let mut next = agent.clone();
        if open {
            if !agent.away_for_hours {
                return Ok(None);
            }
            next.availability = AgentAvailability::Available;
            next.away_for_hours = false;
        } else {
            // The closing department counts as closed here: it is, at `now`.
            if agent.availability != AgentAvailability::Available || self.hours_allow(agent, now)? {
                return Ok(None);
            }
            next.availability = AgentAvailability::NotAvailable;
            next.away_for_hours = true;
        }
        next.availability_since = now;
        next.updated_at = now;
        Ok(Some(next))
    }
}

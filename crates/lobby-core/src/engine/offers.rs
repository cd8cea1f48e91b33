//! Offer mode: routing offers a conversation to one agent, who accepts or rejects it before the
//! offer lapses; a rejected or lapsed offer goes to the next agent, never back to one who let it
//! go. The offer holds a slot of the agent's capacity from the moment it is made.

use crate::event::{Actor, EventKind, NewEvent};
use crate::ids::{InquiryId, UserId};
use crate::machine::{self, Transition};
use crate::model::{AgentAvailability, Inquiry, InquiryStatus};
use crate::permissions::Permission;
use crate::store::{Commit, Record, Store, StoreExt, Versioned, Write};
use crate::CoreError;

use super::Engine;

impl<S: Store> Engine<S> {
    /// The acting agent accepts the conversation offered to it (`inquiries.acceptOffer`; taking
    /// it does the same): it is taken, and the agent's run of missed offers ends. Needs
    /// `view-l-room`. An offer to someone else is [`CoreError::OfferedToAnotherAgent`], one that
    /// lapsed [`CoreError::OfferExpired`], and a conversation with no offer pending for this
    /// agent (accepted already, rejected, moved on) [`CoreError::NoPendingOffer`]. An accept
    /// racing the offer's timeout has exactly one outcome.
    pub fn accept_offer(&self, actor: &Actor, id: &InquiryId) -> Result<Inquiry, CoreError> {
        let agent_id = self.acting_agent(actor)?;
        self.retry(|| {
            let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            self.accept_pending(actor, inquiry, &agent_id, String::new())
        })
    }

    /// The acting agent declines the conversation offered to it (`inquiries.rejectOffer`): it
    /// is offered to the next agent routing picks (never this one again), or waits in the queue.
    /// Needs `view-l-room`; the same errors as [`Engine::accept_offer`], except that an offer
    /// past its time may still be declined.
    pub fn reject_offer(&self, actor: &Actor, id: &InquiryId, comment: &str) -> Result<Inquiry, CoreError> {
        let agent_id = self.acting_agent(actor)?;
        self.retry(|| {
            let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            check_offered_to(&inquiry.value, &agent_id)?;
            self.pass_on(actor, inquiry, Transition::RejectOffer, vec![], comment.to_owned())
        })
    }

    /// The pending offers of an agent, oldest first: conversations it should accept or reject,
    /// each with its `offer.expiresAt`. An agent sees its own with `view-l-room`; another's
    /// needs `view-livechat-manager`.
    pub fn pending_offers(&self, actor: &Actor, agent: Option<&UserId>) -> Result<Vec<Inquiry>, CoreError> {
        let agent_id = self.queue_owner(actor, agent)?;
        let agent = self.store.agent(&agent_id)?.ok_or(CoreError::NotAnAgent)?.value;
        let mut offers = Vec::new();
        for id in &agent.offers {
            if let Some(inquiry) = self.store.inquiry(id)? {
                if inquiry.value.status == InquiryStatus::Offered && inquiry.value.offered_to() == Some(&agent_id) {
                    offers.push(inquiry.value);
                }
            }
        }
        offers.sort_by_key(|inquiry| inquiry.offer.as_ref().map(|offer| offer.agent.ts));
        Ok(offers)
    }

    /// The user behind `actor`, which must hold `view-l-room`.
    fn acting_agent(&self, actor: &Actor) -> Result<UserId, CoreError> {
        match self.authorize(actor, Permission::ViewLRoom)? {
            Some(user) => Ok(user.value.id),
            None => Err(CoreError::InvalidUser),
        }
    }

    /// Accepts `inquiry` for `agent_id` if it is offered to that agent and has not lapsed.
    pub(super) fn accept_pending(
        &self,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        agent_id: &UserId,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        let offer = check_offered_to(&inquiry.value, agent_id)?;
        if self.now() >= offer.expires_at {
            return Err(CoreError::OfferExpired);
        }
        let agent = self.store.agent(agent_id)?.ok_or(CoreError::NotAnAgent)?;
        let mut accepting = agent.value;
        accepting.offers.remove(&inquiry.value.id);
        accepting.chats.insert(inquiry.value.id.clone());
        accepting.missed_offers = 0;
        accepting.updated_at = self.now();
        let write = Write::update(agent.version, Record::Agent(accepting));
        self.transition(actor, inquiry, Transition::Accept, vec![write], reason)
    }

    /// Ends the pending offer of `inquiry` without its agent (`transition` is
    /// [`Transition::RejectOffer`] or [`Transition::ExpireOffer`]), in one commit: the agent's
    /// slot is freed and the agent excluded from this conversation (a lapse also counts as a
    /// missed offer, and enough of them in a row set the agent not-available); the conversation
    /// goes back to the queue, keeping its age, and is offered to the next agent routing picks
    /// if there is one.
    pub(super) fn pass_on(
        &self,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        transition: Transition,
        causes: Vec<NewEvent>,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        let now = self.now();
        let Versioned { version, value: offered } = inquiry;
        let mut events = causes;
        let mut current = machine::apply(&offered, &transition, now)?;
        events.push(self.transition_event(actor, &offered, &current, transition.kind(), reason));
        let mut agents = self.store.agents()?;
        if let Some(leaving_id) = offered.offered_to() {
            if !current.excluded_agents.contains(leaving_id) {
                current.excluded_agents.push(leaving_id.clone());
            }
            if let Some(slot) = agents.iter_mut().find(|a| &a.value.id == leaving_id) {
                let mut leaving = self.with_release(slot.value.clone(), &offered);
                if transition == Transition::ExpireOffer {
                    leaving.missed_offers += 1;
                    let limit = self.config.timers.missed_offers_before_away;
                    if limit > 0
                        && leaving.missed_offers >= limit
                        && leaving.availability == AgentAvailability::Available
                    {
                        leaving.availability = AgentAvailability::NotAvailable;
                        leaving.availability_since = now;
                        leaving.missed_offers = 0;
                        events.push(NewEvent {
                            at: now,
                            actor: Actor::System,
                            inquiry: None,
                            kind: EventKind::AgentChanged {
                                agent: leaving.id.clone(),
                                availability: leaving.availability,
                                reason: format!("missed {limit} offers in a row"),
                            },
                        });
                    }
                }
                slot.value = leaving;
            }
        }
        let mut writes = Vec::new();
        let routing_assigns =
            self.config.routing.method.assigns() && !self.config.timers.auto_transfer_exhausted(&current);
        let next = match routing_assigns.then(|| self.pick_agent(&current, &agents)).transpose()?.flatten() {
            Some(assignment) => {
                let mut next = current.clone();
                next.department = assignment.department.clone();
                let handover = self.hand_over(&assignment.agent.value);
                let handed = machine::apply(&next, &handover, now)?;
                events.push(NewEvent {
                    at: now,
                    actor: actor.clone(),
                    inquiry: Some(handed.id.clone()),
                    kind: EventKind::Routed(assignment.decision),
                });
                let reason = format!("offered to {}", assignment.agent.value.username);
                events.push(self.transition_event(actor, &current, &handed, handover.kind(), reason));
                if let Some(slot) = agents.iter_mut().find(|a| a.value.id == assignment.agent.value.id) {
                    slot.value = self.with_handover(slot.value.clone(), &handed.id, &handover);
                    writes.push(Write::update(slot.version, Record::Agent(slot.value.clone())));
                }
                handed
            }
            None => current,
        };
        if let Some(leaving_id) = offered.offered_to() {
            if let Some(slot) = agents.iter().find(|a| &a.value.id == leaving_id) {
                writes.push(Write::update(slot.version, Record::Agent(slot.value.clone())));
            }
        }
        writes.insert(0, Write::update(version, Record::Inquiry(next.clone())));
        let committed = self.commit(Commit { writes, events })?;
        Ok(committed.first_inquiry.unwrap_or(next))
    }
}

/// The pending offer of `inquiry` if it is for `agent`.
fn check_offered_to<'a>(inquiry: &'a Inquiry, agent: &UserId) -> Result<&'a crate::model::Offer, CoreError> {
    match (&inquiry.offer, inquiry.status) {
        (Some(offer), InquiryStatus::Offered) if &offer.agent.id == agent => Ok(offer),
        (Some(_), InquiryStatus::Offered) => Err(CoreError::OfferedToAnotherAgent),
        _ => Err(CoreError::NoPendingOffer),
    }
}

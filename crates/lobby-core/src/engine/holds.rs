//! On hold (Rocket.Chat's `room.onHold` / `room.resumeOnHold`): a served conversation the
//! agent parks while waiting on the visitor. It stays with its agent but frees the agent's slot;
//! resuming takes the slot back, and a visitor message resumes it by itself.

use crate::event::{Actor, NewEvent};
use crate::ids::RoomId;
use crate::machine::Transition;
use crate::model::{Inquiry, InquiryStatus};
use crate::permissions::Permission;
use crate::routing::has_room;
use crate::store::{Record, Store, StoreExt, Versioned, Write};
use crate::CoreError;

use super::Engine;

/// Whether an on-hold conversation can go back to its agent now, with the agent's write.
pub(super) enum Wakeup {
    /// Back with its agent, who takes the slot again.
    Resume(Vec<Write>),
    /// Its agent has no free slot under `limit`: the conversation can only go back to the
    /// queue, its agent released by `writes`.
    Requeue {
        /// The agent's chat limit.
        limit: u32,
        /// The agent's release.
        writes: Vec<Write>,
    },
}

impl<S: Store> Engine<S> {
    /// Puts a served conversation on hold (`room.onHold`). Needs `on-hold-livechat-room`, and
    /// `on-hold-others-livechat-room` for a conversation someone else serves
    /// ([`CoreError::NotAllowed`] otherwise). Refused, with Rocket.Chat's codes, for a closed
    /// room, one on hold already, one whose visitor wrote last (the agent owes an answer) and one
    /// nobody serves.
    pub fn hold(&self, actor: &Actor, rid: &RoomId) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::OnHoldLivechatRoom)?;
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            self.check_may_hold(actor, &inquiry.value)?;
            if inquiry.value.on_hold_since.is_some() {
                return Err(CoreError::AlreadyOnHold);
            }
            if inquiry.value.last_message.as_ref().is_some_and(|m| m.token.is_some()) {
                return Err(CoreError::ContactSentLastMessage);
            }
            if inquiry.value.status != InquiryStatus::Taken {
                return Err(CoreError::UnservedCannotHold);
            }
            self.hold_now(vec![], actor, inquiry, String::new())
        })
    }

    /// Takes a conversation off hold (`room.resumeOnHold`): its agent takes the slot back, so
    /// the agent must have one free ([`CoreError::AgentAtCapacity`]). Needs `view-l-room`, and
    /// `on-hold-others-livechat-room` for a conversation someone else serves.
    pub fn resume(&self, actor: &Actor, rid: &RoomId) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            self.check_may_hold(actor, &inquiry.value)?;
            if inquiry.value.on_hold_since.is_none() {
                return Err(CoreError::NotOnHold);
            }
            let writes = match self.wakeup(&inquiry.value)? {
                Wakeup::Resume(writes) => writes,
                Wakeup::Requeue { limit, .. } => return Err(CoreError::AgentAtCapacity { limit }),
            };
            self.transition(actor, inquiry, Transition::Resume, writes, String::new())
        })
    }

    /// The room must exist and be open; a user who does not serve it needs
    /// `on-hold-others-livechat-room`.
    fn check_may_hold(&self, actor: &Actor, inquiry: &Inquiry) -> Result<(), CoreError> {
        if inquiry.status == InquiryStatus::Closed {
            return Err(CoreError::RoomClosed);
        }
        if let Actor::User(id) = actor {
            if inquiry.served_by_id() != Some(id)
                && self.authorize(actor, Permission::OnHoldOthersLivechatRoom).is_err()
            {
                return Err(CoreError::NotAllowed);
            }
        }
        Ok(())
    }

    /// Puts a taken conversation on hold now, freeing its agent's slot, in one commit after
    /// the `causes` events.
    pub(super) fn hold_now(
        &self,
        causes: Vec<NewEvent>,
        actor: &Actor,
        inquiry: Versioned<Inquiry>,
        reason: String,
    ) -> Result<Inquiry, CoreError> {
        let mut writes = Vec::new();
        if let Some(agent) = inquiry.value.served_by_id().map(|id| self.store.agent(id)).transpose()?.flatten() {
            let mut freed = agent.value;
            freed.active_chats = freed.active_chats.saturating_sub(1);
            freed.updated_at = self.now();
            writes.push(Write::update(agent.version, Record::Agent(freed)));
        }
        self.transition_after(causes, actor, inquiry, Transition::Hold, writes, reason)
    }

    /// Whether the agent of an on-hold conversation can take it back now.
    pub(super) fn wakeup(&self, inquiry: &Inquiry) -> Result<Wakeup, CoreError> {
        let Some(agent) = inquiry.served_by_id().map(|id| self.store.agent(id)).transpose()?.flatten() else {
            return Ok(Wakeup::Requeue { limit: 0, writes: vec![] });
        };
        let limit = self.chat_limit(&agent.value, inquiry.department.as_ref())?;
        if !has_room(&agent.value, limit) {
            let released = self.with_release(agent.value, inquiry);
            return Ok(Wakeup::Requeue { limit, writes: vec![Write::update(agent.version, Record::Agent(released))] });
        }
        let mut back = agent.value;
        back.active_chats += 1;
        back.updated_at = self.now();
        Ok(Wakeup::Resume(vec![Write::update(agent.version, Record::Agent(back))]))
    }
}

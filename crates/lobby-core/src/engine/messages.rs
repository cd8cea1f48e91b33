//! Activity signals: who wrote last in a conversation. Lobby keeps no chat history — only what
//! the timers and the statistics need: the last message, the first agent response, and when
//! each side last wrote.

use crate::event::{Actor, EventKind, NewEvent};
use crate::ids::{meteor_id, RoomId};
use crate::limits;
use crate::machine::{self, Transition};
use crate::model::{Inquiry, InquiryStatus, LastMessage, MessageAuthor, ResponseBy};
use crate::permissions::Permission;
use crate::store::{Commit, Record, Store, StoreExt, Versioned, Write};
use crate::time::Timestamp;
use crate::CoreError;

use super::holds::Wakeup;
use super::Engine;

/// A message as it was recorded, in Rocket.Chat's message shape (`{_id, rid, msg, ts, u, token?}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message's `_id`.
    pub id: String,
    /// The conversation's room.
    pub rid: RoomId,
    /// Its text.
    pub msg: String,
    /// When it was recorded.
    pub ts: Timestamp,
    /// Who wrote it.
    pub author: MessageAuthor,
    /// The visitor's token, for a visitor's message.
    pub token: Option<String>,
}

impl<S: Store> Engine<S> {
    /// The visitor writes in its conversation (`livechat/message`): the conversation's last
    /// message and `contactLastMessageAt` change, and it waits for a response. Allowed while it
    /// waits in the queue too. The room must be the visitor's ([`CoreError::RoomNotFound`]
    /// otherwise, never a hint that it exists) and open ([`CoreError::RoomClosed`]).
    pub fn visitor_message(&self, token: &str, rid: &RoomId, msg: &str) -> Result<Message, CoreError> {
        check_text(msg)?;
        let visitor = self.store.visitor_by_token(token)?.ok_or(CoreError::VisitorNotFound)?.value;
        let author = MessageAuthor { id: visitor.id.to_string(), username: visitor.username };
        self.record_message(rid, msg, |inquiry| {
            if inquiry.visitor.token != token {
                return Err(CoreError::RoomNotFound);
            }
            Ok((author.clone(), Some(token.to_owned())))
        })
    }

    /// A user writes in a conversation (`chat.sendMessage`): the agent who serves it, or anyone
    /// holding `view-livechat-manager`. It counts as the agents' response: the first one is kept
    /// in `responseBy`, and the auto-transfer timer stops. The conversation must be taken
    /// ([`CoreError::NotAllowed`] otherwise) and open.
    pub fn agent_message(&self, actor: &Actor, rid: &RoomId, msg: &str) -> Result<Message, CoreError> {
        check_text(msg)?;
        let Actor::User(user_id) = actor else { return Err(CoreError::NotAllowed) };
        let user =
            self.store.user(user_id)?.ok_or(CoreError::Unauthorized { permission: Permission::ViewLRoom })?.value;
        let manager = self.config.permissions.allows(&user, Permission::ViewLivechatManager);
        let author = MessageAuthor { id: user.id.to_string(), username: user.username };
        self.record_message(rid, msg, |inquiry| {
            let serves = inquiry.served_by_id() == Some(user_id);
            if inquiry.status != InquiryStatus::Taken || !(serves || manager) {
                return Err(CoreError::NotAllowed);
            }
            Ok((author.clone(), None))
        })
    }

    /// Records a message: `check` says who wrote it (and whether they may), given the inquiry.
    fn record_message(
        &self,
        rid: &RoomId,
        msg: &str,
        check: impl Fn(&Inquiry) -> Result<(MessageAuthor, Option<String>), CoreError>,
    ) -> Result<Message, CoreError> {
        let id = meteor_id(&mut rand::thread_rng());
        self.retry(|| {
            let Versioned { version, value: mut inquiry } =
                self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            let (author, token) = check(&inquiry)?;
            if inquiry.status == InquiryStatus::Closed {
                return Err(CoreError::RoomClosed);
            }
            let now = self.now();
            let first_response = match &token {
                Some(_) => {
                    inquiry.contact_last_message_at = Some(now);
                    inquiry.waiting_response = true;
                    false
                }
                None => {
                    inquiry.waiting_response = false;
                    match &mut inquiry.response_by {
                        Some(response) => {
                            response.last_message_ts = now;
                            false
                        }
                        None => {
                            let agent = crate::ids::UserId::new(author.id.clone())?;
                            inquiry.response_by = Some(ResponseBy {
                                id: agent,
                                username: author.username.clone(),
                                first_response_ts: now,
                                last_message_ts: now,
                            });
                            true
                        }
                    }
                }
            };
            let message = Message { id: id.clone(), rid: rid.clone(), msg: msg.to_owned(), ts: now, author, token };
            inquiry.last_message = Some(LastMessage {
                id: message.id.clone(),
                msg: message.msg.clone(),
                ts: now,
                u: message.author.clone(),
                token: message.token.clone(),
            });
            inquiry.updated_at = now;
            let actor = match &message.token {
                Some(token) => Actor::Visitor(token.clone()),
                None => Actor::User(crate::ids::UserId::new(message.author.id.clone())?),
            };
            let mut events = vec![NewEvent {
                at: now,
                actor: actor.clone(),
                inquiry: Some(inquiry.id.clone()),
                kind: EventKind::MessageSent { first_response },
            }];
            let mut writes = Vec::new();
            // A visitor writing in an on-hold conversation wakes it up: back to its agent if the
            // agent has a free slot, else back to the queue.
            if message.token.is_some() && inquiry.on_hold_since.is_some() {
                let (transition, agent_writes, reason) = match self.wakeup(&inquiry)? {
                    Wakeup::Resume(writes) => (Transition::Resume, writes, "the visitor wrote"),
                    Wakeup::Requeue { writes, .. } => {
                        (Transition::ReturnToQueue, writes, "the visitor wrote and the agent has no free slot")
                    }
                };
                let woken = machine::apply(&inquiry, &transition, now)?;
                events.push(self.transition_event(&actor, &inquiry, &woken, transition.kind(), reason.to_owned()));
                writes.extend(agent_writes);
                inquiry = woken;
            }
            writes.insert(0, Write::update(version, Record::Inquiry(inquiry)));
            self.commit(Commit { writes, events })?;
            Ok(message)
        })
    }
}

fn check_text(msg: &str) -> Result<(), CoreError> {
    if msg.trim().is_empty() {
        return Err(CoreError::invalid("msg", "must not be empty"));
    }
    limits::check_message("msg", msg)
}

//! The life of one conversation: enqueue, release, list, read, take, return, transfer, close,
//! and its history.

use crate::event::{Actor, Event, EventKind, EventQuery, NewEvent};
use crate::hours::WhenClosed;
use crate::ids::{DepartmentId, InquiryId, RoomId, UserId};
use crate::limits;
use crate::machine::{Transition, TransitionKind};
use crate::model::{
    Attributes, DefaultAgent, Department, Inquiry, InquirySource, InquiryStatus, PriorityWeight, SourceType,
};
use crate::model::{VisitorSummary, NO_SLA_MINUTES};
use crate::permissions::Permission;
use crate::query::StatusSet;
use crate::query::{DepartmentFilter, InquiryFilter, InquiryQuery, InquirySort, Page, Paging, ReservationFilter};
use crate::store::{ArchiveKey, Commit, Record, Store, StoreExt, Subscription, Write};
use crate::CoreError;

use super::Engine;

/// A new conversation for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInquiry {
    /// Who is waiting.
    pub visitor: VisitorSummary,
    /// The visitor's display name (`name`).
    pub name: String,
    /// The first message (`message`).
    pub message: String,
    /// The department whose queue it enters; `None` for the public queue.
    pub department: Option<DepartmentId>,
    /// Reserve it for this agent.
    pub default_agent: Option<UserId>,
    /// Its priority (`priorityWeight`).
    pub priority: PriorityWeight,
    /// SLA minutes (`estimatedWaitingTimeQueue`); `None` for no SLA.
    pub sla_minutes: Option<u64>,
    /// Where the conversation came from.
    pub source: SourceType,
    /// The room id to use; a new one is generated when `None`.
    pub room: Option<RoomId>,
    /// What routing rules read as `task.`; `{}` for none.
    pub attributes: Attributes,
}

impl NewInquiry {
    /// A conversation of `visitor` for the public queue, with no priority, SLA or reservation.
    pub fn new(visitor: VisitorSummary, name: impl Into<String>) -> Self {
        Self {
            visitor,
            name: name.into(),
            message: String::new(),
            department: None,
            default_agent: None,
            priority: PriorityWeight::UNSET,
            sla_minutes: None,
            source: SourceType::Widget,
            room: None,
            attributes: Attributes::empty(),
        }
    }
}

/// A request for one page of inquiries (`inquiries.list`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    /// Defaults to `open`: what agents can take.
    pub status: InquiryStatus,
    /// A department id or name.
    pub department: Option<String>,
    /// Defaults to newest first, as in Rocket.Chat.
    pub sort: InquirySort,
    /// Which page.
    pub paging: Paging,
}

impl Default for ListRequest {
    fn default() -> Self {
        Self { status: InquiryStatus::Open, department: None, sort: InquirySort::default(), paging: Paging::default() }
    }
}

/// Where a transfer sends a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// To this agent, who must be able to take it now.
    Agent(UserId),
    /// Back to this department's queue.
    Department(DepartmentId),
}

/// What [`Engine::open_room`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedRoom {
    /// The conversation's inquiry.
    pub inquiry: Inquiry,
    /// `false` when the visitor already had an open conversation.
    pub new_room: bool,
}

impl<S: Store> Engine<S> {
    /// Puts a new inquiry in the queue (status `queued`). Routing releases or assigns it on the
    /// next [`Engine::dispatch`].
    pub fn enqueue(&self, actor: &Actor, new: NewInquiry) -> Result<Inquiry, CoreError> {
        self.retry(|| {
            let (inquiry, commit) = self.plan_enqueue(actor, &new)?;
            self.commit(commit)?;
            Ok(inquiry)
        })
    }

    /// The inquiry and commit that enqueue `new`, checked but not applied.
    fn plan_enqueue(&self, actor: &Actor, new: &NewInquiry) -> Result<(Inquiry, Commit), CoreError> {
        limits::check_name("name", &new.name)?;
        limits::check_message("message", &new.message)?;
        let mut waits_for_opening = false;
        if let Some(department) = &new.department {
            let department = self.store.department(department)?.ok_or(CoreError::DepartmentNotFound)?.value;
            if !department.enabled {
                return Err(CoreError::DepartmentDisabled);
            }
            if let Some(hours) = department.business_hours.as_ref().filter(|hours| !hours.is_open(self.now())) {
                match hours.when_closed() {
                    WhenClosed::Refuse => return Err(CoreError::NoAgentOnline),
                    WhenClosed::Queue => waits_for_opening = true,
                }
            }
        }
        let default_agent = match &new.default_agent {
            Some(id) => {
                let agent = self.store.agent(id)?.ok_or(CoreError::NotAnAgent)?;
                Some(DefaultAgent { agent_id: agent.value.id, username: agent.value.username })
            }
            None => None,
        };
        if !self.config.routing.queue_without_agents
            && !waits_for_opening
            && !self.any_agent_available(new.department.as_ref())?
        {
            return Err(CoreError::NoAgentOnline);
        }
        let now = self.now();
        let mut rng = rand::thread_rng();
        let id = InquiryId::generate(&mut rng);
        let rid = new.room.clone().unwrap_or_else(|| RoomId::generate(&mut rng));
        let inquiry = Inquiry {
            message: new.message.clone(),
            department: new.department.clone(),
            default_agent,
            priority_weight: new.priority,
            estimated_waiting_time_queue: new.sla_minutes.unwrap_or(NO_SLA_MINUTES),
            source: Some(InquirySource { kind: new.source }),
            attributes: new.attributes.clone(),
            ..Inquiry::new(id, rid, new.visitor.clone(), new.name.clone(), now)
        };
        let event = NewEvent {
            at: now,
            actor: actor.clone(),
            inquiry: Some(inquiry.id.clone()),
            kind: EventKind::Enqueued { department: inquiry.department.clone() },
        };
        let commit = Commit { writes: vec![Write::create(Record::Inquiry(inquiry.clone()))], events: vec![event] };
        Ok((inquiry, commit))
    }

    fn any_agent_available(&self, department: Option<&DepartmentId>) -> Result<bool, CoreError> {
        Ok(self.store.agents()?.iter().any(|agent| agent.value.can_serve(department)))
    }

    /// The visitor's open conversation, or a new one whose inquiry enters the queue
    /// (`GET livechat/room`). Two concurrent calls for one visitor open one room.
    pub fn open_room(&self, token: &str, room: Option<RoomId>) -> Result<OpenedRoom, CoreError> {
        self.retry(|| {
            let visitor = self.store.visitor_by_token(token)?.ok_or(CoreError::VisitorNotFound)?;
            if let Some(rid) = &visitor.value.open_room {
                if let Some(inquiry) = self.store.inquiry_by_room(rid)? {
                    if inquiry.value.status != InquiryStatus::Closed {
                        return Ok(OpenedRoom { inquiry: inquiry.value, new_room: false });
                    }
                }
            }
            let name = visitor.value.name.clone().unwrap_or_else(|| visitor.value.username.clone());
            let mut new = NewInquiry::new(visitor.value.summary(), name);
            new.department = visitor.value.department.clone();
            new.attributes = visitor.value.attributes.clone();
            new.room = room.clone();
            let (inquiry, mut commit) = self.plan_enqueue(&Actor::Visitor(token.to_owned()), &new)?;
            let mut updated = visitor.value;
            updated.open_room = Some(inquiry.rid.clone());
            updated.updated_at = inquiry.ts;
            commit.writes.push(Write::update(visitor.version, Record::Visitor(updated)));
            self.commit(commit)?;
            Ok(OpenedRoom { inquiry, new_room: true })
        })
    }

    /// Releases a queued inquiry to agents (queued → open).
    pub fn release(&self, actor: &Actor, id: &InquiryId) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::ViewLivechatQueue)?;
        self.retry(|| {
            let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            self.transition(actor, inquiry, Transition::Release, vec![], String::new())
        })
    }

    /// One page of inquiries and the total (`inquiries.list`). Needs `view-livechat-manager`.
    pub fn list(&self, actor: &Actor, request: &ListRequest) -> Result<Page<Inquiry>, CoreError> {
        self.authorize(actor, Permission::ViewLivechatManager)?;
        let departments = match &request.department {
            Some(text) => DepartmentFilter::only(self.resolve_department(text)?.id),
            None => DepartmentFilter::Any,
        };
        let query = InquiryQuery {
            filter: InquiryFilter {
                statuses: StatusSet::only(request.status),
                departments,
                reservation: ReservationFilter::Any,
            },
            sort: request.sort,
            offset: request.paging.offset,
            limit: request.paging.limit(),
        };
        Ok(self.store.list_inquiries(&query)?)
    }

    /// A department by id, or else by name.
    pub fn resolve_department(&self, id_or_name: &str) -> Result<Department, CoreError> {
        if let Ok(id) = DepartmentId::new(id_or_name) {
            if let Some(found) = self.store.department(&id)? {
                return Ok(found.value);
            }
        }
        Ok(self.store.department_by_name(id_or_name)?.ok_or(CoreError::DepartmentNotFound)?.value)
    }

    /// The inquiry of a room (`inquiries.getOne`), archived ones included; `None` when there is
    /// none. Needs `view-l-room`.
    pub fn inquiry_by_room(&self, actor: &Actor, rid: &RoomId) -> Result<Option<Inquiry>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        if let Some(found) = self.store.inquiry_by_room(rid)? {
            return Ok(Some(found.value));
        }
        Ok(self.store.archived_inquiry(&ArchiveKey::Room(rid.clone()))?.map(|found| found.value))
    }

    /// An inquiry by id, archived ones included. Needs `view-l-room`.
    pub fn inquiry(&self, actor: &Actor, id: &InquiryId) -> Result<Option<Inquiry>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        self.inquiry_anywhere(id)
    }

    /// Replaces an inquiry's routing attributes (what its rules read as `task.`). Needs
    /// `transfer-livechat-guest`: new attributes can send it to other agents, as a transfer
    /// would. A closed conversation keeps its attributes as history ([`CoreError::RoomClosed`]).
    pub fn set_inquiry_attributes(
        &self,
        actor: &Actor,
        id: &InquiryId,
        attributes: &Attributes,
    ) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::TransferLivechatGuest)?;
        self.retry(|| {
            let found = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            if found.value.status == InquiryStatus::Closed {
                return Err(CoreError::RoomClosed);
            }
            let now = self.now();
            let mut inquiry = found.value;
            inquiry.attributes = attributes.clone();
            inquiry.updated_at = now;
            let event = NewEvent {
                at: now,
                actor: actor.clone(),
                inquiry: Some(inquiry.id.clone()),
                kind: EventKind::AttributesChanged,
            };
            let committed = self.commit(Commit {
                writes: vec![Write::update(found.version, Record::Inquiry(inquiry.clone()))],
                events: vec![event],
            })?;
            Ok(committed.first_inquiry.unwrap_or(inquiry))
        })
    }

    /// Takes an open inquiry for the acting user or, with `on_behalf_of`, for another user who
    /// must exist and hold `view-l-room` (`inquiries.take`). The serving agent must be available
    /// and within capacity. Exactly one of any number of concurrent takes succeeds; the others
    /// get [`CoreError::InquiryAlreadyTaken`]. An inquiry offered to an agent can be taken only
    /// by that agent, which accepts the offer ([`Engine::accept_offer`]); anyone else gets
    /// [`CoreError::OfferedToAnotherAgent`]. An agent that does not match the inquiry's current
    /// routing target is refused ([`CoreError::RoutingRuleMismatch`]) unless the acting user
    /// holds `override-routing-rules`.
    pub fn take(&self, actor: &Actor, id: &InquiryId, on_behalf_of: Option<&UserId>) -> Result<Inquiry, CoreError> {
        let acting = self.authorize(actor, Permission::ViewLRoom)?;
        let agent_id = match (on_behalf_of, &acting) {
            (Some(other), _) => {
                let user = self.store.user(other)?.ok_or(CoreError::InvalidUser)?;
                if !self.config.permissions.allows(&user.value, Permission::ViewLRoom) {
                    return Err(CoreError::InvalidUser);
                }
                other.clone()
            }
            (None, Some(user)) => user.value.id.clone(),
            (None, None) => return Err(CoreError::InvalidUser),
        };
        let reason = match on_behalf_of {
            Some(_) => format!("taken on behalf of {agent_id}"),
            None => String::new(),
        };
        // Whoever takes (for itself or on another's behalf) may set routing rules aside with
        // `override-routing-rules`; the system may always.
        let overrides = acting.as_ref().is_none_or(|user| self.allows(&user.value, Permission::OverrideRoutingRules));
        self.retry(|| {
            let inquiry = self.store.inquiry(id)?.ok_or(CoreError::InquiryNotFound)?;
            match inquiry.value.status {
                InquiryStatus::Taken => return Err(CoreError::InquiryAlreadyTaken),
                // Only the agent it is offered to may take it: that is accepting the offer.
                InquiryStatus::Offered => return self.accept_pending(actor, inquiry, &agent_id, reason.clone()),
                _ => {}
            }
            let agent = self.store.agent(&agent_id)?.ok_or(CoreError::NotAnAgent)?;
            self.check_can_serve(&agent.value, inquiry.value.department.as_ref())?;
            if !overrides {
                self.check_rules(&agent.value, &inquiry.value)?;
            }
            let served = self.served_by(&agent.value);
            let agent_write = Write::update(agent.version, Record::Agent(self.with_assignment(agent.value, id)));
            self.transition(actor, inquiry, Transition::Take { agent: served }, vec![agent_write], reason.clone())
        })
    }

    /// Puts a taken conversation back in the queue (`inquiries.returnAsInquiry`); it keeps its
    /// place by age. The serving agent needs `view-l-room`; anyone else
    /// `transfer-livechat-guest`.
    pub fn return_to_queue(&self, actor: &Actor, rid: &RoomId) -> Result<Inquiry, CoreError> {
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            let own = matches!(actor, Actor::User(id) if inquiry.value.served_by_id() == Some(id));
            self.authorize(actor, if own { Permission::ViewLRoom } else { Permission::TransferLivechatGuest })?;
            let released = self.release_agent_writes(&inquiry.value)?;
            self.transition(actor, inquiry, Transition::ReturnToQueue, released, String::new())
        })
    }

    /// Hands a conversation to another agent (it must be taken, and the agent able to take it
    /// now), or to a department's queue (taken or still waiting; it keeps its queue age). Needs
    /// `transfer-livechat-guest`.
    pub fn transfer(
        &self,
        actor: &Actor,
        rid: &RoomId,
        target: &TransferTarget,
        comment: &str,
    ) -> Result<Inquiry, CoreError> {
        self.authorize(actor, Permission::TransferLivechatGuest)?;
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            let status = inquiry.value.status;
            if status == InquiryStatus::Closed {
                return Err(CoreError::RoomClosed);
            }
            let transition = match target {
                TransferTarget::Agent(agent_id) => {
                    if status != InquiryStatus::Taken {
                        let transition = TransitionKind::TransferToAgent;
                        return Err(CoreError::IllegalTransition { from: status, transition });
                    }
                    if inquiry.value.served_by_id() == Some(agent_id) {
                        return Err(CoreError::AlreadyServedBy);
                    }
                    let agent = self.store.agent(agent_id)?.ok_or(CoreError::NotAnAgent)?;
                    self.check_can_serve(&agent.value, inquiry.value.department.as_ref())?;
                    let served = self.served_by(&agent.value);
                    let mut writes = self.release_agent_writes(&inquiry.value)?;
                    let assigned = self.with_assignment(agent.value, &inquiry.value.id);
                    writes.push(Write::update(agent.version, Record::Agent(assigned)));
                    (Transition::TransferToAgent { agent: served }, writes)
                }
                TransferTarget::Department(department_id) => {
                    if inquiry.value.department.as_ref() == Some(department_id) {
                        return Err(CoreError::SameDepartment);
                    }
                    let department = self.store.department(department_id)?.ok_or(CoreError::DepartmentNotFound)?;
                    if !department.value.enabled {
                        return Err(CoreError::DepartmentDisabled);
                    }
                    let writes = self.release_agent_writes(&inquiry.value)?;
                    (Transition::TransferToDepartment { department: department_id.clone() }, writes)
                }
            };
            let (transition, writes) = transition;
            self.transition(actor, inquiry, transition, writes, comment.to_owned())
        })
    }

    /// Closes a conversation. A user needs `close-livechat-room` for one it serves and
    /// `close-others-livechat-room` otherwise; a visitor may close its own.
    pub fn close(&self, actor: &Actor, rid: &RoomId, comment: &str) -> Result<Inquiry, CoreError> {
        self.retry(|| {
            let inquiry = self.store.inquiry_by_room(rid)?.ok_or(CoreError::RoomNotFound)?;
            match actor {
                Actor::System => {}
                Actor::User(user_id) => {
                    let own = inquiry.value.served_by_id() == Some(user_id);
                    let needed = if own { Permission::CloseLivechatRoom } else { Permission::CloseOthersLivechatRoom };
                    self.authorize(actor, needed)?;
                }
                Actor::Visitor(token) => {
                    if &inquiry.value.visitor.token != token {
                        return Err(CoreError::RoomNotFound);
                    }
                }
            }
            let mut writes = self.release_agent_writes(&inquiry.value)?;
            writes.extend(self.visitor_release_writes(&inquiry.value)?);
            self.transition(actor, inquiry, Transition::Close, writes, comment.to_owned())
        })
    }

    /// Everything recorded about one inquiry, oldest first. Needs `view-l-room`.
    pub fn history(&self, actor: &Actor, id: &InquiryId) -> Result<Vec<Event>, CoreError> {
        self.authorize(actor, Permission::ViewLRoom)?;
        let query = EventQuery { inquiry: Some(id.clone()), ..EventQuery::all() };
        let hot = self.store.events(&query)?;
        // An inquiry's events retire with it, so its history is in one place or the other.
        if !hot.is_empty() || self.store.inquiry(id)?.is_some() {
            return Ok(hot);
        }
        Ok(self.store.archived_events(&query)?)
    }

    /// A live feed of everything committed from now on.
    pub fn subscribe(&self) -> Result<Subscription, CoreError> {
        Ok(self.store.subscribe()?)
    }
}

//! # lobby-core
//!
//! The rules of Lobby, a routing engine for livechat inquiries: the inquiry state machine,
//! permissions, agents and departments, routing, and the [`Engine`] that applies them over any
//! [`Store`]. This crate does no I/O; stores live in sibling crates (`lobby-memory`,
//! `lobby-sled`, `lobby-postgres`).
//!
//! ## The types you meet first
//!
//! | type | what it is |
//! |---|---|
//! | [`Engine`] | every operation: enqueue, take, dispatch, transfer, close, users, agents… |
//! | [`Store`] | where records live; the engine's only way to read and write |
//! | [`Inquiry`] | one waiting conversation, in Rocket.Chat's wire shape |
//! | [`Actor`] | who acts: the system, a signed-in user, or a visitor |
//! | [`CoreError`] | everything that can go wrong, each with Rocket.Chat's error code |
//!
//! Every operation reads, decides with pure functions ([`machine`], [`RoutingConfig`],
//! [`PermissionPolicy`]), then commits all its writes at once, each checked against the version
//! it read. A lost race is retried from fresh reads, so an inquiry is taken at most once and no
//! agent goes over its limit, on every store.
//!
//! ```
//! use lobby_core::{Actor, CoreError, Engine, ListRequest, NewInquiry, NewUser, Role, VisitorId, VisitorSummary};
//! use lobby_memory::MemoryStore;
//!
//! let engine = Engine::new(MemoryStore::new());
//! // A user with the agent role is an available agent at once.
//! let alice = engine.create_user(&Actor::System, NewUser::new("alice", "Alice", [Role::livechat_agent()]))?;
//!
//! let visitor = VisitorSummary::new(VisitorId::new("v1")?, "guest-1", "token-1");
//! let inquiry = engine.enqueue(&Actor::System, NewInquiry::new(visitor, "Marcos"))?;
//! engine.dispatch(&Actor::System)?; // manual selection: releases it to agents
//! let page = engine.list(&Actor::System, &ListRequest::default())?;
//! assert_eq!((page.total, &page.items[0].id), (1, &inquiry.id));
//!
//! let as_alice = Actor::User(alice.id.clone());
//! assert_eq!(engine.take(&as_alice, &inquiry.id, None)?.served_by_id(), Some(&alice.id));
//! assert_eq!(engine.take(&as_alice, &inquiry.id, None), Err(CoreError::InquiryAlreadyTaken));
//! # Ok::<(), CoreError>(())
//! ```
#![warn(missing_docs)]

mod engine;
mod error;
mod event;
pub mod hours;
mod ids;
pub mod limits;
pub mod machine;
mod model;
mod permissions;
mod query;
mod routing;
mod rules;
mod store;
mod time;
mod timers;
mod why;

pub use engine::{
    AgentUpdate, DepartmentSettings, DispatchReport, Engine, EngineConfig, FireReport, ListRequest, Message,
    NewInquiry, NewUser, OpenedRoom, QueuePosition, QueueRequest, RetentionPass, RetentionPolicy, RetentionReport,
    TransferTarget, VisitorDetails,
};
pub use error::{CoreError, ErrorClass};
pub use event::{Actor, Event, EventKind, EventQuery, EventSeq, NewEvent, RoutingDecision};
pub use ids::{meteor_id, DepartmentId, InquiryId, RoomId, UserId, VisitorId, MAX_ID_LEN};
pub use lobby_expr::{Explanation as ExpressionExplanation, Expression, ParseError as ExpressionError};
pub use model::{
    Agent, AgentAvailability, Attributes, Deadline, DefaultAgent, Department, DepartmentTimers, Inquiry, InquirySource,
    InquiryStatus, LastMessage, MessageAuthor, Offer, PriorityWeight, ResponseBy, Role, RoomType, ServedBy, SourceType,
    TimerRule, TimerSetting, User, Visitor, VisitorStatus, VisitorSummary, NO_SLA_MINUTES,
};
pub use permissions::{Permission, PermissionPolicy};
pub use query::{
    DepartmentFilter, Direction, InquiryFacts, InquiryFilter, InquiryQuery, InquirySort, Page, Paging,
    ReservationFilter, SortField, SortKey, SortValue, StatusSet,
};
pub use routing::{has_room, Candidate, QueueOrder, RoutingConfig, RoutingMethod, RoutingStrategy};
pub use rules::{boosted_order, queue_age, PriorityBoost, RoutingRules, RoutingTarget, Stage};
pub use store::{
    check_event_accounting, check_retired_event, check_retired_inquiry, check_store_contents, plan_unique_keys,
    plan_versions, ArchiveKey, Commit, CommitReceipt, DueRecord, FeedHub, IntegrityReport, Record, RecordKey,
    RecordKind, RetentionAction, RetentionAge, RetentionAgeError, Retirement, RetirementReceipt, Store, StoreError,
    StoreExt, Subscription, UniqueKey, UniqueKeyChanges, Version, Versioned, Write,
};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use timers::{AbandonedRoomsAction, AgentLeave, AgentLeaveAction, TimerConfig};
pub use why::{verdicts, AgentVerdict, CurrentTarget, Ineligible, RoutingExplanation, Verdict};

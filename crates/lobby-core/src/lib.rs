//! # lobby-core
//!
//! The rules of Lobby, a routing engine for livechat inquiries: the inquiry state machine
//! ([`machine`]), permissions ([`permissions`]), agents and departments, routing
//! ([`routing`]), and the [`Engine`] that applies them over any [`Store`]. This crate does no
//! I/O; stores live in sibling crates (`lobby-memory`, `lobby-sled`, `lobby-postgres`).
//!
//! Every operation reads, decides with pure functions, then commits all its writes at once,
//! each checked against the version it read. A lost race is retried from fresh reads, so an
//! inquiry is taken at most once and no agent goes over its limit, on every store.
//!
//! ```
//! use lobby_core::{Actor, Engine, NewInquiry, ListRequest, VisitorSummary, VisitorId, VisitorStatus};
//! use lobby_memory::MemoryStore;
//!
//! let engine = Engine::new(MemoryStore::new());
//! let visitor = VisitorSummary {
//!     id: VisitorId::new("v1").unwrap(),
//!     username: "guest-1".into(),
//!     token: "token-1".into(),
//!     status: VisitorStatus::Online,
//! };
//! let inquiry = engine.enqueue(&Actor::System, NewInquiry::new(visitor, "Marcos")).unwrap();
//! engine.dispatch(&Actor::System).unwrap(); // manual selection: releases it to agents
//! let page = engine.list(&Actor::System, &ListRequest::default()).unwrap();
//! assert_eq!((page.total, page.items[0].id.clone()), (1, inquiry.id));
//! ```

pub mod directory;
pub mod engine;
pub mod error;
pub mod event;
pub mod ids;
pub mod machine;
pub mod model;
pub mod permissions;
pub mod query;
pub mod routing;
pub mod store;
pub mod time;

pub use directory::{AgentUpdate, DepartmentSettings, NewUser, OpenedRoom, VisitorDetails};
pub use engine::{Engine, EngineConfig, ListRequest, NewInquiry, TransferTarget, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
pub use error::{CoreError, ErrorClass};
pub use event::{Actor, Event, EventKind, EventQuery, EventSeq, NewEvent, RoutingDecision};
pub use ids::{DepartmentId, InquiryId, RoomId, UserId, VisitorId};
pub use machine::{Transition, TransitionKind};
pub use model::{
    Agent, AgentAvailability, DefaultAgent, Department, Inquiry, InquirySource, InquiryStatus, PriorityWeight, Role,
    RoomType, ServedBy, SourceType, User, Visitor, VisitorStatus, VisitorSummary,
};
pub use permissions::{Permission, PermissionPolicy};
pub use query::{
    DepartmentFilter, Direction, InquiryFacts, InquiryFilter, InquiryQuery, InquirySort, Page, ReservationFilter,
    SortField, SortKey, StatusSet,
};
pub use routing::{
    Candidate, DispatchReport, QueueOrder, QueuePosition, QueueRequest, RoutingConfig, RoutingMethod, RoutingStrategy,
};
pub use store::{
    plan_unique_keys, Commit, CommitReceipt, FeedHub, Record, RecordKey, RecordKind, Store, StoreError, StoreExt,
    Subscription, UniqueKey, UniqueKeyChanges, Version, Versioned, Write,
};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};

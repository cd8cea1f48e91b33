//! The records Lobby keeps. Inquiries serialise exactly as Rocket.Chat's REST API writes them;
//! the other records are storage shapes (the server builds Rocket.Chat's response shapes).

mod attributes;
mod deadline;
mod department;
mod inquiry;
mod people;
mod visitor;

pub use attributes::Attributes;
pub use deadline::{earliest, Deadline, TimerRule, TimerSetting};
pub use department::{Department, DepartmentTimers};
pub use inquiry::{
    DefaultAgent, Inquiry, InquirySource, InquiryStatus, LastMessage, MessageAuthor, Offer, PriorityWeight, ResponseBy,
    RoomType, ServedBy, SourceType, NO_SLA_MINUTES,
};
pub use people::{Agent, AgentAvailability, Role, User};
pub use visitor::{Visitor, VisitorStatus, VisitorSummary};

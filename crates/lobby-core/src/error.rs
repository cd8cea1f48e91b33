//! The engine's one error type. Each variant knows its Rocket.Chat error code, so that a server
//! can answer `{"success":false,"error":"<reason> [<code>]","errorType":"<code>"}`.

use crate::machine::TransitionKind;
use crate::model::InquiryStatus;
use crate::permissions::Permission;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    #[error("Invalid {kind}: {value:?}")]
    InvalidId { kind: &'static str, value: String },
    #[error("Invalid {field}: {reason}")]
    InvalidInput { field: &'static str, reason: String },
    /// The acting user lacks a permission.
    #[error("User does not have the permissions required for this action")]
    Unauthorized { permission: Permission },
    #[error("Inquiry not found")]
    InquiryNotFound,
    #[error("Room not found")]
    RoomNotFound,
    #[error("Inquiry already taken")]
    InquiryAlreadyTaken,
    #[error("Cannot {transition} an inquiry that is {from}")]
    IllegalTransition { from: InquiryStatus, transition: TransitionKind },
    /// A user named in a request does not exist or may not serve conversations.
    #[error("The user is invalid")]
    InvalidUser,
    #[error("User not found")]
    UserNotFound,
    #[error("The user is not an agent")]
    NotAnAgent,
    #[error("Agent status is offline or Omnichannel service is not active")]
    AgentNotAvailable,
    #[error("The agent has reached the maximum of {limit} simultaneous chats")]
    AgentAtCapacity { limit: u32 },
    #[error("The agent still serves {conversations} conversations; transfer or close them first")]
    AgentStillServing { conversations: u32 },
    #[error("Department not found")]
    DepartmentNotFound,
    #[error("Department is disabled")]
    DepartmentDisabled,
    #[error("{what} is already in use :(")]
    AlreadyInUse { what: String },
    #[error("Visitor not found")]
    VisitorNotFound,
    #[error("Sorry, no online agents")]
    NoAgentOnline,
    /// Too many concurrent writers on the same records; the operation did nothing.
    #[error("Too much contention, try again")]
    Contention,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput { field, reason: reason.into() }
    }

    /// Rocket.Chat's error code for this error (`errorType` on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidId { .. } | Self::InvalidInput { .. } => "invalid-params",
            Self::Unauthorized { .. } => "error-unauthorized",
            Self::InquiryNotFound => "error-not-found",
            Self::RoomNotFound => "error-invalid-room",
            Self::InquiryAlreadyTaken => "error-inquiry-taken",
            Self::IllegalTransition { .. } => "error-invalid-inquiry-status",
            Self::InvalidUser => "error-invalid-user",
            Self::UserNotFound => "error-invalid-user",
            Self::NotAnAgent => "error-user-is-not-agent",
            Self::AgentNotAvailable => "error-agent-status-service-offline",
            Self::AgentAtCapacity { .. } => "error-max-number-simultaneous-chats-reached",
            Self::AgentStillServing { .. } => "error-agent-has-open-chats",
            Self::DepartmentNotFound => "error-invalid-department",
            Self::DepartmentDisabled => "error-department-disabled",
            Self::AlreadyInUse { .. } => "error-field-unavailable",
            Self::VisitorNotFound => "invalid-token",
            Self::NoAgentOnline => "no-agent-online",
            Self::Contention => "error-contention",
            Self::Store(_) => "error-store",
        }
    }

    /// What kind of failure this is, for picking a status code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unauthorized { .. } => ErrorClass::Forbidden,
            Self::Contention => ErrorClass::Unavailable,
            Self::Store(StoreError::Conflict { .. } | StoreError::Duplicate { .. }) => ErrorClass::Rejected,
            Self::Store(_) => ErrorClass::Internal,
            _ => ErrorClass::Rejected,
        }
    }
}

/// Failure classes, coarser than [`CoreError`], for transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request cannot succeed as made (Rocket.Chat answers 400).
    Rejected,
    /// Missing permission (403).
    Forbidden,
    /// Try again later (503).
    Unavailable,
    /// The backend failed (500).
    Internal,
}

//! The engine's one error type. Each variant knows its Rocket.Chat error code, so that a server
//! can answer `{"success":false,"error":"<reason> [<code>]","errorType":"<code>"}`.

use crate::machine::TransitionKind;
use crate::model::InquiryStatus;
use crate::permissions::Permission;
use crate::store::StoreError;

/// Everything an engine operation can fail with. Each variant has Rocket.Chat's error code
/// ([`CoreError::code`]) and a [`class`](CoreError::class) that picks the HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// An id is empty, too long, or holds spaces or control characters.
    #[error("Invalid {kind}: {value:?}")]
    InvalidId {
        /// What kind of id ("room id", …).
        kind: &'static str,
        /// The value given, shortened.
        value: String,
    },
    /// A field's value is out of bounds or malformed.
    #[error("Invalid {field}: {reason}")]
    InvalidInput {
        /// The field, by its wire name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The acting user lacks a permission.
    #[error("User does not have the permissions required for this action")]
    Unauthorized {
        /// The permission that was missing.
        permission: Permission,
    },
    /// No inquiry has this id.
    #[error("Inquiry not found")]
    InquiryNotFound,
    /// No conversation has this room id (or it is not the visitor's).
    #[error("Room not found")]
    RoomNotFound,
    /// The conversation is closed.
    #[error("This conversation is already closed")]
    RoomClosed,
    /// A transfer to the department the conversation is already in.
    #[error("The selected department and the current room department are the same")]
    SameDepartment,
    /// A transfer to the agent who already serves the conversation.
    #[error("The selected agent already serves the conversation")]
    AlreadyServedBy,
    /// The user may not do this in this conversation (it is not theirs, or not in a state that
    /// allows it).
    #[error("Not allowed")]
    NotAllowed,
    /// Someone else serves the conversation already.
    #[error("Inquiry already taken")]
    InquiryAlreadyTaken,
    /// The conversation is offered to another agent, who has the first say.
    #[error("The inquiry is offered to another agent")]
    OfferedToAnotherAgent,
    /// No offer of this conversation to this agent is pending (never made, accepted already,
    /// rejected, or passed on after it lapsed).
    #[error("There is no pending offer of this inquiry to this agent")]
    NoPendingOffer,
    /// The offer lapsed; the conversation is on its way to another agent.
    #[error("The offer has expired")]
    OfferExpired,
    /// The conversation is on hold already.
    #[error("The room is already on hold")]
    AlreadyOnHold,
    /// The conversation is not on hold.
    #[error("The room is not on hold")]
    NotOnHold,
    /// The visitor wrote last: the agent owes an answer, so the chat cannot be put on hold.
    #[error("The contact sent the last message, so the room cannot be placed on hold")]
    ContactSentLastMessage,
    /// Only a served conversation can be put on hold.
    #[error("Unserved rooms cannot be placed on hold")]
    UnservedCannotHold,
    /// The state machine does not allow this transition from this status.
    #[error("Cannot {transition} an inquiry that is {from}")]
    IllegalTransition {
        /// The inquiry's status.
        from: InquiryStatus,
        /// What was asked of it.
        transition: TransitionKind,
    },
    /// A user named in a request does not exist or may not serve conversations.
    #[error("The user is invalid")]
    InvalidUser,
    /// No user has this id.
    #[error("User not found")]
    UserNotFound,
    /// The user has no agent profile.
    #[error("The user is not an agent")]
    NotAnAgent,
    /// The agent is not available to take conversations.
    #[error("Agent status is offline or Omnichannel service is not active")]
    AgentNotAvailable,
    /// The agent serves as many conversations as its limit allows.
    #[error("The agent has reached the maximum of {limit} simultaneous chats")]
    AgentAtCapacity {
        /// The limit that applies.
        limit: u32,
    },
    /// An agent that still serves conversations cannot be removed.
    #[error("The agent still serves {conversations} conversations; transfer or close them first")]
    AgentStillServing {
        /// How many it serves.
        conversations: u32,
    },
    /// An attribute object is not a JSON object, or is too large or too deep.
    #[error("Invalid attributes: {0}")]
    InvalidAttributes(#[from] lobby_expr::AttributeError),
    /// A routing rule's expression does not parse; displays exactly as the parser's error
    /// (`unexpected token 'AND' at 12`) so a client can point at the position.
    #[error("{0}")]
    InvalidExpression(#[from] lobby_expr::ParseError),
    /// The agent does not match the inquiry's current routing target, and the acting user may
    /// not override routing rules.
    #[error("The agent does not match the inquiry's routing rule: {explanation}")]
    RoutingRuleMismatch {
        /// Which target applies and the term that failed, e.g. ``target 1 `level >= 3`:
        /// expression false: `level >= 3` (level = 2)``.
        explanation: String,
    },
    /// No department has this id or name.
    #[error("Department not found")]
    DepartmentNotFound,
    /// The department takes no new conversations.
    #[error("Department is disabled")]
    DepartmentDisabled,
    /// A username, email or department name belongs to someone else (regardless of case).
    #[error("{what} is already in use :(")]
    AlreadyInUse {
        /// The value that is taken.
        what: String,
    },
    /// No visitor has this token.
    #[error("Visitor not found")]
    VisitorNotFound,
    /// An agent cannot become available while every department it serves is closed by its
    /// business hours.
    #[error("Not allowed: business hours are closed")]
    BusinessHoursClosed,
    /// New conversations are refused while no agent is available.
    #[error("Sorry, no online agents")]
    NoAgentOnline,
    /// Too many concurrent writers on the same records; the operation did nothing.
    #[error("Too much contention, try again")]
    Contention,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CoreError {
    /// [`CoreError::InvalidInput`] for `field`.
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
            Self::OfferedToAnotherAgent => "error-inquiry-offered-to-another-agent",
            Self::NoPendingOffer => "error-no-pending-offer",
            Self::OfferExpired => "error-offer-expired",
            Self::AlreadyOnHold => "error-room-is-already-on-hold",
            Self::NotOnHold => "error-room-not-on-hold",
            Self::ContactSentLastMessage => "error-contact-sent-last-message-so-cannot-place-on-hold",
            Self::UnservedCannotHold => "error-unserved-rooms-cannot-be-placed-onhold",
            Self::RoomClosed => "room-closed",
            Self::SameDepartment => "error-forwarding-chat-same-department",
            Self::AlreadyServedBy => "error-selected-agent-room-agent-are-same",
            Self::NotAllowed => "error-not-allowed",
            Self::IllegalTransition { .. } => "error-invalid-inquiry-status",
            Self::InvalidUser => "error-invalid-user",
            Self::UserNotFound => "error-invalid-user",
            Self::NotAnAgent => "error-user-is-not-agent",
            Self::AgentNotAvailable => "error-agent-status-service-offline",
            Self::AgentAtCapacity { .. } => "error-max-number-simultaneous-chats-reached",
            Self::AgentStillServing { .. } => "error-agent-has-open-chats",
            Self::InvalidAttributes(_) => "error-invalid-attributes",
            Self::InvalidExpression(_) => "error-invalid-expression",
            Self::RoutingRuleMismatch { .. } => "error-routing-rule-mismatch",
            Self::DepartmentNotFound => "error-invalid-department",
            Self::DepartmentDisabled => "error-department-disabled",
            Self::AlreadyInUse { .. } => "error-field-unavailable",
            Self::VisitorNotFound => "invalid-token",
            Self::NoAgentOnline => "no-agent-online",
            Self::BusinessHoursClosed => "error-business-hours-are-closed",
            Self::Contention => "error-contention",
            Self::Store(StoreError::Unavailable(_)) => "error-store-unavailable",
            Self::Store(_) => "error-store",
        }
    }

    /// What kind of failure this is, for picking a status code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Unauthorized { .. } => ErrorClass::Forbidden,
            Self::Contention => ErrorClass::Unavailable,
            Self::Store(StoreError::Conflict { .. } | StoreError::Duplicate { .. }) => ErrorClass::Rejected,
            Self::Store(StoreError::Unavailable(_)) => ErrorClass::Unavailable,
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

//! The inquiry state machine as a pure function: `(inquiry, transition, now) → inquiry'` or a
//! typed error. Stores persist its results; they never decide a transition.
//!
//! ```text
//!            release            take / assign
//! queued ───────────────▶ open ───────────────▶ taken ──┐ transfer to agent, hold, resume
//!   ▲  ▲ │                  │                     │ ▲────┘
//!   │  │ │  offer           │ offer               │ │ accept (or take by the offered agent)
//!   │  │ └──────────▶ offered ◀───────────────────┼─┘
//!   │  │   reject / expire │                      │
//!   │  └───────────────────┘                      │
//!   │  (transfer to department: any unserved or taken one moves queue)
//!   └──────── return to queue / transfer to department ┘
//! any non-closed state ── close ──▶ closed (terminal)
//! ```

use crate::ids::DepartmentId;
use crate::model::{Inquiry, InquiryStatus, Offer, ServedBy};
use crate::time::Timestamp;
use crate::CoreError;

/// What can happen to an inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// queued → open: released to agents.
    Release,
    /// open → taken by this agent.
    Take {
        /// Who takes it.
        agent: ServedBy,
    },
    /// queued or open → taken in one step: routing assigned it directly.
    Assign {
        /// Who it is assigned to.
        agent: ServedBy,
    },
    /// queued or open → offered to this agent until `expires_at` (offer mode).
    Offer {
        /// Who it is offered to (with the time of the offer).
        agent: ServedBy,
        /// When the offer lapses.
        expires_at: Timestamp,
    },
    /// offered → taken by the agent it was offered to.
    Accept,
    /// offered → queued: the agent declined.
    RejectOffer,
    /// offered → queued: the agent did not answer in time.
    ExpireOffer,
    /// taken → taken, on hold: it no longer takes a slot of its agent.
    Hold,
    /// taken and on hold → taken, back in its agent's hands.
    Resume,
    /// taken → queued; the inquiry keeps its original `queuedAt`.
    ReturnToQueue,
    /// taken → taken, served by another agent.
    TransferToAgent {
        /// Who serves it next.
        agent: ServedBy,
    },
    /// taken, offered, queued or open → queued in another department's queue (a waiting one
    /// moves queue, keeping its age: queue overflow does this).
    TransferToDepartment {
        /// Whose queue it goes to.
        department: DepartmentId,
    },
    /// any non-closed status → closed.
    Close,
}

/// The name of a transition, for errors and events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TransitionKind {
    /// [`Transition::Release`].
    Release,
    /// [`Transition::Take`].
    Take,
    /// [`Transition::Assign`].
    Assign,
    /// [`Transition::Offer`].
    Offer,
    /// [`Transition::Accept`].
    Accept,
    /// [`Transition::RejectOffer`].
    RejectOffer,
    /// [`Transition::ExpireOffer`].
    ExpireOffer,
    /// [`Transition::Hold`].
    Hold,
    /// [`Transition::Resume`].
    Resume,
    /// [`Transition::ReturnToQueue`].
    ReturnToQueue,
    /// [`Transition::TransferToAgent`].
    TransferToAgent,
    /// [`Transition::TransferToDepartment`].
    TransferToDepartment,
    /// [`Transition::Close`].
    Close,
}

impl TransitionKind {
    /// The transition in words, for messages: "return to queue".
    pub fn phrase(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Take => "take",
            Self::Assign => "assign",
            Self::Offer => "offer",
            Self::Accept => "accept",
            Self::RejectOffer => "reject the offer of",
            Self::ExpireOffer => "let the offer lapse of",
            Self::Hold => "put on hold",
            Self::Resume => "resume",
            Self::ReturnToQueue => "return to queue",
            Self::TransferToAgent => "transfer to an agent",
            Self::TransferToDepartment => "transfer to a department",
            Self::Close => "close",
        }
    }
}

impl std::fmt::Display for TransitionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.phrase())
    }
}

impl Transition {
    /// Which kind of transition this is.
    pub fn kind(&self) -> TransitionKind {
        match self {
            Self::Release => TransitionKind::Release,
            Self::Take { .. } => TransitionKind::Take,
            Self::Assign { .. } => TransitionKind::Assign,
            Self::Offer { .. } => TransitionKind::Offer,
            Self::Accept => TransitionKind::Accept,
            Self::RejectOffer => TransitionKind::RejectOffer,
            Self::ExpireOffer => TransitionKind::ExpireOffer,
            Self::Hold => TransitionKind::Hold,
            Self::Resume => TransitionKind::Resume,
            Self::ReturnToQueue => TransitionKind::ReturnToQueue,
            Self::TransferToAgent { .. } => TransitionKind::TransferToAgent,
            Self::TransferToDepartment { .. } => TransitionKind::TransferToDepartment,
            Self::Close => TransitionKind::Close,
        }
    }
}

/// Applies `transition` to `inquiry` at `now`. Every (status, transition) pair not drawn above is
/// [`CoreError::IllegalTransition`]; taking an inquiry that is already taken is
/// [`CoreError::InquiryAlreadyTaken`], the error Rocket.Chat clients expect, and taking one
/// offered to another agent is [`CoreError::OfferedToAnotherAgent`]. Holding follows Rocket.Chat:
/// [`CoreError::AlreadyOnHold`], [`CoreError::NotOnHold`].
pub fn apply(inquiry: &Inquiry, transition: &Transition, now: Timestamp) -> Result<Inquiry, CoreError> {
    use InquiryStatus::*;
    let illegal = || CoreError::IllegalTransition { from: inquiry.status, transition: transition.kind() };
    let mut next = inquiry.clone();
    let serve = |next: &mut Inquiry, agent: &ServedBy| {
        next.status = Taken;
        next.served_by = Some(agent.clone());
        next.taken_at = Some(now);
        next.offer = None;
        next.on_hold_since = None;
    };
    let unserve = |next: &mut Inquiry| {
        next.status = Queued;
        next.served_by = None;
        next.taken_at = None;
        next.offer = None;
        next.on_hold_since = None;
    };
    match (inquiry.status, transition) {
        (Queued, Transition::Release) => next.status = Open,
        (Open, Transition::Take { agent }) | (Queued | Open, Transition::Assign { agent }) => serve(&mut next, agent),
        (Offered, Transition::Take { agent }) => match &inquiry.offer {
            Some(offer) if offer.agent.id == agent.id => serve(&mut next, agent),
            _ => return Err(CoreError::OfferedToAnotherAgent),
        },
        (Taken, Transition::Take { .. } | Transition::Assign { .. }) => return Err(CoreError::InquiryAlreadyTaken),
        (Queued | Open, Transition::Offer { agent, expires_at }) => {
            next.status = Offered;
            next.offer = Some(Offer { agent: agent.clone(), expires_at: *expires_at });
        }
        (Offered, Transition::Accept) => {
            let Some(offer) = &inquiry.offer else { return Err(illegal()) };
            serve(&mut next, &ServedBy { ts: now, ..offer.agent.clone() });
        }
        (Offered, Transition::RejectOffer | Transition::ExpireOffer) => unserve(&mut next),
        (Taken, Transition::Hold) => match inquiry.on_hold_since {
            Some(_) => return Err(CoreError::AlreadyOnHold),
            None => next.on_hold_since = Some(now),
        },
        (Taken, Transition::Resume) => match inquiry.on_hold_since {
            Some(_) => next.on_hold_since = None,
            None => return Err(CoreError::NotOnHold),
        },
        (Taken, Transition::ReturnToQueue) => unserve(&mut next),
        (Taken, Transition::TransferToAgent { agent }) => {
            if inquiry.served_by_id() == Some(&agent.id) {
                return Err(CoreError::invalid("agent", "the inquiry is already served by this agent"));
            }
            serve(&mut next, agent);
        }
        (Queued | Open | Offered | Taken, Transition::TransferToDepartment { department }) => {
            unserve(&mut next);
            next.department = Some(department.clone());
        }
        (Queued | Open | Offered | Taken, Transition::Close) => {
            next.status = Closed;
            next.offer = None;
            next.on_hold_since = None;
        }
        _ => return Err(illegal()),
    }
    next.updated_at = now;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{InquiryId, RoomId, UserId, VisitorId};
    use crate::model::VisitorSummary;

    /// An inquiry in `status`; a taken one is served by a1 (not on hold), an offered one is
    /// offered to a1.
    fn inquiry(status: InquiryStatus) -> Inquiry {
        let ts = Timestamp::from_millis(1_000);
        let served = (status == InquiryStatus::Taken).then(|| agent("a1"));
        let offer = (status == InquiryStatus::Offered)
            .then(|| Offer { agent: agent("a1"), expires_at: Timestamp::from_millis(60_000) });
        let visitor = VisitorSummary::new(VisitorId::new("v1").unwrap(), "guest-1", "tok");
        Inquiry {
            status,
            taken_at: served.as_ref().map(|s| s.ts),
            served_by: served,
            offer,
            ..Inquiry::new(InquiryId::new("i1").unwrap(), RoomId::new("r1").unwrap(), visitor, "Visitor", ts)
        }
    }

    fn agent(id: &str) -> ServedBy {
        ServedBy { id: UserId::new(id).unwrap(), username: id.into(), ts: Timestamp::from_millis(5) }
    }

    fn all_transitions() -> Vec<Transition> {
        vec![
            Transition::Release,
            Transition::Take { agent: agent("a2") },
            Transition::Assign { agent: agent("a2") },
            Transition::Offer { agent: agent("a2"), expires_at: Timestamp::from_millis(70_000) },
            Transition::Accept,
            Transition::RejectOffer,
            Transition::ExpireOffer,
            Transition::Hold,
            Transition::Resume,
            Transition::ReturnToQueue,
            Transition::TransferToAgent { agent: agent("a2") },
            Transition::TransferToDepartment { department: DepartmentId::new("d2").unwrap() },
            Transition::Close,
        ]
    }

    /// The full table: every (status, transition) pair, with the expected resulting status or
    /// error. A change to the machine has to change this table.
    #[test]
    fn every_status_and_transition_pair() {
        use InquiryStatus::*;
        use TransitionKind as K;
        let expected = |status: InquiryStatus, kind: TransitionKind| -> Result<InquiryStatus, &'static str> {
            match (status, kind) {
                (Queued, K::Release) => Ok(Open),
                (Open, K::Take) | (Queued | Open, K::Assign) | (Offered, K::Accept) => Ok(Taken),
                // a2 takes an inquiry offered to a1.
                (Offered, K::Take) => Err("offered"),
                (Taken, K::Take | K::Assign) => Err("taken"),
                (Queued | Open, K::Offer) => Ok(Offered),
                (Offered, K::RejectOffer | K::ExpireOffer) => Ok(Queued),
                (Taken, K::Hold | K::TransferToAgent) => Ok(Taken),
                (Taken, K::Resume) => Err("not on hold"),
                (Taken, K::ReturnToQueue) | (Queued | Open | Offered | Taken, K::TransferToDepartment) => Ok(Queued),
                (Queued | Open | Offered | Taken, K::Close) => Ok(Closed),
                _ => Err("illegal"),
            }
        };
        let now = Timestamp::from_millis(9_000);
        let mut pairs = 0;
        for status in InquiryStatus::ALL {
            for transition in all_transitions() {
                pairs += 1;
                let before = inquiry(status);
                let result = apply(&before, &transition, now);
                match (expected(status, transition.kind()), result) {
                    (Ok(want), Ok(after)) => {
                        assert_eq!(after.status, want, "{status:?} + {transition:?}");
                        assert_eq!(after.updated_at, now);
                        assert_eq!(after.queued_at, before.queued_at, "queuedAt is never reset");
                        // servedBy is set exactly while taken, and kept on close as history; an
                        // offer exactly while offered; a hold only while taken.
                        let keeps_agent = want == Taken || (want == Closed && before.served_by.is_some());
                        assert_eq!(after.served_by.is_some(), keeps_agent, "{status:?} + {transition:?}");
                        assert_eq!(after.offer.is_some(), want == Offered, "{status:?} + {transition:?}");
                        assert!(after.on_hold_since.is_none() || want == Taken, "{status:?} + {transition:?}");
                    }
                    (Err("taken"), Err(CoreError::InquiryAlreadyTaken)) => {}
                    (Err("offered"), Err(CoreError::OfferedToAnotherAgent)) => {}
                    (Err("not on hold"), Err(CoreError::NotOnHold)) => {}
                    (Err("illegal"), Err(CoreError::IllegalTransition { from, transition: kind })) => {
                        assert_eq!((from, kind), (status, transition.kind()));
                    }
                    (want, got) => panic!("{status:?} + {transition:?}: expected {want:?}, got {got:?}"),
                }
            }
        }
        assert_eq!(pairs, 65);
    }

    #[test]
    fn the_offered_agent_accepts_by_taking_and_serves_from_then_on() {
        let now = Timestamp::from_millis(2_000);
        let offered = inquiry(InquiryStatus::Offered);
        let taken = apply(&offered, &Transition::Take { agent: agent("a1") }, now).unwrap();
        assert_eq!(
            (taken.status, taken.served_by_id().unwrap().as_str(), taken.offer.as_ref()),
            (InquiryStatus::Taken, "a1", None)
        );
        let accepted = apply(&offered, &Transition::Accept, now).unwrap();
        assert_eq!((accepted.served_by.unwrap().ts, accepted.taken_at), (now, Some(now)));
        let back = apply(&offered, &Transition::ExpireOffer, now).unwrap();
        assert_eq!(
            (back.status, back.offer.is_none(), back.age_key()),
            (InquiryStatus::Queued, true, offered.age_key())
        );
    }

    #[test]
    fn hold_and_resume_keep_the_agent_and_refuse_to_repeat() {
        let now = Timestamp::from_millis(2_000);
        let held = apply(&inquiry(InquiryStatus::Taken), &Transition::Hold, now).unwrap();
        assert_eq!(
            (held.status, held.on_hold_since, held.served_by_id().unwrap().as_str()),
            (InquiryStatus::Taken, Some(now), "a1")
        );
        assert!(matches!(apply(&held, &Transition::Hold, now), Err(CoreError::AlreadyOnHold)));
        let resumed = apply(&held, &Transition::Resume, now).unwrap();
        assert_eq!(resumed.on_hold_since, None);
        // Leaving the agent ends the hold.
        let moved = apply(&held, &Transition::TransferToAgent { agent: agent("a2") }, now).unwrap();
        assert_eq!(moved.on_hold_since, None);
    }

    #[test]
    fn take_records_the_agent_and_time_and_return_clears_them() {
        let now = Timestamp::from_millis(2_000);
        let taken = apply(&inquiry(InquiryStatus::Open), &Transition::Take { agent: agent("a9") }, now).unwrap();
        assert_eq!(taken.served_by_id().unwrap().as_str(), "a9");
        assert_eq!(taken.taken_at, Some(now));
        let back = apply(&taken, &Transition::ReturnToQueue, now).unwrap();
        assert_eq!((&back.served_by, back.taken_at), (&None, None));
        assert_eq!(back.age_key(), Timestamp::from_millis(1_000));
    }

    #[test]
    fn transfer_to_the_serving_agent_is_rejected() {
        let taken = inquiry(InquiryStatus::Taken);
        let err = apply(&taken, &Transition::TransferToAgent { agent: agent("a1") }, Timestamp::EPOCH).unwrap_err();
        assert!(matches!(err, CoreError::InvalidInput { .. }));
    }

    #[test]
    fn transfer_to_department_requeues_in_that_department() {
        let department = DepartmentId::new("d2").unwrap();
        let moved = apply(
            &inquiry(InquiryStatus::Taken),
            &Transition::TransferToDepartment { department: department.clone() },
            Timestamp::EPOCH,
        )
        .unwrap();
        assert_eq!(moved.department, Some(department));
        assert_eq!(moved.served_by, None);
    }
}

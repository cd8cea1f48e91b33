//! The engine's whole life cycle on the store.

use lobby_core::{Actor, CoreError, EventKind, InquiryStatus, Store, TransferTarget, UserId};

use super::MakeStore;
use crate::fixtures::{add_agents, engine, open_inquiries};

/// The engine's whole life cycle on this store: enqueue, release, take, return, transfer,
/// close, with agent loads and the event history consistent at every step.
pub fn engine_lifecycle_keeps_loads_consistent<S: Store>(make: MakeStore<S>) {
    let engine = engine(make());
    let agents = add_agents(&engine, 2, 0);
    let (a, b) = (Actor::User(agents[0].clone()), &agents[1]);
    let id = open_inquiries(&engine, 1).remove(0);
    let load = |agent: &UserId| engine.agent(agent).unwrap().unwrap().active_chats;

    let taken = engine.take(&a, &id, None).unwrap();
    assert_eq!((taken.status, taken.served_by_id()), (InquiryStatus::Taken, Some(&agents[0])));
    assert_eq!(engine.take(&a, &id, None), Err(CoreError::InquiryAlreadyTaken));
    assert_eq!(load(&agents[0]), 1);

    let back = engine.return_to_queue(&a, &taken.rid).unwrap();
    assert_eq!((back.status, back.queued_at), (InquiryStatus::Queued, taken.queued_at));
    assert_eq!(load(&agents[0]), 0);

    engine.release(&Actor::System, &id).unwrap();
    engine.take(&Actor::System, &id, Some(&agents[0])).unwrap();
    let moved = engine.transfer(&Actor::System, &taken.rid, &TransferTarget::Agent(b.clone()), "shift change").unwrap();
    assert_eq!(moved.served_by_id(), Some(b));
    assert_eq!((load(&agents[0]), load(b)), (0, 1));

    let closed = engine.close(&Actor::User(b.clone()), &taken.rid, "solved").unwrap();
    assert_eq!(closed.status, InquiryStatus::Closed);
    assert_eq!(load(b), 0);
    assert!(matches!(engine.close(&Actor::System, &taken.rid, ""), Err(CoreError::IllegalTransition { .. })));

    let history = engine.history(&Actor::System, &id).unwrap();
    let kinds: Vec<String> = history
        .iter()
        .map(|e| match &e.event.kind {
            EventKind::Enqueued { .. } => "enqueued".to_owned(),
            EventKind::Transition { transition, .. } => transition.phrase().to_owned(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        ["enqueued", "release", "take", "return to queue", "release", "take", "transfer to an agent", "close"]
    );
    assert!(history.windows(2).all(|w| w[0].seq < w[1].seq));
}

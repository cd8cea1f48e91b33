//! The live feed of committed events.

use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use parking_lot::Mutex;

use crate::event::Event;

/// A live feed of committed events. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    receiver: Receiver<Event>,
}

impl Subscription {
    /// A subscription fed through `receiver`, for stores that deliver events their own way.
    pub fn new(receiver: Receiver<Event>) -> Self {
        Self { receiver }
    }

    /// The next event, waiting at most `timeout`; `None` on time-out or when the store is gone.
    pub fn next_timeout(&self, timeout: Duration) -> Option<Event> {
        self.receiver.recv_timeout(timeout).ok()
    }

    /// Events already delivered, without waiting.
    pub fn drain(&self) -> Vec<Event> {
        self.receiver.try_iter().collect()
    }
}

/// Fans committed events out to subscribers; a building block for store implementations.
#[derive(Debug, Default)]
pub struct FeedHub {
    subscribers: Mutex<Vec<Sender<Event>>>,
}

impl FeedHub {
    /// A new subscription: every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        let (sender, receiver) = mpsc::channel();
        self.subscribers.lock().push(sender);
        Subscription { receiver }
    }

    /// Call in commit order (under the store's commit lock) so feeds see sequence order.
    pub fn publish(&self, events: &[Event]) {
        if events.is_empty() {
            return;
        }
        let mut subscribers = self.subscribers.lock();
        subscribers.retain(|subscriber| events.iter().all(|event| subscriber.send(event.clone()).is_ok()));
    }
}

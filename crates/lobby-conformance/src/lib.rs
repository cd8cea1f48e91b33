//! # lobby-conformance
//!
//! The tests every Lobby [`Store`](lobby_core::Store) must pass. A store crate runs them all
//! with one line in a test file:
//!
//! ```ignore
//! lobby_conformance::store_conformance_tests!(my_store::MyStore::temporary().unwrap());
//! ```
//!
//! The expression is evaluated once per case and must give a fresh, empty store. The macro
//! emits one `#[test]` per case, named after the functions in [`cases`], so a failure names the
//! broken promise. The cases cover reads, unique keys, versioned all-or-nothing commits, listing
//! order, filters, pagination and totals against [`InquiryQuery::reference_page`], the event log
//! and feed, and races: concurrent takes, capacity limits and concurrent dispatch, run through
//! the real [`Engine`](lobby_core::Engine) so that a store passes only if the engine's
//! guarantees hold on it.
//!
//! [`InquiryQuery::reference_page`]: lobby_core::InquiryQuery::reference_page

pub mod cases;
pub mod fixtures;

/// Emits one `#[test]` per conformance case.
///
/// - `store_conformance_tests!(make)`: `make` is an expression giving a fresh, empty store.
/// - `store_conformance_tests!(setup: setup, make: |context| make)`: for stores that need
///   something that may be missing (a database server): `setup` gives `Option<context>` per
///   case; `None` skips the case (say why on stderr in `setup`), and `make` builds each store
///   from the context.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(setup: Some(()), make: |_ready| $make);
    };
    (setup: $setup:expr, make: |$context:ident| $make:expr) => {
        $crate::__store_conformance_cases!(($setup) ($context) ($make);
            reads_return_what_was_committed,
            versions_increase_and_stale_writes_conflict,
            failed_commit_changes_nothing,
            unique_keys_are_enforced_and_released,
            malformed_commits_are_rejected,
            deleted_records_leave_reads_and_listings,
            listing_matches_the_reference,
            listing_follows_updates,
            count_before_matches_the_reference,
            events_are_numbered_and_queryable,
            subscribers_see_every_commit_in_order,
            engine_lifecycle_keeps_loads_consistent,
            concurrent_takes_take_each_inquiry_once,
            racing_takes_never_exceed_capacity,
            concurrent_dispatch_assigns_once_within_capacity,
            concurrent_room_opening_opens_one_room,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    (($setup:expr) ($context:ident) ($make:expr); $($case:ident),* $(,)?) => {
        mod store_conformance {
            #![allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    let Some($context) = $setup else { return };
                    $crate::cases::$case(&|| $make);
                }
            )*
        }
    };
}

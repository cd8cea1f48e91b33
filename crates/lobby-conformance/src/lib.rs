//! # lobby-conformance
//!
//! The tests every Lobby [`Store`] must pass. A store crate runs them all
//! with one line in a test file:
//!
//! ```ignore
//! lobby_conformance::store_conformance_tests!(my_store::MyStore::temporary().unwrap());
//! ```
//!
//! The expression is evaluated once per case and must give a fresh, empty store. The macro
//! emits one `#[test]` per case, named after the functions in [`cases`], so a failure names the
//! broken promise. The cases cover reads, unique keys, versions (including delete and
//! re-create), all-or-nothing commits, listing order, filters, pagination and totals against
//! [`InquiryQuery::reference_page`], the event log and its numbering, feeds (subscribing before,
//! after and while others commit), and races run through the real
//! [`Engine`](lobby_core::Engine) — concurrent takes, capacity, dispatch, room opening — each
//! repeated over many rounds so that a check-then-act bug is caught on every run.
//!
//! The suite tests itself: [`reference::ReferenceStore`] is a small, correct store, and each
//! [`reference::Bug`] plants one realistic bug in it. This crate's own tests run the suite
//! against the clean store (it must pass) and against every mutant (each must fail). The case
//! list behind the macro is generated from `src/cases/*.rs` at build time, so it cannot drift.
//!
//! [`InquiryQuery::reference_page`]: lobby_core::InquiryQuery::reference_page
#![warn(missing_docs)]

pub mod cases;
pub mod fixtures;
pub mod reference;

use lobby_core::Store;

use crate::cases::MakeStore;

include!(concat!(env!("OUT_DIR"), "/cases.rs"));

/// One case of the suite.
pub struct Case<S> {
    /// `module::function`, as the test is named.
    pub name: &'static str,
    /// Runs it on stores from the maker; panics on failure.
    pub run: fn(MakeStore<S>),
}

/// Every case, in the order the test macro emits them: for running the suite from code (the
/// mutant tests do).
pub fn all_cases<S: Store + 'static>() -> Vec<Case<S>> {
    __for_each_case!(__collect_cases; S)
}

#[doc(hidden)]
#[macro_export]
macro_rules! __collect_cases {
    ($store:ident; $($module:ident :: $case:ident),* $(,)?) => {
        vec![$($crate::Case {
            name: concat!(stringify!($module), "::", stringify!($case)),
            run: $crate::cases::$module::$case::<$store>,
        }),*]
    };
}

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
        $crate::__for_each_case!(__store_conformance_cases; ($setup) ($context) ($make));
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_conformance_cases {
    (($setup:expr) ($context:ident) ($make:expr); $($module:ident :: $case:ident),* $(,)?) => {
        mod store_conformance {
            #![allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $case() {
                    let Some($context) = $setup else { return };
                    $crate::cases::$module::$case(&|| $make);
                }
            )*
        }
    };
}

//! The suite tests itself: it must pass on the clean reference store and reject the reference
//! store with each planted bug ([`Bug::ALL`]), on every run. A mutant that survives is a hole in
//! the suite, and this test fails naming it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;
use std::time::Instant;

use lobby_conformance::all_cases;
use lobby_conformance::reference::{Bug, ReferenceStore};

/// Failing cases panic on purpose here; keep their messages out of the test output (the
/// results below say which case caught what).
fn quiet_panics() {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {})));
}

fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

#[test]
fn the_clean_reference_store_passes_every_case() {
    quiet_panics();
    let mut failures = Vec::new();
    for case in all_cases::<ReferenceStore>() {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| (case.run)(&ReferenceStore::new))) {
            failures.push(format!("{}: {}", case.name, message(panic)));
        }
    }
    assert!(failures.is_empty(), "the reference store fails:\n{}", failures.join("\n"));
}

#[test]
fn the_suite_rejects_every_mutant() {
    quiet_panics();
    let mut survivors = Vec::new();
    for &bug in Bug::ALL {
        let started = Instant::now();
        let make = || ReferenceStore::with_bug(bug);
        let caught = all_cases::<ReferenceStore>().into_iter().find_map(|case| {
            catch_unwind(AssertUnwindSafe(|| (case.run)(&make))).err().map(|p| (case.name, message(p)))
        });
        match caught {
            Some((case, why)) => {
                let why = why.lines().next().unwrap_or_default().chars().take(160).collect::<String>();
                eprintln!("{bug:?}: caught by {case} in {:.2?}: {why}", started.elapsed());
            }
            None => survivors.push(bug),
        }
    }
    assert!(survivors.is_empty(), "mutants the suite did not catch: {survivors:?}");
}

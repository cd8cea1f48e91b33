//! `Expression::matches` runs once per (agent, inquiry) pair while routing, so it must not
//! allocate. allocation-counter replaces the global allocator in this test binary only and
//! counts the allocations of the calling thread, so tests running alongside do not interfere.

use lobby_expr::Expression;
use serde_json::{json, Value};

const SOURCES: [&str; 16] = [
    "skills HAS task.topic AND level >= 3",
    "region IN ['EU', 'UK'] OR region NOT IN task.regions",
    "worker.languages.spanish.level > task.customer.minimum",
    "name CONTAINS 'Mart' AND skills CONTAINS task.language",
    "NOT (vip == true OR task.vip != false) AND rating <= 4.5",
    "languages == task.languages OR skills == ['billing', 'es']",
    "level < 2.5 OR level > 18446744073709551615 OR -3 >= level",
    "region < 'FR' AND region >= 'E' AND name != 'Bob'",
    "team == 'a' OR team != 'a' OR team NOT IN ['a'] OR level.value == 1",
    "[1, [2, 'x'], null] HAS [2, 'x'] AND 1 == 1.0",
    "task.tags HAS 'refund' AND 'card' IN task.tags",
    "manager == null AND missing.deeply.nested.key == null",
    "((((level >= 1)))) AND NOT NOT NOT level < 0",
    "task.customer == worker.customer",
    "1 == 1",
    "\"\\u00e9t\\u00e9\" IN task.seasons",
];

fn workers() -> [Value; 4] {
    [
        json!({
            "skills": ["billing", "es"], "level": 4, "rating": 4.5, "region": "EU", "name": "Alice Martin",
            "vip": false, "manager": null, "languages": {"spanish": {"level": 3}}, "customer": {"tier": "gold"}
        }),
        json!({"skills": [], "level": 1.5, "region": "US", "name": "Bob", "languages": {"spanish": {"level": 9}}}),
        json!({}),
        json!("not an object"),
    ]
}

fn tasks() -> [Value; 3] {
    [
        json!({
            "topic": "billing", "language": "es", "vip": true, "regions": ["EU"], "tags": ["refund", "card"],
            "customer": {"tier": "gold", "minimum": 2}, "languages": {"spanish": {"level": 3}}, "seasons": ["été"]
        }),
        json!({"topic": "sales", "vip": false, "customer": {"minimum": 5}, "regions": "EU"}),
        Value::Null,
    ]
}

#[test]
fn matching_allocates_nothing() {
    let expressions: Vec<Expression> = SOURCES.iter().map(|source| Expression::parse(source).unwrap()).collect();
    let (workers, tasks) = (workers(), tasks());

    let mut matched = 0;
    let mut evaluated = 0;
    let counted = allocation_counter::measure(|| {
        for expression in &expressions {
            for worker in &workers {
                for task in &tasks {
                    matched += usize::from(expression.matches(worker, task));
                    evaluated += 1;
                }
            }
        }
    });

    assert_eq!(counted.count_total, 0, "{counted:?}");
    // Both outcomes were reached, so neither short-circuit hid the comparisons.
    assert!(0 < matched && matched < evaluated, "{matched} of {evaluated}");
}

#[test]
fn the_counter_sees_allocations_on_this_thread() {
    let expression = Expression::parse("level >= 3").unwrap();
    let counted = allocation_counter::measure(|| {
        std::hint::black_box(expression.explain(&json!({"level": 2}), &json!({})));
    });
    assert!(counted.count_total > 0);
}

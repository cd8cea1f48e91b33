//! What a routing rule means: each operator, literal kind, path form and precedence rule, on
//! small worker and task attribute objects.

use lobby_expr::Expression;
use serde_json::{json, Value};

fn worker() -> Value {
    json!({
        "skills": ["billing", "es"],
        "level": 4,
        "rating": 4.5,
        "region": "EU",
        "name": "Alice Martin",
        "vip": false,
        "manager": null,
        "languages": {"spanish": {"level": 3}, "english": {"level": 5}},
        "shift-code": "A7",
        "big": 18446744073709551615u64,
        "task": "not the task scope"
    })
}

fn task() -> Value {
    json!({
        "language": "es",
        "topic": "billing",
        "vip": true,
        "priority": 2,
        "regions": ["EU", "UK"],
        "tags": ["refund", "card"],
        "level": 4,
        "customer": {"tier": "gold"}
    })
}

/// Panics with the parse error, naming the source, so that a typo in a table is obvious.
fn matches(source: &str) -> bool {
    let expression = Expression::parse(source).unwrap_or_else(|error| panic!("{source:?}: {error}"));
    expression.matches(&worker(), &task())
}

fn check_table(cases: &[(&str, bool)]) {
    let wrong: Vec<String> = cases
        .iter()
        .filter(|(source, expected)| matches(source) != *expected)
        .map(|(source, expected)| format!("{source:?} should be {expected}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn equality_compares_values_of_the_same_type() {
    check_table(&[
        ("region == 'EU'", true),
        ("region == 'UK'", false),
        ("region == 'eu'", false),
        ("level == 4", true),
        ("level == 4.0", true),
        ("rating == 4.5", true),
        ("level == '4'", false),
        ("vip == false", true),
        ("vip == true", false),
        ("manager == null", true),
        ("skills == ['billing', 'es']", true),
        ("skills == ['es', 'billing']", false),
        ("languages.spanish == worker.languages.spanish", true),
        ("languages.spanish == languages.english", false),
        ("big == 18446744073709551615", true),
        ("big == -1", false),
    ]);
}

#[test]
fn inequality_is_false_on_a_type_mismatch() {
    check_table(&[
        ("region != 'UK'", true),
        ("region != 'EU'", false),
        ("level != 3", true),
        ("level != 4.0", false),
        ("level != '3'", false),
        ("vip != true", true),
        ("manager != null", false),
        ("manager != 0", false),
        ("skills != ['billing']", true),
    ]);
}

#[test]
fn ordering_compares_numbers_by_value_and_strings_by_bytes() {
    check_table(&[
        ("level >= 3", true),
        ("level >= 4", true),
        ("level >= 4.5", false),
        ("level > 3.99", true),
        ("level > 4", false),
        ("level < 5", true),
        ("level <= 4", true),
        ("level <= 3", false),
        ("rating > 4", true),
        ("rating < -1", false),
        ("-2 < 1", true),
        ("big > 9223372036854775807", true),
        ("big > 1.5e3", true),
        ("region < 'FR'", true),
        ("region <= 'EU'", true),
        ("region > 'E'", true),
        // Byte order: every upper-case letter sorts before every lower-case one.
        ("region < 'a'", true),
        ("'Z' < 'a'", true),
        ("'é' > 'z'", true),
        // Type mismatches are false whichever way round.
        ("level < '5'", false),
        ("level > '3'", false),
        ("region < 5", false),
        ("vip < true", false),
        ("skills > 1", false),
        ("manager <= null", false),
    ]);
}

#[test]
fn has_looks_for_the_right_value_in_the_left_array() {
    check_table(&[
        ("skills HAS 'billing'", true),
        ("skills HAS 'sales'", false),
        ("skills HAS task.topic", true),
        ("skills HAS task.language", true),
        ("task.tags HAS 'card'", true),
        ("region HAS 'E'", false),
        ("level HAS 4", false),
        ("[1, 2, 3] HAS 2.0", true),
    ]);
}

#[test]
fn in_and_not_in_look_for_the_left_value_in_the_right_array() {
    check_table(&[
        ("region IN ['EU', 'UK']", true),
        ("region IN ['US']", false),
        ("region IN []", false),
        ("region IN task.regions", true),
        ("task.language IN skills", true),
        ("level IN [1, 4.0]", true),
        ("region IN 'EU'", false),
        ("region NOT IN ['US', 'CA']", true),
        ("region NOT IN ['EU']", false),
        ("region NOT IN []", true),
        ("region NOT IN 'US'", false),
        ("['es'] IN [['es'], ['en']]", true),
    ]);
}

#[test]
fn contains_is_a_substring_or_an_array_element() {
    check_table(&[
        ("name CONTAINS 'Mart'", true),
        ("name CONTAINS 'mart'", false),
        ("name CONTAINS ''", true),
        ("skills CONTAINS 'es'", true),
        ("skills CONTAINS 'e'", false),
        ("level CONTAINS 4", false),
        ("name CONTAINS 4", false),
    ]);
}

#[test]
fn a_missing_attribute_makes_every_comparison_false() {
    check_table(&[
        ("team == 'a'", false),
        ("team != 'a'", false),
        ("team == null", false),
        ("team != null", false),
        ("team < 1", false),
        ("team >= 1", false),
        ("team HAS 'a'", false),
        ("team IN ['a']", false),
        ("team NOT IN ['a']", false),
        ("team CONTAINS 'a'", false),
        ("'a' IN team", false),
        ("'a' NOT IN team", false),
        ("task.missing == task.missing", false),
        ("languages.french.level >= 1", false),
        // A key under a scalar is missing too.
        ("level.value == 4", false),
        // Negating a false comparison is how a rule matches workers without the attribute.
        ("NOT team == 'a'", true),
    ]);
}

#[test]
fn literals_of_every_kind() {
    check_table(&[
        ("'single' == \"single\"", true),
        (r#""say \"hi\"" == 'say "hi"'"#, true),
        (r#"'it\'s' == "it's""#, true),
        (r#"'a\\b\/c' == "a\\b/c""#, true),
        (r#""tab\there" CONTAINS "\t""#, true),
        (r#""\u00e9" == "é""#, true),
        (r#""\ud83d\ude00" == "😀""#, true),
        (r#""line\nbreak\r\b\f" CONTAINS "\n""#, true),
        ("1 == 1", true),
        ("1 == 2", false),
        ("-3 < -2", true),
        ("-0 == 0", true),
        ("0.5 == 0.50", true),
        ("-1.25 < -1", true),
        ("1e3 == 1000", true),
        ("2.5E-1 == 0.25", true),
        ("007 == 7", true),
        ("true == true", true),
        ("false != true", true),
        ("null == null", true),
        ("[] == []", true),
        ("[1, 'a', true, null, [2]] == [1.0, 'a', true, null, [2]]", true),
    ]);
}

#[test]
fn paths_read_the_worker_unless_prefixed_with_task() {
    check_table(&[
        ("level == 4", true),
        ("worker.level == 4", true),
        ("task.level == 4", true),
        ("task.priority == 2", true),
        ("priority == 2", false),
        ("worker.languages.spanish.level == 3", true),
        ("languages.english.level > languages.spanish.level", true),
        ("task.customer.tier == 'gold'", true),
        ("shift-code == 'A7'", true),
        // A bare `task` is the worker's attribute named "task".
        ("task == 'not the task scope'", true),
        ("worker.task == 'not the task scope'", true),
        // Both sides from the task, both from the worker, or one of each.
        ("task.level == task.priority", false),
        ("task.topic IN task.tags", false),
        ("task.language IN worker.skills", true),
        ("level == task.level", true),
        ("task.level == level", true),
    ]);
}

#[test]
fn keywords_are_case_insensitive_but_paths_and_strings_are_not() {
    check_table(&[
        ("skills has 'es' and level >= 3", true),
        ("skills Has 'es' AnD NoT region nOt In ['EU'] oR false == TRUE", true),
        ("region in ['EU'] and vip == FALSE and manager == Null", true),
        ("name contains 'Alice'", true),
        ("Region == 'EU'", false),
        ("TASK.topic == 'billing'", false),
    ]);
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    // Each case reads differently under the other grouping; the comment gives the intended one.
    check_table(&[
        // (1 == 1) OR ((1 == 2) AND (1 == 2))
        ("1 == 1 OR 1 == 2 AND 1 == 2", true),
        // ((1 == 2) AND (1 == 2)) OR (1 == 1)
        ("1 == 2 AND 1 == 2 OR 1 == 1", true),
        ("(1 == 1 OR 1 == 2) AND 1 == 2", false),
        // (NOT (1 == 1)) AND (1 == 2), not NOT ((1 == 1) AND (1 == 2))
        ("NOT 1 == 1 AND 1 == 2", false),
        ("NOT (1 == 1 AND 1 == 2)", true),
        // (NOT (1 == 2)) OR (1 == 2)
        ("NOT 1 == 2 OR 1 == 2", true),
        ("NOT (1 == 2 OR 1 == 1)", false),
        ("NOT NOT 1 == 1", true),
        ("NOT NOT NOT 1 == 1", false),
        ("((((1 == 1))))", true),
        ("1 == 1 AND (1 == 2 OR (2 == 2 AND NOT 3 == 4))", true),
    ]);
}

#[test]
fn the_issue_examples_behave_as_described() {
    let rule = Expression::parse("skills HAS task.topic AND level >= 3").unwrap();
    let task = json!({"language": "es", "topic": "billing", "vip": true});
    assert!(rule.matches(&json!({"skills": ["billing", "es"], "level": 4, "region": "EU"}), &task));
    assert!(!rule.matches(&json!({"skills": ["billing"], "level": 2}), &task));
    assert!(!rule.matches(&json!({"skills": ["es"], "level": 5}), &task));

    let regional = Expression::parse(r#"region IN ["EU", "UK"]"#).unwrap();
    assert!(regional.matches(&json!({"region": "UK"}), &task));
    assert!(!regional.matches(&json!({"region": "US"}), &task));
    assert!(!regional.matches(&json!({}), &task));

    let everyone = Expression::parse("1 == 1").unwrap();
    assert!(everyone.matches(&json!({}), &json!({})));
    assert!(everyone.matches(&Value::Null, &json!([1, 2])));
}

#[test]
fn attributes_that_are_not_objects_have_no_keys() {
    let rule = Expression::parse("level >= 1 OR task.topic == 'x'").unwrap();
    for attributes in [Value::Null, json!(3), json!("level"), json!([{"level": 3}])] {
        assert!(!rule.matches(&attributes, &attributes), "{attributes}");
    }
}

#[test]
fn source_display_and_serde_keep_the_text_as_written() {
    let text = "skills  HAS task.topic and level>=3";
    let expression: Expression = text.parse().unwrap();
    assert_eq!(expression.source(), text);
    assert_eq!(expression.to_string(), text);
    assert_eq!(format!("{expression:?}"), format!("Expression({text:?})"));

    let stored = serde_json::to_value(&expression).unwrap();
    assert_eq!(stored, Value::String(text.to_owned()));
    let loaded: Expression = serde_json::from_value(stored).unwrap();
    assert_eq!(loaded, expression);
    assert!(loaded.matches(&json!({"skills": ["a"], "level": 3}), &json!({"topic": "a"})));

    let broken = serde_json::from_value::<Expression>(json!("level >=")).unwrap_err();
    assert_eq!(broken.to_string(), "unexpected end of expression at 8");
    assert!(serde_json::from_value::<Expression>(json!(3)).is_err());
}

#[test]
fn expressions_are_equal_when_their_sources_are() {
    let a = Expression::parse("level == 1").unwrap();
    assert_eq!(a, Expression::parse("level == 1").unwrap());
    assert_ne!(a, Expression::parse("level==1").unwrap());
    let set: std::collections::HashSet<Expression> = [a.clone(), a.clone()].into_iter().collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn an_expression_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<Expression>();
    shareable::<lobby_expr::Explanation>();
    shareable::<lobby_expr::ParseError>();
}

//! Explanations: which comparisons decided a match, with the values they saw, as an admin
//! reads them when asking why an agent was or was not offered an inquiry.

use lobby_expr::{Explanation, Expression, Observed, Term};
use serde_json::{json, Value};

fn explain(source: &str, worker: Value, task: Value) -> Explanation {
    let expression = Expression::parse(source).unwrap();
    let explanation = expression.explain(&worker, &task);
    assert_eq!(explanation.matched, expression.matches(&worker, &task), "{source}");
    explanation
}

fn billing_task() -> Value {
    json!({"language": "es", "topic": "billing", "vip": true})
}

#[test]
fn an_and_names_its_first_false_comparison_with_the_values_it_read() {
    let rule = "skills HAS task.topic AND level >= 3";
    let too_junior = explain(rule, json!({"skills": ["billing"], "level": 2}), billing_task());
    assert_eq!(too_junior.to_string(), "expression false: `level >= 3` (level = 2)");

    let wrong_skill = explain(rule, json!({"skills": ["es"], "level": 2}), billing_task());
    assert_eq!(
        wrong_skill.to_string(),
        r#"expression false: `skills HAS task.topic` (skills = ["es"], task.topic = "billing")"#
    );
    assert_eq!(
        wrong_skill,
        Explanation {
            matched: false,
            terms: vec![Term {
                source: "skills HAS task.topic".to_owned(),
                value: false,
                observed: vec![
                    Observed { attribute: "skills".to_owned(), value: Some(json!(["es"])) },
                    Observed { attribute: "task.topic".to_owned(), value: Some(json!("billing")) },
                ],
            }],
        }
    );
}

#[test]
fn a_missing_attribute_is_called_missing() {
    let explanation = explain(r#"region IN ["EU","UK"]"#, json!({"level": 3}), billing_task());
    assert_eq!(explanation.to_string(), r#"expression false: `region IN ["EU","UK"]` (region missing)"#);
    assert_eq!(explanation.terms[0].observed, vec![Observed { attribute: "region".to_owned(), value: None }]);
}

#[test]
fn a_false_or_names_every_operand() {
    let explanation = explain(
        "region == 'EU' OR (level > 3 AND worker.languages.spanish >= 2)",
        json!({"level": 1, "languages": {"spanish": 4}}),
        billing_task(),
    );
    assert_eq!(explanation.to_string(), "expression false: `region == 'EU'` (region missing); `level > 3` (level = 1)");
}

#[test]
fn a_term_under_not_shows_the_value_that_was_negated() {
    let explanation = explain("NOT task.vip == true", json!({}), billing_task());
    assert_eq!(explanation.to_string(), "expression false: `task.vip == true` is true (task.vip = true)");
    assert!(explanation.terms[0].value);

    // NOT (a AND b) is false when both are true: both are named.
    let both = explain("NOT (level >= 3 AND region == 'EU')", json!({"level": 3, "region": "EU"}), json!({}));
    assert_eq!(
        both.to_string(),
        r#"expression false: `level >= 3` is true (level = 3); `region == 'EU'` is true (region = "EU")"#
    );

    // NOT (a OR b) is false as soon as one is true: the first true one is named.
    let first = explain("NOT (level >= 3 OR region == 'EU')", json!({"level": 1, "region": "EU"}), json!({}));
    assert_eq!(first.to_string(), r#"expression false: `region == 'EU'` is true (region = "EU")"#);
}

#[test]
fn a_match_is_explained_the_same_way() {
    let worker = json!({"skills": ["billing", "es"], "level": 4, "region": "EU"});
    let all = explain("skills HAS task.topic AND level >= 3", worker.clone(), billing_task());
    assert_eq!(
        all.to_string(),
        r#"expression true: `skills HAS task.topic` (skills = ["billing","es"], task.topic = "billing"); `level >= 3` (level = 4)"#
    );
    let first = explain("level > 9 OR region IN ['EU'] OR level > 1", worker, billing_task());
    assert_eq!(first.to_string(), r#"expression true: `region IN ['EU']` (region = "EU")"#);
}

#[test]
fn literals_are_not_listed_and_an_attribute_read_twice_is_listed_once() {
    assert_eq!(explain("1 == 2", json!({}), json!({})).to_string(), "expression false: `1 == 2`");
    assert_eq!(explain("1 == 1", json!({}), json!({})).to_string(), "expression true: `1 == 1`");
    assert_eq!(
        explain("level  <  level", json!({"level": 2}), json!({})).to_string(),
        "expression false: `level  <  level` (level = 2)"
    );
}

#[test]
fn a_large_value_is_cut_short_in_the_line_but_kept_whole_in_the_terms() {
    let skills: Vec<String> = (0..40).map(|index| format!("skill-{index}")).collect();
    let explanation = explain("skills HAS 'billing'", json!({ "skills": skills }), json!({}));
    let line = explanation.to_string();
    assert!(line.starts_with(r#"expression false: `skills HAS 'billing'` (skills = ["skill-0","skill-1","#), "{line}");
    assert!(line.ends_with("…)"), "{line}");
    assert!(line.chars().count() < 140, "{line}");
    assert_eq!(explanation.terms[0].observed[0].value, Some(json!(skills)));
}

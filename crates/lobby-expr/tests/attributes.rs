//! Attribute validation: each limit, at and just past it, and the path the error names.

use lobby_expr::{validate_attributes, AttributeError, AttributeLimits};
use serde_json::{json, Map, Value};

fn validate(attributes: &Value) -> Result<(), AttributeError> {
    validate_attributes(attributes, &AttributeLimits::default())
}

/// `{"a": {"a": … {"a": leaf}}}` with `levels` objects in all.
fn nested_objects(levels: usize, leaf: Value) -> Value {
    (0..levels).fold(leaf, |inner, _| json!({ "a": inner }))
}

#[test]
fn the_defaults_are_the_documented_ones() {
    let limits = AttributeLimits::default();
    assert_eq!(
        limits,
        AttributeLimits { max_depth: 8, max_bytes: 16 * 1024, max_keys: 256, max_array_len: 1024, max_key_len: 128 }
    );
}

#[test]
fn a_realistic_profile_is_accepted() {
    let worker = json!({
        "skills": ["billing", "es"],
        "level": 4,
        "region": "EU",
        "languages": {"spanish": {"level": 3}, "english": {"level": 5}},
        "on call": null,
        "teams": [{"name": "tier-2", "since": "2024-01-01"}]
    });
    assert_eq!(validate(&worker), Ok(()));
    assert_eq!(validate(&json!({})), Ok(()));
}

#[test]
fn attributes_must_be_an_object() {
    let cases = [
        (json!(null), "null"),
        (json!(true), "boolean"),
        (json!(1.5), "number"),
        (json!("skills"), "string"),
        (json!(["billing"]), "array"),
    ];
    for (attributes, found) in cases {
        assert_eq!(validate(&attributes), Err(AttributeError::NotAnObject { found }));
    }
    assert_eq!(validate(&json!([])).unwrap_err().to_string(), "attributes must be a JSON object, not array");
}

#[test]
fn depth_counts_objects_and_arrays_from_the_attribute_object_at_level_one() {
    assert_eq!(validate(&nested_objects(8, json!("deep"))), Ok(()));
    assert_eq!(validate(&nested_objects(7, json!([]))), Ok(()));
    let error = validate(&nested_objects(9, json!(1))).unwrap_err();
    assert_eq!(error.to_string(), "attributes.a.a.a.a.a.a.a.a is nested deeper than 8 levels");
    let error = validate(&nested_objects(7, json!([1, [2]]))).unwrap_err();
    assert_eq!(error.to_string(), "attributes.a.a.a.a.a.a.a[1] is nested deeper than 8 levels");
}

#[test]
fn an_object_with_too_many_keys_is_named() {
    let keys = |count: usize| Value::Object((0..count).map(|index| (format!("k{index}"), json!(index))).collect());
    assert_eq!(validate(&keys(256)), Ok(()));
    assert_eq!(validate(&json!({ "languages": keys(256) })), Ok(()));
    let error = validate(&json!({ "languages": keys(257) })).unwrap_err();
    assert_eq!(error, AttributeError::TooManyKeys { path: "attributes.languages".to_owned(), count: 257, limit: 256 });
    assert_eq!(error.to_string(), "attributes.languages has 257 keys, more than 256");
}

#[test]
fn an_array_too_long_is_named_with_its_index_path() {
    let elements = |len: usize| Value::Array((0..len).map(|index| json!(index)).collect());
    assert_eq!(validate(&json!({ "skills": elements(1024) })), Ok(()));
    let error = validate(&json!({ "skills": ["a", "b", "c", { "history": elements(1025) }] })).unwrap_err();
    assert_eq!(error.to_string(), "attributes.skills[3].history has 1025 elements, more than 1024");
}

#[test]
fn a_key_too_long_is_named_by_its_object() {
    let mut object = Map::new();
    object.insert("k".repeat(128), json!(1));
    assert_eq!(validate(&json!({ "teams": [Value::Object(object.clone())] })), Ok(()));
    object.insert("x".repeat(129), json!(2));
    let error = validate(&json!({ "teams": [Value::Object(object)] })).unwrap_err();
    assert_eq!(error.to_string(), "attributes.teams[0] has a key of 129 bytes, longer than 128");
}

#[test]
fn keys_an_expression_cannot_spell_are_quoted_in_the_path() {
    let limits = AttributeLimits { max_array_len: 1, ..AttributeLimits::default() };
    let error = validate_attributes(&json!({"on call": {"shift-code": {"x\"y": [1, 2]}}}), &limits).unwrap_err();
    assert_eq!(error.to_string(), r#"attributes["on call"].shift-code["x\"y"] has 2 elements, more than 1"#);
}

#[test]
fn the_serialized_size_is_capped() {
    // {"notes":"…"} is 12 bytes of JSON around the string.
    let at_cap = json!({ "notes": "n".repeat(16 * 1024 - 12) });
    assert_eq!(serde_json::to_string(&at_cap).unwrap().len(), 16 * 1024);
    assert_eq!(validate(&at_cap), Ok(()));
    let over = json!({ "notes": "n".repeat(16 * 1024 - 11) });
    assert_eq!(validate(&over), Err(AttributeError::TooLarge { limit: 16 * 1024 }));
    assert_eq!(validate(&over).unwrap_err().to_string(), "attributes are longer than 16384 bytes as JSON");

    // Within every shape limit, too large as a whole.
    let wide = Value::Object((0..200).map(|index| (format!("k{index}"), json!("v".repeat(100)))).collect());
    assert!(matches!(validate(&wide), Err(AttributeError::TooLarge { .. })));
}

#[test]
fn the_shape_is_checked_before_the_size() {
    let deep_and_large = json!({ "notes": "n".repeat(20_000), "a": nested_objects(9, json!(1)) });
    assert!(matches!(validate(&deep_and_large), Err(AttributeError::TooDeep { .. })));
}

//! What each operator means on two present JSON values. None of this allocates: evaluation
//! runs once per (agent, inquiry) pair while routing.

use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::ast::Operator;

pub(crate) fn apply(operator: Operator, left: &Value, right: &Value) -> bool {
    match operator {
        Operator::Equal => same_kind(left, right) && equal(left, right),
        Operator::NotEqual => same_kind(left, right) && !equal(left, right),
        Operator::Less => order(left, right) == Some(Ordering::Less),
        Operator::LessOrEqual => matches!(order(left, right), Some(Ordering::Less | Ordering::Equal)),
        Operator::Greater => order(left, right) == Some(Ordering::Greater),
        Operator::GreaterOrEqual => matches!(order(left, right), Some(Ordering::Greater | Ordering::Equal)),
        Operator::Has => array_contains(left, right),
        Operator::In => array_contains(right, left),
        Operator::NotIn => right.as_array().is_some_and(|items| !items.iter().any(|item| equal(item, left))),
        Operator::Contains => match (left, right) {
            (Value::String(haystack), Value::String(needle)) => haystack.contains(needle.as_str()),
            _ => array_contains(left, right),
        },
    }
}

/// Whether `==` and `!=` may compare the two values at all: a type mismatch makes both false.
fn same_kind(left: &Value, right: &Value) -> bool {
    std::mem::discriminant(left) == std::mem::discriminant(right)
}

fn array_contains(array: &Value, element: &Value) -> bool {
    array.as_array().is_some_and(|items| items.iter().any(|item| equal(item, element)))
}

/// Deep equality where numbers compare by value, so `1 == 1.0` and `[1] == [1.0]`.
pub(crate) fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(left), Value::Bool(right)) => left == right,
        (Value::Number(left), Value::Number(right)) => compare_numbers(left, right) == Some(Ordering::Equal),
        (Value::String(left), Value::String(right)) => left == right,
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(left, right)| equal(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, left)| right.get(key).is_some_and(|right| equal(left, right)))
        }
        _ => false,
    }
}

/// Numbers by value, strings by bytes; everything else is unordered.
fn order(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => compare_numbers(left, right),
        (Value::String(left), Value::String(right)) => Some(left.as_bytes().cmp(right.as_bytes())),
        _ => None,
    }
}

/// Integers compare exactly (an `i64` against a `u64` too); as soon as one side is a float
/// both compare as `f64`.
fn compare_numbers(left: &Number, right: &Number) -> Option<Ordering> {
    match (integer(left), integer(right)) {
        (Some(left), Some(right)) => Some(left.cmp(&right)),
        _ => left.as_f64()?.partial_cmp(&right.as_f64()?),
    }
}

fn integer(number: &Number) -> Option<i128> {
    number.as_i64().map(i128::from).or_else(|| number.as_u64().map(i128::from))
}

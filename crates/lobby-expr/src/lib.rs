//! # lobby-expr
//!
//! Attribute expressions in the style of Twilio TaskRouter, for skills-based routing. Agents
//! ("workers") and inquiries ("tasks") carry JSON attribute objects, and an [`Expression`]
//! such as `skills HAS task.topic AND level >= 3` says which agents may serve which
//! inquiries. [`Expression::parse`] compiles the text once; [`Expression::matches`] then
//! evaluates it without allocating, and [`Expression::explain`] tells which comparisons
//! decided the result. [`validate_attributes`] bounds the attribute objects themselves.
//!
//! ```
//! use lobby_expr::Expression;
//! use serde_json::json;
//!
//! let rule = Expression::parse("skills HAS task.topic AND level >= 3")?;
//! let task = json!({"language": "es", "topic": "billing", "vip": true});
//! let senior = json!({"skills": ["billing", "es"], "level": 4, "region": "EU"});
//! let junior = json!({"skills": ["billing"], "level": 2});
//!
//! assert!(rule.matches(&senior, &task));
//! assert!(!rule.matches(&junior, &task));
//! assert_eq!(rule.explain(&junior, &task).to_string(), "expression false: `level >= 3` (level = 2)");
//!
//! let error = Expression::parse("level >= 3 AND AND vip == true").unwrap_err();
//! assert_eq!(error.to_string(), "unexpected token 'AND' at 15");
//! # Ok::<(), lobby_expr::ParseError>(())
//! ```
//!
//! ## Grammar
//!
//! ```text
//! expression  = disjunction ;
//! disjunction = conjunction { "OR" conjunction } ;
//! conjunction = negation { "AND" negation } ;
//! negation    = "NOT" negation | "(" disjunction ")" | comparison ;
//! comparison  = operand operator operand ;
//! operator    = "==" | "!=" | "<" | "<=" | ">" | ">=" | "HAS" | "IN" | "NOT" "IN" | "CONTAINS" ;
//! operand     = path | literal ;
//! path        = key { "." key } ;                   (* key = [A-Za-z_][A-Za-z0-9_-]* *)
//! literal     = string | number | "true" | "false" | "null" | array ;
//! array       = "[" [ literal { "," literal } ] "]" ;
//! string      = '"' chars '"' | "'" chars "'" ;     (* JSON's escapes, and \' *)
//! number      = [ "-" ] digits [ "." digits ] [ ( "e" | "E" ) [ "+" | "-" ] digits ] ;
//! ```
//!
//! - Keywords (`AND OR NOT IN HAS CONTAINS true false null`) are case-insensitive; paths and
//!   strings are not. Whitespace is spaces, tabs and line breaks.
//! - A comparison binds tighter than `NOT`, `NOT` tighter than `AND`, `AND` tighter than `OR`:
//!   `NOT a == 1 OR b == 2 AND c == 3` is `(NOT (a == 1)) OR ((b == 2) AND (c == 3))`.
//! - `level` and `worker.level` read the worker's `level`, `task.topic` the task's `topic`, and
//!   further keys go into nested objects: `worker.languages.spanish.level`. `worker.` and
//!   `task.` are prefixes only when a key follows, so a bare `task` is the worker's attribute
//!   named `task`, and a key spelled like a keyword is reached as `worker.in`.
//! - Either side may be a literal or a path, so `1 == 1` matches everyone and
//!   `task.language IN worker.languages` compares two attributes.
//! - A source is at most [`MAX_SOURCE_LEN`] bytes and nests at most [`MAX_NESTING`] levels.
//!
//! ## Semantics
//!
//! | operator | true when |
//! |---|---|
//! | `==` | both sides have the same JSON type and are equal: numbers by value (`1 == 1.0`), arrays and objects element by element |
//! | `!=` | both sides have the same JSON type and are not equal |
//! | `<` `<=` `>` `>=` | both sides are numbers, compared by value, or both are strings, compared byte by byte |
//! | `HAS` | the left side is an array with an element equal to the right side |
//! | `IN` | the right side is an array with an element equal to the left side |
//! | `NOT IN` | the right side is an array with no element equal to the left side |
//! | `CONTAINS` | the left side is a string containing the right-hand string, or an array with an element equal to the right side |
//!
//! A comparison that reads a missing attribute is false whatever its operator, `!=` and
//! `NOT IN` included: `region != "EU"` does not match an agent without a region (write
//! `NOT region == "EU"` to match those too). A type mismatch, such as a string against a
//! number in `<` or `HAS` on a string, is false as well. A present `null` is a value:
//! `{"x": null}` satisfies `x == null`. Once parsed, an expression never fails.

#![warn(missing_docs)]

mod ast;
mod attributes;
mod explain;
mod lex;
mod parse;
mod semantics;
#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde_json::Value;

pub use attributes::{validate_attributes, AttributeError, AttributeLimits};
pub use explain::{Explanation, Observed, Term};
pub use parse::{ParseError, MAX_NESTING, MAX_SOURCE_LEN};

/// A compiled attribute expression: which workers may serve which tasks.
///
/// Build one with [`Expression::parse`] (or [`str::parse`]); see the crate docs for the
/// grammar and semantics. It keeps its source text, which is what [`Display`](fmt::Display),
/// equality and serde use: it serializes as that string and deserializes by parsing one, so a
/// rule can live in a stored record.
#[derive(Clone)]
pub struct Expression {
    source: Box<str>,
    root: ast::Node,
}

impl Expression {
    /// Compiles `source`, or says where it is wrong.
    pub fn parse(source: &str) -> Result<Expression, ParseError> {
        let root = parse::parse(source)?;
        Ok(Expression { source: source.into(), root })
    }

    /// The text this expression was parsed from, as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a worker with attributes `worker` may serve a task with attributes `task`.
    ///
    /// Does not allocate: paths were split when parsing, and values are compared in place.
    /// Attributes that are not objects simply have no keys.
    pub fn matches(&self, worker: &Value, task: &Value) -> bool {
        self.root.evaluate(worker, task)
    }

    /// Why [`matches`](Expression::matches) gives what it gives for this worker and task.
    ///
    /// Allocates; meant for people (logs, an admin's "why not this agent?"), not for routing.
    pub fn explain(&self, worker: &Value, task: &Value) -> Explanation {
        explain::explain(&self.root, &self.source, worker, task)
    }
}

impl FromStr for Expression {
    type Err = ParseError;

    fn from_str(source: &str) -> Result<Expression, ParseError> {
        Expression::parse(source)
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.source).finish()
    }
}

/// Two expressions are equal when their sources are: the tree is a function of the source.
impl PartialEq for Expression {
    fn eq(&self, other: &Expression) -> bool {
        self.source == other.source
    }
}

impl Eq for Expression {}

impl Hash for Expression {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.source.hash(state);
    }
}

impl serde::Serialize for Expression {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for Expression {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Expression, D::Error> {
        let source = String::deserialize(deserializer)?;
        Expression::parse(&source).map_err(serde::de::Error::custom)
    }
}

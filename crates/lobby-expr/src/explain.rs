//! Why an expression matched or not, told by the comparisons that decided it.

use std::fmt;

use serde_json::Value;

use crate::ast::{Comparison, Node, Operand};

/// Why [`Expression::matches`](crate::Expression::matches) returned what it did: the
/// comparisons that decide the result, with the attribute values they saw.
///
/// The deciding terms of a node are:
///
/// | node | result | deciding terms |
/// |---|---|---|
/// | comparison | either | the comparison itself |
/// | `a AND b …` | false | those of the first false operand |
/// | `a AND b …` | true | those of every operand |
/// | `a OR b …` | true | those of the first true operand |
/// | `a OR b …` | false | those of every operand |
/// | `NOT a` | either | those of `a` (so a term under `NOT` shows the value that was negated) |
///
/// Each listed term alone (for "first") or the listed terms together (for "every") are
/// enough to produce the result, so an agent left out of a rule sees every reason it would
/// have to change, and no more than one per `AND`.
///
/// Displays as one line: ``expression false: `level >= 3` (level = 2)``. A term whose value
/// differs from the result, as under `NOT`, says so: ``expression false: `vip == true` is
/// true (vip = true)``. Several terms are separated by `; `.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// What [`Expression::matches`](crate::Expression::matches) returns for the same worker
    /// and task.
    pub matched: bool,
    /// The deciding comparisons in source order; never empty.
    pub terms: Vec<Term>,
}

/// One comparison of an [`Explanation`].
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The comparison as written in the expression, e.g. `level >= 3`.
    pub source: String,
    /// What the comparison evaluated to.
    pub value: bool,
    /// Each attribute the comparison reads, with the value it found, left side first.
    pub observed: Vec<Observed>,
}

/// An attribute read by a [`Term`], and what was there.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// The attribute as written, e.g. `level` or `task.topic`.
    pub attribute: String,
    /// Its value, or `None` when the worker or task has no such attribute.
    pub value: Option<Value>,
}

pub(crate) fn explain(root: &Node, source: &str, worker: &Value, task: &Value) -> Explanation {
    let mut terms = Vec::new();
    collect_deciding_terms(root, source, worker, task, &mut terms);
    Explanation { matched: root.evaluate(worker, task), terms }
}

fn collect_deciding_terms(node: &Node, source: &str, worker: &Value, task: &Value, terms: &mut Vec<Term>) {
    let mut collect = |node| collect_deciding_terms(node, source, worker, task, terms);
    match node {
        Node::Compare(comparison) => terms.push(term(comparison, source, worker, task)),
        Node::Not(operand) => collect(operand),
        Node::All(operands) => match operands.iter().find(|operand| !operand.evaluate(worker, task)) {
            Some(false_operand) => collect(false_operand),
            None => operands.iter().for_each(collect),
        },
        Node::Any(operands) => match operands.iter().find(|operand| operand.evaluate(worker, task)) {
            Some(true_operand) => collect(true_operand),
            None => operands.iter().for_each(collect),
        },
    }
}

fn term(comparison: &Comparison, source: &str, worker: &Value, task: &Value) -> Term {
    let mut observed: Vec<Observed> = Vec::new();
    for operand in [&comparison.left, &comparison.right] {
        let Operand::Attribute(path) = operand else { continue };
        let attribute = path.span.text(source);
        // `level == level` reads one attribute; name it once.
        if observed.iter().all(|seen| seen.attribute != attribute) {
            observed.push(Observed { attribute: attribute.to_owned(), value: path.resolve(worker, task).cloned() });
        }
    }
    Term { source: comparison.span.text(source).to_owned(), value: comparison.evaluate(worker, task), observed }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expression {}", self.matched)?;
        for (index, term) in self.terms.iter().enumerate() {
            f.write_str(if index == 0 { ": " } else { "; " })?;
            write!(f, "`{}`", term.source)?;
            if term.value != self.matched {
                write!(f, " is {}", term.value)?;
            }
            for (index, observed) in term.observed.iter().enumerate() {
                f.write_str(if index == 0 { " (" } else { ", " })?;
                match &observed.value {
                    Some(value) => write!(f, "{} = {}", observed.attribute, Shortened(value))?,
                    None => write!(f, "{} missing", observed.attribute)?,
                }
            }
            if !term.observed.is_empty() {
                f.write_str(")")?;
            }
        }
        Ok(())
    }
}

/// Compact JSON, cut after a few dozen characters so that one large attribute keeps the
/// explanation on one readable line.
struct Shortened<'a>(&'a Value);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN_CHARS: usize = 64;
        let json = self.0.to_string();
        match json.char_indices().nth(SHOWN_CHARS) {
            Some((cut, _)) => write!(f, "{}…", &json[..cut]),
            None => f.write_str(&json),
        }
    }
}

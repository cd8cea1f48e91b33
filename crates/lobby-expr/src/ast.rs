//! The compiled form of an expression. Attribute paths are split into keys once, when parsing,
//! so that evaluation only follows references and never builds a string or a vector.

use serde_json::Value;

use crate::semantics;

/// A boolean node. `Any` (OR) and `All` (AND) hold two or more operands in source order;
/// parentheses are not flattened, so `(a AND b) AND c` keeps its inner `All`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Any(Box<[Node]>),
    All(Box<[Node]>),
    Not(Box<Node>),
    Compare(Comparison),
}

/// `left operator right`: the only leaf of the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comparison {
    pub(crate) left: Operand,
    pub(crate) operator: Operator,
    pub(crate) right: Operand,
    /// The comparison's text in the source, quoted by explanations.
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Attribute(AttributePath),
    Literal(Value),
}

/// `level`, `worker.languages.spanish.level` or `task.topic`, already split into keys.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttributePath {
    pub(crate) scope: Scope,
    pub(crate) keys: Box<[Box<str>]>,
    /// The path as written, named by explanations.
    pub(crate) span: Span,
}

/// Whose attributes a path reads. A bare path reads the worker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Worker,
    Task,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Has,
    In,
    NotIn,
    Contains,
}

/// A byte range of the source. Spans start and end on token boundaries, so on character
/// boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

impl Node {
    pub(crate) fn evaluate(&self, worker: &Value, task: &Value) -> bool {
        match self {
            Node::Any(operands) => operands.iter().any(|operand| operand.evaluate(worker, task)),
            Node::All(operands) => operands.iter().all(|operand| operand.evaluate(worker, task)),
            Node::Not(operand) => !operand.evaluate(worker, task),
            Node::Compare(comparison) => comparison.evaluate(worker, task),
        }
    }
}

impl Comparison {
    /// False when either side is missing: a missing attribute never satisfies a comparison,
    /// not even `!=` or `NOT IN`.
    pub(crate) fn evaluate(&self, worker: &Value, task: &Value) -> bool {
        match (self.left.resolve(worker, task), self.right.resolve(worker, task)) {
            (Some(left), Some(right)) => semantics::apply(self.operator, left, right),
            _ => false,
        }
    }
}

impl Operand {
    pub(crate) fn resolve<'a>(&'a self, worker: &'a Value, task: &'a Value) -> Option<&'a Value> {
        match self {
            Operand::Attribute(path) => path.resolve(worker, task),
            Operand::Literal(value) => Some(value),
        }
    }
}

impl AttributePath {
    pub(crate) fn resolve<'a>(&self, worker: &'a Value, task: &'a Value) -> Option<&'a Value> {
        let root = match self.scope {
            Scope::Worker => worker,
            Scope::Task => task,
        };
        self.keys.iter().try_fold(root, |value, key| value.as_object()?.get(&**key))
    }
}

impl Span {
    pub(crate) fn text(self, source: &str) -> &str {
        source.get(self.start..self.end).unwrap_or_default()
    }
}

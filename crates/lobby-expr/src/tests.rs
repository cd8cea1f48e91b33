//! Property tests. Random expression trees are printed to source, parsed, and evaluated
//! against a reference interpreter written the obvious way (allocating, recursive, no
//! shortcuts); the parsed tree must be the printed one. Random and mangled sources must never
//! panic. These live inside the crate because the round trip compares the private tree.

use std::cmp::Ordering;

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use crate::ast::{Node, Operand, Operator, Scope};
use crate::Expression;

/// The test's own expression tree, independent of the crate's.
#[derive(Debug, Clone, PartialEq)]
enum Tree {
    Or(Vec<Tree>),
    And(Vec<Tree>),
    Not(Box<Tree>),
    Compare(Side, Op, Side),
}

#[derive(Debug, Clone, PartialEq)]
enum Side {
    Path { prefix: Prefix, keys: Vec<String> },
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Prefix {
    Bare,
    Worker,
    Task,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Has,
    In,
    NotIn,
    Contains,
}

/// How the printer spells what the grammar leaves free.
#[derive(Debug, Clone, Copy)]
struct Style {
    keyword_case: KeywordCase,
    single_quotes: bool,
    /// No spaces around `==`, `<` and the like.
    tight: bool,
}

#[derive(Debug, Clone, Copy)]
enum KeywordCase {
    Upper,
    Lower,
    Mixed,
}

// ---------------------------------------------------------------------------------------------
// Printer

fn print(tree: &Tree, style: Style) -> String {
    let mut out = String::new();
    write_tree(tree, style, &mut out);
    out
}

/// Parenthesizes exactly where the grammar needs it to read the same tree back: an OR inside
/// an AND or NOT, and an AND or OR nested directly in one of its own kind (the parser does not
/// flatten parentheses).
fn write_tree(tree: &Tree, style: Style, out: &mut String) {
    let write_operand = |operand: &Tree, needs_parens: bool, out: &mut String| {
        if needs_parens {
            out.push('(');
            write_tree(operand, style, out);
            out.push(')');
        } else {
            write_tree(operand, style, out);
        }
    };
    match tree {
        Tree::Or(operands) => {
            for (index, operand) in operands.iter().enumerate() {
                if index > 0 {
                    out.push_str(&format!(" {} ", keyword("or", style)));
                }
                write_operand(operand, matches!(operand, Tree::Or(_)), out);
            }
        }
        Tree::And(operands) => {
            for (index, operand) in operands.iter().enumerate() {
                if index > 0 {
                    out.push_str(&format!(" {} ", keyword("and", style)));
                }
                write_operand(operand, matches!(operand, Tree::Or(_) | Tree::And(_)), out);
            }
        }
        Tree::Not(operand) => {
            out.push_str(&format!("{} ", keyword("not", style)));
            write_operand(operand, matches!(**operand, Tree::Or(_) | Tree::And(_)), out);
        }
        Tree::Compare(left, op, right) => {
            write_side(left, style, out);
            let symbol = match op {
                Op::Eq => "==",
                Op::Ne => "!=",
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                Op::Ge => ">=",
                Op::Has => "has",
                Op::In => "in",
                Op::NotIn => "not in",
                Op::Contains => "contains",
            };
            if symbol.starts_with(char::is_alphabetic) {
                out.push_str(&format!(" {} ", keyword(symbol, style)));
            } else if style.tight {
                out.push_str(symbol);
            } else {
                out.push_str(&format!(" {symbol} "));
            }
            write_side(right, style, out);
        }
    }
}

fn write_side(side: &Side, style: Style, out: &mut String) {
    match side {
        Side::Path { prefix, keys } => {
            match prefix {
                Prefix::Bare => {}
                Prefix::Worker => out.push_str("worker."),
                Prefix::Task => out.push_str("task."),
            }
            out.push_str(&keys.join("."));
        }
        Side::Literal(value) => write_literal(value, style, out),
    }
}

fn write_literal(value: &Value, style: Style, out: &mut String) {
    match value {
        Value::Null => out.push_str(&keyword("null", style)),
        Value::Bool(value) => out.push_str(&keyword(&value.to_string(), style)),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(string) if style.single_quotes => {
            // Raw control characters are fine inside a string; only `\` and `'` need escapes.
            out.push('\'');
            out.push_str(&string.replace('\\', "\\\\").replace('\'', "\\'"));
            out.push('\'');
        }
        Value::String(string) => out.push_str(&Value::from(string.as_str()).to_string()),
        Value::Array(elements) => {
            out.push('[');
            for (index, element) in elements.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                write_literal(element, style, out);
            }
            out.push(']');
        }
        Value::Object(_) => unreachable!("the generator makes no object literals"),
    }
}

fn keyword(word: &str, style: Style) -> String {
    match style.keyword_case {
        KeywordCase::Upper => word.to_uppercase(),
        KeywordCase::Lower => word.to_lowercase(),
        KeywordCase::Mixed => word
            .chars()
            .enumerate()
            .map(|(index, c)| if index % 2 == 0 { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Reference interpreter

fn reference(tree: &Tree, worker: &Value, task: &Value) -> bool {
    match tree {
        Tree::Or(operands) => operands.iter().any(|operand| reference(operand, worker, task)),
        Tree::And(operands) => operands.iter().all(|operand| reference(operand, worker, task)),
        Tree::Not(operand) => !reference(operand, worker, task),
        Tree::Compare(left, op, right) => match (lookup(left, worker, task), lookup(right, worker, task)) {
            (Some(left), Some(right)) => compare(*op, &left, &right),
            _ => false,
        },
    }
}

fn lookup(side: &Side, worker: &Value, task: &Value) -> Option<Value> {
    match side {
        Side::Literal(value) => Some(value.clone()),
        Side::Path { prefix, keys } => {
            let mut current = if *prefix == Prefix::Task { task.clone() } else { worker.clone() };
            for key in keys {
                current = match current {
                    Value::Object(object) => object.get(key)?.clone(),
                    _ => return None,
                };
            }
            Some(current)
        }
    }
}

fn compare(op: Op, left: &Value, right: &Value) -> bool {
    match op {
        Op::Eq => same_type(left, right) && equal(left, right),
        Op::Ne => same_type(left, right) && !equal(left, right),
        Op::Lt => order(left, right) == Some(Ordering::Less),
        Op::Le => matches!(order(left, right), Some(Ordering::Less | Ordering::Equal)),
        Op::Gt => order(left, right) == Some(Ordering::Greater),
        Op::Ge => matches!(order(left, right), Some(Ordering::Greater | Ordering::Equal)),
        Op::Has => match left {
            Value::Array(elements) => elements.iter().any(|element| equal(element, right)),
            _ => false,
        },
        Op::In => match right {
            Value::Array(elements) => elements.iter().any(|element| equal(left, element)),
            _ => false,
        },
        Op::NotIn => match right {
            Value::Array(elements) => elements.iter().all(|element| !equal(left, element)),
            _ => false,
        },
        Op::Contains => match (left, right) {
            (Value::String(haystack), Value::String(needle)) => haystack.contains(needle.as_str()),
            (Value::Array(elements), _) => elements.iter().any(|element| equal(element, right)),
            _ => false,
        },
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn same_type(left: &Value, right: &Value) -> bool {
    type_name(left) == type_name(right)
}

/// The generated numbers are small and exact in `f64`, so `f64` is the obvious comparison.
fn equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64() == right.as_f64(),
        (Value::Array(left), Value::Array(right)) => {
            left.len() == right.len() && left.iter().zip(right).all(|(left, right)| equal(left, right))
        }
        (Value::Object(left), Value::Object(right)) => {
            left.len() == right.len()
                && left.iter().all(|(key, value)| right.get(key).is_some_and(|other| equal(value, other)))
        }
        _ => left == right,
    }
}

fn order(left: &Value, right: &Value) -> Option<Ordering> {
    match (left, right) {
        (Value::Number(left), Value::Number(right)) => left.as_f64()?.partial_cmp(&right.as_f64()?),
        (Value::String(left), Value::String(right)) => Some(left.cmp(right)),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The crate's tree, read back as the test's

fn from_node(node: &Node) -> Tree {
    match node {
        Node::Any(operands) => Tree::Or(operands.iter().map(from_node).collect()),
        Node::All(operands) => Tree::And(operands.iter().map(from_node).collect()),
        Node::Not(operand) => Tree::Not(Box::new(from_node(operand))),
        Node::Compare(comparison) => {
            let op = match comparison.operator {
                Operator::Equal => Op::Eq,
                Operator::NotEqual => Op::Ne,
                Operator::Less => Op::Lt,
                Operator::LessOrEqual => Op::Le,
                Operator::Greater => Op::Gt,
                Operator::GreaterOrEqual => Op::Ge,
                Operator::Has => Op::Has,
                Operator::In => Op::In,
                Operator::NotIn => Op::NotIn,
                Operator::Contains => Op::Contains,
            };
            Tree::Compare(from_operand(&comparison.left), op, from_operand(&comparison.right))
        }
    }
}

fn from_operand(operand: &Operand) -> Side {
    match operand {
        Operand::Literal(value) => Side::Literal(value.clone()),
        Operand::Attribute(path) => Side::Path {
            prefix: match path.scope {
                Scope::Worker => Prefix::Worker,
                Scope::Task => Prefix::Task,
            },
            keys: path.keys.iter().map(|key| key.to_string()).collect(),
        },
    }
}

/// A bare path and a `worker.` path are the same tree.
fn without_bare_paths(tree: &Tree) -> Tree {
    let side = |side: &Side| match side {
        Side::Path { prefix: Prefix::Bare, keys } => Side::Path { prefix: Prefix::Worker, keys: keys.clone() },
        other => other.clone(),
    };
    match tree {
        Tree::Or(operands) => Tree::Or(operands.iter().map(without_bare_paths).collect()),
        Tree::And(operands) => Tree::And(operands.iter().map(without_bare_paths).collect()),
        Tree::Not(operand) => Tree::Not(Box::new(without_bare_paths(operand))),
        Tree::Compare(left, op, right) => Tree::Compare(side(left), *op, side(right)),
    }
}

// ---------------------------------------------------------------------------------------------
// Generators, over a vocabulary small enough that keys and values collide often

/// Few values of each kind, so that comparisons are often true; the awkward strings come
/// now and then, for the printer and the lexer.
fn scalar() -> impl Strategy<Value = Value> {
    let awkward = vec!["", "X", "it's", "a\"b", "back\\slash", "é", "line\nbreak"];
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        4 => (-1i64..2).prop_map(Value::from),
        1 => select(vec![1.0, 0.5, -1.5]).prop_map(Value::from),
        4 => select(vec!["x", "y"]).prop_map(Value::from),
        1 => select(vec!["xy", "yx"]).prop_map(Value::from),
        1 => select(awkward).prop_map(Value::from),
    ]
}

fn literal() -> BoxedStrategy<Value> {
    prop_oneof![3 => scalar(), 1 => array_literal()].boxed()
}

fn array_literal() -> BoxedStrategy<Value> {
    let element = prop_oneof![4 => scalar(), 1 => prop::collection::vec(scalar(), 0..3).prop_map(Value::Array)];
    prop::collection::vec(element, 0..5).prop_map(Value::Array).boxed()
}

/// Attribute values: often arrays, now and then an object under the keys paths use.
fn attribute_value() -> BoxedStrategy<Value> {
    prop_oneof![3 => scalar(), 2 => array_literal(), 1 => object(&["a", "b"], literal())].boxed()
}

/// Each key is present four times in five.
fn object(keys: &'static [&'static str], values: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    let entries: Vec<_> = keys
        .iter()
        .map(|key| prop::option::weighted(0.8, values.clone()).prop_map(move |value| (*key, value)))
        .collect();
    entries
        .prop_map(|entries| {
            let present = entries.into_iter().filter_map(|(key, value)| Some((key.to_owned(), value?)));
            Value::Object(present.collect())
        })
        .boxed()
}

fn attributes() -> impl Strategy<Value = Value> {
    let nested = prop::option::weighted(0.75, object(&["a", "b"], attribute_value()));
    (object(&["a", "b", "c", "x-y"], attribute_value()), nested).prop_map(|(mut attributes, nested)| {
        if let (Value::Object(attributes), Some(nested)) = (&mut attributes, nested) {
            attributes.insert("n".to_owned(), nested);
        }
        attributes
    })
}

fn path() -> BoxedStrategy<Side> {
    let keys = select(vec![
        vec!["a"],
        vec!["b"],
        vec!["c"],
        vec!["x-y"],
        vec!["n", "a"],
        vec!["n", "b"],
        vec!["a", "b"],
        vec!["missing"],
    ]);
    (select(vec![Prefix::Bare, Prefix::Worker, Prefix::Task]), keys)
        .prop_map(|(prefix, keys)| Side::Path { prefix, keys: keys.into_iter().map(str::to_owned).collect() })
        .boxed()
}

/// Comparisons whose operands have a fair chance of the types their operator wants, so that
/// `HAS`, `IN` and `CONTAINS` (on arrays and on strings) are true often enough to be tested;
/// any operand still goes anywhere now and then.
fn comparison() -> impl Strategy<Value = Tree> {
    use Op::*;
    let any_side = prop_oneof![3 => path(), 2 => literal().prop_map(Side::Literal)].boxed();
    let array_side = prop_oneof![path(), array_literal().prop_map(Side::Literal)].boxed();
    let scalar_side = prop_oneof![path(), scalar().prop_map(Side::Literal)].boxed();
    let string_side = prop_oneof![path(), select(vec!["x", "y", "xy", "yx", ""]).prop_map(|s| Side::Literal(s.into()))];
    let all_ops = vec![Eq, Ne, Lt, Le, Gt, Ge, Has, In, NotIn, Contains];
    prop_oneof![
        3 => (any_side.clone(), select(all_ops), any_side),
        1 => (array_side.clone(), select(vec![Has, Contains]), scalar_side.clone()),
        1 => (scalar_side, select(vec![In, NotIn]), array_side),
        1 => (string_side.clone(), Just(Contains), string_side),
    ]
    .prop_map(|(left, op, right)| Tree::Compare(left, op, right))
}

fn tree() -> impl Strategy<Value = Tree> {
    comparison().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Tree::Or),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Tree::And),
            inner.prop_map(|operand| Tree::Not(Box::new(operand))),
        ]
    })
}

fn style() -> impl Strategy<Value = Style> {
    let keyword_case = select(vec![KeywordCase::Upper, KeywordCase::Lower, KeywordCase::Mixed]);
    (keyword_case, any::<bool>(), any::<bool>()).prop_map(|(keyword_case, single_quotes, tight)| Style {
        keyword_case,
        single_quotes,
        tight,
    })
}

/// An edit that may break a valid source: characters are removed, inserted or repeated.
#[derive(Debug, Clone)]
enum Edit {
    Delete { at: prop::sample::Index, len: usize },
    Insert { at: prop::sample::Index, text: &'static str },
    Repeat { at: prop::sample::Index, len: usize, times: usize },
    Truncate { at: prop::sample::Index },
}

fn edit() -> impl Strategy<Value = Edit> {
    let index = any::<prop::sample::Index>;
    let pieces = vec![
        "(", ")", "[", "]", ",", "'", "\"", "\\", ".", "-", "NOT ", " AND ", " OR ", "==", "!", "<", " in ", "1e", "é",
        "\u{0}", "task.", " ",
    ];
    prop_oneof![
        (index(), 1..4usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (index(), select(pieces)).prop_map(|(at, text)| Edit::Insert { at, text }),
        (index(), 1..8usize, 1..40usize).prop_map(|(at, len, times)| Edit::Repeat { at, len, times }),
        index().prop_map(|at| Edit::Truncate { at }),
    ]
}

/// Edits whole characters, so the result is still a `&str`.
fn apply(source: &str, edit: &Edit) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    let position = |at: &prop::sample::Index| at.index(chars.len() + 1);
    match edit {
        Edit::Delete { at, len } => {
            let start = position(at);
            chars.drain(start..(start + len).min(chars.len()));
        }
        Edit::Insert { at, text } => {
            let start = position(at);
            chars.splice(start..start, text.chars());
        }
        Edit::Repeat { at, len, times } => {
            let start = position(at);
            let piece: Vec<char> = chars[start..(start + len).min(chars.len())].to_vec();
            for _ in 0..*times {
                chars.splice(start..start, piece.iter().copied());
            }
        }
        Edit::Truncate { at } => {
            let end = position(at);
            chars.truncate(end);
        }
    }
    chars.into_iter().collect()
}

/// Whatever was parsed, using it must not panic; whatever was refused, the error must point
/// inside the source.
fn check_never_panics(source: &str, worker: &Value, task: &Value) {
    match Expression::parse(source) {
        Ok(expression) => {
            let matched = expression.matches(worker, task);
            let explanation = expression.explain(worker, task);
            assert_eq!(explanation.matched, matched);
            assert!(!explanation.terms.is_empty());
            let _ = explanation.to_string();
        }
        Err(error) => {
            assert!(error.position <= source.len(), "{error} for a source of {} bytes", source.len());
            assert!(!error.message.is_empty());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn printed_trees_parse_back_and_match_like_the_reference(
        tree in tree(),
        style in style(),
        worker in attributes(),
        task in attributes(),
    ) {
        let source = print(&tree, style);
        let expression = Expression::parse(&source).map_err(|error| TestCaseError::fail(format!("{source}: {error}")))?;
        prop_assert_eq!(from_node(&expression.root), without_bare_paths(&tree), "{}", source);

        let expected = reference(&tree, &worker, &task);
        prop_assert_eq!(expression.matches(&worker, &task), expected, "{}", source);

        // Each term an explanation quotes is a comparison on its own, with the value it reports.
        let explanation = expression.explain(&worker, &task);
        prop_assert_eq!(explanation.matched, expected);
        prop_assert!(!explanation.terms.is_empty());
        for term in &explanation.terms {
            let alone = Expression::parse(&term.source).map_err(|error| TestCaseError::fail(format!("{}: {error}", term.source)))?;
            prop_assert!(matches!(alone.root, Node::Compare(_)), "{}", term.source);
            prop_assert_eq!(alone.matches(&worker, &task), term.value, "{}", term.source);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>(), worker in attributes(), task in attributes()) {
        check_never_panics(&source, &worker, &task);
    }

    #[test]
    fn text_made_of_expression_characters_never_panics(
        source in "[a-z_.'\"\\\\()\\[\\], =!<>0-9eE+-]{0,80}",
        worker in attributes(),
        task in attributes(),
    ) {
        check_never_panics(&source, &worker, &task);
    }

    #[test]
    fn mangled_expressions_never_panic(
        tree in tree(),
        style in style(),
        edits in prop::collection::vec(edit(), 1..4),
        worker in attributes(),
        task in attributes(),
    ) {
        let source = edits.iter().fold(print(&tree, style), |source, edit| apply(&source, edit));
        check_never_panics(&source, &worker, &task);
    }
}

//! Parse errors: what the message says and the byte offset it points at, for each way a rule
//! can be mistyped, and the size and nesting caps.

use lobby_expr::{Expression, ParseError, MAX_NESTING, MAX_SOURCE_LEN};

fn error(source: &str) -> ParseError {
    match Expression::parse(source) {
        Ok(expression) => panic!("{source:?} parsed as {expression:?}"),
        Err(error) => error,
    }
}

#[test]
fn each_bad_input_names_the_problem_and_its_byte_offset() {
    let cases = [
        ("", "unexpected end of expression at 0"),
        ("   ", "unexpected end of expression at 3"),
        ("level", "unexpected end of expression at 5"),
        ("level >=", "unexpected end of expression at 8"),
        ("level >= 3 AND", "unexpected end of expression at 14"),
        ("level >= 3 AND AND vip == true", "unexpected token 'AND' at 15"),
        ("level >= 3 level", "unexpected token 'level' at 11"),
        ("level 3", "unexpected token '3' at 6"),
        ("== 3", "unexpected token '==' at 0"),
        ("a == b == c", "unexpected token '==' at 7"),
        ("a HAS", "unexpected end of expression at 5"),
        ("a NOT == 1", "expected 'IN' at 6"),
        ("a NOT", "expected 'IN' at 5"),
        ("NOT", "unexpected end of expression at 3"),
        ("(level == 1", "expected ')' at 11"),
        ("(level == 1 OR", "unexpected end of expression at 14"),
        ("level == 1)", "unexpected token ')' at 10"),
        ("()", "unexpected token ')' at 1"),
        ("region IN ['EU', 'UK'", "expected ']' at 21"),
        ("region IN ['EU' 'UK']", "expected ']' at 16"),
        ("region IN [1,]", "unexpected token ']' at 13"),
        ("region IN [", "unexpected end of expression at 11"),
        ("region IN [task.regions]", "unexpected token 'task.regions' at 11"),
        ("region == 'EU", "unterminated string at 10"),
        ("x == \"abc", "unterminated string at 5"),
        ("x == \"abc\\", "unterminated string at 5"),
        ("x == 'it's'", "unterminated string at 10"),
        ("x == 'a\\qb'", "invalid escape '\\q' at 7"),
        ("x == '\\u12'", "invalid escape '\\u12' at 6"),
        ("x == '\\ud800'", "invalid escape '\\ud800' at 6"),
        ("x == '\\ud800\\u0041'", "invalid escape '\\ud800\\u0041' at 6"),
        ("a # 1", "unexpected character '#' at 2"),
        ("a = 1", "unexpected character '=' at 2"),
        ("a ! 1", "unexpected character '!' at 2"),
        ("a && b", "unexpected character '&' at 2"),
        ("é == 1", "unexpected character 'é' at 0"),
        ("a == \u{0}", "unexpected character '\\0' at 5"),
        ("a == -", "unexpected character '-' at 5"),
        ("a == - 1", "unexpected character '-' at 5"),
        ("a == 1.", "invalid number '1.' at 5"),
        ("a == 1.2.3", "invalid number '1.2.3' at 5"),
        ("a == 2abc", "invalid number '2abc' at 5"),
        ("a == 1e999", "invalid number '1e999' at 5"),
        ("task. == 1", "expected attribute name at 5"),
        ("task.level. == 1", "expected attribute name at 11"),
        ("task.1 == 1", "expected attribute name at 5"),
        // Byte offsets, not character offsets: 'é' is two bytes.
        ("'é' == 'é' AND", "unexpected end of expression at 16"),
        ("'é' == 'é' OR OR", "unexpected token 'OR' at 16"),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(source, expected)| {
            let actual = error(source).to_string();
            (actual != *expected).then(|| format!("{source:?}: got {actual:?}, expected {expected:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn the_error_exposes_message_and_position_separately() {
    let error = error("level >= 3 AND AND vip == true");
    assert_eq!(error, ParseError { message: "unexpected token 'AND'".to_owned(), position: 15 });
}

#[test]
fn a_long_token_is_cut_short_in_the_message() {
    let source = format!("a == 1 '{}'", "x".repeat(100));
    let message = error(&source).to_string();
    assert_eq!(message, format!("unexpected token ''{}…' at 7", "x".repeat(31)));
}

#[test]
fn sources_longer_than_the_cap_are_refused_before_scanning() {
    let at_cap = format!("{}1 == 1", "1 == 1 OR ".repeat((MAX_SOURCE_LEN - 6) / 10));
    let at_cap = format!("{at_cap}{}", " ".repeat(MAX_SOURCE_LEN - at_cap.len()));
    assert_eq!(at_cap.len(), MAX_SOURCE_LEN);
    assert!(Expression::parse(&at_cap).is_ok());

    let over = format!("{at_cap} ");
    assert_eq!(error(&over).to_string(), "expression longer than 4096 bytes at 4096");
    assert_eq!(error(&"(".repeat(1_000_000)).position, MAX_SOURCE_LEN);
}

#[test]
fn nesting_is_capped_for_parentheses_not_and_arrays_alike() {
    let parens = |depth: usize| format!("{}a == 1{}", "(".repeat(depth), ")".repeat(depth));
    let nots = |depth: usize| format!("{}a == 1", "NOT ".repeat(depth));
    let arrays = |depth: usize| format!("a IN {}{}", "[".repeat(depth), "]".repeat(depth));
    // Each `NOT (` opens two levels.
    let mixed = |depth: usize| {
        let (groups, arrays) = (depth / 4, depth / 2);
        format!("{}a IN {}{}{}", "NOT (".repeat(groups), "[".repeat(arrays), "]".repeat(arrays), ")".repeat(groups))
    };

    for build in [parens, nots, arrays] {
        let deepest = build(MAX_NESTING);
        assert!(Expression::parse(&deepest).is_ok(), "{deepest}");
    }
    assert_eq!(error(&parens(MAX_NESTING + 1)).to_string(), "nesting deeper than 64 levels at 64");
    assert_eq!(error(&nots(MAX_NESTING + 1)).to_string(), "nesting deeper than 64 levels at 256");
    assert_eq!(error(&arrays(MAX_NESTING + 1)).to_string(), "nesting deeper than 64 levels at 69");
    assert!(Expression::parse(&mixed(MAX_NESTING)).is_ok());
    assert!(error(&mixed(MAX_NESTING + 4)).message.starts_with("nesting deeper"));

    // Far past the cap, within the length cap: an error, not a stack overflow.
    assert!(error(&nots(1000)).message.starts_with("nesting deeper"));
    assert!(error(&"(".repeat(MAX_SOURCE_LEN)).message.starts_with("nesting deeper"));
    assert!(error(&format!("a IN {}", "[".repeat(4000))).message.starts_with("nesting deeper"));
}

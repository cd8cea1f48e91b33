//! Source text to tokens. winnow does the character-level scanning; the error for each kind of
//! bad token is built here by hand, because a user needs "unterminated string at 5" rather
//! than a generic parser failure.

use serde_json::Number;
use winnow::ascii::{digit1, multispace0};
use winnow::combinator::{dispatch, empty, fail, opt, peek, repeat};
use winnow::error::EmptyError;
use winnow::stream::{AsChar, Location};
use winnow::token::{any, one_of, take_till, take_while};
use winnow::{LocatingSlice, Parser};

use crate::ast::{Operator, Span};
use crate::parse::{quote, ParseError};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    Keyword(Keyword),
    /// An attribute path; its text is the token's span.
    Path,
    String(String),
    Number(Number),
    Compare(Operator),
    OpenParen,
    CloseParen,
    OpenBracket,
    CloseBracket,
    Comma,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    In,
    Has,
    Contains,
    True,
    False,
    Null,
}

type Input<'s> = LocatingSlice<&'s str>;

/// Primitive scanners only say "no"; the caller knows what that means.
type Scan<T> = Result<T, EmptyError>;

/// A bad token, turned into a [`ParseError`] by [`tokenize`], which has the source to quote.
struct LexError {
    problem: Problem,
    span: Span,
}

enum Problem {
    UnterminatedString,
    InvalidEscape,
    InvalidNumber,
    UnexpectedCharacter,
    /// After a `.` in a path.
    ExpectedKey,
}

pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ParseError> {
    let mut input = LocatingSlice::new(source);
    let mut tokens = Vec::new();
    loop {
        let _: Scan<&str> = multispace0.parse_next(&mut input);
        let start = input.current_token_start();
        let Ok(first) = peek(any::<_, EmptyError>).parse_next(&mut input) else {
            return Ok(tokens);
        };
        let kind = match first {
            '"' | '\'' => string(&mut input).map(TokenKind::String),
            '0'..='9' | '-' => number(&mut input).map(TokenKind::Number),
            first if first.is_ascii_alphabetic() || first == '_' => word(&mut input),
            _ => punctuation(&mut input),
        };
        let kind = kind.map_err(|error| error.into_parse_error(source))?;
        tokens.push(Token { kind, span: Span { start, end: input.current_token_start() } });
    }
}

fn string(input: &mut Input<'_>) -> Result<String, LexError> {
    let start = input.current_token_start();
    let unterminated = || LexError::new(Problem::UnterminatedString, start, start + 1);
    let delimiter: Scan<char> = any.parse_next(input);
    let delimiter = delimiter.map_err(|_| unterminated())?;
    let mut value = String::new();
    loop {
        let chunk: Scan<&str> = take_till(0.., (delimiter, '\\')).parse_next(input);
        value.push_str(chunk.unwrap_or_default());
        let backslash = input.current_token_start();
        let next: Scan<char> = any.parse_next(input);
        match next {
            Err(_) => return Err(unterminated()),
            Ok('\\') => match escape(input) {
                Ok(character) => value.push(character),
                Err(BadEscape::Invalid) => {
                    return Err(LexError::new(Problem::InvalidEscape, backslash, input.current_token_start()))
                }
                Err(BadEscape::EndOfInput) => return Err(unterminated()),
            },
            Ok(_closing_delimiter) => return Ok(value),
        }
    }
}

enum BadEscape {
    Invalid,
    EndOfInput,
}

/// The character after a backslash: JSON's escapes, plus `\'` for single-quoted strings.
fn escape(input: &mut Input<'_>) -> Result<char, BadEscape> {
    let escaped: Scan<char> = any.parse_next(input);
    let character = match escaped.map_err(|_| BadEscape::EndOfInput)? {
        '"' => '"',
        '\'' => '\'',
        '\\' => '\\',
        '/' => '/',
        'b' => '\u{8}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'u' => return unicode_escape(input).ok_or(BadEscape::Invalid),
        _ => return Err(BadEscape::Invalid),
    };
    Ok(character)
}

/// `\uXXXX` after the `\u`, with a UTF-16 surrogate pair spelled as two escapes.
fn unicode_escape(input: &mut Input<'_>) -> Option<char> {
    fn code_unit(input: &mut Input<'_>) -> Option<u16> {
        // Up to four digits are taken even when fewer are there, so the error quotes them.
        let digits: Scan<&str> = take_while(0..=4, AsChar::is_hex_digit).parse_next(input);
        digits.ok().filter(|digits| digits.len() == 4).and_then(|digits| u16::from_str_radix(digits, 16).ok())
    }
    let first = code_unit(input)?;
    if (0xD800..0xDC00).contains(&first) {
        let low_escape: Scan<&str> = "\\u".parse_next(input);
        low_escape.ok()?;
        return char::decode_utf16([first, code_unit(input)?]).next()?.ok();
    }
    char::decode_utf16([first]).next()?.ok()
}

/// `-?digits(.digits)?([eE][+-]?digits)?`, as in JSON but leading zeros are allowed. A number
/// glued to letters, digits or dots (`1.`, `1.2.3`, `2abc`) is one bad token, not two good ones.
fn number(input: &mut Input<'_>) -> Result<Number, LexError> {
    let start = input.current_token_start();
    let text: Scan<&str> =
        (opt('-'), digit1, opt(('.', digit1)), opt((one_of(['e', 'E']), opt(one_of(['+', '-'])), digit1)))
            .take()
            .parse_next(input);
    let Ok(text) = text else {
        return Err(LexError::new(Problem::UnexpectedCharacter, start, start + 1));
    };
    let glued: Scan<&str> = take_while(0.., |c: char| is_key_char(c) || c == '.').parse_next(input);
    let end = input.current_token_start();
    if glued.is_ok_and(|glued| !glued.is_empty()) {
        return Err(LexError::new(Problem::InvalidNumber, start, end));
    }
    parse_number(text).ok_or_else(|| LexError::new(Problem::InvalidNumber, start, end))
}

/// Integers stay exact as `i64` or `u64`, the way serde_json reads attributes; anything else
/// is an `f64`, which must be finite.
fn parse_number(text: &str) -> Option<Number> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(integer) = text.parse::<i64>() {
            return Some(integer.into());
        }
        if let Ok(integer) = text.parse::<u64>() {
            return Some(integer.into());
        }
    }
    Number::from_f64(text.parse().ok()?)
}

/// A path (`level`, `task.topic`) or, without dots, possibly a keyword. Keys are ASCII
/// letters, digits, `_` and `-`, and start with a letter or `_`.
fn word(input: &mut Input<'_>) -> Result<TokenKind, LexError> {
    fn key<'s>(input: &mut Input<'s>) -> Scan<&'s str> {
        (one_of(|c: char| c.is_ascii_alphabetic() || c == '_'), take_while(0.., is_key_char)).take().parse_next(input)
    }
    let text: Scan<&str> = (key, repeat::<_, _, (), _, _>(0.., ('.', key))).take().parse_next(input);
    let text = text.unwrap_or_default();
    if input.starts_with('.') {
        let after_dot = input.current_token_start() + 1;
        return Err(LexError::new(Problem::ExpectedKey, after_dot, after_dot));
    }
    if text.contains('.') {
        return Ok(TokenKind::Path);
    }
    const KEYWORDS: [(&str, Keyword); 9] = [
        ("and", Keyword::And),
        ("or", Keyword::Or),
        ("not", Keyword::Not),
        ("in", Keyword::In),
        ("has", Keyword::Has),
        ("contains", Keyword::Contains),
        ("true", Keyword::True),
        ("false", Keyword::False),
        ("null", Keyword::Null),
    ];
    let keyword = KEYWORDS.iter().find(|(spelling, _)| spelling.eq_ignore_ascii_case(text));
    Ok(keyword.map_or(TokenKind::Path, |(_, keyword)| TokenKind::Keyword(*keyword)))
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn punctuation(input: &mut Input<'_>) -> Result<TokenKind, LexError> {
    let start = input.current_token_start();
    let compare = |operator| TokenKind::Compare(operator);
    let kind: Scan<TokenKind> = dispatch! {any;
        '=' => '='.value(compare(Operator::Equal)),
        '!' => '='.value(compare(Operator::NotEqual)),
        '<' => opt('=').map(|equal| compare(if equal.is_some() { Operator::LessOrEqual } else { Operator::Less })),
        '>' => opt('=').map(|equal| compare(if equal.is_some() { Operator::GreaterOrEqual } else { Operator::Greater })),
        '(' => empty.value(TokenKind::OpenParen),
        ')' => empty.value(TokenKind::CloseParen),
        '[' => empty.value(TokenKind::OpenBracket),
        ']' => empty.value(TokenKind::CloseBracket),
        ',' => empty.value(TokenKind::Comma),
        _ => fail,
    }
    .parse_next(input);
    kind.map_err(|_| LexError::new(Problem::UnexpectedCharacter, start, start + 1))
}

impl LexError {
    fn new(problem: Problem, start: usize, end: usize) -> LexError {
        LexError { problem, span: Span { start, end } }
    }

    fn into_parse_error(self, source: &str) -> ParseError {
        let message = match self.problem {
            Problem::UnterminatedString => "unterminated string".to_owned(),
            Problem::InvalidEscape => format!("invalid escape {}", quote(self.span.text(source))),
            Problem::InvalidNumber => format!("invalid number {}", quote(self.span.text(source))),
            Problem::UnexpectedCharacter => {
                let character = source.get(self.span.start..).and_then(|rest| rest.chars().next());
                format!("unexpected character {:?}", character.unwrap_or_default())
            }
            Problem::ExpectedKey => "expected attribute name".to_owned(),
        };
        ParseError { message, position: self.span.start }
    }
}

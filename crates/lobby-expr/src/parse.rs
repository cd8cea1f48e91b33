//! Tokens to the tree, by recursive descent. The grammar is small and every error names the
//! token where it went wrong, which is simplest to say with the tokens in hand.

use serde_json::Value;

use crate::ast::{AttributePath, Comparison, Node, Operand, Operator, Scope, Span};
use crate::lex::{self, Keyword, Token, TokenKind};

/// The longest source accepted, in bytes. Rules are written by people; this bounds the work
/// of a parse whatever arrives through an API.
pub const MAX_SOURCE_LEN: usize = 4096;

/// How deep parentheses, `NOT`s and array literals may nest. Parsing, evaluation and
/// explanation recurse on the nesting, so this bounds their stack use.
pub const MAX_NESTING: usize = 64;

/// Why a source text is not an expression, and where: `position` is a 0-based byte offset into
/// the source, at most its length.
///
/// Displays as `"{message} at {position}"`, for example `unexpected token 'AND' at 12`,
/// `unexpected end of expression at 20`, `unterminated string at 5` or `expected ']' at 9`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {position}")]
pub struct ParseError {
    /// What is wrong, without the position.
    pub message: String,
    /// Byte offset of the offending token, or the source length for an early end.
    pub position: usize,
}

pub(crate) fn parse(source: &str) -> Result<Node, ParseError> {
    if source.len() > MAX_SOURCE_LEN {
        let message = format!("expression longer than {MAX_SOURCE_LEN} bytes");
        return Err(ParseError { message, position: MAX_SOURCE_LEN });
    }
    let tokens = lex::tokenize(source)?;
    let mut parser = Parser { source, tokens: &tokens, next: 0, nesting: 0 };
    let root = parser.disjunction()?;
    match parser.peek() {
        None => Ok(root),
        Some(token) => Err(parser.unexpected(Some(token))),
    }
}

/// Quotes a piece of source for a message, cut short so that one long string literal does not
/// make a long message.
pub(crate) fn quote(text: &str) -> String {
    const SHOWN_CHARS: usize = 32;
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("'{}…'", &text[..cut]),
        None => format!("'{text}'"),
    }
}

struct Parser<'t> {
    source: &'t str,
    tokens: &'t [Token],
    next: usize,
    nesting: usize,
}

impl<'t> Parser<'t> {
    /// `conjunction (OR conjunction)*`
    fn disjunction(&mut self) -> Result<Node, ParseError> {
        let first = self.conjunction()?;
        if !self.at_keyword(Keyword::Or) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.eat_keyword(Keyword::Or) {
            operands.push(self.conjunction()?);
        }
        Ok(Node::Any(operands.into()))
    }

    /// `negation (AND negation)*`
    fn conjunction(&mut self) -> Result<Node, ParseError> {
        let first = self.negation()?;
        if !self.at_keyword(Keyword::And) {
            return Ok(first);
        }
        let mut operands = vec![first];
        while self.eat_keyword(Keyword::And) {
            operands.push(self.negation()?);
        }
        Ok(Node::All(operands.into()))
    }

    /// `NOT negation | '(' disjunction ')' | comparison`
    fn negation(&mut self) -> Result<Node, ParseError> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected(None));
        };
        match token.kind {
            TokenKind::Keyword(Keyword::Not) => {
                self.next += 1;
                let operand = self.nested(token, Parser::negation)?;
                Ok(Node::Not(Box::new(operand)))
            }
            TokenKind::OpenParen => {
                self.next += 1;
                let inner = self.nested(token, Parser::disjunction)?;
                self.expect(TokenKind::CloseParen, "')'")?;
                Ok(inner)
            }
            _ => self.comparison().map(Node::Compare),
        }
    }

    /// `operand operator operand`
    fn comparison(&mut self) -> Result<Comparison, ParseError> {
        let start = self.peek().map_or(self.source.len(), |token| token.span.start);
        let left = self.operand()?;
        let operator = self.operator()?;
        let right = self.operand()?;
        // The right operand took at least one token.
        let end = self.tokens.get(self.next.wrapping_sub(1)).map_or(start, |token| token.span.end);
        Ok(Comparison { left, operator, right, span: Span { start, end } })
    }

    fn operator(&mut self) -> Result<Operator, ParseError> {
        let token = self.peek();
        let operator = match token.map(|token| &token.kind) {
            Some(TokenKind::Compare(operator)) => *operator,
            Some(TokenKind::Keyword(Keyword::Has)) => Operator::Has,
            Some(TokenKind::Keyword(Keyword::In)) => Operator::In,
            Some(TokenKind::Keyword(Keyword::Contains)) => Operator::Contains,
            Some(TokenKind::Keyword(Keyword::Not)) => {
                self.next += 1;
                if !self.at_keyword(Keyword::In) {
                    return Err(self.expected("'IN'"));
                }
                Operator::NotIn
            }
            _ => return Err(self.unexpected(token)),
        };
        self.next += 1;
        Ok(operator)
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        match self.peek() {
            Some(Token { kind: TokenKind::Path, span }) => {
                self.next += 1;
                Ok(Operand::Attribute(attribute_path(span.text(self.source), *span)))
            }
            _ => self.literal().map(Operand::Literal),
        }
    }

    /// A string, number, `true`, `false`, `null` or an array of literals.
    fn literal(&mut self) -> Result<Value, ParseError> {
        let Some(token) = self.peek() else {
            return Err(self.unexpected(None));
        };
        let value = match &token.kind {
            TokenKind::String(string) => Value::String(string.clone()),
            TokenKind::Number(number) => Value::Number(number.clone()),
            TokenKind::Keyword(Keyword::True) => Value::Bool(true),
            TokenKind::Keyword(Keyword::False) => Value::Bool(false),
            TokenKind::Keyword(Keyword::Null) => Value::Null,
            TokenKind::OpenBracket => {
                self.next += 1;
                return self.nested(token, Parser::array_elements).map(Value::Array);
            }
            _ => return Err(self.unexpected(Some(token))),
        };
        self.next += 1;
        Ok(value)
    }

    /// After `[`: `(literal (',' literal)*)? ']'`
    fn array_elements(&mut self) -> Result<Vec<Value>, ParseError> {
        let mut elements = Vec::new();
        if self.eat(&TokenKind::CloseBracket) {
            return Ok(elements);
        }
        loop {
            elements.push(self.literal()?);
            if self.eat(&TokenKind::CloseBracket) {
                return Ok(elements);
            }
            self.expect(TokenKind::Comma, "']'")?;
        }
    }

    /// Runs `parse` one nesting level deeper; `opening` is the token that opened the level.
    fn nested<T>(&mut self, opening: &Token, parse: fn(&mut Self) -> Result<T, ParseError>) -> Result<T, ParseError> {
        if self.nesting == MAX_NESTING {
            let message = format!("nesting deeper than {MAX_NESTING} levels");
            return Err(ParseError { message, position: opening.span.start });
        }
        self.nesting += 1;
        let parsed = parse(self);
        self.nesting -= 1;
        parsed
    }

    fn peek(&self) -> Option<&'t Token> {
        self.tokens.get(self.next)
    }

    fn at_keyword(&self, keyword: Keyword) -> bool {
        self.peek().is_some_and(|token| token.kind == TokenKind::Keyword(keyword))
    }

    fn eat_keyword(&mut self, keyword: Keyword) -> bool {
        self.eat(&TokenKind::Keyword(keyword))
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let found = self.peek().is_some_and(|token| token.kind == *kind);
        self.next += usize::from(found);
        found
    }

    fn expect(&mut self, kind: TokenKind, shown: &str) -> Result<(), ParseError> {
        if self.eat(&kind) {
            Ok(())
        } else {
            Err(self.expected(shown))
        }
    }

    fn expected(&self, shown: &str) -> ParseError {
        ParseError { message: format!("expected {shown}"), position: self.position() }
    }

    fn unexpected(&self, token: Option<&Token>) -> ParseError {
        match token {
            Some(token) => ParseError {
                message: format!("unexpected token {}", quote(token.span.text(self.source))),
                position: token.span.start,
            },
            None => ParseError { message: "unexpected end of expression".to_owned(), position: self.source.len() },
        }
    }

    /// Where the next token starts, or the end of the source.
    fn position(&self) -> usize {
        self.peek().map_or(self.source.len(), |token| token.span.start)
    }
}

/// `worker.` and `task.` choose whose attributes a path reads when more keys follow; a bare
/// path, even a bare `task`, reads the worker's.
fn attribute_path(text: &str, span: Span) -> AttributePath {
    let (scope, keys) = match text.split_once('.') {
        Some(("worker", keys)) => (Scope::Worker, keys),
        Some(("task", keys)) => (Scope::Task, keys),
        _ => (Scope::Worker, text),
    };
    AttributePath { scope, keys: keys.split('.').map(Box::from).collect(), span }
}

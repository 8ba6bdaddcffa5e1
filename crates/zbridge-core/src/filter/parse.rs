//! Lexer and recursive-descent parser of the filter language.
//!
//! ```text
//! expr      := and ( OR and )*
//! and       := not ( AND not )*
//! not       := NOT not | '(' expr ')' | predicate
//! predicate := operand cmp operand
//!            | column [NOT] IN '(' literal ( ',' literal )* ')'
//!            | column [NOT] LIKE string
//!            | column IS [NOT] NULL
//! operand   := column | literal
//! column    := ident [ '.' ident ]          ident: [A-Za-z_][A-Za-z0-9_]* or "quoted ""x"""
//! literal   := string | number | TRUE | FALSE | NULL | DATE string | TIMESTAMP string
//! cmp       := = | != | <> | < | <= | > | >=
//! ```
//!
//! Keywords are case-insensitive. `DATE` and `TIMESTAMP` are identifiers unless a string
//! follows. Numbers are `-?digits[.digits]`: integers that overflow `i64` become decimals.

use std::str::FromStr;

use rust_decimal::Decimal;

use super::FilterError;
use super::ast::{CmpOp, Column, Expr, Operand};
use crate::time;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    QuotedIdent(String),
    Str(String),
    Number(String),
    Op(CmpOp),
    LParen,
    RParen,
    Comma,
    Dot,
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("'{w}'"),
            Token::QuotedIdent(w) => format!("\"{w}\""),
            Token::Str(s) => format!("string '{}'", shorten(s)),
            Token::Number(n) => format!("number {n}"),
            Token::Op(op) => format!("'{}'", op.as_str()),
            Token::LParen => "'('".into(),
            Token::RParen => "')'".into(),
            Token::Comma => "','".into(),
            Token::Dot => "'.'".into(),
            Token::End => "end of input".into(),
        }
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() > 20 {
        text.chars().take(20).chain("…".chars()).collect()
    } else {
        text.to_owned()
    }
}

/// A token and its 1-based character column.
type Spanned = (Token, usize);

fn syntax(column: usize, expected: impl Into<String>, found: impl Into<String>) -> FilterError {
    FilterError::Syntax {
        column,
        expected: expected.into(),
        found: found.into(),
    }
}

fn lex(input: &str) -> Result<Vec<Spanned>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        let next = chars.get(i + 1).copied();
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | ',' | '.' => {
                tokens.push((
                    match c {
                        '(' => Token::LParen,
                        ')' => Token::RParen,
                        ',' => Token::Comma,
                        _ => Token::Dot,
                    },
                    column,
                ));
                i += 1;
            }
            '=' => {
                tokens.push((Token::Op(CmpOp::Eq), column));
                i += 1;
            }
            '!' if next == Some('=') => {
                tokens.push((Token::Op(CmpOp::Ne), column));
                i += 2;
            }
            '<' | '>' => {
                let (op, width) = match (c, next) {
                    ('<', Some('=')) => (CmpOp::Le, 2),
                    ('<', Some('>')) => (CmpOp::Ne, 2),
                    ('<', _) => (CmpOp::Lt, 1),
                    (_, Some('=')) => (CmpOp::Ge, 2),
                    _ => (CmpOp::Gt, 1),
                };
                tokens.push((Token::Op(op), column));
                i += width;
            }
            '\'' | '"' => {
                let (text, end) = quoted(&chars, i, c)?;
                let token = if c == '\'' {
                    Token::Str(text)
                } else {
                    Token::QuotedIdent(text)
                };
                tokens.push((token, column));
                i = end;
            }
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                if chars.get(i) == Some(&'.') {
                    i += 1;
                    if !chars.get(i).is_some_and(char::is_ascii_digit) {
                        return Err(syntax(
                            i + 1,
                            "digits after the decimal point",
                            found_at(&chars, i),
                        ));
                    }
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                tokens.push((Token::Number(chars[start..i].iter().collect()), column));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push((Token::Word(chars[start..i].iter().collect()), column));
            }
            other => {
                return Err(syntax(
                    column,
                    "a column, a value, an operator or a parenthesis",
                    format!("'{other}'"),
                ));
            }
        }
    }
    tokens.push((Token::End, chars.len() + 1));
    Ok(tokens)
}

fn found_at(chars: &[char], i: usize) -> String {
    chars
        .get(i)
        .map_or_else(|| "end of input".to_owned(), |c| format!("'{c}'"))
}

/// Reads a quoted run starting at `start` (the opening quote); a doubled quote is one quote.
fn quoted(chars: &[char], start: usize, quote: char) -> Result<(String, usize), FilterError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => {
                let what = if quote == '\'' {
                    "string"
                } else {
                    "quoted identifier"
                };
                return Err(syntax(
                    chars.len() + 1,
                    format!(
                        "a closing {quote} for the {what} opened at column {}",
                        start + 1
                    ),
                    "end of input",
                ));
            }
            Some(&c) if c == quote => {
                if chars.get(i + 1) == Some(&quote) {
                    text.push(quote);
                    i += 2;
                } else {
                    return Ok((text, i + 1));
                }
            }
            Some(&c) => {
                text.push(c);
                i += 1;
            }
        }
    }
}

/// Parses a filter expression.
pub fn parse(input: &str) -> Result<Expr, FilterError> {
    let mut parser = Parser {
        tokens: lex(input)?,
        pos: 0,
    };
    let expr = parser.or()?;
    match parser.peek() {
        Token::End => Ok(expr),
        Token::RParen => Err(parser.error("an operator such as AND, or the end (unbalanced ')')")),
        _ => Err(parser.error("AND, OR or the end of the filter")),
    }
}

struct Parser {
    tokens: Vec<Spanned>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos.min(self.tokens.len() - 1)].0
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        &self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)].0
    }

    fn column(&self) -> usize {
        self.tokens[self.pos.min(self.tokens.len() - 1)].1
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        token
    }

    fn error(&self, expected: impl Into<String>) -> FilterError {
        syntax(self.column(), expected, self.peek().describe())
    }

    fn is_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Token::Word(w) if w.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.is_keyword(keyword);
        if found {
            self.advance();
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str, expected: &str) -> Result<(), FilterError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn expect(&mut self, token: Token, expected: &str) -> Result<(), FilterError> {
        if *self.peek() == token {
            self.advance();
            Ok(())
        } else {
            Err(self.error(expected))
        }
    }

    fn or(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.and()?];
        while self.eat_keyword("OR") {
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, FilterError> {
        let mut parts = vec![self.not()?];
        while self.eat_keyword("AND") {
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn not(&mut self) -> Result<Expr, FilterError> {
        if self.eat_keyword("NOT") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        if *self.peek() == Token::LParen {
            self.advance();
            let inner = self.or()?;
            self.expect(Token::RParen, "')' or AND/OR inside the parentheses")?;
            return Ok(inner);
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, FilterError> {
        let start = self.column();
        let left = self.operand("a condition (a column or a value)")?;
        if let Token::Op(op) = *self.peek() {
            self.advance();
            let right = self.operand(&format!("a column or a value after '{}'", op.as_str()))?;
            return Ok(Expr::Compare { left, op, right });
        }
        let negated = self.is_keyword("NOT")
            && matches!(self.peek_at(1), Token::Word(w) if w.eq_ignore_ascii_case("IN") || w.eq_ignore_ascii_case("LIKE"));
        if negated {
            self.advance();
        }
        let keyword = match self.peek() {
            Token::Word(w)
                if ["IN", "LIKE", "IS"]
                    .iter()
                    .any(|k| w.eq_ignore_ascii_case(k)) =>
            {
                w.to_ascii_uppercase()
            }
            _ => {
                return Err(
                    self.error("a comparison operator, [NOT] IN, [NOT] LIKE or IS [NOT] NULL")
                );
            }
        };
        let Operand::Column(column) = left else {
            return Err(syntax(
                start,
                format!("a column before {keyword}"),
                "a value",
            ));
        };
        self.advance();
        match keyword.as_str() {
            "IN" => {
                self.expect(Token::LParen, "'(' after IN")?;
                let mut list = vec![self.literal("a value in the IN list")?];
                while *self.peek() == Token::Comma {
                    self.advance();
                    list.push(self.literal("a value after ',' in the IN list")?);
                }
                self.expect(Token::RParen, "',' or ')' in the IN list")?;
                Ok(Expr::In {
                    column,
                    list,
                    negated,
                })
            }
            "LIKE" => match self.advance() {
                Token::Str(pattern) => Ok(Expr::Like {
                    column,
                    pattern,
                    negated,
                }),
                _ => {
                    self.pos -= 1;
                    Err(self.error("a quoted pattern after LIKE"))
                }
            },
            _ => {
                let negated = self.eat_keyword("NOT");
                self.expect_keyword("NULL", "NULL or NOT NULL after IS")?;
                Ok(Expr::IsNull { column, negated })
            }
        }
    }

    fn operand(&mut self, expected: &str) -> Result<Operand, FilterError> {
        if let Some(value) = self.try_literal()? {
            return Ok(Operand::Literal(value));
        }
        let first = self.identifier(expected)?;
        if *self.peek() == Token::Dot {
            self.advance();
            let name = self.identifier("a field name after '.'")?;
            if *self.peek() == Token::Dot {
                return Err(self.error("an operator (at most one '.' in a column name)"));
            }
            return Ok(Operand::Column(Column::qualified(first, name)));
        }
        Ok(Operand::Column(Column::new(first)))
    }

    fn identifier(&mut self, expected: &str) -> Result<String, FilterError> {
        match self.peek().clone() {
            Token::QuotedIdent(name) => {
                self.advance();
                Ok(name)
            }
            Token::Word(word) if !is_reserved(&word) => {
                self.advance();
                Ok(word)
            }
            _ => Err(self.error(expected)),
        }
    }

    fn literal(&mut self, expected: &str) -> Result<Value, FilterError> {
        match self.try_literal()? {
            Some(value) => Ok(value),
            None => Err(self.error(expected)),
        }
    }

    /// A literal if one starts here; `DATE` and `TIMESTAMP` count only when a string follows.
    fn try_literal(&mut self) -> Result<Option<Value>, FilterError> {
        let column = self.column();
        let value = match self.peek().clone() {
            Token::Str(text) => Value::Text(text),
            Token::Number(text) => number(&text, column)?,
            Token::Word(w) if w.eq_ignore_ascii_case("TRUE") => Value::Bool(true),
            Token::Word(w) if w.eq_ignore_ascii_case("FALSE") => Value::Bool(false),
            Token::Word(w) if w.eq_ignore_ascii_case("NULL") => Value::Null,
            Token::Word(w) if is_typed_prefix(&w) => {
                let Token::Str(text) = self.peek_at(1).clone() else {
                    return Ok(None);
                };
                let typed = if w.eq_ignore_ascii_case("DATE") {
                    time::parse_date(&text).map(Value::Date)
                } else {
                    time::parse_datetime_as_written(&text, chrono::FixedOffset::east_opt(0))
                        .map(Value::DateTime)
                };
                let value = typed.map_err(|e| FilterError::Syntax {
                    column: self.tokens[self.pos + 1].1,
                    expected: format!("a valid {} literal", w.to_ascii_uppercase()),
                    found: e.to_string(),
                })?;
                self.advance();
                value
            }
            _ => return Ok(None),
        };
        self.advance();
        Ok(Some(value))
    }
}

fn is_typed_prefix(word: &str) -> bool {
    word.eq_ignore_ascii_case("DATE") || word.eq_ignore_ascii_case("TIMESTAMP")
}

/// Keywords that can never be bare identifiers (DATE and TIMESTAMP can).
fn is_reserved(word: &str) -> bool {
    super::ast::KEYWORDS
        .iter()
        .any(|k| k.eq_ignore_ascii_case(word))
        && !is_typed_prefix(word)
}

fn number(text: &str, column: usize) -> Result<Value, FilterError> {
    if !text.contains('.')
        && let Ok(i) = text.parse::<i64>()
    {
        return Ok(Value::Integer(i));
    }
    Decimal::from_str(text).map(Value::Decimal).map_err(|_| {
        syntax(
            column,
            "a number of at most 28 digits",
            format!("number {text}"),
        )
    })
}

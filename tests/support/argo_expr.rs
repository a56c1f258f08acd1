//! The part of expr-lang that Argo's expression tags (`{{= ...}}`) use in what we emit, for
//! the simulator: member access on the parameters in scope (Argo expands their dotted names,
//! `tasks.t.outputs.parameters.p`, into nested maps: `util/expr/env`), string, number and
//! boolean literals (strings single- or double-quoted with backslash escapes), `asFloat`,
//! `sprig.b64dec`, comparisons, `&&`/`and`, `||`/`or`, `!`/`not` and parentheses.
//!
//! Values are looked up, never spliced into the text, as in Argo: that is the property the
//! condition tests rely on. Anything outside this subset panics, so an emitter change that
//! the simulator does not understand fails loudly. A run-time error of expr-lang (a value
//! that `asFloat` cannot parse, ordering values of different types) is an `Err`, which Argo
//! turns into an error of the task.
#![allow(dead_code)]

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    /// A path into the expanded environment that is not (yet) a leaf: `tasks['t']`.
    Path(Vec<String>),
}

fn lex(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' || c == '"' {
            let quote = c;
            let mut text = String::new();
            i += 1;
            loop {
                let ch = *chars
                    .get(i)
                    .unwrap_or_else(|| panic!("unclosed string in {source:?}"));
                i += 1;
                if ch == quote {
                    break;
                }
                if ch != '\\' {
                    text.push(ch);
                    continue;
                }
                let esc = chars[i];
                i += 1;
                match esc {
                    'n' => text.push('\n'),
                    't' => text.push('\t'),
                    'r' => text.push('\r'),
                    '\\' | '\'' | '"' => text.push(esc),
                    'u' => {
                        let hex: String = chars[i..i + 4].iter().collect();
                        i += 4;
                        let code = u32::from_str_radix(&hex, 16).expect("\\u escape");
                        text.push(char::from_u32(code).expect("a character"));
                    }
                    other => panic!("escape \\{other} is outside the simulated subset"),
                }
            }
            tokens.push(Token::Str(text));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || matches!(chars[i], 'e' | 'E')
                    || (matches!(chars[i], '-' | '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let text: String = chars[start..i].iter().collect();
            tokens.push(Token::Num(text.parse().expect("a number literal")));
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match word.as_str() {
                "and" => tokens.push(Token::Op("&&")),
                "or" => tokens.push(Token::Op("||")),
                "not" => tokens.push(Token::Op("!")),
                _ => tokens.push(Token::Ident(word)),
            }
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let op = ["==", "!=", "<=", ">=", "&&", "||"]
                .into_iter()
                .find(|op| *op == two);
            if let Some(op) = op {
                tokens.push(Token::Op(op));
                i += 2;
            } else {
                let op = ["<", ">", "!", "(", ")", "[", "]", ".", ","]
                    .into_iter()
                    .find(|op| op.starts_with(c))
                    .unwrap_or_else(|| {
                        panic!("{c:?} is outside the simulated subset in {source:?}")
                    });
                tokens.push(Token::Op(op));
                i += 1;
            }
        }
    }
    tokens
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    env: &'a BTreeMap<String, String>,
}

type Result<T> = std::result::Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Token::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, op: &str) {
        assert!(
            self.eat(op),
            "expected {op} at token {} of {:?}",
            self.at,
            self.tokens
        );
    }

    fn or(&mut self) -> Result<Value> {
        let mut left = self.and()?;
        while self.eat("||") {
            let right = self.and()?;
            left = Value::Bool(truth(&left)? || truth(&right)?);
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<Value> {
        let mut left = self.comparison()?;
        while self.eat("&&") {
            let right = self.comparison()?;
            left = Value::Bool(truth(&left)? && truth(&right)?);
        }
        Ok(left)
    }
    fn comparison(&mut self) -> Result<Value> {
        let left = self.unary()?;
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            if self.eat(op) {
                let right = self.unary()?;
                let (l, r) = (self.leaf(left)?, self.leaf(right)?);
                return compare(&l, op, &r).map(Value::Bool);
            }
        }
        self.leaf(left)
    }
    fn unary(&mut self) -> Result<Value> {
        if self.eat("!") {
            let v = self.unary()?;
            let v = self.leaf(v)?;
            return Ok(Value::Bool(!truth(&v)?));
        }
        self.postfix()
    }
    fn postfix(&mut self) -> Result<Value> {
        let mut value = self.primary()?;
        loop {
            if self.eat(".") {
                let Some(Token::Ident(name)) = self.peek().cloned() else {
                    panic!("expected a name after '.'")
                };
                self.at += 1;
                value = member(value, name)?;
            } else if self.eat("[") {
                let key = self.or()?;
                self.expect("]");
                let Value::Str(key) = self.leaf(key)? else {
                    panic!("only string keys are simulated")
                };
                value = member(value, key)?;
            } else if self.eat("(") {
                let Value::Path(function) = value else {
                    panic!("not a function")
                };
                let argument = self.or()?;
                let argument = self.leaf(argument)?;
                self.expect(")");
                value = call(&function.join("."), argument)?;
            } else {
                return Ok(value);
            }
        }
    }
    fn primary(&mut self) -> Result<Value> {
        let token = self.peek().cloned().expect("an operand");
        self.at += 1;
        Ok(match token {
            Token::Str(s) => Value::Str(s),
            Token::Num(n) => Value::Num(n),
            Token::Ident(word) if word == "true" => Value::Bool(true),
            Token::Ident(word) if word == "false" => Value::Bool(false),
            Token::Ident(word) => Value::Path(vec![word]),
            Token::Op("(") => {
                let v = self.or()?;
                self.expect(")");
                v
            }
            other => panic!("unexpected {other:?}"),
        })
    }

    /// A path resolved to the parameter it names; other values as they are.
    fn leaf(&self, value: Value) -> Result<Value> {
        match value {
            Value::Path(path) => {
                let key = path.join(".");
                self.env
                    .get(&key)
                    .map(|v| Value::Str(v.clone()))
                    .ok_or_else(|| format!("unresolved variable {key}"))
            }
            other => Ok(other),
        }
    }
}

fn member(value: Value, name: String) -> Result<Value> {
    match value {
        Value::Path(mut path) => {
            path.push(name);
            Ok(Value::Path(path))
        }
        other => Err(format!("cannot read .{name} of {other:?}")),
    }
}

fn call(function: &str, argument: Value) -> Result<Value> {
    match (function, argument) {
        // builtin.Float: strconv.ParseFloat of a string, the number itself otherwise.
        ("asFloat", Value::Str(s)) => s
            .parse::<f64>()
            .map(Value::Num)
            .map_err(|_| format!("asFloat: {s:?} is not a number")),
        ("asFloat", Value::Num(n)) => Ok(Value::Num(n)),
        ("sprig.b64dec", Value::Str(s)) => Ok(Value::Str(b64dec(&s))),
        (f, a) => panic!("{f}({a:?}) is outside the simulated subset"),
    }
}

fn b64dec(text: &str) -> String {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.chars().filter(|&c| c != '=') {
        let v = ALPHABET.find(c).expect("a base64 character") as u32;
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    String::from_utf8(out).expect("UTF-8")
}

fn truth(value: &Value) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(format!("{other:?} is not a boolean")),
    }
}

fn compare(l: &Value, op: &str, r: &Value) -> Result<bool> {
    use std::cmp::Ordering;
    let ordering = match (l, r) {
        (Value::Str(a), Value::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
        (Value::Num(a), Value::Num(b)) => a.partial_cmp(b),
        (Value::Bool(a), Value::Bool(b)) if matches!(op, "==" | "!=") => Some(a.cmp(b)),
        // expr-lang: == of different types is false; ordering them is an error.
        _ if op == "==" => return Ok(false),
        _ if op == "!=" => return Ok(true),
        _ => return Err(format!("invalid operation: {l:?} {op} {r:?}")),
    };
    let Some(ordering) = ordering else {
        return Ok(op == "!=");
    };
    Ok(match op {
        "==" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        _ => unreachable!(),
    })
}

/// Evaluates an expression tag's body against the parameters in scope (flat dotted names),
/// and gives the text Argo writes in the tag's place.
pub fn evaluate(expression: &str, env: &BTreeMap<String, String>) -> Result<String> {
    let mut parser = Parser {
        tokens: lex(expression),
        at: 0,
        env,
    };
    let value = parser.or()?;
    assert_eq!(
        parser.at,
        parser.tokens.len(),
        "trailing tokens in {expression:?}"
    );
    Ok(match parser.leaf(value)? {
        Value::Str(s) => s,
        Value::Num(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Path(_) => unreachable!(),
    })
}

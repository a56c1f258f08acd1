//! Conditions as Argo `when` fields that no run-time value can rewrite.
//!
//! Argo evaluates a DAG task's `when` in two stages (workflow/controller `dag.go`,
//! `util/template`): first every `{{...}}` tag in the task is replaced, then the resulting
//! text is parsed and evaluated by govaluate. A *simple* tag (`{{tasks.t.outputs.parameters.p}}`)
//! is replaced by the value's text, so a value spliced into a quoted comparison can close the
//! quote and add operators of its own (`x' == 'x' || 'a`). An *expression* tag
//! (`{{= ...}}`) is instead compiled and run by expr-lang with every parameter in scope as a
//! variable of its environment (`util/expr/env`: the dotted names expanded into nested maps),
//! and only its result, `true` or `false`, reaches govaluate. So the whole condition is
//! emitted as one expression tag in which run-time values are only ever variables:
//!
//! ```text
//! {{=tasks['flip-coin'].outputs.parameters['output'] == 'heads'}}
//! {{=asFloat(inputs.parameters['score']) > 9.5 && !(inputs.parameters['role'] == 'admin')}}
//! ```
//!
//! Values are compared with the local runner's typed meaning ([`Condition::evaluate`]): numbers
//! through `asFloat` (both sides), booleans as `true`/`True` against anything else, strings byte
//! for byte. Compile-time text is written as a quoted literal when it holds only plain
//! characters, else as `sprig.b64dec('...')` of its base64 form. That keeps quotes, `{{`/`}}`
//! (which would end the tag early), backslashes (which Argo's JSON round trip of the task
//! treats differently across versions), and `?` with `:` (Argo reads an expression holding
//! both as a ternary and splits it) out of the emitted text.

use crate::ir::control::{CompareOp, Condition, Operand};
use crate::ir::graph::ValueSource;
use crate::ir::param::{ParamType, json_to_text};

/// The `when` field of a task guarded by `condition`: one expression tag.
pub(crate) fn when_field(condition: &Condition) -> String {
    format!("{{{{={}}}}}", expression(condition))
}

/// The expr-lang expression of a condition (without the tag's braces).
fn expression(condition: &Condition) -> String {
    match condition {
        Condition::Compare { left, op, right } => compare(left, *op, right),
        Condition::And(a, b) => format!("({}) && ({})", expression(a), expression(b)),
        Condition::Or(a, b) => format!("({}) || ({})", expression(a), expression(b)),
        Condition::Not(c) => format!("!({})", expression(c)),
    }
}

/// One comparison; both sides are read with the left side's type, as the local runner does.
fn compare(left: &Operand, op: CompareOp, right: &Operand) -> String {
    let ty = left.ty;
    let (l, r) = (typed(&left.source, ty), typed(&right.source, ty));
    if ty == ParamType::Boolean {
        // expr-lang does not order booleans; false < true, as the local runner has it.
        return match (op, r.as_str()) {
            (CompareOp::Eq, "true") | (CompareOp::Ne, "false") => l,
            (CompareOp::Eq, "false") | (CompareOp::Ne, "true") => format!("!{l}"),
            _ => match op {
                CompareOp::Eq => format!("{l} == {r}"),
                CompareOp::Ne => format!("{l} != {r}"),
                CompareOp::Lt => format!("!{l} && {r}"),
                CompareOp::Le => format!("!{l} || {r}"),
                CompareOp::Gt => format!("{l} && !{r}"),
                CompareOp::Ge => format!("{l} || !{r}"),
            },
        };
    }
    format!("{l} {} {r}", op.symbol())
}

/// An operand as an expression of its comparison type.
fn typed(source: &ValueSource, ty: ParamType) -> String {
    if let ValueSource::Constant(value) = source {
        let text = json_to_text(value);
        match ty {
            ParamType::Integer | ParamType::Double if is_plain_number(&text) => return text,
            ParamType::Boolean if matches!(text.as_str(), "true" | "True") => {
                return "true".into();
            }
            ParamType::Boolean if matches!(text.as_str(), "false" | "False") => {
                return "false".into();
            }
            _ => {}
        }
    }
    let raw = variable(source);
    match ty {
        ParamType::Integer | ParamType::Double => format!("asFloat({raw})"),
        ParamType::Boolean => format!("({raw} == 'true' || {raw} == 'True')"),
        _ => raw,
    }
}

/// An operand as a string-valued expression: a variable of Argo's expression environment,
/// or a literal.
fn variable(source: &ValueSource) -> String {
    match source {
        ValueSource::Constant(value) => literal(&json_to_text(value)),
        ValueSource::PipelineInput(name) => format!("inputs.parameters[{}]", literal(name)),
        ValueSource::TaskOutput { task, output } => format!(
            "tasks[{}].outputs.parameters[{}]",
            literal(task),
            literal(output)
        ),
        ValueSource::LoopItem => "item".into(),
        ValueSource::WorkflowStatus => "workflow.status".into(),
    }
}

/// A number expr-lang reads as the same number the local runner parses.
fn is_plain_number(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// A string literal of expr-lang holding exactly `text`.
fn literal(text: &str) -> String {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b" _-./,@%+=".contains(&b));
    if plain {
        format!("'{text}'")
    } else {
        format!("sprig.b64dec('{}')", base64(text.as_bytes()))
    }
}

/// Standard base64 with padding (RFC 4648 §4), as sprig's `b64dec` reads it.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(ty: ParamType, source: ValueSource) -> Operand {
        Operand { source, ty }
    }

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (text, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(text.as_bytes()), encoded);
        }
    }

    #[test]
    fn run_time_values_are_variables_and_hostile_literals_are_encoded() {
        let role = op(ParamType::String, ValueSource::PipelineInput("role".into()));
        let hostile = op(
            ParamType::String,
            ValueSource::Constant(serde_json::json!("x' == 'x' || '{{a}}' ? b : c")),
        );
        let when = when_field(&Condition::Compare {
            left: role,
            op: CompareOp::Eq,
            right: hostile,
        });
        assert_eq!(
            when,
            "{{=inputs.parameters['role'] == \
             sprig.b64dec('eCcgPT0gJ3gnIHx8ICd7e2F9fScgPyBiIDogYw==')}}"
        );
        // Nothing of the literal shows: no quote, brace, `?` or `:` beyond the tag's own.
        let inner = &when[3..when.len() - 2];
        assert!(!inner.contains(['{', '}', '?', ':', '"', '\\']));
    }

    #[test]
    fn numbers_and_booleans_are_typed() {
        let score = op(
            ParamType::Double,
            ValueSource::TaskOutput {
                task: "measure".into(),
                output: "output".into(),
            },
        );
        let limit = op(
            ParamType::Double,
            ValueSource::Constant(serde_json::json!(9.5)),
        );
        assert_eq!(
            expression(&Condition::Compare {
                left: score,
                op: CompareOp::Ge,
                right: limit
            }),
            "asFloat(tasks['measure'].outputs.parameters['output']) >= 9.5"
        );
        let flag = op(
            ParamType::Boolean,
            ValueSource::PipelineInput("flag".into()),
        );
        let yes = op(
            ParamType::Boolean,
            ValueSource::Constant(serde_json::json!(true)),
        );
        assert_eq!(
            expression(&Condition::Compare {
                left: flag,
                op: CompareOp::Lt,
                right: yes
            }),
            "!(inputs.parameters['flag'] == 'true' || inputs.parameters['flag'] == 'True') && true"
        );
    }

    #[test]
    fn plain_numbers_only_are_written_bare() {
        for good in ["0", "-3", "2.5", "1e-5", "6.02E23", "-0.5e+3"] {
            assert!(is_plain_number(good), "{good}");
        }
        for bad in [
            "", "-", "1.", ".5", "1e", "0x10", "NaN", "inf", "1_000", " 1",
        ] {
            assert!(!is_plain_number(bad), "{bad}");
        }
    }
}

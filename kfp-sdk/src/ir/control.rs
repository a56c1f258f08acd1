//! Control flow in the pipeline graph: conditions on tasks, loops over lists, exit handlers.
//!
//! A condition or a loop applies to one task of a graph; the task usually runs a group, a
//! nested [`PipelineGraph`](crate::PipelineGraph) made by `dsl::when` or
//! `dsl::parallel_for`. Backends give them the same meaning: a condition decides whether the
//! task runs, a loop repeats it once per item (the Argo compiler writes them as `when`
//! expressions and `withItems`/`withParam`/`withSequence`; the local runner evaluates them
//! at run time).
use super::param::ParamType;
use super::value::ValueSource;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CompareOp {
    /// The operator's symbol (`==`, `!=`, `<`, `<=`, `>`, `>=`).
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }
}

/// One side of a comparison: a parameter value and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Operand {
    /// Where the value comes from.
    pub source: ValueSource,
    /// Its type (strings compare as text, numbers as numbers, booleans as booleans).
    pub ty: ParamType,
}

/// A boolean expression over parameters: when it holds, the task runs; otherwise it is
/// skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `left OP right`.
    Compare {
        /// The left side.
        left: Operand,
        /// The operator.
        op: CompareOp,
        /// The right side.
        right: Operand,
    },
    /// Both hold.
    And(Box<Condition>, Box<Condition>),
    /// Either holds.
    Or(Box<Condition>, Box<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
}

impl Condition {
    /// Every value the condition reads.
    pub fn operands(&self) -> Vec<&Operand> {
        match self {
            Condition::Compare { left, right, .. } => vec![left, right],
            Condition::And(a, b) | Condition::Or(a, b) => {
                let mut all = a.operands();
                all.extend(b.operands());
                all
            }
            Condition::Not(c) => c.operands(),
        }
    }

    /// Evaluates the condition, given the text of each operand's value.
    pub fn evaluate(&self, value: &dyn Fn(&Operand) -> Option<String>) -> Result<bool, String> {
        match self {
            Condition::Compare { left, op, right } => {
                let (l, r) = (value(left), value(right));
                let (Some(l), Some(r)) = (l, r) else {
                    return Err("a value the condition reads is missing".into());
                };
                compare(&l, *op, &r, left.ty)
            }
            Condition::And(a, b) => Ok(a.evaluate(value)? && b.evaluate(value)?),
            Condition::Or(a, b) => Ok(a.evaluate(value)? || b.evaluate(value)?),
            Condition::Not(c) => Ok(!c.evaluate(value)?),
        }
    }
}

/// Compares two values of one type given as text.
fn compare(left: &str, op: CompareOp, right: &str, ty: ParamType) -> Result<bool, String> {
    use std::cmp::Ordering;
    let ordering = match ty {
        ParamType::Integer | ParamType::Double => {
            let parse = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("'{s}' is not a number"))
            };
            parse(left)?
                .partial_cmp(&parse(right)?)
                .ok_or_else(|| "NaN cannot be compared".to_owned())?
        }
        ParamType::Boolean => {
            let parse = |s: &str| match s.trim() {
                "true" | "True" => Ok(true),
                "false" | "False" => Ok(false),
                other => Err(format!("'{other}' is not a boolean")),
            };
            parse(left)?.cmp(&parse(right)?)
        }
        _ => left.cmp(right),
    };
    Ok(match op {
        CompareOp::Eq => ordering == Ordering::Equal,
        CompareOp::Ne => ordering != Ordering::Equal,
        CompareOp::Lt => ordering == Ordering::Less,
        CompareOp::Le => ordering != Ordering::Greater,
        CompareOp::Gt => ordering == Ordering::Greater,
        CompareOp::Ge => ordering != Ordering::Less,
    })
}

/// What a loop iterates over.
#[derive(Debug, Clone, PartialEq)]
pub enum LoopItems {
    /// A list written into the pipeline.
    Static(Vec<serde_json::Value>),
    /// The numbers `start..end` (a backend can write it without listing every number).
    Range {
        /// The first number.
        start: i64,
        /// One past the last number.
        end: i64,
    },
    /// A JSON list known at run time: a pipeline parameter or a task output.
    Param(ValueSource),
}

/// A task repeated once per item.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    /// The items.
    pub items: LoopItems,
    /// How many iterations may run at once (`None`: no limit).
    pub parallelism: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn operand(ty: ParamType) -> Operand {
        Operand {
            source: ValueSource::Constant(serde_json::Value::Null),
            ty,
        }
    }

    #[test]
    fn comparisons_follow_the_type() {
        assert!(compare("10", CompareOp::Gt, "9", ParamType::Integer).unwrap());
        assert!(
            !compare("10", CompareOp::Gt, "9", ParamType::String).unwrap(),
            "text order"
        );
        assert!(compare("0.5", CompareOp::Le, "0.50", ParamType::Double).unwrap());
        assert!(compare("True", CompareOp::Eq, "true", ParamType::Boolean).unwrap());
        assert!(compare("x", CompareOp::Lt, "1", ParamType::Double).is_err());
    }

    #[test]
    fn conditions_combine() {
        let heads = Condition::Compare {
            left: operand(ParamType::String),
            op: CompareOp::Eq,
            right: operand(ParamType::String),
        };
        let values = |_: &Operand| Some("heads".to_owned());
        assert!(heads.evaluate(&values).unwrap());
        let not = Condition::Not(Box::new(heads.clone()));
        assert!(!not.evaluate(&values).unwrap());
        assert!(
            Condition::Or(Box::new(not.clone()), Box::new(heads.clone()))
                .evaluate(&values)
                .unwrap()
        );
        assert!(
            !Condition::And(Box::new(not), Box::new(heads))
                .evaluate(&values)
                .unwrap()
        );
    }
}

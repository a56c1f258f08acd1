//! Parameter values: the small, serialisable values that flow between tasks.
//!
//! A pipeline parameter or a component input that is not an artifact is a *parameter*. Its
//! Rust type implements [`ParamValue`], which fixes its [`ParamType`] (the type recorded in
//! the pipeline graph and checked when tasks are wired) and how it travels as text: strings
//! travel as they are, every other value as JSON.
//!
//! Scalars (`String`, `bool`, the integer types, `f32`, `f64`), `Vec<T>`, maps with string
//! keys and `serde_json::Value` implement it already. A structured value is any serde type
//! with an empty impl, which picks the JSON defaults:
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Schedule { warmup_epochs: u32, peak_lr: f64 }
//! impl kfp_sdk::ParamValue for Schedule {}
//!
//! use kfp_sdk::ParamValue;
//! let text = Schedule { warmup_epochs: 2, peak_lr: 0.1 }.to_text().unwrap();
//! assert_eq!(text, r#"{"warmup_epochs":2,"peak_lr":0.1}"#);
//! assert_eq!(Schedule::from_text(&text).unwrap().warmup_epochs, 2);
//! ```
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The type of a parameter, as the pipeline graph records it.
///
/// The names follow Kubeflow Pipelines' parameter types (`STRING`, `NUMBER_INTEGER`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParamType {
    /// Text (`String`).
    String,
    /// A whole number (`i8` to `i64`, `u8` to `u64`, `isize`, `usize`).
    Integer,
    /// A floating-point number (`f32`, `f64`).
    Double,
    /// `true` or `false`.
    Boolean,
    /// A JSON list (`Vec<T>`).
    List,
    /// A JSON object (maps and serde structs).
    Struct,
}

impl ParamType {
    /// The name Kubeflow Pipelines uses for this type (`STRING`, `NUMBER_DOUBLE`, ...).
    pub fn kfp_name(self) -> &'static str {
        match self {
            ParamType::String => "STRING",
            ParamType::Integer => "NUMBER_INTEGER",
            ParamType::Double => "NUMBER_DOUBLE",
            ParamType::Boolean => "BOOLEAN",
            ParamType::List => "LIST",
            ParamType::Struct => "STRUCT",
        }
    }
}

impl std::fmt::Display for ParamType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.kfp_name())
    }
}

/// Why a parameter value could not be turned into text or read back from it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ParamError {
    message: String,
}

impl ParamError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        ParamError {
            message: message.into(),
        }
    }
}

/// A Rust type that can be a pipeline parameter or a component's parameter input or output.
///
/// The provided methods encode the value as JSON, which is right for structured values: an
/// empty `impl ParamValue for MyStruct {}` is enough for any serde type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a parameter type",
    label = "not a parameter type",
    note = "parameters are `String`, `bool`, integers, floats, `Vec<T>`, maps with `String` keys, \
            `serde_json::Value`, or a serde type with `impl kfp_sdk::ParamValue for {Self} {{}}`",
    note = "files and folders are artifacts: take an `Input<Kind>` or `Output<Kind>` parameter"
)]
pub trait ParamValue: Serialize + DeserializeOwned {
    /// The type the pipeline graph records for this Rust type.
    const TYPE: ParamType = ParamType::Struct;

    /// The value as it travels between tasks (a string travels verbatim, the rest as JSON).
    fn to_text(&self) -> Result<String, ParamError> {
        serde_json::to_string(self).map_err(|e| ParamError::new(e.to_string()))
    }

    /// Reads a value back from the text [`ParamValue::to_text`] makes.
    fn from_text(text: &str) -> Result<Self, ParamError> {
        serde_json::from_str(text.trim()).map_err(|e| {
            ParamError::new(format!(
                "expected {} ({}), got {}: {e}",
                Self::TYPE,
                std::any::type_name::<Self>(),
                preview(text)
            ))
        })
    }

    /// The value as JSON, the form the pipeline graph stores constants and defaults in.
    fn to_json(&self) -> Result<serde_json::Value, ParamError> {
        serde_json::to_value(self).map_err(|e| ParamError::new(e.to_string()))
    }
}

/// The start of a value, for error messages about values that may be megabytes long.
pub(crate) fn preview(text: &str) -> String {
    const LIMIT: usize = 60;
    match text.char_indices().nth(LIMIT) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
    }
}

impl ParamValue for String {
    const TYPE: ParamType = ParamType::String;
    fn to_text(&self) -> Result<String, ParamError> {
        Ok(self.clone())
    }
    fn from_text(text: &str) -> Result<Self, ParamError> {
        Ok(text.to_owned())
    }
}

impl ParamValue for bool {
    const TYPE: ParamType = ParamType::Boolean;
    fn from_text(text: &str) -> Result<Self, ParamError> {
        match text.trim() {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            _ => Err(ParamError::new(format!(
                "expected BOOLEAN (true or false), got {}",
                preview(text)
            ))),
        }
    }
}

macro_rules! param_number {
    ($kind:ident: $($t:ty),*) => {$(
        impl ParamValue for $t {
            const TYPE: ParamType = ParamType::$kind;
        }
    )*};
}
param_number!(Integer: i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);
param_number!(Double: f32, f64);

impl<T: ParamValue> ParamValue for Vec<T> {
    const TYPE: ParamType = ParamType::List;

    /// A JSON list. Its elements may also be the text forms of `T` as JSON strings, which is
    /// how Argo collects the outputs of a loop (`["0.5", "0.7"]`, `["{\"lr\":0.1}"]`).
    fn from_text(text: &str) -> Result<Self, ParamError> {
        let values: Vec<serde_json::Value> = serde_json::from_str(text.trim()).map_err(|e| {
            ParamError::new(format!(
                "expected LIST (a JSON list), got {}: {e}",
                preview(text)
            ))
        })?;
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let item = match value {
                    serde_json::Value::String(s) if T::TYPE != ParamType::String => {
                        T::from_text(&s)
                    }
                    other => {
                        serde_json::from_value(other).map_err(|e| ParamError::new(e.to_string()))
                    }
                };
                item.map_err(|e| ParamError::new(format!("item {i}: {e}")))
            })
            .collect()
    }
}

impl<T: ParamValue> ParamValue for BTreeMap<String, T> {}

impl<T: ParamValue, S: std::hash::BuildHasher + Default> ParamValue for HashMap<String, T, S> {}

impl ParamValue for serde_json::Value {}

/// The text form of a JSON constant of the given type: strings verbatim, the rest as JSON.
pub(crate) fn json_to_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_travel_verbatim() {
        let tricky = "quotes \" ' and {{inputs.parameters.x}}\nnew line".to_string();
        assert_eq!(tricky.to_text().unwrap(), tricky);
        assert_eq!(String::from_text(&tricky).unwrap(), tricky);
    }

    #[test]
    fn numbers_and_lists_travel_as_json() {
        assert_eq!(0.25f64.to_text().unwrap(), "0.25");
        assert_eq!(f64::from_text(" 0.25\n").unwrap(), 0.25);
        assert_eq!(vec![1u32, 2].to_text().unwrap(), "[1,2]");
        assert_eq!(Vec::<u32>::TYPE, ParamType::List);
        assert!(bool::from_text("True").unwrap());
    }

    #[test]
    fn lists_read_argo_collected_outputs() {
        assert_eq!(
            Vec::<f64>::from_text(r#"["0.5", "0.75"]"#).unwrap(),
            [0.5, 0.75]
        );
        assert_eq!(Vec::<f64>::from_text("[0.5, 1]").unwrap(), [0.5, 1.0]);
        assert_eq!(
            Vec::<String>::from_text(r#"["[1]", "a"]"#).unwrap(),
            ["[1]", "a"]
        );
        let nested = Vec::<BTreeMap<String, u32>>::from_text(r#"["{\"a\": 1}"]"#).unwrap();
        assert_eq!(nested[0]["a"], 1);
        let err = Vec::<u32>::from_text(r#"["1", "x"]"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("item 1: expected NUMBER_INTEGER"), "{err}");
    }

    #[test]
    fn bad_text_names_the_expected_type() {
        let err = u32::from_text("ten").unwrap_err().to_string();
        assert!(err.contains("NUMBER_INTEGER"), "{err}");
        let err = bool::from_text("yes").unwrap_err().to_string();
        assert!(err.contains("BOOLEAN"), "{err}");
    }

    #[test]
    fn previews_of_long_values_are_short() {
        let long = "x".repeat(1 << 20);
        let shown = preview(&long);
        assert!(shown.len() < 100, "{shown}");
        assert!(shown.contains("1048576 bytes"));
    }
}

//! Bounds on the attribute objects that agents and inquiries carry, checked when they are
//! stored so that evaluation never meets a pathological value.

use std::io;

use serde_json::Value;

/// Bounds on an attribute object, checked by [`validate_attributes`].
///
/// The defaults leave room for any realistic routing profile (skills, languages with levels,
/// regions, a few flags) while keeping one record small enough to read on every dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeLimits {
    /// Deepest nesting of objects and arrays; the attribute object itself is level 1.
    /// Default 8.
    pub max_depth: usize,
    /// Largest size as compact JSON, in bytes. Default 16 KiB.
    pub max_bytes: usize,
    /// Most keys in one object. Default 256.
    pub max_keys: usize,
    /// Most elements in one array. Default 1024.
    pub max_array_len: usize,
    /// Longest key, in bytes. Default 128.
    pub max_key_len: usize,
}

impl Default for AttributeLimits {
    fn default() -> Self {
        AttributeLimits { max_depth: 8, max_bytes: 16 * 1024, max_keys: 256, max_array_len: 1024, max_key_len: 128 }
    }
}

/// Why an attribute value was refused. Paths start at `attributes` and are spelled as in an
/// expression where they can be (`attributes.skills[3]`, `attributes["two words"]`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    /// Attributes are a JSON object at the top.
    #[error("attributes must be a JSON object, not {found}")]
    NotAnObject {
        /// The JSON type found instead: `null`, `boolean`, `number`, `string` or `array`.
        found: &'static str,
    },
    /// An object or array sits deeper than [`AttributeLimits::max_depth`].
    #[error("{path} is nested deeper than {limit} levels")]
    TooDeep {
        /// The first object or array found too deep.
        path: String,
        /// The limit in force.
        limit: usize,
    },
    /// An object has more than [`AttributeLimits::max_keys`] keys.
    #[error("{path} has {count} keys, more than {limit}")]
    TooManyKeys {
        /// The object.
        path: String,
        /// How many keys it has.
        count: usize,
        /// The limit in force.
        limit: usize,
    },
    /// An array has more than [`AttributeLimits::max_array_len`] elements.
    #[error("{path} has {len} elements, more than {limit}")]
    ArrayTooLong {
        /// The array.
        path: String,
        /// How many elements it has.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// A key is longer than [`AttributeLimits::max_key_len`].
    #[error("{path} has a key of {len} bytes, longer than {limit}")]
    KeyTooLong {
        /// The object holding the key.
        path: String,
        /// The key's length in bytes.
        len: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The whole value is longer than [`AttributeLimits::max_bytes`] as compact JSON.
    #[error("attributes are longer than {limit} bytes as JSON")]
    TooLarge {
        /// The limit in force.
        limit: usize,
    },
}

/// Checks that `attributes` is a JSON object within `limits`.
///
/// The shape is checked first, from the top down and each object's keys before its values, so
/// the error names the outermost offending value; the size is checked last.
///
/// ```
/// use lobby_expr::{validate_attributes, AttributeError, AttributeLimits};
/// use serde_json::json;
///
/// let limits = AttributeLimits { max_array_len: 3, ..AttributeLimits::default() };
/// assert_eq!(validate_attributes(&json!({"skills": ["billing", "es"]}), &limits), Ok(()));
/// let error = validate_attributes(&json!({"skills": ["a", "b", "c", "d"]}), &limits).unwrap_err();
/// assert_eq!(error.to_string(), "attributes.skills has 4 elements, more than 3");
/// ```
pub fn validate_attributes(attributes: &Value, limits: &AttributeLimits) -> Result<(), AttributeError> {
    if !attributes.is_object() {
        return Err(AttributeError::NotAnObject { found: type_name(attributes) });
    }
    check_shape(attributes, 1, &mut Vec::new(), limits)?;
    let mut counter = SizeCounter { bytes: 0, limit: limits.max_bytes };
    serde_json::to_writer(&mut counter, attributes).map_err(|_| AttributeError::TooLarge { limit: limits.max_bytes })
}

#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// Recurses at most `max_depth` levels: a container one level deeper is refused before its
/// contents are looked at.
fn check_shape<'a>(
    value: &'a Value,
    depth: usize,
    path: &mut Vec<Step<'a>>,
    limits: &AttributeLimits,
) -> Result<(), AttributeError> {
    let is_container = value.is_object() || value.is_array();
    if is_container && depth > limits.max_depth {
        return Err(AttributeError::TooDeep { path: spell(path), limit: limits.max_depth });
    }
    match value {
        Value::Object(object) => {
            if object.len() > limits.max_keys {
                let (count, limit) = (object.len(), limits.max_keys);
                return Err(AttributeError::TooManyKeys { path: spell(path), count, limit });
            }
            if let Some(key) = object.keys().find(|key| key.len() > limits.max_key_len) {
                let (len, limit) = (key.len(), limits.max_key_len);
                return Err(AttributeError::KeyTooLong { path: spell(path), len, limit });
            }
            for (key, child) in object {
                path.push(Step::Key(key));
                check_shape(child, depth + 1, path, limits)?;
                path.pop();
            }
        }
        Value::Array(elements) => {
            if elements.len() > limits.max_array_len {
                let (len, limit) = (elements.len(), limits.max_array_len);
                return Err(AttributeError::ArrayTooLong { path: spell(path), len, limit });
            }
            for (index, child) in elements.iter().enumerate() {
                path.push(Step::Index(index));
                check_shape(child, depth + 1, path, limits)?;
                path.pop();
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
    Ok(())
}

/// `attributes.skills[3]`; a key that an expression could not spell as a path is quoted:
/// `attributes["two words"]`.
fn spell(path: &[Step<'_>]) -> String {
    let mut spelled = String::from("attributes");
    for step in path {
        match step {
            Step::Key(key) if is_plain_key(key) => {
                spelled.push('.');
                spelled.push_str(key);
            }
            Step::Key(key) => {
                spelled.push('[');
                spelled.push_str(&Value::from(*key).to_string());
                spelled.push(']');
            }
            Step::Index(index) => spelled.push_str(&format!("[{index}]")),
        }
    }
    spelled
}

/// The keys an expression path can name (see the grammar in the crate docs).
fn is_plain_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Counts serialized bytes without keeping them, and stops the serializer once over the limit.
struct SizeCounter {
    bytes: usize,
    limit: usize,
}

impl io::Write for SizeCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes = self.bytes.saturating_add(buf.len());
        if self.bytes > self.limit {
            return Err(io::ErrorKind::FileTooLarge.into());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

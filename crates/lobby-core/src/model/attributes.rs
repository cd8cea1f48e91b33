//! Routing attributes: the JSON object an agent or an inquiry carries for routing rules.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::CoreError;

/// A JSON attribute object such as `{"skills": ["billing", "es"], "level": 4}`, read by the
/// routing rules' expressions (the agent's as `worker.`, the inquiry's as `task.`).
///
/// Built only through [`Attributes::new`], which checks it is an object within
/// [`lobby_expr::AttributeLimits`]' defaults, so that evaluation never meets a pathological
/// value. Stored records deserialize without the check: they were checked when written, and a
/// record written before attributes existed loads as `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attributes(Value);

impl Attributes {
    /// `value` if it is a JSON object within the limits, else
    /// [`CoreError::InvalidAttributes`] naming what is wrong.
    pub fn new(value: Value) -> Result<Self, CoreError> {
        lobby_expr::validate_attributes(&value, &lobby_expr::AttributeLimits::default())?;
        Ok(Self(value))
    }

    /// `{}`.
    pub fn empty() -> Self {
        Self(Value::Object(Map::new()))
    }

    /// The object, as expressions read it.
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// Whether it has no keys (records omit it then, so old documents round-trip unchanged).
    pub fn is_empty(&self) -> bool {
        self.0.as_object().is_none_or(Map::is_empty)
    }
}

impl Default for Attributes {
    fn default() -> Self {
        Self::empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_bounded_objects_are_attributes() {
        assert!(Attributes::new(json!({"skills": ["billing"], "level": 4})).is_ok());
        let not_object = Attributes::new(json!(["billing"])).unwrap_err();
        assert_eq!(not_object.to_string(), "Invalid attributes: attributes must be a JSON object, not array");
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!({ "a": deep });
        }
        assert!(matches!(Attributes::new(deep), Err(CoreError::InvalidAttributes(_))));
    }

    #[test]
    fn records_without_attributes_load_as_empty() {
        #[derive(Deserialize)]
        struct Holder {
            #[serde(default)]
            attributes: Attributes,
        }
        let holder: Holder = serde_json::from_str("{}").unwrap();
        assert!(holder.attributes.is_empty());
        assert_eq!(holder.attributes.as_value(), &json!({}));
    }
}

//! Reading requests: JSON bodies and query strings, checked the way Rocket.Chat's ajv schemas
//! check them, with ajv's messages. Every malformed input becomes a 400 `invalid-params`
//! envelope; none of axum's plain-text rejections reaches a client.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT};
use axum::http::request::Parts;
use axum::http::StatusCode;
use lobby_core::limits::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use lobby_core::{Direction, InquirySort, Paging, SortField};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// A request body that is a JSON object. An empty body reads as `{}` (so a missing field is
/// reported by name); anything else needs `Content-Type: application/json`.
#[derive(Debug, Clone, Default)]
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = request.headers().get(CONTENT_TYPE).map(|v| v.as_bytes().to_vec());
        // A client that asked `Expect: 100-continue` waits before sending the body: refuse an
        // announced oversize body at once instead of inviting it. (A client already sending
        // keeps the usual path, so it is not cut off mid-upload with a broken pipe.)
        let headers = request.headers();
        let waiting = headers.get(EXPECT).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let announced = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if waiting && announced.is_some_and(|length| length > crate::BODY_LIMIT as u64) {
            return Err(ApiError::payload_too_large(crate::BODY_LIMIT));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(crate::BODY_LIMIT)
            } else {
                ApiError::invalid_params("The request body could not be read")
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        if !content_type.as_deref().is_some_and(is_json_content_type) {
            return Err(ApiError::invalid_params("Content-Type must be application/json"));
        }
        let text =
            std::str::from_utf8(&bytes).map_err(|_| ApiError::invalid_params("The request body is not valid UTF-8"))?;
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::invalid_params("must be object")),
            Err(error) => Err(ApiError::invalid_params(format!("Malformed JSON body: {error}"))),
        }
    }
}

/// `application/json`, with or without parameters such as `charset=utf-8`, any case; also
/// `application/*+json`.
fn is_json_content_type(value: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(value) else { return false };
    let essence = text.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The type a field must have. In a query string, where every value is text, `Count` is
/// coerced from text (as ajv's `coerceTypes` does) and the other kinds read as `String`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    String,
    /// A string or `null` (read as absent).
    NullableString,
    /// `true` or `false`.
    Boolean,
    /// A whole number ≥ 0.
    Count,
    /// A whole number ≥ 0 or `null` (read as absent).
    NullableCount,
    /// `true`, `false` or `null` (read as absent).
    NullableBoolean,
    /// A JSON object.
    Object,
    /// A JSON object or `null`.
    NullableObject,
    /// An array of strings.
    StringArray,
    /// An array of objects.
    ObjectArray,
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Anything (accepted for compatibility, ignored).
    Any,
}

/// Whether a field must be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Missing is `must have required property '…'`.
    Required,
    /// May be left out.
    Optional,
}

/// One property of a body or query schema.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Whether it must be there.
    pub presence: Presence,
}

/// A field that must be there.
pub const fn required(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, presence: Presence::Required }
}

/// A field that may be left out.
pub const fn optional(name: &'static str, kind: Kind) -> Field {
    Field { name, kind, presence: Presence::Optional }
}

/// What a schema says of properties it does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Additional {
    /// `must NOT have additional properties` (Rocket.Chat's `additionalProperties: false`).
    Rejected,
    /// Let through and ignored (`additionalProperties: true`, `Match.ObjectIncluding`).
    Allowed,
}

/// `offset`, `count`, `sort`: the pagination parameters Rocket.Chat accepts on listings.
pub const PAGING: [Field; 3] =
    [optional("offset", Kind::Count), optional("count", Kind::Count), optional("sort", Kind::String)];

/// Checks an object against a schema in ajv's order: required properties, then additional
/// properties, then each property's type. The first failure is reported, as Rocket.Chat's ajv
/// (without `allErrors`) does.
pub fn check_object(map: &Map<String, Value>, fields: &[Field], additional: Additional) -> Result<(), ApiError> {
    check_required(fields, |name| map.contains_key(name))?;
    if additional == Additional::Rejected {
        check_no_additional(fields, map.keys().map(String::as_str))?;
    }
    for field in fields {
        if let Some(value) = map.get(field.name) {
            check_kind(value, field.kind)?;
        }
    }
    Ok(())
}

fn check_required(fields: &[Field], present: impl Fn(&str) -> bool) -> Result<(), ApiError> {
    match fields.iter().find(|f| f.presence == Presence::Required && !present(f.name)) {
        Some(missing) => Err(ApiError::invalid_params(format!("must have required property '{}'", missing.name))),
        None => Ok(()),
    }
}

fn check_no_additional<'a>(fields: &[Field], mut names: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
    if names.any(|name| !fields.iter().any(|f| f.name == name)) {
        return Err(ApiError::invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

fn check_kind(value: &Value, kind: Kind) -> Result<(), ApiError> {
    let fail = |message: &str| Err(ApiError::invalid_params(message));
    match kind {
        Kind::String if !value.is_string() => fail("must be string"),
        Kind::NullableString if !(value.is_string() || value.is_null()) => fail("must be string"),
        Kind::Boolean if !value.is_boolean() => fail("must be boolean"),
        Kind::NullableBoolean if !(value.is_boolean() || value.is_null()) => fail("must be boolean"),
        Kind::NullableCount if value.is_null() => Ok(()),
        Kind::NullableCount => check_kind(value, Kind::Count),
        Kind::Count => match value {
            Value::Number(n) if n.as_u64().is_some() => Ok(()),
            Value::Number(n) if n.as_i64().is_some() || n.as_f64().is_some_and(|f| f < 0.0) => fail("must be >= 0"),
            Value::Number(_) => fail("must be integer"),
            _ => fail("must be number"),
        },
        Kind::Object if !value.is_object() => fail("must be object"),
        Kind::NullableObject if !(value.is_object() || value.is_null()) => fail("must be object"),
        Kind::StringArray => match value.as_array() {
            None => fail("must be array"),
            Some(items) if items.iter().any(|i| !i.is_string()) => fail("must be string"),
            Some(_) => Ok(()),
        },
        Kind::ObjectArray => match value.as_array() {
            None => fail("must be array"),
            Some(items) if items.iter().any(|i| !i.is_object()) => fail("must be object"),
            Some(_) => Ok(()),
        },
        Kind::OneOf(allowed) => match value.as_str() {
            None => fail("must be string"),
            Some(text) if !allowed.contains(&text) => fail("must be equal to one of the allowed values"),
            Some(_) => Ok(()),
        },
        _ => Ok(()),
    }
}

/// A checked string property (`None` when absent or `null`).
pub fn get_str<'a>(map: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    map.get(name).and_then(Value::as_str)
}

pub fn get_bool(map: &Map<String, Value>, name: &str) -> Option<bool> {
    map.get(name).and_then(Value::as_bool)
}

pub fn get_count(map: &Map<String, Value>, name: &str) -> Option<u64> {
    map.get(name).and_then(Value::as_u64)
}

/// The decoded query string, in order, duplicates kept.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        if parts.uri.query().is_none_or(str::is_empty) {
            return Ok(Self::default());
        }
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::invalid_params("Malformed query string"))?;
        Ok(Self(pairs))
    }
}

impl QueryParams {
    /// Checks the parameters against a schema that allows no others.
    pub fn check(&self, fields: &[Field]) -> Result<(), ApiError> {
        check_required(fields, |name| self.get(name).is_some())?;
        check_no_additional(fields, self.0.iter().map(|(key, _)| key.as_str()))?;
        for field in fields {
            let mut values = self.0.iter().filter(|(k, _)| k == field.name).map(|(_, v)| v.as_str());
            match (values.next(), values.next()) {
                (None, _) => {}
                (Some(value), None) => check_param(value, field.kind)?,
                // `?x=1&x=2` arrives as an array in Rocket.Chat, which fails the type check.
                (Some(_), Some(_)) if field.kind == Kind::Count => {
                    return Err(ApiError::invalid_params("must be number"))
                }
                (Some(_), Some(_)) => return Err(ApiError::invalid_params("must be string")),
            }
        }
        Ok(())
    }

    /// [`QueryParams::check`] for a listing: [`PAGING`] and `extra`.
    pub fn check_paged(&self, extra: &[Field]) -> Result<(), ApiError> {
        let fields: Vec<Field> = PAGING.iter().chain(extra).copied().collect();
        self.check(&fields)
    }

    /// The value of a parameter, if given (the first, if given twice).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A checked count parameter.
    pub fn count(&self, name: &str) -> Option<usize> {
        self.get(name).map(|text| parse_count(text).unwrap_or(usize::MAX))
    }

    /// Rocket.Chat's paging: `offset` (default 0) and `count` (default 50, capped at 100; 0 asks
    /// for as many as allowed, i.e. 100).
    pub fn paging(&self) -> Paging {
        let offset = self.count("offset").unwrap_or(0);
        let count = match self.count("count") {
            None => DEFAULT_PAGE_SIZE,
            Some(0) => MAX_PAGE_SIZE,
            Some(n) => n.min(MAX_PAGE_SIZE),
        };
        Paging::new(offset, count)
    }

    /// The `sort` parameter, if given: a JSON object with exactly one known field and 1 or -1.
    pub fn sort(&self) -> Result<Option<InquirySort>, ApiError> {
        self.get("sort").map(parse_sort).transpose()
    }
}

fn check_param(value: &str, kind: Kind) -> Result<(), ApiError> {
    match kind {
        Kind::Count => parse_count(value).map(|_| ()),
        Kind::OneOf(allowed) if !allowed.contains(&value) => {
            Err(ApiError::invalid_params("must be equal to one of the allowed values"))
        }
        _ => Ok(()),
    }
}

/// A whole number ≥ 0; beyond `usize` it saturates (an offset past the end is an empty page).
fn parse_count(text: &str) -> Result<usize, ApiError> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Ok(usize::try_from(n).unwrap_or(usize::MAX));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f < 0.0 => Err(ApiError::invalid_params("must be >= 0")),
        Ok(f) if f.is_finite() && f.fract() != 0.0 => Err(ApiError::invalid_params("must be integer")),
        // A whole number written as a decimal (`1.0`, `1e1`); `as` saturates beyond usize.
        Ok(f) if f.is_finite() => Ok(f as usize),
        _ => Err(ApiError::invalid_params("must be number")),
    }
}

/// `{"ts":-1}`: one field of [`SortField`] and a direction of 1 or -1. Anything else is
/// `error-invalid-sort`, quoting what was sent.
pub fn parse_sort(raw: &str) -> Result<InquirySort, ApiError> {
    let invalid = || ApiError::invalid_sort(raw);
    let Ok(Value::Object(map)) = serde_json::from_str::<Value>(raw) else { return Err(invalid()) };
    let mut entries = map.iter();
    let (Some((name, direction)), None) = (entries.next(), entries.next()) else { return Err(invalid()) };
    let field = SortField::from_wire_name(name).ok_or_else(invalid)?;
    let value = direction.as_f64().ok_or_else(invalid)?;
    let direction = if value == 1.0 {
        Direction::Ascending
    } else if value == -1.0 {
        Direction::Descending
    } else {
        return Err(invalid());
    };
    Ok(InquirySort { field, direction })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(error: ApiError) -> String {
        error.body["error"].as_str().unwrap().to_owned()
    }

    #[test]
    fn objects_are_checked_in_ajv_order_with_ajv_messages() {
        let fields = [required("inquiryId", Kind::String), optional("userId", Kind::NullableString)];
        let check = |v: Value| check_object(v.as_object().unwrap(), &fields, Additional::Rejected).map_err(message);
        assert_eq!(check(json!({})), Err("must have required property 'inquiryId' [invalid-params]".into()));
        assert_eq!(
            check(json!({"inquiryId":"a","x":1})),
            Err("must NOT have additional properties [invalid-params]".into())
        );
        assert_eq!(check(json!({"inquiryId":{}})), Err("must be string [invalid-params]".into()));
        assert_eq!(check(json!({"inquiryId":"a","userId":null})), Ok(()));
        assert_eq!(check(json!({"inquiryId":"a","userId":7})), Err("must be string [invalid-params]".into()));
    }

    #[test]
    fn counts_must_be_whole_and_not_negative() {
        assert_eq!(parse_count("10").unwrap(), 10);
        assert_eq!(message(parse_count("-1").unwrap_err()), "must be >= 0 [invalid-params]");
        assert_eq!(message(parse_count("1.5").unwrap_err()), "must be integer [invalid-params]");
        assert_eq!(message(parse_count("abc").unwrap_err()), "must be number [invalid-params]");
        assert_eq!(message(parse_count("").unwrap_err()), "must be number [invalid-params]");
        assert_eq!(parse_count("99999999999999999999999").unwrap(), usize::MAX);
    }

    #[test]
    fn paging_defaults_and_caps() {
        let q = |s: &[(&str, &str)]| QueryParams(s.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect());
        assert_eq!(q(&[]).paging(), Paging::new(0, 50));
        assert_eq!(q(&[("count", "500"), ("offset", "3")]).paging(), Paging::new(3, 100));
        assert_eq!(q(&[("count", "0")]).paging(), Paging::new(0, 100));
        let dup = q(&[("count", "1"), ("count", "2")]);
        assert_eq!(message(dup.check(&PAGING).unwrap_err()), "must be number [invalid-params]");
        assert_eq!(
            message(q(&[("foo", "1")]).check(&PAGING).unwrap_err()),
            "must NOT have additional properties [invalid-params]"
        );
    }

    #[test]
    fn sort_takes_exactly_one_known_field() {
        assert_eq!(parse_sort(r#"{"ts":-1}"#).unwrap(), InquirySort::descending(SortField::Ts));
        assert_eq!(parse_sort(r#"{"_updatedAt":1}"#).unwrap(), InquirySort::ascending(SortField::UpdatedAt));
        for bad in [r#"{"ts":2}"#, r#"{"ts":-1,"name":1}"#, r#"{"nope":1}"#, "{}", "[]", "ts", r#"{"ts":"1"}"#] {
            let error = parse_sort(bad).unwrap_err();
            assert_eq!(error.body["errorType"], "error-invalid-sort", "{bad}");
        }
    }

    #[test]
    fn json_content_types() {
        assert!(is_json_content_type(b"application/json"));
        assert!(is_json_content_type(b"Application/JSON; charset=utf-8"));
        assert!(is_json_content_type(b"application/vnd.api+json"));
        assert!(!is_json_content_type(b"text/plain"));
        assert!(!is_json_content_type(b"application/x-www-form-urlencoded"));
    }
}

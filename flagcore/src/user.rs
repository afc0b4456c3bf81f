//! The user being evaluated: a borrowed view built without heap allocation, and an owned form
//! deserialised from Statsig's user JSON.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::value::UVal;

/// One attribute value of a user.
///
/// Statsig users may carry any JSON as an attribute; the scalar variants cover the common
/// cases without a `serde_json::Value`, and [`Value::Json`] borrows anything else.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value<'a> {
    /// JSON `null`: a present attribute without a value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(&'a str),
    /// Any JSON value, borrowed.
    Json(&'a Json),
}

impl<'a> Value<'a> {
    #[inline]
    pub(crate) fn uval(self) -> UVal<'a> {
        match self {
            Value::Null => UVal::Null,
            Value::Bool(b) => UVal::Bool(b),
            Value::Int(i) => UVal::Int(i),
            Value::Float(f) => UVal::Float(f),
            Value::Str(s) => UVal::Str(s),
            Value::Json(j) => UVal::from_json(j),
        }
    }

    fn is_null(self) -> bool {
        matches!(self, Value::Null | Value::Json(Json::Null))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(s)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Self {
        Value::Str(s)
    }
}
impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value<'_> {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<i32> for Value<'_> {
    fn from(i: i32) -> Self {
        Value::Int(i.into())
    }
}
impl From<f64> for Value<'_> {
    fn from(f: f64) -> Self {
        Value::Float(f)
    }
}
impl<'a> From<&'a Json> for Value<'a> {
    fn from(j: &'a Json) -> Self {
        Value::Json(j)
    }
}

/// A map of named attributes: custom fields, private attributes, custom IDs or the environment.
#[derive(Clone, Copy, Debug, Default)]
pub enum Attributes<'a> {
    /// No attributes.
    #[default]
    None,
    /// Borrowed `(name, value)` pairs; the first pair with a name wins.
    Pairs(&'a [(&'a str, Value<'a>)]),
    /// A borrowed JSON object.
    Json(&'a Map<String, Json>),
}

impl<'a> Attributes<'a> {
    /// The value under exactly `key`, if the key is present (a present `null` counts).
    pub fn get(&self, key: &str) -> Option<Value<'a>> {
        match *self {
            Attributes::None => None,
            Attributes::Pairs(p) => p.iter().find(|(k, _)| *k == key).map(|(_, v)| *v),
            Attributes::Json(m) => m.get(key).map(Value::Json),
        }
    }

    /// Whether there are no attributes.
    pub fn is_empty(&self) -> bool {
        match *self {
            Attributes::None => true,
            Attributes::Pairs(p) => p.is_empty(),
            Attributes::Json(m) => m.is_empty(),
        }
    }

    /// `self[key]`, then `self[lower_key]`.
    pub(crate) fn get2(&self, key: &str, lower_key: &str) -> Option<Value<'a>> {
        self.get(key).or_else(|| {
            if !crate::index::same(lower_key.as_bytes(), key.as_bytes()) {
                self.get(lower_key)
            } else {
                None
            }
        })
    }
}

/// A user to evaluate, borrowed from the caller: building one never allocates.
///
/// ```
/// use flagcore::{Attributes, User, Value};
///
/// let custom = [("plan", Value::Str("pro")), ("seats", Value::Int(12))];
/// let ids = [("companyID", Value::Str("acme"))];
/// let user = User::with_user_id("user-42")
///     .email("ada@example.com")
///     .country("GB")
///     .custom(Attributes::Pairs(&custom))
///     .custom_ids(Attributes::Pairs(&ids));
/// assert_eq!(user.user_id_value(), Some(Value::Str("user-42")));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct User<'a> {
    pub(crate) user_id: Option<Value<'a>>,
    pub(crate) email: Option<Value<'a>>,
    pub(crate) ip: Option<Value<'a>>,
    pub(crate) user_agent: Option<Value<'a>>,
    pub(crate) country: Option<Value<'a>>,
    pub(crate) locale: Option<Value<'a>>,
    pub(crate) app_version: Option<Value<'a>>,
    pub(crate) custom: Attributes<'a>,
    pub(crate) private_attributes: Attributes<'a>,
    pub(crate) custom_ids: Attributes<'a>,
    pub(crate) environment: Attributes<'a>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub fn $name(mut self, v: impl Into<Value<'a>>) -> Self {
            let v = v.into();
            self.$name = if v.is_null() { None } else { Some(v) };
            self
        }
    };
}

impl<'a> User<'a> {
    /// An empty user (no ids, no attributes).
    pub fn new() -> Self {
        User::default()
    }

    /// A user with a `userID`.
    pub fn with_user_id(id: &'a str) -> Self {
        User::new().user_id(id)
    }

    setter!(
        /// Sets `userID`. A `null` value unsets it.
        user_id
    );
    setter!(
        /// Sets `email`.
        email
    );
    setter!(
        /// Sets `ip` (used for `ip_based` conditions with a country lookup).
        ip
    );
    setter!(
        /// Sets `userAgent` (parsed for `ua_based` conditions).
        user_agent
    );
    setter!(
        /// Sets `country` (used by `ip_based` conditions before any IP lookup).
        country
    );
    setter!(
        /// Sets `locale`.
        locale
    );
    setter!(
        /// Sets `appVersion`.
        app_version
    );

    /// Sets the custom attributes (`custom`).
    pub fn custom(mut self, attrs: Attributes<'a>) -> Self {
        self.custom = attrs;
        self
    }

    /// Sets the private attributes (used for evaluation, never logged).
    pub fn private_attributes(mut self, attrs: Attributes<'a>) -> Self {
        self.private_attributes = attrs;
        self
    }

    /// Sets the custom IDs (`customIDs`), such as `stableID` or `companyID`.
    pub fn custom_ids(mut self, attrs: Attributes<'a>) -> Self {
        self.custom_ids = attrs;
        self
    }

    /// Sets the user's environment (`statsigEnvironment`, e.g. `tier`).
    pub fn environment(mut self, attrs: Attributes<'a>) -> Self {
        self.environment = attrs;
        self
    }

    /// The `userID`, if set.
    pub fn user_id_value(&self) -> Option<Value<'a>> {
        self.user_id
    }

    /// The custom IDs.
    pub fn custom_id_attributes(&self) -> Attributes<'a> {
        self.custom_ids
    }

    /// Fields an exposure event reports (everything but private attributes).
    pub fn fields(&self) -> [(&'static str, Option<Value<'a>>); 7] {
        [
            ("userID", self.user_id),
            ("email", self.email),
            ("ip", self.ip),
            ("userAgent", self.user_agent),
            ("country", self.country),
            ("locale", self.locale),
            ("appVersion", self.app_version),
        ]
    }

    /// The custom attributes.
    pub fn custom_attributes(&self) -> Attributes<'a> {
        self.custom
    }

    /// The environment attributes.
    pub fn environment_attributes(&self) -> Attributes<'a> {
        self.environment
    }

    pub(crate) fn top(&self, f: TopField) -> Option<Value<'a>> {
        match f {
            TopField::UserId => self.user_id,
            TopField::Email => self.email,
            TopField::Ip => self.ip,
            TopField::Country => self.country,
            TopField::Locale => self.locale,
            TopField::AppVersion => self.app_version,
            TopField::UserAgent => self.user_agent,
        }
    }
}

/// The standard top-level user fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TopField {
    UserId,
    Email,
    Ip,
    Country,
    Locale,
    AppVersion,
    UserAgent,
}

/// An owned user, deserialised from Statsig's user JSON.
///
/// ```
/// let data: flagcore::UserData =
///     serde_json::from_str(r#"{"userID": "u1", "custom": {"plan": "pro"}}"#).unwrap();
/// let user = data.view();
/// assert!(user.user_id_value().is_some());
/// ```
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
// `remote = "Self"`: the derived code becomes the inherent `UserData::deserialize`, called by
// the trait impl below once it has checked that the input is an object.
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct UserData {
    /// `userID`: any JSON (strings, numbers…).
    #[serde(rename = "userID", default)]
    pub user_id: Json,
    /// `email`.
    #[serde(default)]
    pub email: Json,
    /// `ip`.
    #[serde(default)]
    pub ip: Json,
    /// `userAgent`.
    #[serde(default)]
    pub user_agent: Json,
    /// `country`.
    #[serde(default)]
    pub country: Json,
    /// `locale`.
    #[serde(default)]
    pub locale: Json,
    /// `appVersion`.
    #[serde(default)]
    pub app_version: Json,
    /// `custom`.
    #[serde(default)]
    pub custom: Option<Map<String, Json>>,
    /// `privateAttributes`.
    #[serde(default)]
    pub private_attributes: Option<Map<String, Json>>,
    /// `customIDs`.
    #[serde(rename = "customIDs", default)]
    pub custom_ids: Option<Map<String, Json>>,
    /// `statsigEnvironment`.
    #[serde(default)]
    pub statsig_environment: Option<Map<String, Json>>,
}

/// A user is a JSON object: serde would otherwise read a struct from an array too, field by
/// field (`["u1", "a@b.com"]` as a userID and an email).
impl<'de> Deserialize<'de> for UserData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<UserData, D::Error> {
        struct Object;
        impl<'de> serde::de::Visitor<'de> for Object {
            type Value = UserData;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a user; a user must be a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<UserData, A::Error> {
                UserData::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        deserializer.deserialize_map(Object)
    }
}

impl UserData {
    /// Parses Statsig user JSON: an object (anything else is an error).
    pub fn from_json(bytes: &[u8]) -> Result<UserData, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// A borrowed view for evaluation (no allocation).
    pub fn view(&self) -> User<'_> {
        fn opt(v: &Json) -> Option<Value<'_>> {
            if v.is_null() {
                None
            } else {
                Some(Value::Json(v))
            }
        }
        fn attrs(m: &Option<Map<String, Json>>) -> Attributes<'_> {
            m.as_ref().map_or(Attributes::None, Attributes::Json)
        }
        User {
            user_id: opt(&self.user_id),
            email: opt(&self.email),
            ip: opt(&self.ip),
            user_agent: opt(&self.user_agent),
            country: opt(&self.country),
            locale: opt(&self.locale),
            app_version: opt(&self.app_version),
            custom: attrs(&self.custom),
            private_attributes: attrs(&self.private_attributes),
            custom_ids: attrs(&self.custom_ids),
            environment: attrs(&self.statsig_environment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_json_accepts_any_json_values() {
        let d = UserData::from_json(br#"{"userID": 7, "email": true, "custom": {"a": null}}"#)
            .expect("valid");
        let u = d.view();
        assert!(matches!(u.user_id, Some(Value::Json(Json::Number(_)))));
        assert!(u.custom.get("a").is_some());
    }

    #[test]
    fn user_json_rejects_non_object_maps() {
        assert!(UserData::from_json(br#"{"custom": [1]}"#).is_err());
    }

    #[test]
    fn null_top_level_is_missing() {
        let d = UserData::from_json(br#"{"userID": null}"#).expect("valid");
        assert!(d.view().user_id.is_none());
        assert!(User::new().user_id(Value::Null).user_id.is_none());
    }
}

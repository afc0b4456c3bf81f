//! Evaluation context → flagcore user: one mapping for the provider and the OFREP sidecar.
//!
//! An OpenFeature evaluation context (and an OFREP request's `context`) is a flat map with a
//! `targetingKey`; a Statsig user has a `userID`, seven standard fields, `customIDs`,
//! `custom`, `privateAttributes` and `statsigEnvironment`. The mapping, key by key:
//!
//! | context key | user field |
//! | --- | --- |
//! | `targetingKey` | `userID` |
//! | `userID` | `userID`, when there is no `targetingKey` |
//! | `email`, `ip`, `userAgent`, `country`, `locale`, `appVersion` | the same standard field |
//! | `customIDs` (an object) | the custom IDs |
//! | `stableID` | the custom ID `stableID` (a `customIDs.stableID` wins) |
//! | `custom` (an object) | its entries become custom attributes |
//! | `privateAttributes` (an object) | private attributes (evaluated, never logged) |
//! | `statsigEnvironment` (an object) | the user's environment (`tier`) |
//! | any other key | the custom attribute of that name (over an entry of `custom`) |
//!
//! A context without `targetingKey` is valid (Statsig evaluates users that have only custom
//! IDs, or nothing); [`ContextOptions::require_targeting_key`] makes it an error
//! (`TARGETING_KEY_MISSING`) for deployments that want OFREP's schema enforced. An object
//! key given something else than an object, or a `targetingKey` that is neither a string nor
//! a number, is `INVALID_CONTEXT`.

use flagcore::UserData;
use serde_json::{Map, Value as Json};

/// How contexts are mapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ContextOptions {
    /// A context without `targetingKey` (or `userID`) is an error instead of a user without
    /// a `userID`. Off by default.
    pub require_targeting_key: bool,
}

impl ContextOptions {
    /// Sets [`ContextOptions::require_targeting_key`].
    pub fn require_targeting_key(mut self, on: bool) -> Self {
        self.require_targeting_key = on;
        self
    }
}

/// Why a context cannot be mapped to a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The context has no `targetingKey` and [`ContextOptions::require_targeting_key`] is
    /// set: send one (OpenFeature's `TARGETING_KEY_MISSING`).
    #[error("the context has no targetingKey")]
    TargetingKeyMissing,
    /// A key holds a value of the wrong type (`customIDs` not an object, `targetingKey` an
    /// array…): fix the context (OpenFeature's `INVALID_CONTEXT`).
    #[error("context key {key:?} must be {expected}")]
    Invalid {
        /// The key at fault.
        key: String,
        /// What it must hold.
        expected: &'static str,
    },
}

/// Maps a context, given as its `(key, value)` entries (the OFREP `context` object, or an
/// OpenFeature context turned into JSON), to a flagcore user; see the [module
/// documentation](self) for the mapping.
///
/// ```
/// use flagcore_openfeature::context::{user_from_context, ContextOptions};
/// use serde_json::json;
///
/// let context = json!({"targetingKey": "u1", "email": "a@b.c", "plan": "pro",
///                      "customIDs": {"companyID": "acme"}});
/// let fields = context.as_object().unwrap().clone();
/// let user = user_from_context(fields, ContextOptions::default()).unwrap();
/// assert_eq!(user.user_id, json!("u1"));
/// assert_eq!(user.custom.unwrap()["plan"], json!("pro"));
/// ```
pub fn user_from_context(
    fields: impl IntoIterator<Item = (String, Json)>,
    options: ContextOptions,
) -> Result<UserData, ContextError> {
    let mut user = UserData::default();
    let mut targeting_key = None;
    let mut user_id = None;
    let mut custom: Option<Map<String, Json>> = None;
    let mut top_custom: Vec<(String, Json)> = Vec::new();
    let mut stable_id = None;
    for (key, value) in fields {
        match key.as_str() {
            "targetingKey" => targeting_key = Some(id_value(&key, value)?),
            "userID" => user_id = Some(value),
            "email" => user.email = value,
            "ip" => user.ip = value,
            "userAgent" => user.user_agent = value,
            "country" => user.country = value,
            "locale" => user.locale = value,
            "appVersion" => user.app_version = value,
            "customIDs" => user.custom_ids = object(&key, value)?,
            "privateAttributes" => user.private_attributes = object(&key, value)?,
            "statsigEnvironment" => user.statsig_environment = object(&key, value)?,
            "custom" => custom = object(&key, value)?,
            "stableID" => stable_id = Some(value),
            _ => top_custom.push((key, value)),
        }
    }
    user.user_id = match (targeting_key, user_id) {
        (Some(t), _) => t,
        (None, Some(u)) => u,
        (None, None) => Json::Null,
    };
    if user.user_id.is_null() && options.require_targeting_key {
        return Err(ContextError::TargetingKeyMissing);
    }
    if let Some(id) = stable_id.filter(|v| !v.is_null()) {
        let ids = user.custom_ids.get_or_insert_with(Map::new);
        ids.entry("stableID").or_insert(id);
    }
    if !top_custom.is_empty() {
        let map = custom.get_or_insert_with(Map::new);
        for (k, v) in top_custom {
            map.insert(k, v);
        }
    }
    user.custom = custom;
    Ok(user)
}

/// `targetingKey`: a string (OpenFeature's type) or a number (Statsig accepts any JSON id).
fn id_value(key: &str, value: Json) -> Result<Json, ContextError> {
    match value {
        Json::String(_) | Json::Number(_) | Json::Null => Ok(value),
        _ => Err(ContextError::Invalid {
            key: key.to_owned(),
            expected: "a string",
        }),
    }
}

/// An object-valued key (`null` counts as absent).
fn object(key: &str, value: Json) -> Result<Option<Map<String, Json>>, ContextError> {
    match value {
        Json::Object(m) => Ok(Some(m)),
        Json::Null => Ok(None),
        _ => Err(ContextError::Invalid {
            key: key.to_owned(),
            expected: "an object",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> Vec<(String, Json)> {
        v.as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    #[test]
    fn maps_every_documented_key() {
        let u = user_from_context(
            map(
                json!({"targetingKey": "t", "userID": "ignored", "email": "e", "ip": "1.2.3.4",
                "userAgent": "ua", "country": "NZ", "locale": "en", "appVersion": "1.0",
                "customIDs": {"companyID": "c"}, "stableID": "s",
                "privateAttributes": {"p": 1}, "statsigEnvironment": {"tier": "staging"},
                "custom": {"plan": "free", "seats": 3}, "plan": "pro"}),
            ),
            ContextOptions::default(),
        )
        .expect("valid");
        assert_eq!(u.user_id, json!("t"));
        assert_eq!(u.email, json!("e"));
        assert_eq!(u.ip, json!("1.2.3.4"));
        assert_eq!(u.user_agent, json!("ua"));
        assert_eq!(u.country, json!("NZ"));
        assert_eq!(u.locale, json!("en"));
        assert_eq!(u.app_version, json!("1.0"));
        assert_eq!(
            Json::Object(u.custom_ids.unwrap()),
            json!({"companyID": "c", "stableID": "s"})
        );
        assert_eq!(Json::Object(u.private_attributes.unwrap()), json!({"p": 1}));
        assert_eq!(
            Json::Object(u.statsig_environment.unwrap()),
            json!({"tier": "staging"})
        );
        // A top-level key wins over the same key in `custom`.
        assert_eq!(
            Json::Object(u.custom.unwrap()),
            json!({"plan": "pro", "seats": 3})
        );
    }

    #[test]
    fn user_id_is_used_without_targeting_key_and_custom_ids_win_over_stable_id() {
        let u = user_from_context(
            map(json!({"userID": 7, "stableID": "top", "customIDs": {"stableID": "inner"}})),
            ContextOptions::default(),
        )
        .expect("valid");
        assert_eq!(u.user_id, json!(7));
        assert_eq!(u.custom_ids.unwrap()["stableID"], json!("inner"));
    }

    #[test]
    fn targeting_key_is_optional_unless_required() {
        let ctx = json!({"customIDs": {"stableID": "s"}});
        let u = user_from_context(map(ctx.clone()), ContextOptions::default()).expect("valid");
        assert!(u.user_id.is_null());
        assert_eq!(
            user_from_context(
                map(ctx),
                ContextOptions::default().require_targeting_key(true)
            ),
            Err(ContextError::TargetingKeyMissing)
        );
    }

    #[test]
    fn wrong_types_are_invalid_context() {
        for (key, value) in [
            ("customIDs", json!("x")),
            ("custom", json!([1])),
            ("privateAttributes", json!(true)),
            ("statsigEnvironment", json!(1)),
            ("targetingKey", json!({"a": 1})),
        ] {
            let err = user_from_context([(key.to_owned(), value)], ContextOptions::default())
                .expect_err(key);
            assert!(matches!(err, ContextError::Invalid { key: k, .. } if k == key));
        }
    }
}

//! Custom events: the metric events experiments are scored on (spec 11.2), in the shape
//! Statsig's `log_event` gives them.

use std::io::Write as _;

use flagcore::{Attributes, User};

use crate::exposures::{write_attributes, write_str, write_user, EventLogger, Object};
use crate::http;

/// The `value` of a custom event: nothing, a string or a number.
///
/// Integers and floats become a JSON number written as a float (`9` as `9.0`), as the
/// official SDK writes them; a number that is not finite becomes `null`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum EventValue<'a> {
    /// No value (`null`).
    #[default]
    None,
    /// A string value.
    Str(&'a str),
    /// A numeric value.
    Number(f64),
}

impl<'a> From<&'a str> for EventValue<'a> {
    fn from(s: &'a str) -> Self {
        EventValue::Str(s)
    }
}

impl<'a> From<&'a String> for EventValue<'a> {
    fn from(s: &'a String) -> Self {
        EventValue::Str(s)
    }
}

impl From<f64> for EventValue<'_> {
    fn from(n: f64) -> Self {
        EventValue::Number(n)
    }
}

impl From<i64> for EventValue<'_> {
    fn from(n: i64) -> Self {
        // Statsig's value is a double: very large integers round, as they do there.
        EventValue::Number(n as f64)
    }
}

impl From<i32> for EventValue<'_> {
    fn from(n: i32) -> Self {
        EventValue::Number(f64::from(n))
    }
}

impl<'a, T: Into<EventValue<'a>>> From<Option<T>> for EventValue<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(EventValue::None, Into::into)
    }
}

impl EventLogger {
    /// Logs the custom event `name` for `user`, with a `value` (a string, a number, or
    /// `None`) and string `metadata` (an empty slice sends `null`).
    ///
    /// The event goes the way exposures go (the same queue, batches, retries and shutdown
    /// flush) but is never deduplicated: ten purchases are ten events. The user is
    /// written without its private attributes, with the logger's environment tier when it
    /// has no environment of its own. Never waits: a full queue drops the event and counts
    /// it in [`crate::LoggerStats::dropped_queue_full`].
    ///
    /// ```no_run
    /// # fn run(logger: &flagcore_sync::EventLogger) {
    /// use flagcore::User;
    /// logger.log_event(&User::with_user_id("u1"), "purchase", 9.99, &[("sku", "A-1")]);
    /// logger.log_event(&User::with_user_id("u1"), "search", "shoes", &[]);
    /// logger.log_event(&User::with_user_id("u1"), "login", None::<&str>, &[]);
    /// # }
    /// ```
    pub fn log_event<'v>(
        &self,
        user: &User<'_>,
        name: &str,
        value: impl Into<EventValue<'v>>,
        metadata: &[(&str, &str)],
    ) {
        self.log_custom(user, name, value.into(), Metadata::Strings(metadata));
    }

    /// [`EventLogger::log_event`] with typed metadata (numbers, booleans, JSON values), as
    /// the official SDK's `log_event_with_typed_metadata`; [`Attributes::None`] sends
    /// `null`.
    pub fn log_event_with_metadata<'v>(
        &self,
        user: &User<'_>,
        name: &str,
        value: impl Into<EventValue<'v>>,
        metadata: Attributes<'_>,
    ) {
        self.log_custom(user, name, value.into(), Metadata::Typed(metadata));
    }

    fn log_custom(
        &self,
        user: &User<'_>,
        name: &str,
        value: EventValue<'_>,
        metadata: Metadata<'_>,
    ) {
        if self.admit() {
            let event = encode(
                user,
                name,
                value,
                metadata,
                self.environment(),
                http::now_ms(),
            );
            self.push_event(event);
        }
    }
}

enum Metadata<'m> {
    Strings(&'m [(&'m str, &'m str)]),
    Typed(Attributes<'m>),
}

/// The event the official SDK sends for a custom event: `eventName`, `value`, `metadata`,
/// `statsigMetadata: null`, `user`, `time`, `secondaryExposures: null`.
fn encode(
    user: &User<'_>,
    name: &str,
    value: EventValue<'_>,
    metadata: Metadata<'_>,
    environment: Option<&str>,
    now_ms: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut event = Object::open(&mut out);
    event.str("eventName", name);
    let v = event.key("value");
    match value {
        EventValue::None => v.extend_from_slice(b"null"),
        EventValue::Str(s) => write_str(v, s),
        // serde_json writes `9.0` for 9 and `null` for what is not finite, as the official
        // SDK's `json!(f64)` does.
        EventValue::Number(n) => {
            let _ = serde_json::to_writer(&mut *v, &serde_json::Value::from(n));
        }
    }
    let m = event.key("metadata");
    match metadata {
        Metadata::Strings([]) | Metadata::Typed(Attributes::None) => {
            m.extend_from_slice(b"null");
        }
        Metadata::Strings(pairs) => {
            let mut o = Object::open(m);
            for (i, (k, v)) in pairs.iter().enumerate() {
                // The first of each name, as a map keeps one.
                if !pairs[..i].iter().any(|(earlier, _)| earlier == k) {
                    write_str(o.user_key(k), v);
                }
            }
            o.close();
        }
        Metadata::Typed(attrs) => write_attributes(m, attrs),
    }
    event.key("statsigMetadata").extend_from_slice(b"null");
    write_user(event.key("user"), user, environment);
    let _ = write!(event.key("time"), "{now_ms}");
    event.key("secondaryExposures").extend_from_slice(b"null");
    event.close();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flagcore::Value;
    use serde_json::{json, Value as Json};

    fn parse(bytes: &[u8]) -> Json {
        serde_json::from_slice(bytes).expect("valid JSON")
    }

    #[test]
    fn custom_events_have_the_official_shape_without_private_attributes() {
        let secret = [("ssn", Value::Str("123-45"))];
        let user = User::with_user_id("u1")
            .email("a@example.com")
            .private_attributes(Attributes::Pairs(&secret));
        let text = encode(
            &user,
            "purchase",
            EventValue::from(9),
            Metadata::Strings(&[("sku", "A-\"1\""), ("sku", "shadowed")]),
            Some("production"),
            42,
        );
        assert_eq!(
            parse(&text),
            json!({
                "eventName": "purchase", "value": 9.0, "metadata": {"sku": "A-\"1\""},
                "statsigMetadata": null,
                "user": {"userID": "u1", "email": "a@example.com",
                         "statsigEnvironment": {"tier": "production"}},
                "time": 42, "secondaryExposures": null,
            })
        );
        assert!(!String::from_utf8_lossy(&text).contains("123-45"));
    }

    #[test]
    fn values_and_metadata_take_every_form() {
        let user = User::with_user_id("u");
        let one = |value: EventValue<'_>, metadata: Metadata<'_>| {
            let v = parse(&encode(&user, "e", value, metadata, None, 1));
            (v["value"].clone(), v["metadata"].clone())
        };
        assert_eq!(
            one("shoes".into(), Metadata::Strings(&[])),
            (json!("shoes"), Json::Null)
        );
        assert_eq!(
            one(None::<&str>.into(), Metadata::Typed(Attributes::None)),
            (Json::Null, Json::Null)
        );
        assert_eq!(
            one(f64::NAN.into(), Metadata::Strings(&[])),
            (Json::Null, Json::Null)
        );
        assert_eq!(one(2.5.into(), Metadata::Strings(&[])).0, json!(2.5));
        let typed = [("n", Value::Int(3)), ("ok", Value::Bool(true))];
        assert_eq!(
            one(EventValue::None, Metadata::Typed(Attributes::Pairs(&typed))).1,
            json!({"n": 3, "ok": true})
        );
    }
}

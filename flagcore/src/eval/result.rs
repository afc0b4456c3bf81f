//! Evaluation results: values and reasons borrowed from the snapshot.

use serde_json::{Map, Value as Json};

use super::record::{Kind, Merged, RawExposure};
use crate::load::{ReturnValue, Ruleset, SID_DEFAULT};

/// Why a result has the value it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The name was found and evaluated.
    Recognized,
    /// No spec of that name (and kind) exists: the value is the default (`false` / `{}`).
    Unrecognized,
    /// A condition type or operator this engine (and Statsig's core) does not support was
    /// reached; the value is what the rules gave up to that point (Statsig semantics).
    Unsupported,
    /// A local override decided the value.
    LocalOverride,
    /// No ruleset has been installed yet: the value is the default.
    NoRuleset,
    /// Evaluated, but an `ip_based` condition needed an IP-to-country lookup and none is
    /// configured (Statsig's `CountryLookupNotLoaded:Recognized`).
    CountryLookupNotLoaded,
    /// Nested gates were more than 64 levels deep (or formed a cycle): the value is the
    /// default (`false` / `{}`) with rule id `default`.
    DepthExceeded,
    /// A sticky assignment the caller persisted decided the result (Statsig's `Persisted`):
    /// value, rule id, group and exposures are the stored ones ([`crate::sticky`]).
    Persisted,
}

impl Reason {
    /// Statsig's label for this reason (the part after the source in `Network:Recognized`).
    pub fn label(self) -> &'static str {
        match self {
            Reason::Recognized => "Recognized",
            Reason::Unrecognized => "Unrecognized",
            Reason::Unsupported => "Unsupported",
            Reason::LocalOverride => "LocalOverride",
            Reason::NoRuleset => "NoValues",
            Reason::CountryLookupNotLoaded => "Recognized",
            Reason::DepthExceeded => "Statsig Evaluation Depth Exceeded",
            Reason::Persisted => "Persisted",
        }
    }
}

/// A gate checked on the way to a result (Statsig's `secondary_exposures` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecondaryExposure<'a> {
    /// The gate's name.
    pub gate: &'a str,
    /// Its value for the user.
    pub gate_value: bool,
    /// The rule that decided it.
    pub rule_id: &'a str,
}

/// A list of secondary exposures, borrowed; iterate it or index it.
#[derive(Clone, Copy)]
pub struct SecondaryExposures<'a> {
    pub(crate) strs: &'a [Box<str>],
    pub(crate) raw: &'a [RawExposure],
}

impl<'a> SecondaryExposures<'a> {
    pub(crate) const EMPTY: SecondaryExposures<'static> = SecondaryExposures {
        strs: &[],
        raw: &[],
    };

    /// Number of entries (duplicates are kept, as Statsig keeps them).
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<SecondaryExposure<'a>> {
        self.raw.get(i).map(|r| self.resolve(r))
    }

    fn resolve(&self, r: &RawExposure) -> SecondaryExposure<'a> {
        let strs = self.strs;
        let s = |id: u32| strs.get(id as usize).map_or("", |s| &**s);
        SecondaryExposure {
            gate: s(r.gate),
            gate_value: r.value,
            rule_id: s(r.rule),
        }
    }

    /// The entries in evaluation order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SecondaryExposure<'a>> + 'a {
        let this = *self;
        self.raw.iter().map(move |r| this.resolve(r))
    }
}

impl core::fmt::Debug for SecondaryExposures<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// `map[key]`: a parameter object is usually small, and comparing a few keys costs less
/// than hashing the key (serde_json's map hashes with SipHash).
#[inline]
fn lookup<'m>(map: &'m Map<String, Json>, key: &str) -> Option<&'m Json> {
    if map.len() <= 8 {
        map.iter().find_map(|(k, v)| (k == key).then_some(v))
    } else {
        map.get(key)
    }
}

/// The JSON object value of a result (its parameters), borrowed from the snapshot.
///
/// Usually one object of the payload. A layer evaluated with Statsig's multi-rule algorithm
/// (`useNewLayerEval`, spec 4.7) merges several: the allocated experiment's value, then the
/// return values of the other passing rules, then the layer's default value, each parameter
/// taken from the first that has it. The view merges on access, so evaluating never
/// allocates; [`JsonObject::to_map`] copies it out.
///
/// ```
/// let payload = br#"{"feature_gates": {}, "layer_configs": {}, "condition_map": {},
///   "dynamic_configs": {"c": {"type": "dynamic_config", "entity": "dynamic_config",
///     "salt": "s", "enabled": true, "defaultValue": {"a": 1, "b": [true]}, "idType": "userID",
///     "rules": []}},
///   "experiment_to_layer": {}, "has_updates": true, "time": 1}"#;
/// let rs = flagcore::Ruleset::from_json(payload)?;
/// let mut scratch = flagcore::Scratch::new();
/// let user = flagcore::User::with_user_id("u1");
/// let e = rs.evaluate(&mut scratch, &user, flagcore::Kind::DynamicConfig, "c");
/// let value = e.json();
/// assert_eq!(value.len(), 2);
/// assert_eq!(value.get("a"), Some(&serde_json::json!(1)));
/// assert_eq!(serde_json::to_string(&value).unwrap(), r#"{"a":1,"b":[true]}"#);
/// # Ok::<(), flagcore::LoadError>(())
/// ```
#[derive(Clone, Copy)]
pub struct JsonObject<'a> {
    repr: Repr<'a>,
}

#[derive(Clone, Copy)]
enum Repr<'a> {
    One(&'a Map<String, Json>),
    Merged(&'a Ruleset, Merged<'a>),
}

impl<'a> JsonObject<'a> {
    pub(crate) fn one(map: &'a Map<String, Json>) -> JsonObject<'a> {
        JsonObject {
            repr: Repr::One(map),
        }
    }

    pub(crate) fn merged(rs: &'a Ruleset, m: Merged<'a>) -> JsonObject<'a> {
        JsonObject {
            repr: Repr::Merged(rs, m),
        }
    }

    /// The merged objects in precedence order, each with the id of the rule it comes from.
    fn sources(&self) -> impl Iterator<Item = (&'a Map<String, Json>, &'a str)> + 'a {
        let (one, merged) = match self.repr {
            Repr::One(m) => (Some((m, "")), None),
            Repr::Merged(rs, m) => (None, Some((rs, m))),
        };
        let merged = merged.into_iter().flat_map(|(rs, m)| {
            let delegate = m
                .delegate
                .and_then(|(value, sid)| value.map(|v| (v, rs.str(sid))));
            let rules = m
                .layer
                .rules
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i < 128 && m.rules & (1u128 << i) != 0)
                .filter_map(move |(_, r)| object(&r.return_value).map(|v| (v, rs.str(r.sid))));
            let default = object(&m.layer.default_value).map(|v| (v, rs.str(SID_DEFAULT)));
            delegate.into_iter().chain(rules).chain(default)
        });
        one.into_iter().chain(merged)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&'a Json> {
        match self.repr {
            Repr::One(m) => lookup(m, key),
            Repr::Merged(..) => self.sources().find_map(|(m, _)| lookup(m, key)),
        }
    }

    /// The boolean parameter `key`, or `fallback` when it is missing or not a boolean (the
    /// official SDK's `get_bool`). Allocation-free.
    pub fn get_bool(&self, key: &str, fallback: bool) -> bool {
        typed_bool(self.get(key)).unwrap_or(fallback)
    }

    /// The number `key` as an `f64`, or `fallback` when it is missing or not a number (the
    /// official SDK's `get_f64`): integers convert (`3` reads as `3.0`, integers beyond 2⁵³
    /// round). Allocation-free.
    pub fn get_f64(&self, key: &str, fallback: f64) -> f64 {
        typed_f64(self.get(key)).unwrap_or(fallback)
    }

    /// The integer `key`, or `fallback` when it is missing, not an integer or out of the
    /// `i64` range (the official SDK's `get_i64`): a number written with a fraction or an
    /// exponent is a float and reads as `fallback`, even `3.0`. Allocation-free.
    pub fn get_i64(&self, key: &str, fallback: i64) -> i64 {
        typed_i64(self.get(key)).unwrap_or(fallback)
    }

    /// The string `key`, borrowed, or `fallback` when it is missing or not a string (the
    /// official SDK's `get_string`, without the copy). Allocation-free.
    pub fn get_str<'f>(&self, key: &str, fallback: &'f str) -> &'f str
    where
        'a: 'f,
    {
        typed_str(self.get(key)).unwrap_or(fallback)
    }

    /// Parameter `key` deserialised as `T` (the official SDK's `get_opt`); `None` when it is
    /// missing or does not deserialise. `T` may borrow from the snapshot (`&str`,
    /// `Vec<&str>`, …). Allocates whatever `T` allocates, and an error value when `key`
    /// is not a `T`.
    pub fn get_as<T: serde::Deserialize<'a>>(&self, key: &str) -> Option<T> {
        typed_as(self.get(key))
    }

    /// Parameter `key` deserialised as `T`, or `fallback` (the official SDK's generic
    /// `get(name, fallback)`); allocates as [`JsonObject::get_as`] does.
    pub fn get_or<T: serde::Deserialize<'a>>(&self, key: &str, fallback: T) -> T {
        self.get_as(key).unwrap_or(fallback)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// The id of the rule that supplied `key`, for a merged layer value; `None` for a
    /// single object or a missing key.
    pub(crate) fn rule_of(&self, key: &str) -> Option<&'a str> {
        match self.repr {
            Repr::One(_) => None,
            Repr::Merged(..) => self
                .sources()
                .find(|(m, _)| m.contains_key(key))
                .map(|(_, id)| id),
        }
    }

    /// The members in order (for a merged value: each source's members that no earlier
    /// source has).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a Json)> + 'a {
        let this = *self;
        self.sources().enumerate().flat_map(move |(i, (m, _))| {
            m.iter()
                .filter(move |(k, _)| !this.sources().take(i).any(|(e, _)| e.contains_key(*k)))
                .map(|(k, v)| (k.as_str(), v))
        })
    }

    /// The parameter names, in the order of [`JsonObject::iter`].
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().map(|(k, _)| k)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self.repr {
            Repr::One(m) => m.len(),
            Repr::Merged(..) => self.iter().count(),
        }
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The object itself when the value is a single object of the payload (not merged).
    pub fn as_map(&self) -> Option<&'a Map<String, Json>> {
        match self.repr {
            Repr::One(m) => Some(m),
            Repr::Merged(..) => None,
        }
    }

    /// An owned copy (allocates).
    pub fn to_map(&self) -> Map<String, Json> {
        match self.repr {
            Repr::One(m) => m.clone(),
            Repr::Merged(..) => self
                .iter()
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect(),
        }
    }
}

/// The official SDK reads a parameter as `serde_json::from_value::<T>`: these are its
/// answers for the four scalar types, without the copy and the error value.
pub(crate) fn typed_bool(v: Option<&Json>) -> Option<bool> {
    v?.as_bool()
}

/// See [`typed_bool`]: every JSON number converts to `f64` (integers by `as`, as serde does).
pub(crate) fn typed_f64(v: Option<&Json>) -> Option<f64> {
    match v? {
        Json::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// See [`typed_bool`]: integers in range; floats (even integral ones) are not `i64`.
pub(crate) fn typed_i64(v: Option<&Json>) -> Option<i64> {
    v?.as_i64()
}

/// See [`typed_bool`].
pub(crate) fn typed_str(v: Option<&Json>) -> Option<&str> {
    v?.as_str()
}

/// See [`typed_bool`]: any `T`, deserialised from the borrowed value.
pub(crate) fn typed_as<'a, T: serde::Deserialize<'a>>(v: Option<&'a Json>) -> Option<T> {
    T::deserialize(v?).ok()
}

fn object(v: &ReturnValue) -> Option<&Map<String, Json>> {
    match v {
        ReturnValue::Object(m) => Some(m),
        ReturnValue::Bool(_) | ReturnValue::Null => None,
    }
}

impl core::fmt::Debug for JsonObject<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl serde::Serialize for JsonObject<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// The full result of one evaluation, borrowed from the snapshot (and, for the exposure
/// lists, from the [`Scratch`](crate::Scratch) it was evaluated with).
#[derive(Clone, Copy, Debug)]
pub struct Evaluation<'a> {
    pub(crate) kind: Kind,
    pub(crate) name: &'a str,
    pub(crate) value: bool,
    pub(crate) json: JsonObject<'a>,
    pub(crate) rule_id: &'a str,
    pub(crate) group_name: Option<&'a str>,
    pub(crate) id_type: &'a str,
    pub(crate) version: Option<u32>,
    pub(crate) is_experiment_group: bool,
    pub(crate) is_experiment_active: bool,
    pub(crate) is_in_layer: bool,
    /// `None` where Statsig's result has none (not even an empty list).
    pub(crate) explicit_parameters: Option<&'a [Box<str>]>,
    pub(crate) allocated_experiment: Option<&'a str>,
    pub(crate) secondary: SecondaryExposures<'a>,
    pub(crate) undelegated: Option<SecondaryExposures<'a>>,
    pub(crate) reason: Reason,
    pub(crate) id_list_used: bool,
    pub(crate) lcut: u64,
    pub(crate) override_config_name: Option<&'a str>,
    /// A local override decided the result without setting its unit type (client
    /// initialize responses then leave a gate's `id_type` out, as Statsig does).
    pub(crate) no_id_type: bool,
    /// What the payload (or override) gave as the value, where it is not an object: client
    /// initialize responses write it as Statsig does (`null` for none or `null`, a boolean
    /// as itself), while [`Evaluation::json`] reads it as an empty object.
    pub(crate) value_shape: ValueShape,
    /// The matched rule's `samplingRate`.
    pub(crate) sampling_rate: Option<u64>,
    pub(crate) forward_all_exposures: bool,
    pub(crate) has_seen_analytical_gates: bool,
    /// The official core's raw result has no undelegated list (a layer without delegation
    /// and without exposures, or unsupported): its manual layer exposures send `null`.
    pub(crate) undelegated_missing: bool,
    pub(crate) sdk_configs: &'a crate::SdkConfigs,
}

/// The JSON type of a result's value as given ([`Evaluation::json`] reads non-objects as `{}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueShape {
    /// An object (or a gate, whose value is its boolean).
    Object,
    /// No value, or `null` (an experiment overridden into a group it does not have).
    Null,
    /// A boolean `returnValue` of a config rule.
    Bool(bool),
}

impl<'a> Evaluation<'a> {
    /// What was evaluated.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The name that was evaluated.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// The boolean result: the gate's value, or for configs whether a rule passed.
    pub fn value(&self) -> bool {
        self.value
    }
    /// The JSON object value of a config, experiment or layer (`{}` for gates).
    pub fn json(&self) -> JsonObject<'a> {
        self.json
    }
    /// The id of the rule that decided the result (`default`, `disabled`, or `""` when none).
    pub fn rule_id(&self) -> &'a str {
        self.rule_id
    }
    /// The experiment group name, for experiments and layers.
    pub fn group_name(&self) -> Option<&'a str> {
        self.group_name
    }
    /// The unit type the spec buckets by (`userID`, `stableID`, …), `""` when unrecognized.
    pub fn id_type(&self) -> &'a str {
        self.id_type
    }
    /// The spec's version.
    pub fn version(&self) -> Option<u32> {
        self.version
    }
    /// Whether the user is in an experiment group.
    pub fn is_user_in_experiment(&self) -> bool {
        self.is_experiment_group
    }
    /// Whether the experiment is active.
    pub fn is_experiment_active(&self) -> bool {
        self.is_experiment_active
    }
    /// Whether the experiment belongs to a layer.
    pub fn is_in_layer(&self) -> bool {
        self.is_in_layer
    }
    /// The explicit parameters of the (allocated) experiment.
    pub fn explicit_parameters(&self) -> impl Iterator<Item = &'a str> {
        self.explicit_parameters.unwrap_or(&[]).iter().map(|s| &**s)
    }
    /// For layers: the experiment the user is allocated to.
    pub fn allocated_experiment(&self) -> Option<&'a str> {
        self.allocated_experiment
    }
    /// Gates checked on the way, in order (empty unless evaluated with a scratch).
    pub fn secondary_exposures(&self) -> SecondaryExposures<'a> {
        self.secondary
    }
    /// Exposures of a layer's own rules, before delegation (Statsig's
    /// `undelegated_secondary_exposures`); `None` where Statsig reports none.
    pub fn undelegated_secondary_exposures(&self) -> Option<SecondaryExposures<'a>> {
        self.undelegated
    }
    /// Why the result is what it is.
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// Exposures of a layer's own rules as the official core's evaluator holds them before
    /// shaping the layer result: `None` where it has no list (a layer that delegated
    /// nowhere and saw no gates, or an unsupported one), else
    /// [`Evaluation::undelegated_secondary_exposures`]. Manual layer exposures report
    /// these (`null` for `None`); parameter reads report the shaped ones.
    pub fn raw_undelegated_secondary_exposures(&self) -> Option<SecondaryExposures<'a>> {
        if self.undelegated_missing {
            None
        } else {
            self.undelegated
        }
    }
    /// The matched rule's `samplingRate` (spec 11.5): the exposure is logged for one in
    /// this many units; `None` when the rule has none (or nothing matched).
    pub fn sampling_rate(&self) -> Option<u64> {
        self.sampling_rate
    }
    /// The spec's `forwardAllExposures`: sampling never drops its exposures.
    pub fn forwards_all_exposures(&self) -> bool {
        self.forward_all_exposures
    }
    /// Whether a nested gate without a sampling rate ("analytical") was evaluated on the
    /// way: sampling never drops the exposure (Statsig's `has_seen_analytical_gates`).
    pub fn has_seen_analytical_gates(&self) -> bool {
        self.has_seen_analytical_gates
    }
    /// The event-logging settings (`sdk_configs`) of the ruleset this result came from
    /// (the defaults when there was none).
    pub fn sdk_configs(&self) -> &'a crate::SdkConfigs {
        self.sdk_configs
    }
    /// Whether an ID list was consulted (Statsig's `:IdListInMemory`).
    pub fn used_id_list(&self) -> bool {
        self.id_list_used
    }
    /// The ruleset's time (`lcut`), 0 when there is no ruleset.
    pub fn ruleset_time(&self) -> u64 {
        self.lcut
    }
    /// The spec evaluated instead of [`Evaluation::name`] by Statsig's config mapping
    /// (`overrides` in the payload, spec 4.10); exposures report it as
    /// `overrideConfigName`. The value, rule id and group are the mapped spec's.
    pub fn override_config_name(&self) -> Option<&'a str> {
        self.override_config_name
    }
    /// A parameter of the value.
    pub fn get(&self, parameter: &str) -> Option<&'a Json> {
        self.json.get(parameter)
    }
    /// [`JsonObject::get_bool`] of the value: the boolean `parameter` or `fallback`. Never
    /// logs an exposure (a layer read through [`View::layer`](crate::View::layer) does).
    pub fn get_bool(&self, parameter: &str, fallback: bool) -> bool {
        self.json.get_bool(parameter, fallback)
    }
    /// [`JsonObject::get_f64`] of the value.
    pub fn get_f64(&self, parameter: &str, fallback: f64) -> f64 {
        self.json.get_f64(parameter, fallback)
    }
    /// [`JsonObject::get_i64`] of the value.
    pub fn get_i64(&self, parameter: &str, fallback: i64) -> i64 {
        self.json.get_i64(parameter, fallback)
    }
    /// [`JsonObject::get_str`] of the value (borrowed).
    pub fn get_str<'f>(&self, parameter: &str, fallback: &'f str) -> &'f str
    where
        'a: 'f,
    {
        self.json.get_str(parameter, fallback)
    }
    /// [`JsonObject::get_as`] of the value (may allocate).
    pub fn get_as<T: serde::Deserialize<'a>>(&self, parameter: &str) -> Option<T> {
        self.json.get_as(parameter)
    }
    /// [`JsonObject::get_or`] of the value (may allocate).
    pub fn get_or<T: serde::Deserialize<'a>>(&self, parameter: &str, fallback: T) -> T {
        self.json.get_or(parameter, fallback)
    }
    /// For a layer evaluated with Statsig's multi-rule algorithm (`useNewLayerEval`): the id
    /// of the rule that supplied `parameter` (`default` for the layer's default value), which
    /// a layer exposure of that parameter reports as its `ruleID`. `None` for every other
    /// result (all its parameters come from [`Evaluation::rule_id`]) and for parameters the
    /// value does not have. Allocation-free.
    pub fn parameter_rule_id(&self, parameter: &str) -> Option<&'a str> {
        self.json.rule_of(parameter)
    }
    /// The `ruleID` a layer exposure of `parameter` reports: the parameter's own rule id
    /// when it has one ([`Evaluation::parameter_rule_id`]), else [`Evaluation::rule_id`].
    pub fn exposure_rule_id(&self, parameter: &str) -> &'a str {
        self.parameter_rule_id(parameter).unwrap_or(self.rule_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value as Json};

    use super::JsonObject;

    fn params() -> Map<String, Json> {
        match json!({
            "b": true, "i": 3, "neg": -7, "f": 2.5, "whole_float": 3.0, "big": 18446744073709551615u64,
            "s": "blue", "n": null, "list": ["x", "y"], "obj": {"k": 1}
        }) {
            Json::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn typed_reads_follow_the_official_fallback_rules() {
        let m = params();
        let o = JsonObject::one(&m);
        assert!(o.get_bool("b", false));
        assert!(o.get_bool("s", true), "a string is not a boolean");
        assert!(!o.get_bool("missing", false));
        assert_eq!(o.get_i64("i", 0), 3);
        assert_eq!(o.get_i64("neg", 0), -7);
        assert_eq!(o.get_i64("whole_float", 9), 9, "3.0 is a float, not an i64");
        assert_eq!(o.get_i64("f", 9), 9);
        assert_eq!(o.get_i64("big", 9), 9, "beyond i64::MAX");
        assert_eq!(o.get_i64("s", 9), 9);
        assert_eq!(o.get_f64("i", 0.0), 3.0, "integers read as floats");
        assert_eq!(o.get_f64("f", 0.0), 2.5);
        assert_eq!(o.get_f64("big", 0.0), 18446744073709551615u64 as f64);
        assert_eq!(o.get_f64("b", 1.5), 1.5);
        assert_eq!(o.get_f64("n", 1.5), 1.5);
        assert_eq!(o.get_str("s", "red"), "blue");
        assert_eq!(o.get_str("i", "red"), "red", "numbers are not strings");
        assert_eq!(o.get_str("n", "red"), "red");
        assert_eq!(o.get_as::<Vec<&str>>("list"), Some(vec!["x", "y"]));
        assert_eq!(o.get_as::<Vec<i64>>("list"), None);
        assert_eq!(o.get_or("obj", Map::new()).get("k"), Some(&json!(1)));
        assert_eq!(o.get_or("s", 4u8), 4);
        assert_eq!(o.get_as::<Option<bool>>("n"), Some(None));
    }

    /// The typed reads agree with `serde_json::from_value`, which the official SDK's
    /// getters are.
    #[test]
    fn typed_reads_agree_with_from_value() {
        let m = params();
        let o = JsonObject::one(&m);
        for (k, v) in &m {
            let d = |x: Json| x;
            assert_eq!(
                Some(o.get_bool(k, false)).filter(|_| v.is_boolean()),
                serde_json::from_value::<bool>(d(v.clone())).ok(),
                "{k}"
            );
            assert_eq!(
                super::typed_f64(Some(v)),
                serde_json::from_value::<f64>(v.clone()).ok(),
                "{k}"
            );
            assert_eq!(
                super::typed_i64(Some(v)),
                serde_json::from_value::<i64>(v.clone()).ok(),
                "{k}"
            );
            assert_eq!(
                super::typed_str(Some(v)).map(str::to_owned),
                serde_json::from_value::<String>(v.clone()).ok(),
                "{k}"
            );
        }
    }

    #[test]
    fn lookups_by_scan_and_by_hash_agree() {
        for n in [0, 1, 3, 8, 9, 40] {
            let map: Map<String, Json> = (0..n).map(|i| (format!("k{i}"), Json::from(i))).collect();
            for i in 0..n {
                assert_eq!(
                    super::lookup(&map, &format!("k{i}")),
                    map.get(&format!("k{i}"))
                );
            }
            for missing in ["", "k", "k99", "K0"] {
                assert_eq!(super::lookup(&map, missing), None, "{n} keys, {missing:?}");
            }
        }
    }
}

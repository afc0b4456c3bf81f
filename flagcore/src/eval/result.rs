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
            Repr::One(m) => m.get(key),
            Repr::Merged(..) => self.sources().find_map(|(m, _)| m.get(key)),
        }
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

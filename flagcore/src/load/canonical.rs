//! Writing a loaded ruleset back as a canonical `dcs-v2` payload ([`Ruleset::to_json`]).
//!
//! Most of the output is read from the compiled forms (names, salts, return values, id
//! types, …). What compiling turns into something else or drops is kept aside at load time
//! in a [`Source`], moved out of the parsed wire model rather than copied: each condition as
//! parsed (its `targetValue` as given, unknown types and operators as spelled), each spec's
//! `type`, each rule's `name`, `salt` and `passPercentage` (of `override_rules` too), and
//! the raw text of `experiment_to_layer` (v1: `layers`). Evaluation never reads any of it.

use std::collections::{HashMap, HashSet};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value as Json};
use xxhash_rust::xxh3::xxh3_64;

use super::model::{
    Format, Mapping, MappingEntry, Mappings, ReturnValue, Rule, Ruleset, Spec, Specs,
    MISSING_CONDITION,
};
use super::wire::{RuleSource, SpecSource, WireCondition};

/// The id written for a rule's reference to a condition that was not in `condition_map`
/// (such a rule evaluates as unsupported; the id is never a key of the written map).
const MISSING_ID: &str = "missing";

impl Ruleset {
    /// Serialises the ruleset as a canonical `dcs-v2` payload: compact JSON that
    /// [`Ruleset::from_json`] loads into a ruleset that evaluates exactly like this one.
    ///
    /// Use it to convert a legacy v1 payload to v2, or to save the last good ruleset as a
    /// bootstrap file. Loading the output and serialising again gives the same bytes, and
    /// equivalent v1 and v2 payloads give the same bytes.
    ///
    /// What is canonical:
    /// - **Shape**: always `dcs-v2` (`"response_format": "dcs-v2"`): specs keyed by name,
    ///   conditions in `condition_map`. A v1 `layers` map (layer → experiments) becomes
    ///   `experiment_to_layer` (experiment → layer).
    /// - **Order**: specs in payload order; the fields of the payload, of specs, of rules and
    ///   of conditions in the order of the tables of the DCS format (spec section 2); JSON
    ///   values (return values, targets) keep their key order. No whitespace.
    /// - **Conditions** are keyed by a hash of their own JSON (16 hex digits), so identical
    ///   conditions are written once whatever their original ids, and `condition_map` holds
    ///   only the conditions some rule references, in order of first reference. A reference
    ///   to a condition missing from the original map is written as `"missing"` (still
    ///   absent, still unsupported).
    /// - **Dropped**: specs the loader dropped ([`Ruleset::dropped_specs`]), and every field
    ///   flagcore does not read: unknown keys, informational top-level fields (`company_id`,
    ///   `diagnostics`, `id_lists`, …), the keys of `sdk_configs` other than the sampling
    ///   and dedupe settings ([`SdkConfigs`](crate::SdkConfigs)), and spec fields (`targetAppIDs`,
    ///   `fieldsUsed`, `checksum`). Optional fields that were absent or `null` stay absent;
    ///   `forwardAllExposures` and `useNewLayerEval` are written only when `true`.
    /// - **Config mapping**: `overrides` and `override_rules` are written when mapping
    ///   applies (the payload had both); a `start_time` of 0 is left out (it means none).
    /// - **Values**: a `returnValue`/`defaultValue` that is not an object, a boolean or
    ///   `null` is written as `{}` (how it evaluates, spec 2.6); an integral
    ///   `passPercentage` is written as an integer.
    ///
    /// The output has at most as many specs, rules, conditions and target values as the
    /// original, so those [`Limits`](crate::Limits) hold for it too. Its size is about that
    /// of the original without whitespace, but can be larger where the original's condition
    /// ids were shorter than 16 characters (the large conformance fixture grows by 0.2%).
    ///
    /// ```
    /// use flagcore::{Format, Ruleset, User};
    ///
    /// // A legacy v1 payload: arrays of named specs with inline conditions.
    /// let v1 = Ruleset::from_json(br#"{
    ///   "feature_gates": [{"name": "beta", "type": "feature_gate", "entity": "feature_gate",
    ///     "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID",
    ///     "rules": [{"id": "staff", "name": "staff", "passPercentage": 100,
    ///       "conditions": [{"type": "user_field", "field": "email", "operator":
    ///         "str_ends_with_any", "targetValue": ["@example.com"], "idType": "userID"}],
    ///       "returnValue": true, "idType": "userID"}]}],
    ///   "dynamic_configs": [], "layer_configs": [], "has_updates": true, "time": 1
    /// }"#)?;
    /// assert_eq!(v1.format(), Format::V1);
    ///
    /// let bytes = v1.to_json();
    /// let v2 = Ruleset::from_json(&bytes)?;
    /// assert_eq!(v2.format(), Format::V2);
    /// assert_eq!(v2.to_json(), bytes); // a fixed point
    /// let staff = User::with_user_id("u1").email("ana@example.com");
    /// assert!(v2.check_gate(&staff, "beta"));
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn to_json(&self) -> Vec<u8> {
        let ids = ConditionIds::assign(self);
        let top = Top {
            feature_gates: SpecsOut(self, &self.gates, 0, &ids),
            dynamic_configs: SpecsOut(self, &self.configs, 1, &ids),
            layer_configs: SpecsOut(self, &self.layers, 2, &ids),
            condition_map: ConditionMap(&ids.map),
            experiment_to_layer: self.experiment_to_layer(),
            has_updates: self.has_updates,
            time: self.time,
            checksum: self.checksum.as_deref(),
            response_format: "dcs-v2",
            app_id: self.app_id.as_ref(),
            default_environment: self.default_environment.as_deref(),
            overrides: self.mappings.as_deref().map(MappingsOut),
            override_rules: self.mappings.as_deref().map(|m| OverrideRulesOut(m, &ids)),
            sdk_configs: self.sdk_configs.to_map(),
        };
        // Cannot fail: every map key is a string and no `Serialize` impl here errors.
        serde_json::to_vec(&top).expect("serialising to memory does not fail")
    }

    /// `experiment_to_layer` as given (v2), or inverted from v1's `layers`.
    fn experiment_to_layer(&self) -> Map<String, Json> {
        let raw = self.source.layer_membership.as_deref().unwrap_or("{}");
        let map: Map<String, Json> = serde_json::from_str(raw).unwrap_or_default();
        match self.format {
            Format::V2 => map,
            Format::V1 => {
                let mut out = Map::new();
                for (layer, experiments) in map {
                    for e in experiments.as_array().into_iter().flatten() {
                        if let Some(e) = e.as_str() {
                            out.insert(e.to_owned(), Json::String(layer.clone()));
                        }
                    }
                }
                out
            }
        }
    }
}

/// The canonical id of each compiled condition, and the written `condition_map`.
struct ConditionIds<'a> {
    /// Per compiled condition: its canonical id, once a rule references it.
    of: Vec<Option<String>>,
    /// `condition_map` in order of first reference.
    map: Vec<(String, &'a WireCondition)>,
}

impl<'a> ConditionIds<'a> {
    fn assign(rs: &'a Ruleset) -> ConditionIds<'a> {
        let mut ids = ConditionIds {
            of: vec![None; rs.conditions.len()],
            map: Vec::new(),
        };
        let mut by_text: HashMap<String, String> = HashMap::new();
        let mut used: HashSet<String> = HashSet::new();
        let rules = [&rs.gates, &rs.configs, &rs.layers]
            .into_iter()
            .flat_map(|specs| specs.list.iter().flat_map(|s| s.rules.iter()))
            .chain(rs.mappings.iter().flat_map(|m| m.rules.iter()));
        for &ci in rules.flat_map(|r| r.conditions.iter()) {
            let (Some(slot @ None), Some(wire)) = (
                ids.of.get_mut(ci as usize),
                rs.source.conditions.get(ci as usize),
            ) else {
                continue;
            };
            // Cannot fail: see `to_json`. The text is the dedup key and the hash input; the
            // map writes the condition again with the same `Serialize`.
            let text = serde_json::to_string(wire).expect("serialising to memory does not fail");
            if let Some(id) = by_text.get(&text) {
                *slot = Some(id.clone());
                continue;
            }
            let hash = format!("{:016x}", xxh3_64(text.as_bytes()));
            // Different conditions with the same hash (never seen) get distinct ids.
            let mut id = hash.clone();
            let mut n = 0u32;
            while used.contains(&id) {
                n = n.saturating_add(1);
                id = format!("{hash}-{n}");
            }
            used.insert(id.clone());
            *slot = Some(id.clone());
            by_text.insert(text, id.clone());
            ids.map.push((id, wire));
        }
        ids
    }

    fn id(&self, ci: u32) -> &str {
        if ci == MISSING_CONDITION {
            return MISSING_ID;
        }
        self.of
            .get(ci as usize)
            .and_then(Option::as_deref)
            .unwrap_or(MISSING_ID)
    }
}

#[derive(serde::Serialize)]
struct Top<'a> {
    feature_gates: SpecsOut<'a>,
    dynamic_configs: SpecsOut<'a>,
    layer_configs: SpecsOut<'a>,
    condition_map: ConditionMap<'a>,
    experiment_to_layer: Map<String, Json>,
    has_updates: bool,
    time: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    checksum: Option<&'a str>,
    response_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    app_id: Option<&'a Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_environment: Option<&'a str>,
    /// Config mapping (spec 4.10): written only when it applies (both fields present).
    #[serde(skip_serializing_if = "Option::is_none")]
    overrides: Option<MappingsOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    override_rules: Option<OverrideRulesOut<'a>>,
    /// The event-logging settings read (sampling, the dedupe windows).
    #[serde(skip_serializing_if = "Option::is_none")]
    sdk_configs: Option<Map<String, Json>>,
}

/// `overrides`: name → `[{new_config_name, rules: [{rule_name, start_time?}]}]`.
struct MappingsOut<'a>(&'a Mappings);

impl Serialize for MappingsOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(None)?;
        for (name, mappings) in self.0.all() {
            let list: Vec<MappingOut<'_>> = mappings.iter().map(MappingOut).collect();
            map.serialize_entry(name, &list)?;
        }
        map.end()
    }
}

struct MappingOut<'a>(&'a Mapping);

impl Serialize for MappingOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let entries: Vec<EntryOut<'_>> = self.0.entries.iter().map(EntryOut).collect();
        let mut map = ser.serialize_map(Some(2))?;
        map.serialize_entry("new_config_name", &*self.0.new_config_name)?;
        map.serialize_entry("rules", &entries)?;
        map.end()
    }
}

struct EntryOut<'a>(&'a MappingEntry);

impl Serialize for EntryOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry("rule_name", &*self.0.rule_name)?;
        // Absent and 0 mean the same: no start time.
        if self.0.start_time != 0 {
            map.serialize_entry("start_time", &self.0.start_time)?;
        }
        map.end()
    }
}

/// `override_rules`: rule name → rule.
struct OverrideRulesOut<'a>(&'a Mappings, &'a ConditionIds<'a>);

impl Serialize for OverrideRulesOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let OverrideRulesOut(m, ids) = *self;
        let mut map = ser.serialize_map(Some(m.rules.len()))?;
        for ((rule, name), source) in m.rules.iter().zip(&m.rule_names).zip(&m.rule_sources) {
            map.serialize_entry(&**name, &RuleOut(rule, source, ids))?;
        }
        map.end()
    }
}

/// One section: name → spec. The `usize` is the section's index in `Source::specs`.
struct SpecsOut<'a>(&'a Ruleset, &'a Specs, usize, &'a ConditionIds<'a>);

impl Serialize for SpecsOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let SpecsOut(rs, specs, section, ids) = *self;
        let sources = rs.source.specs.get(section).map_or(&[][..], Vec::as_slice);
        let mut map = ser.serialize_map(Some(specs.list.len()))?;
        for (spec, source) in specs.list.iter().zip(sources) {
            map.serialize_entry(&*spec.name, &SpecOut(spec, source, ids))?;
        }
        map.end()
    }
}

struct SpecOut<'a>(&'a Spec, &'a SpecSource, &'a ConditionIds<'a>);

impl Serialize for SpecOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let SpecOut(spec, source, ids) = *self;
        let rules: Vec<RuleOut<'_>> = spec
            .rules
            .iter()
            .zip(source.rules.iter())
            .map(|(rule, source)| RuleOut(rule, source, ids))
            .collect();
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry("type", &*source.kind)?;
        map.serialize_entry("entity", &*spec.entity)?;
        map.serialize_entry("salt", &*spec.salt)?;
        map.serialize_entry("enabled", &spec.enabled)?;
        map.serialize_entry("defaultValue", &ReturnOut(&spec.default_value))?;
        map.serialize_entry("rules", &rules)?;
        map.serialize_entry("idType", &*spec.id_type)?;
        if let Some(v) = spec.version {
            map.serialize_entry("version", &v)?;
        }
        if let Some(a) = spec.is_active {
            map.serialize_entry("isActive", &a)?;
        }
        if let Some(s) = spec.has_shared_params {
            map.serialize_entry("hasSharedParams", &s)?;
        }
        if let Some(p) = &spec.explicit_parameters {
            map.serialize_entry("explicitParameters", p)?;
        }
        if spec.forward_all_exposures {
            map.serialize_entry("forwardAllExposures", &true)?;
        }
        if spec.use_new_layer_eval {
            map.serialize_entry("useNewLayerEval", &true)?;
        }
        map.end()
    }
}

struct RuleOut<'a>(&'a Rule, &'a RuleSource, &'a ConditionIds<'a>);

impl Serialize for RuleOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let RuleOut(rule, source, ids) = *self;
        let conditions: Vec<&str> = rule.conditions.iter().map(|&c| ids.id(c)).collect();
        let mut map = ser.serialize_map(None)?;
        map.serialize_entry("id", &*rule.id)?;
        map.serialize_entry("name", &*source.name)?;
        map.serialize_entry("passPercentage", &Percentage(source.pass_percentage))?;
        map.serialize_entry("conditions", &conditions)?;
        map.serialize_entry("returnValue", &ReturnOut(&rule.return_value))?;
        map.serialize_entry("idType", &*rule.id_type.name)?;
        if let Some(s) = &source.salt {
            map.serialize_entry("salt", &**s)?;
        }
        if let Some(g) = &rule.group_name {
            map.serialize_entry("groupName", &**g)?;
        }
        if let Some(e) = rule.is_experiment_group {
            map.serialize_entry("isExperimentGroup", &e)?;
        }
        if let Some((d, _)) = &rule.config_delegate {
            map.serialize_entry("configDelegate", &**d)?;
        }
        if let Some(r) = rule.sampling_rate {
            map.serialize_entry("samplingRate", &r)?;
        }
        map.end()
    }
}

/// A return value as it evaluates (spec 2.6).
struct ReturnOut<'a>(&'a ReturnValue);

impl Serialize for ReturnOut<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            ReturnValue::Bool(b) => ser.serialize_bool(*b),
            ReturnValue::Null => ser.serialize_unit(),
            ReturnValue::Object(o) => o.serialize(ser),
        }
    }
}

/// A pass percentage: integral values in the exactly representable range as integers.
struct Percentage(f64);

impl Serialize for Percentage {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let p = self.0;
        // 2^53: every integer below it is exact in f64, so the cast is lossless.
        if p.fract() == 0.0 && p.is_sign_positive() && p < 9_007_199_254_740_992.0 {
            ser.serialize_u64(p as u64)
        } else {
            ser.serialize_f64(p)
        }
    }
}

struct ConditionMap<'a>(&'a [(String, &'a WireCondition)]);

impl Serialize for ConditionMap<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(Some(self.0.len()))?;
        for (id, condition) in self.0 {
            map.serialize_entry(id, condition)?;
        }
        map.end()
    }
}

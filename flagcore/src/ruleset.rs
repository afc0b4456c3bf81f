//! Loading: the wire model of `download_config_specs` and the compile step.

use std::collections::{BTreeMap, HashMap};

use crate::hash::Prefix;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use crate::error::{Limits, LoadError};
use crate::index::{SeededXxh3, StrIndex};
use crate::value::{json_text, target_timestamp, with_lower};

/// Interned string ids that exist in every ruleset.
pub(crate) const SID_DEFAULT: u32 = 0;
pub(crate) const SID_DISABLED: u32 = 1;
pub(crate) const SID_EMPTY: u32 = 2;

/// Marks a rule's reference to a condition id that is not in `condition_map`.
pub(crate) const MISSING_CONDITION: u32 = u32::MAX;

/// A compiled, immutable ruleset: one `download_config_specs` payload, parsed and
/// pre-processed once so that evaluation never parses, compiles or allocates.
///
/// ```
/// let payload = br#"{
///   "feature_gates": {"on_for_all": {"type": "feature_gate", "entity": "feature_gate",
///     "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID",
///     "rules": [{"id": "r1", "name": "all", "passPercentage": 100, "conditions": ["c1"],
///                "returnValue": true, "idType": "userID"}]}},
///   "dynamic_configs": {}, "layer_configs": {},
///   "condition_map": {"c1": {"type": "public", "idType": "userID"}},
///   "experiment_to_layer": {}, "has_updates": true, "time": 1700000000000
/// }"#;
/// let ruleset = flagcore::Ruleset::from_json(payload)?;
/// assert_eq!(ruleset.time(), 1700000000000);
/// assert!(ruleset.check_gate(&flagcore::User::with_user_id("u1"), "on_for_all"));
/// # Ok::<(), flagcore::LoadError>(())
/// ```
#[derive(Debug)]
pub struct Ruleset {
    pub(crate) gates: Specs,
    pub(crate) configs: Specs,
    pub(crate) layers: Specs,
    pub(crate) conditions: Vec<Condition>,
    pub(crate) strs: Vec<Box<str>>,
    pub(crate) time: u64,
    pub(crate) checksum: Option<Box<str>>,
    pub(crate) has_updates: bool,
    pub(crate) app_id: Option<Json>,
    pub(crate) default_environment: Option<Box<str>>,
    pub(crate) dropped: Vec<DroppedSpec>,
    pub(crate) empty: Map<String, Json>,
    pub(crate) format: Format,
    /// Config mapping (spec 4.10), when the payload has any.
    pub(crate) mappings: Option<Box<Mappings>>,
    /// What `to_json` writes back beyond the compiled forms; evaluation never reads it.
    pub(crate) source: crate::canonical::Source,
}

/// Compiled config mapping (spec 4.10): `overrides` with the rules they name.
#[derive(Debug)]
pub(crate) struct Mappings {
    names: Vec<(Box<str>, Vec<Mapping>)>,
    index: StrIndex,
    /// The `override_rules`, compiled (their own pass checks are unused: see
    /// [`MappingEntry::pass`]).
    pub(crate) rules: Vec<Rule>,
    /// The names of `rules` (their keys in `override_rules`), and what `to_json` writes
    /// back of each.
    pub(crate) rule_names: Vec<Box<str>>,
    pub(crate) rule_sources: Vec<crate::canonical::RuleSource>,
}

impl Mappings {
    /// Every mapped name with its mappings, in payload order.
    pub(crate) fn all(&self) -> impl Iterator<Item = (&str, &[Mapping])> {
        self.names.iter().map(|(n, m)| (&**n, &m[..]))
    }

    /// The mappings of the spec named `name`, tried in order.
    #[inline]
    pub(crate) fn find(&self, name: &str) -> Option<&[Mapping]> {
        self.index
            .get(name, |i| &self.names[i].0)
            .and_then(|i| self.names.get(i))
            .map(|(_, m)| &m[..])
    }
}

/// One mapping: evaluate `new_config_name` instead when one of the entries passes.
#[derive(Debug)]
pub(crate) struct Mapping {
    pub(crate) new_config_name: Box<str>,
    pub(crate) entries: Vec<MappingEntry>,
}

/// One `{rule_name, start_time}` entry of a mapping.
#[derive(Debug)]
pub(crate) struct MappingEntry {
    /// The `rule_name` as given (written back by `to_json`).
    pub(crate) rule_name: Box<str>,
    /// Milliseconds since the epoch before which the entry is skipped.
    pub(crate) start_time: i64,
    /// The index of the named rule in [`Mappings::rules`]; `None` when there is no such rule.
    pub(crate) rule: Option<u32>,
    /// The rule's pass-percentage check with the salt of the mapped spec, for each section
    /// (gates, configs and experiments, layers).
    pub(crate) pass: [Pass; 3],
}

/// Which shape of `download_config_specs` a ruleset was loaded from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `dcs-v2`: specs keyed by name, conditions in a shared `condition_map`.
    V2,
    /// The legacy v1 shape: arrays of specs with inline conditions.
    V1,
}

/// A spec that Statsig's semantics drop silently (its name then evaluates as unrecognized).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DroppedSpec {
    /// `feature_gates`, `dynamic_configs` or `layer_configs`.
    pub section: &'static str,
    /// The spec's name (empty for a v1 spec without one).
    pub name: String,
    /// The spec's `entity` (`experiment`, `segment`, …) when it has a string one.
    pub entity: Option<String>,
    /// Why it was dropped.
    pub reason: String,
}

#[derive(Debug, Default)]
pub(crate) struct Specs {
    pub(crate) list: Vec<Spec>,
    index: StrIndex,
}

impl Specs {
    #[inline]
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        // in bounds: StrIndex over `list`.
        self.index.get(name, |i| &self.list[i].name)
    }
}

#[derive(Debug)]
pub(crate) struct Spec {
    pub(crate) name: Box<str>,
    pub(crate) entity: Box<str>,
    pub(crate) salt: Box<str>,
    pub(crate) enabled: bool,
    pub(crate) default_value: ReturnValue,
    pub(crate) rules: Vec<Rule>,
    pub(crate) id_type: Box<str>,
    pub(crate) version: Option<u32>,
    pub(crate) is_active: Option<bool>,
    pub(crate) has_shared_params: Option<bool>,
    pub(crate) explicit_parameters: Option<Vec<Box<str>>>,
    pub(crate) forward_all_exposures: bool,
    pub(crate) use_new_layer_eval: bool,
    /// The boolean value when it is the same for every user (the first rule that can pass
    /// is public and passes everyone or no one): `check_gate` answers without evaluating.
    pub(crate) constant_value: Option<bool>,
}

impl Spec {
    /// See [`Spec::constant_value`]; needs `Rule::public_only`.
    fn value_for_everyone(&self) -> Option<bool> {
        let Some(rule) = self.rules.first() else {
            return Some(self.default_value.is_true());
        };
        if !rule.public_only || rule.config_delegate.is_some() {
            return None;
        }
        match rule.pass {
            Pass::Always => Some(!rule.return_value.is_false()),
            Pass::Never => Some(self.default_value.is_true()),
            Pass::Hash { .. } => None,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) id: Box<str>,
    pub(crate) sid: u32,
    pub(crate) pass: Pass,
    pub(crate) conditions: Vec<u32>,
    pub(crate) return_value: ReturnValue,
    pub(crate) id_type: IdType,
    pub(crate) group_name: Option<Box<str>>,
    pub(crate) is_experiment_group: Option<bool>,
    /// The delegate's name and, when it exists in `dynamic_configs`, its index.
    pub(crate) config_delegate: Option<(Box<str>, Option<u32>)>,
    /// Every condition is `public` (or there are none): the conditions always pass.
    pub(crate) public_only: bool,
    pub(crate) sampling_rate: Option<u64>,
}

/// The pass-percentage check of a rule, with the hash prefix `specSalt.ruleSalt.` absorbed.
#[derive(Debug)]
pub(crate) enum Pass {
    Always,
    Never,
    Hash { prefix: Prefix, threshold: f64 },
}

/// A compiled return value (spec 2.6).
#[derive(Debug)]
pub(crate) enum ReturnValue {
    Bool(bool),
    Null,
    Object(Map<String, Json>),
}

impl ReturnValue {
    fn compile(v: Json) -> ReturnValue {
        match v {
            Json::Bool(b) => ReturnValue::Bool(b),
            Json::Null => ReturnValue::Null,
            Json::Object(o) => ReturnValue::Object(o),
            _ => ReturnValue::Object(Map::new()),
        }
    }

    pub(crate) fn is_false(&self) -> bool {
        matches!(self, ReturnValue::Bool(false))
    }

    pub(crate) fn is_true(&self) -> bool {
        matches!(self, ReturnValue::Bool(true))
    }
}

/// A unit type (`idType`) with its lower-cased form.
#[derive(Debug, Clone)]
pub(crate) struct IdType {
    pub(crate) name: Box<str>,
    pub(crate) lower: Box<str>,
    pub(crate) is_user_id: bool,
}

impl IdType {
    fn new(name: &str) -> IdType {
        let lower: Box<str> = name.to_lowercase().into();
        IdType {
            is_user_id: &*lower == "userid",
            name: name.into(),
            lower,
        }
    }
}

/// One bit per `user_bucket` bucket (0..1000).
pub(crate) type BucketTable = [u64; 16];

/// A compiled condition.
#[derive(Debug)]
pub(crate) struct Condition {
    pub(crate) kind: CondKind,
    pub(crate) op: Op,
    pub(crate) target: Target,
    pub(crate) id_type: IdType,
}

/// A `field` of a condition with its lookup plan (spec 3.2).
#[derive(Debug)]
pub(crate) struct FieldRef {
    pub(crate) name: Box<str>,
    pub(crate) lower: Box<str>,
    pub(crate) top: Option<crate::user::TopField>,
    pub(crate) alias: Option<crate::user::TopField>,
}

impl FieldRef {
    pub(crate) fn new(name: &str) -> FieldRef {
        use crate::user::TopField as T;
        let lower: Box<str> = name.to_lowercase().into();
        let top = match &*lower {
            "userid" => Some(T::UserId),
            "email" => Some(T::Email),
            "ip" => Some(T::Ip),
            "country" => Some(T::Country),
            "locale" => Some(T::Locale),
            "appversion" => Some(T::AppVersion),
            "useragent" => Some(T::UserAgent),
            _ => None,
        };
        let alias = match &*lower {
            "user_id" => Some(T::UserId),
            "app_version" => Some(T::AppVersion),
            "user_agent" => Some(T::UserAgent),
            _ => None,
        };
        FieldRef {
            name: name.into(),
            lower,
            top,
            alias,
        }
    }
}

#[derive(Debug)]
pub(crate) enum CondKind {
    Public,
    /// `pass_gate` (`fail == false`) or `fail_gate`.
    Gate(GateRef),
    UserField(Option<FieldRef>),
    EnvField(Option<FieldRef>),
    UnitId,
    /// The salt prefix, and the condition's result for each of the 1000 buckets.
    UserBucket(Prefix, Option<Box<BucketTable>>),
    CurrentTime,
    UaBased(Option<FieldRef>, Option<crate::ua::Field>),
    IpBased(Option<FieldRef>, bool),
    TargetApp,
    ExperimentGroup(Option<Box<str>>),
    Unsupported,
}

#[derive(Debug)]
pub(crate) struct GateRef {
    pub(crate) fail: bool,
    pub(crate) index: Option<u32>,
    pub(crate) sid: u32,
    pub(crate) is_segment: bool,
}

/// Operators (spec section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    VersionGt,
    VersionGte,
    VersionLt,
    VersionLte,
    VersionEq,
    VersionNeq,
    Any,
    None,
    StrStartsWithAny,
    StrEndsWithAny,
    StrContainsAny,
    StrContainsNone,
    AnyCaseSensitive,
    NoneCaseSensitive,
    Before,
    After,
    On,
    Eq,
    Neq,
    StrMatches,
    ArrayContainsAny,
    ArrayContainsNone,
    ArrayContainsAll,
    NotArrayContainsAll,
    InSegmentList,
    NotInSegmentList,
    /// Absent or unknown: the condition evaluates as Unsupported.
    Unsupported,
}

impl Op {
    /// Whether the operator reads more than the value and the target (ID lists).
    pub(crate) fn needs_environment(self) -> bool {
        matches!(
            self,
            Op::InSegmentList | Op::NotInSegmentList | Op::Unsupported
        )
    }
}

impl Op {
    fn parse(s: Option<&str>) -> Op {
        match s {
            Some("gt") => Op::Gt,
            Some("gte") => Op::Gte,
            Some("lt") => Op::Lt,
            Some("lte") => Op::Lte,
            Some("version_gt") => Op::VersionGt,
            Some("version_gte") => Op::VersionGte,
            Some("version_lt") => Op::VersionLt,
            Some("version_lte") => Op::VersionLte,
            Some("version_eq") => Op::VersionEq,
            Some("version_neq") => Op::VersionNeq,
            Some("any") => Op::Any,
            Some("none") => Op::None,
            Some("str_starts_with_any") => Op::StrStartsWithAny,
            Some("str_ends_with_any") => Op::StrEndsWithAny,
            Some("str_contains_any") => Op::StrContainsAny,
            Some("str_contains_none") => Op::StrContainsNone,
            Some("any_case_sensitive") => Op::AnyCaseSensitive,
            Some("none_case_sensitive") => Op::NoneCaseSensitive,
            Some("before") => Op::Before,
            Some("after") => Op::After,
            Some("on") => Op::On,
            Some("eq") => Op::Eq,
            Some("neq") => Op::Neq,
            Some("str_matches") => Op::StrMatches,
            Some("array_contains_any") => Op::ArrayContainsAny,
            Some("array_contains_none") => Op::ArrayContainsNone,
            Some("array_contains_all") => Op::ArrayContainsAll,
            Some("not_array_contains_all") => Op::NotArrayContainsAll,
            Some("in_segment_list") => Op::InSegmentList,
            Some("not_in_segment_list") => Op::NotInSegmentList,
            _ => Op::Unsupported,
        }
    }
}

/// A compiled target value (spec 1.2).
#[derive(Debug)]
pub(crate) enum Target {
    Null,
    Bool(bool),
    Number(f64),
    Str(StrTarget),
    Array(ArrayTarget),
    Object(ObjectTarget),
}

#[derive(Debug)]
pub(crate) struct StrTarget {
    pub(crate) text: Box<str>,
    pub(crate) number: Option<f64>,
    pub(crate) timestamp: Option<i64>,
    pub(crate) version: Vec<Option<i128>>,
    pub(crate) regex: Option<fancy_regex::Regex>,
}

/// A target array after case-insensitive de-duplication (last wins).
#[derive(Debug)]
pub(crate) struct ArrayTarget {
    /// Surviving elements: (original index, text, lower-cased text).
    pub(crate) entries: Vec<ArrayEntry>,
    pub(crate) by_lower: StrIndex,
    pub(crate) by_text: StrIndex,
}

#[derive(Debug)]
pub(crate) struct ArrayEntry {
    pub(crate) index: usize,
    pub(crate) text: Box<str>,
    pub(crate) lower: Box<str>,
}

impl ArrayTarget {
    pub(crate) fn contains_lower(&self, lower: &str) -> bool {
        // in bounds: StrIndex over `entries` (here and below).
        self.by_lower
            .get(lower, |i| &self.entries[i].lower)
            .is_some()
    }

    pub(crate) fn contains_text(&self, text: &str) -> bool {
        self.by_text.get(text, |i| &self.entries[i].text).is_some()
    }
}

#[derive(Debug)]
pub(crate) struct ObjectTarget {
    pub(crate) keys: Vec<(Box<str>, Box<str>)>,
    pub(crate) index: StrIndex,
}

impl ObjectTarget {
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        // in bounds: StrIndex over `keys`.
        self.index
            .get(key, |i| &self.keys[i].0)
            .map(|i| &*self.keys[i].1)
    }
}

/// Parses a version string into its parts (spec 6.2): cut at the first `-`, split at `.`,
/// each part trimmed and parsed as an integer (`None` marks a part that fails to parse).
pub(crate) fn version_parts(s: &str) -> impl Iterator<Item = Option<i128>> + '_ {
    let cut = s.split('-').next().unwrap_or("");
    cut.split('.').map(|p| p.trim().parse::<i128>().ok())
}

// ---------------------------------------------------------------------------------------------
// Wire model

#[derive(Deserialize)]
#[allow(dead_code)] // Fields are parsed for validation (a wrong type drops the spec) but unused.
struct WireSpec {
    #[serde(rename = "type")]
    kind: String,
    entity: String,
    salt: String,
    enabled: bool,
    #[serde(rename = "defaultValue")]
    default_value: Json,
    rules: Vec<WireRule>,
    #[serde(rename = "idType")]
    id_type: String,
    version: Option<u32>,
    #[serde(rename = "isActive")]
    is_active: Option<bool>,
    #[serde(rename = "hasSharedParams")]
    has_shared_params: Option<bool>,
    #[serde(rename = "explicitParameters")]
    explicit_parameters: Option<Vec<String>>,
    #[serde(rename = "targetAppIDs")]
    target_app_ids: Option<Vec<String>>,
    #[serde(rename = "forwardAllExposures")]
    forward_all_exposures: Option<bool>,
    #[serde(rename = "useNewLayerEval")]
    use_new_layer_eval: Option<bool>,
    #[serde(rename = "fieldsUsed")]
    fields_used: Option<Vec<String>>,
    checksum: Option<String>,
}

#[derive(Deserialize)]
struct WireRule {
    id: String,
    name: String,
    #[serde(rename = "passPercentage")]
    pass_percentage: f64,
    conditions: Vec<String>,
    #[serde(rename = "returnValue")]
    return_value: Json,
    #[serde(rename = "idType")]
    id_type: String,
    salt: Option<String>,
    #[serde(rename = "groupName")]
    group_name: Option<String>,
    #[serde(rename = "isExperimentGroup")]
    is_experiment_group: Option<bool>,
    #[serde(rename = "configDelegate")]
    config_delegate: Option<String>,
    #[serde(rename = "samplingRate")]
    sampling_rate: Option<u64>,
}

/// One config mapping of `overrides` (spec 4.10).
#[derive(Deserialize)]
struct WireMapping {
    new_config_name: String,
    rules: Vec<WireMappingRule>,
}

#[derive(Deserialize)]
struct WireMappingRule {
    rule_name: String,
    start_time: Option<i64>,
}

/// The indexes the compile step resolves names with.
struct Refs<'x> {
    cond_index: &'x StrIndex,
    cond_ids: &'x [String],
    config_index: &'x StrIndex,
    config_names: &'x [String],
}

impl WireRule {
    /// Moves out what compiling drops (the name) and copies what it transforms, for
    /// `Ruleset::to_json`.
    fn take_source(&mut self) -> crate::canonical::RuleSource {
        crate::canonical::RuleSource {
            name: std::mem::take(&mut self.name).into(),
            salt: self.salt.as_deref().map(Into::into),
            pass_percentage: self.pass_percentage,
        }
    }
}

impl WireSpec {
    /// Moves out what compiling drops but `Ruleset::to_json` writes back.
    fn take_source(&mut self) -> crate::canonical::SpecSource {
        crate::canonical::SpecSource {
            kind: std::mem::take(&mut self.kind).into(),
            rules: self.rules.iter_mut().map(WireRule::take_source).collect(),
        }
    }
}

/// The top-level fields of a payload, sections kept as raw text.
#[derive(Deserialize)]
pub(crate) struct RawTop<'a> {
    #[serde(borrow, default)]
    feature_gates: Option<&'a RawValue>,
    #[serde(borrow, default)]
    dynamic_configs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    layer_configs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    condition_map: Option<&'a RawValue>,
    #[serde(borrow, default)]
    experiment_to_layer: Option<&'a RawValue>,
    #[serde(default)]
    has_updates: Option<Json>,
    #[serde(default)]
    time: Option<Json>,
    #[serde(default)]
    checksum: Option<Json>,
    #[serde(default)]
    default_environment: Option<Json>,
    #[serde(default)]
    app_id: Option<Json>,
    #[serde(borrow, default)]
    overrides: Option<&'a RawValue>,
    #[serde(borrow, default)]
    override_rules: Option<&'a RawValue>,
}

/// A spec or condition of the payload: raw text (v2: parsed straight into the wire model,
/// without an intermediate JSON tree) or a JSON value (v1, after hoisting its conditions).
pub(crate) enum Src<'a> {
    Raw(&'a RawValue),
    Json(Json),
}

impl Src<'_> {
    /// Parses the wire model; on failure also returns the `entity`, for the report.
    fn parse<T: serde::de::DeserializeOwned>(
        self,
    ) -> Result<T, (serde_json::Error, Option<String>)> {
        match self {
            Src::Raw(r) => serde_json::from_str(r.get()).map_err(|e| {
                #[derive(Deserialize)]
                struct Entity {
                    entity: Option<Json>,
                }
                let entity = serde_json::from_str::<Entity>(r.get())
                    .ok()
                    .and_then(|x| x.entity)
                    .and_then(|x| x.as_str().map(str::to_owned));
                (e, entity)
            }),
            Src::Json(j) => {
                let entity = j.get("entity").and_then(Json::as_str).map(str::to_owned);
                // By value: strings and maps move into the wire model.
                T::deserialize(j).map_err(|e| (e, entity))
            }
        }
    }
}

/// The members of a JSON object in order (duplicates kept), values as raw text; `None`
/// when `raw` is not an object.
fn entries(raw: &RawValue) -> Option<Vec<(String, Src<'_>)>> {
    struct Entries<'a>(Vec<(String, Src<'a>)>);
    impl<'de> Deserialize<'de> for Entries<'de> {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Entries<'de>;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Entries<'de>, A::Error> {
                    let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                    while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                        out.push((k, Src::Raw(v)));
                    }
                    Ok(Entries(out))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Entries<'_>>(raw.get())
        .ok()
        .map(|e| e.0)
}

/// A condition as parsed; kept after compiling for `Ruleset::to_json`, which writes it with
/// this derived `Serialize` (fields in the order of the spec's table, absent ones omitted).
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct WireCondition {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "idType")]
    id_type: String,
    #[serde(rename = "targetValue", default, skip_serializing_if = "Json::is_null")]
    target_value: Json,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(rename = "additionalValues", skip_serializing_if = "Option::is_none")]
    additional_values: Option<BTreeMap<String, String>>,
}

// ---------------------------------------------------------------------------------------------
// Compile

impl Ruleset {
    /// Parses and compiles a `download_config_specs` payload with the default [`Limits`].
    ///
    /// Accepts the `dcs-v2` shape and the legacy v1 shape. On error nothing is produced: keep
    /// serving the previous ruleset.
    pub fn from_json(bytes: &[u8]) -> Result<Ruleset, LoadError> {
        Ruleset::from_json_with_limits(bytes, &Limits::default())
    }

    /// Parses and compiles a payload, bounded by `limits`.
    pub fn from_json_with_limits(bytes: &[u8], limits: &Limits) -> Result<Ruleset, LoadError> {
        limits.check(
            || "payload size in bytes".into(),
            limits.max_payload_bytes,
            bytes.len(),
        )?;
        let text = std::str::from_utf8(bytes).map_err(|_| LoadError::TopLevel {
            field: "(payload)",
            problem: "is not UTF-8",
        })?;
        // One pass checks the syntax and splits the payload into its top-level fields.
        let top: RawTop<'_> = match serde_json::from_str(text) {
            Ok(top) => top,
            Err(e) if e.is_data() => {
                return Err(LoadError::TopLevel {
                    field: "(payload)",
                    problem: "must be a JSON object with well-typed top-level fields",
                })
            }
            Err(e) => return Err(LoadError::Json(e)),
        };
        let mut rs = Builder::new(limits).build(top)?;
        if rs.format == Format::V1 {
            rs.source.layer_membership = crate::canonical::v1_layers(text);
        }
        rs.tabulate_user_buckets();
        rs.mark_public_rules();
        Ok(rs)
    }

    /// Flags rules whose conditions are all `public`, so evaluation skips them.
    fn mark_public_rules(&mut self) {
        let conditions = &self.conditions;
        let is_public = |&ci: &u32| {
            conditions
                .get(ci as usize)
                .is_some_and(|c| matches!(c.kind, CondKind::Public))
        };
        for specs in [&mut self.gates, &mut self.configs, &mut self.layers] {
            for spec in &mut specs.list {
                for rule in &mut spec.rules {
                    rule.public_only = rule.conditions.iter().all(is_public);
                }
                spec.constant_value = spec.value_for_everyone();
            }
        }
    }

    /// A `user_bucket` condition's result depends only on the bucket (0..1000), except for
    /// ID-list operators: tabulate it once, so evaluation is one hash and one bit test.
    fn tabulate_user_buckets(&mut self) {
        let tables: Vec<Option<Box<BucketTable>>> = self
            .conditions
            .iter()
            .map(|c| match (&c.kind, c.op) {
                (CondKind::UserBucket(_, None), op) if !op.needs_environment() => {
                    Some(Box::new(crate::eval::bucket_table(self, c)))
                }
                _ => None,
            })
            .collect();
        for (c, t) in self.conditions.iter_mut().zip(tables) {
            if let (CondKind::UserBucket(_, table), Some(t)) = (&mut c.kind, t) {
                *table = Some(t);
            }
        }
    }

    /// The payload's `time`: when its configuration last changed, in ms since the epoch.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// The payload's `checksum`, if it has one.
    pub fn checksum(&self) -> Option<&str> {
        self.checksum.as_deref()
    }

    /// The payload's `has_updates` flag.
    pub fn has_updates(&self) -> bool {
        self.has_updates
    }

    /// The shape the payload was in.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Specs that were dropped because they were malformed (Statsig drops them silently).
    pub fn dropped_specs(&self) -> &[DroppedSpec] {
        &self.dropped
    }

    /// Names of the feature gates (segments and holdouts included), in payload order.
    pub fn gate_names(&self) -> impl Iterator<Item = &str> {
        self.gates.list.iter().map(|s| &*s.name)
    }

    /// Names and entity kinds (`dynamic_config`, `experiment`, `autotune`) of the dynamic
    /// configs, in payload order.
    pub fn config_names(&self) -> impl Iterator<Item = (&str, &str)> {
        self.configs.list.iter().map(|s| (&*s.name, &*s.entity))
    }

    /// Names of the layers, in payload order.
    pub fn layer_names(&self) -> impl Iterator<Item = &str> {
        self.layers.list.iter().map(|s| &*s.name)
    }

    pub(crate) fn str(&self, sid: u32) -> &str {
        self.strs.get(sid as usize).map_or("", |s| s)
    }
}

struct Builder<'l> {
    limits: &'l Limits,
    strs: Vec<Box<str>>,
    str_ids: HashMap<Box<str>, u32, SeededXxh3>,
    dropped: Vec<DroppedSpec>,
    spec_count: usize,
    source: crate::canonical::Source,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Builder<'l> {
        let mut b = Builder {
            limits,
            strs: Vec::new(),
            str_ids: HashMap::with_hasher(SeededXxh3::new()),
            dropped: Vec::new(),
            spec_count: 0,
            source: Default::default(),
        };
        for s in ["default", "disabled", ""] {
            b.intern(s);
        }
        b
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.str_ids.get(s) {
            return id;
        }
        // Beyond `u32::MAX` strings (unreachable under any payload that fits in memory) the
        // id saturates; `Ruleset::str` reads an unknown id as "".
        let id = u32::try_from(self.strs.len()).unwrap_or(u32::MAX);
        self.strs.push(s.into());
        self.str_ids.insert(s.into(), id);
        id
    }

    fn build(mut self, top: RawTop<'_>) -> Result<Ruleset, LoadError> {
        let format = match top
            .feature_gates
            .and_then(|r| r.get().trim_start().bytes().next())
        {
            Some(b'[') => Format::V1,
            _ => Format::V2,
        };
        let has_updates = match &top.has_updates {
            Some(Json::Bool(b)) => *b,
            Some(_) => return Err(type_error("has_updates", "must be a boolean")),
            None => return Err(missing("has_updates")),
        };
        let time = match &top.time {
            Some(Json::Number(n)) => n
                .as_u64()
                .ok_or_else(|| type_error("time", "must be a non-negative integer"))?,
            Some(_) => return Err(type_error("time", "must be a non-negative integer")),
            None => return Err(missing("time")),
        };
        let checksum = match &top.checksum {
            Some(Json::String(s)) => Some(s.as_str().into()),
            Some(Json::Null) | None => None,
            Some(_) => return Err(type_error("checksum", "must be a string")),
        };
        let default_environment = match &top.default_environment {
            Some(Json::String(s)) => Some(s.as_str().into()),
            Some(Json::Null) | None => None,
            Some(_) => return Err(type_error("default_environment", "must be a string")),
        };
        let app_id = top.app_id.clone().filter(|v| !v.is_null());
        if format == Format::V2 {
            self.source.layer_membership = top.experiment_to_layer.map(|r| r.get().into());
        }

        // Collect specs as (name, source) and conditions as (id, source).
        let mut wire_conditions: Vec<(String, Src<'_>)> = Vec::new();
        let sections = ["feature_gates", "dynamic_configs", "layer_configs"];
        let raw_sections = [top.feature_gates, top.dynamic_configs, top.layer_configs];
        let mut raw: [Vec<(String, Src<'_>)>; 3] = Default::default();
        match format {
            Format::V2 => {
                for (i, section) in sections.iter().enumerate() {
                    let Some(r) = raw_sections[i] else {
                        return Err(missing(section));
                    };
                    raw[i] = entries(r)
                        .ok_or_else(|| type_error(section, "must be an object of specs"))?;
                }
                let Some(c) = top.condition_map else {
                    return Err(missing("condition_map"));
                };
                wire_conditions =
                    entries(c).ok_or_else(|| type_error("condition_map", "must be an object"))?;
                match top
                    .experiment_to_layer
                    .map(|r| r.get().trim_start().bytes().next())
                {
                    Some(Some(b'{')) => {}
                    Some(_) => return Err(type_error("experiment_to_layer", "must be an object")),
                    None => return Err(missing("experiment_to_layer")),
                }
            }
            Format::V1 => {
                for (i, section) in sections.iter().enumerate() {
                    let list: Vec<Json> =
                        match raw_sections[i].map(|r| serde_json::from_str(r.get())) {
                            Some(Ok(list)) => list,
                            Some(Err(_)) => {
                                return Err(type_error(section, "must be an array of specs (v1)"))
                            }
                            None => return Err(missing(section)),
                        };
                    for (n, mut spec) in list.into_iter().enumerate() {
                        let Some(name) = spec.get("name").and_then(Json::as_str).map(str::to_owned)
                        else {
                            self.dropped.push(DroppedSpec {
                                section,
                                name: String::new(),
                                entity: None,
                                reason: format!("v1 spec #{n} has no string `name`"),
                            });
                            continue;
                        };
                        hoist_v1_conditions(section, &name, &mut spec, &mut wire_conditions);
                        raw[i].push((name, Src::Json(spec)));
                    }
                }
            }
        }

        // Config mapping: `override_rules` (v1: conditions inline, hoisted like a spec's)
        // and `overrides`.
        let mut mapping_fields = 0;
        let mut mapping_entries = |field: &'static str| -> Result<_, LoadError> {
            let raw = match field {
                "overrides" => top.overrides,
                _ => top.override_rules,
            };
            let Some(raw) = raw.filter(|r| r.get().trim() != "null") else {
                return Ok(None);
            };
            mapping_fields += 1;
            entries(raw)
                .ok_or_else(|| type_error(field, "must be an object"))
                .map(Some)
        };
        let raw_overrides = mapping_entries("overrides")?;
        let mut raw_override_rules = mapping_entries("override_rules")?;
        if let (Format::V1, Some(list)) = (format, raw_override_rules.as_mut()) {
            for (name, src) in list.iter_mut() {
                if let Src::Raw(r) = src {
                    if let Ok(mut rule) = serde_json::from_str::<Json>(r.get()) {
                        let prefix = format!("override_rules/{name}");
                        hoist_rule_conditions(&prefix, &mut rule, &mut wire_conditions);
                        *src = Src::Json(rule);
                    }
                }
            }
        }
        let limits = self.limits;
        for (what, list) in [
            ("number of config mappings", &raw_overrides),
            ("number of override rules", &raw_override_rules),
        ] {
            let n = list.as_ref().map_or(0, Vec::len);
            limits.check(|| what.into(), limits.max_specs, n)?;
        }
        let total_specs = raw.iter().map(Vec::len).sum();
        limits.check(|| "number of specs".into(), limits.max_specs, total_specs)?;
        limits.check(
            || "number of conditions".into(),
            limits.max_conditions,
            wire_conditions.len(),
        )?;

        // Parse specs (a malformed spec is dropped, as Statsig does).
        let mut parsed: [Vec<(String, WireSpec)>; 3] = Default::default();
        for (i, section) in sections.iter().enumerate() {
            for (name, src) in raw[i].drain(..) {
                match src.parse::<WireSpec>() {
                    Ok(spec) => parsed[i].push((name, spec)),
                    Err((e, entity)) => self.dropped.push(DroppedSpec {
                        section,
                        name,
                        entity,
                        reason: e.to_string(),
                    }),
                }
            }
            // A later duplicate name (v1 arrays) replaces an earlier one, like a JSON map.
            dedupe_last_wins(&mut parsed[i]);
        }
        self.spec_count = parsed.iter().map(Vec::len).sum();

        // in bounds (this function): `i` enumerates `sections`, and every per-section array
        // has its 3 entries; each StrIndex is built over, and read with, the list named.
        let gate_names: Vec<&str> = parsed[0].iter().map(|(n, _)| n.as_str()).collect();
        let gate_index = StrIndex::build(gate_names.len(), |i| gate_names[i]);
        let config_names: Vec<String> = parsed[1].iter().map(|(n, _)| n.clone()).collect();
        let config_index = StrIndex::build(config_names.len(), |i| &config_names[i]);

        // Conditions (one bad condition rejects the payload, as Statsig does).
        let mut conditions = Vec::with_capacity(wire_conditions.len());
        let mut cond_ids: Vec<String> = Vec::with_capacity(wire_conditions.len());
        for (id, src) in wire_conditions {
            let wire =
                src.parse::<WireCondition>()
                    .map_err(|(source, _)| LoadError::Condition {
                        id: id.clone(),
                        source,
                    })?;
            let c = self.compile_condition(&id, &wire, &gate_index, &gate_names)?;
            conditions.push(c);
            self.source.conditions.push(wire);
            cond_ids.push(id);
        }
        let cond_index = StrIndex::build(cond_ids.len(), |i| &cond_ids[i]);

        let refs = Refs {
            cond_index: &cond_index,
            cond_ids: &cond_ids,
            config_index: &config_index,
            config_names: &config_names,
        };
        let mut specs: [Specs; 3] = Default::default();
        for (i, section) in sections.iter().enumerate() {
            let mut list = Vec::with_capacity(parsed[i].len());
            for (name, mut wire) in parsed[i].drain(..) {
                self.source.specs[i].push(wire.take_source());
                list.push(self.compile_spec(section, name, wire, &refs)?);
            }
            let index = StrIndex::build(list.len(), |j| &list[j].name);
            specs[i] = Specs { list, index };
        }
        // Config mapping applies only when the payload has both fields (as in Statsig's
        // core); either one alone is still validated.
        let mappings = self.compile_mappings(
            raw_override_rules.unwrap_or_default(),
            raw_overrides.unwrap_or_default(),
            &refs,
            &specs,
        )?;
        let mappings =
            (mapping_fields == 2 && !mappings.names.is_empty()).then(|| Box::new(mappings));
        let [gates, configs, layers] = specs;
        Ok(Ruleset {
            gates,
            configs,
            layers,
            conditions,
            strs: self.strs,
            time,
            checksum,
            has_updates,
            app_id,
            default_environment,
            dropped: self.dropped,
            empty: Map::new(),
            format,
            mappings,
            source: self.source,
        })
    }

    fn compile_spec(
        &mut self,
        section: &'static str,
        name: String,
        w: WireSpec,
        refs: &Refs<'_>,
    ) -> Result<Spec, LoadError> {
        let limits = self.limits;
        limits.check(
            || format!("rules of `{name}` in {section}"),
            limits.max_rules_per_spec,
            w.rules.len(),
        )?;
        let use_new_layer_eval = section == "layer_configs" && w.use_new_layer_eval == Some(true);
        if use_new_layer_eval {
            limits.check(
                || format!("rules of multi-rule layer `{name}` (`useNewLayerEval`)"),
                crate::eval::MAX_MERGED_LAYER_RULES,
                w.rules.len(),
            )?;
        }
        let mut rules = Vec::with_capacity(w.rules.len());
        for (n, r) in w.rules.into_iter().enumerate() {
            let what = || format!("conditions of rule {n} of `{name}` in {section}");
            rules.push(self.compile_rule(what, &w.salt, r, refs)?);
        }
        self.intern(&name);
        Ok(Spec {
            name: name.into(),
            entity: w.entity.into(),
            salt: w.salt.into(),
            enabled: w.enabled,
            default_value: ReturnValue::compile(w.default_value),
            rules,
            id_type: w.id_type.into(),
            version: w.version,
            is_active: w.is_active,
            has_shared_params: w.has_shared_params,
            explicit_parameters: w
                .explicit_parameters
                .map(|v| v.into_iter().map(String::into_boxed_str).collect()),
            forward_all_exposures: w.forward_all_exposures.unwrap_or(false),
            use_new_layer_eval,
            constant_value: None,
        })
    }

    /// Compiles a rule of a spec whose salt is `spec_salt` (`what` names the rule for a
    /// limit error).
    fn compile_rule(
        &mut self,
        what: impl FnOnce() -> String,
        spec_salt: &str,
        r: WireRule,
        refs: &Refs<'_>,
    ) -> Result<Rule, LoadError> {
        let limits = self.limits;
        limits.check(what, limits.max_conditions_per_rule, r.conditions.len())?;
        let conditions = r
            .conditions
            .iter()
            .map(|id| {
                // in bounds: StrIndex over `cond_ids` (and over `config_names` below).
                refs.cond_index
                    .get(id, |i| &refs.cond_ids[i])
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(MISSING_CONDITION)
            })
            .collect();
        let pass = self.compile_pass(spec_salt, &r);
        let config_delegate = r.config_delegate.map(|d| {
            let idx = refs
                .config_index
                .get(&d, |i| &refs.config_names[i])
                .and_then(|i| u32::try_from(i).ok());
            (d.into_boxed_str(), idx)
        });
        Ok(Rule {
            sid: self.intern(&r.id),
            id: r.id.into(),
            pass,
            conditions,
            return_value: ReturnValue::compile(r.return_value),
            id_type: IdType::new(&r.id_type),
            group_name: r.group_name.map(String::into_boxed_str),
            is_experiment_group: r.is_experiment_group,
            config_delegate,
            sampling_rate: r.sampling_rate,
            public_only: false,
        })
    }

    /// The pass-percentage check of rule `r` in a spec whose salt is `spec_salt` (spec 4.5).
    fn compile_pass(&mut self, spec_salt: &str, r: &WireRule) -> Pass {
        if r.pass_percentage == 100.0 {
            Pass::Always
        } else if r.pass_percentage == 0.0 {
            Pass::Never
        } else {
            let rule_salt = r.salt.as_deref().unwrap_or(&r.id);
            let text = format!("{spec_salt}.{rule_salt}.");
            let prefix = Prefix::new(text.as_bytes()).with_id(self.intern(&text));
            Pass::Hash {
                prefix,
                threshold: r.pass_percentage * 100.0,
            }
        }
    }

    /// Compiles config mapping (spec 4.10): `overrides` name → mappings, whose entries name
    /// rules of `override_rules`. A rule's pass percentage uses the salt of the spec named
    /// like the mapping (`""` when there is none), which depends on the spec's section.
    fn compile_mappings(
        &mut self,
        raw_rules: Vec<(String, Src<'_>)>,
        raw_overrides: Vec<(String, Src<'_>)>,
        refs: &Refs<'_>,
        specs: &[Specs; 3],
    ) -> Result<Mappings, LoadError> {
        let limits = self.limits;
        let mut wire_rules: Vec<(String, WireRule)> = Vec::with_capacity(raw_rules.len());
        for (name, src) in raw_rules {
            match src.parse::<WireRule>() {
                Ok(r) => wire_rules.push((name, r)),
                Err((source, _)) => {
                    return Err(LoadError::Mapping {
                        field: "override_rules",
                        name,
                        source,
                    })
                }
            }
        }
        dedupe_last_wins(&mut wire_rules);
        let rule_names: Vec<&str> = wire_rules.iter().map(|(n, _)| n.as_str()).collect();
        let rule_index = StrIndex::build(rule_names.len(), |i| rule_names[i]);

        let mut names: Vec<(Box<str>, Vec<Mapping>)> = Vec::with_capacity(raw_overrides.len());
        for (name, src) in raw_overrides {
            let wire = match src.parse::<Vec<WireMapping>>() {
                Ok(w) => w,
                Err((source, _)) => {
                    return Err(LoadError::Mapping {
                        field: "overrides",
                        name,
                        source,
                    })
                }
            };
            limits.check(
                || format!("rules of config mapping `{name}` in overrides"),
                limits.max_rules_per_spec,
                wire.iter().map(|m| m.rules.len()).sum(),
            )?;
            let salts: [&str; 3] = core::array::from_fn(|i| {
                specs[i]
                    .find(&name)
                    .and_then(|j| specs[i].list.get(j))
                    .map_or("", |s| &*s.salt)
            });
            let mut mappings = Vec::with_capacity(wire.len());
            for m in wire {
                let mut entries = Vec::with_capacity(m.rules.len());
                for e in m.rules {
                    let rule = rule_index.get(&e.rule_name, |i| rule_names[i]);
                    let pass = core::array::from_fn(|i| match rule {
                        Some(r) => self.compile_pass(salts[i], &wire_rules[r].1),
                        None => Pass::Never,
                    });
                    entries.push(MappingEntry {
                        rule_name: e.rule_name.into(),
                        start_time: e.start_time.unwrap_or(0),
                        rule: rule.map(|r| r as u32),
                        pass,
                    });
                }
                self.intern(&m.new_config_name);
                mappings.push(Mapping {
                    new_config_name: m.new_config_name.into(),
                    entries,
                });
            }
            names.push((name.into(), mappings));
        }
        let index = StrIndex::build(names.len(), |i| &names[i].0);

        let mut rules = Vec::with_capacity(wire_rules.len());
        let mut rule_names = Vec::with_capacity(wire_rules.len());
        let mut rule_sources = Vec::with_capacity(wire_rules.len());
        for (name, mut r) in wire_rules {
            let what = || format!("conditions of override rule `{name}`");
            rule_sources.push(r.take_source());
            rules.push(self.compile_rule(what, "", r, refs)?);
            rule_names.push(name.into_boxed_str());
        }
        Ok(Mappings {
            names,
            index,
            rules,
            rule_names,
            rule_sources,
        })
    }

    fn compile_condition(
        &mut self,
        id: &str,
        w: &WireCondition,
        gate_index: &StrIndex,
        gate_names: &[&str],
    ) -> Result<Condition, LoadError> {
        let op = Op::parse(w.operator.as_deref());
        let field = w.field.as_deref().map(FieldRef::new);
        let kind = match w.kind.as_str() {
            "public" => CondKind::Public,
            "pass_gate" | "fail_gate" => {
                let g = match &w.target_value {
                    Json::String(s) => s.as_str(),
                    _ => "",
                };
                // in bounds: StrIndex over `gate_names`.
                CondKind::Gate(GateRef {
                    fail: w.kind == "fail_gate",
                    index: gate_index
                        .get(g, |i| gate_names[i])
                        .and_then(|i| u32::try_from(i).ok()),
                    sid: self.intern(g),
                    is_segment: g.starts_with("segment:"),
                })
            }
            "user_field" => CondKind::UserField(field),
            "environment_field" => CondKind::EnvField(field),
            "unit_id" => CondKind::UnitId,
            "user_bucket" => {
                let salt = w
                    .additional_values
                    .as_ref()
                    .and_then(|a| a.get("salt"))
                    .map_or("", String::as_str);
                let text = format!("{salt}.");
                let prefix = Prefix::new(text.as_bytes()).with_id(self.intern(&text));
                CondKind::UserBucket(prefix, None)
            }
            "current_time" => CondKind::CurrentTime,
            "ua_based" => {
                let ua_field = w
                    .field
                    .as_deref()
                    .and_then(crate::ua::Field::from_condition_field);
                CondKind::UaBased(field, ua_field)
            }
            "ip_based" => {
                let is_country = w.field.as_deref() == Some("country");
                CondKind::IpBased(field, is_country)
            }
            "target_app" => CondKind::TargetApp,
            "experiment_group" => CondKind::ExperimentGroup(w.field.as_deref().map(Into::into)),
            _ => CondKind::Unsupported,
        };
        let mut kind = kind;
        let target = match (&mut kind, op, &w.target_value) {
            // A layer allocation (`user_bucket any/none {"500": true, …}`): tabulate the
            // buckets straight from the keys; the target itself is then never read.
            (CondKind::UserBucket(_, table), Op::Any | Op::None, Json::Object(o)) => {
                self.limits.check(
                    || format!("target values of condition `{id}`"),
                    self.limits.max_target_values,
                    o.len(),
                )?;
                *table = Some(Box::new(crate::eval::bucket_table_of_keys(
                    o.keys().map(String::as_str),
                    op,
                )));
                Target::Null
            }
            (_, _, target) => self.compile_target(id, target, op)?,
        };
        Ok(Condition {
            kind,
            op,
            target,
            id_type: IdType::new(&w.id_type),
        })
    }

    fn compile_target(&mut self, id: &str, v: &Json, op: Op) -> Result<Target, LoadError> {
        let limits = self.limits;
        Ok(match v {
            Json::Null => Target::Null,
            Json::Bool(b) => Target::Bool(*b),
            Json::Number(n) => Target::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => {
                let regex = if op == Op::StrMatches {
                    limits.check(
                        || format!("regex length of condition `{id}`"),
                        limits.max_regex_bytes,
                        s.len(),
                    )?;
                    fancy_regex::RegexBuilder::new(s)
                        .delegate_size_limit(limits.max_regex_compiled_bytes)
                        .build()
                        .ok()
                } else {
                    None
                };
                Target::Str(StrTarget {
                    number: s.parse::<f64>().ok(),
                    timestamp: target_timestamp(s),
                    version: version_parts(s).collect(),
                    regex,
                    text: s.as_str().into(),
                })
            }
            Json::Array(a) => {
                limits.check(
                    || format!("target values of condition `{id}`"),
                    limits.max_target_values,
                    a.len(),
                )?;
                let all: Vec<ArrayEntry> = a
                    .iter()
                    .enumerate()
                    .map(|(index, e)| {
                        let text = json_text(e);
                        let lower = with_lower(&text, str::to_owned);
                        ArrayEntry {
                            index,
                            text: text.into(),
                            lower: lower.into(),
                        }
                    })
                    .collect();
                // Last wins among elements with the same lower-cased text.
                // in bounds: each StrIndex here is over the list its closure reads.
                let by_lower_all = StrIndex::build(all.len(), |i| &all[i].lower);
                let entries: Vec<ArrayEntry> = all
                    .iter()
                    .enumerate()
                    .filter(|(i, e)| by_lower_all.get(&e.lower, |j| &all[j].lower) == Some(*i))
                    .map(|(_, e)| ArrayEntry {
                        index: e.index,
                        text: e.text.clone(),
                        lower: e.lower.clone(),
                    })
                    .collect();
                let by_lower = StrIndex::build(entries.len(), |i| &entries[i].lower);
                let by_text = StrIndex::build(entries.len(), |i| &entries[i].text);
                Target::Array(ArrayTarget {
                    entries,
                    by_lower,
                    by_text,
                })
            }
            Json::Object(o) => {
                limits.check(
                    || format!("target values of condition `{id}`"),
                    limits.max_target_values,
                    o.len(),
                )?;
                let keys: Vec<(Box<str>, Box<str>)> = o
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), json_text(v).into()))
                    .collect();
                // in bounds: StrIndex over `keys`.
                let index = StrIndex::build(keys.len(), |i| &keys[i].0);
                Target::Object(ObjectTarget { keys, index })
            }
        })
    }
}

/// Moves a v1 spec's inline conditions into the condition list under synthetic ids
/// (`section/name/rule/condition`, unique even when a gate and a config share a name).
fn hoist_v1_conditions(
    section: &str,
    name: &str,
    spec: &mut Json,
    out: &mut Vec<(String, Src<'_>)>,
) {
    let Some(Json::Array(rules)) = spec.get_mut("rules") else {
        return;
    };
    for (r, rule) in rules.iter_mut().enumerate() {
        hoist_rule_conditions(&format!("{section}/{name}/{r}"), rule, out);
    }
}

/// Moves a v1 rule's inline conditions into the condition list under the ids
/// `prefix/condition`.
fn hoist_rule_conditions(prefix: &str, rule: &mut Json, out: &mut Vec<(String, Src<'_>)>) {
    let Some(Json::Array(conds)) = rule.get_mut("conditions") else {
        return;
    };
    for (c, cond) in conds.iter_mut().enumerate() {
        if cond.is_object() {
            let id = format!("{prefix}/{c}");
            let inline = std::mem::replace(cond, Json::String(id.clone()));
            out.push((id, Src::Json(inline)));
        }
    }
}

fn dedupe_last_wins<T>(v: &mut Vec<(String, T)>) {
    let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
    let index = StrIndex::build(names.len(), |i| names[i]);
    // in bounds: StrIndex over `names`.
    let keep: Vec<bool> = (names.iter().enumerate())
        .map(|(i, n)| index.get(n, |j| names[j]) == Some(i))
        .collect();
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut keep = keep.into_iter();
    v.retain(|_| keep.next().unwrap_or(true));
}

fn missing(field: &'static str) -> LoadError {
    LoadError::TopLevel {
        field,
        problem: "is missing",
    }
}

fn type_error(field: &'static str, problem: &'static str) -> LoadError {
    LoadError::TopLevel { field, problem }
}

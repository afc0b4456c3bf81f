//! The compiled ruleset: what loading produces and evaluation reads. Every name is an
//! index, every operator an enum, every target pre-parsed.

use crate::hash::Prefix;
use serde_json::{Map, Value as Json};

use crate::index::StrIndex;

/// Interned string ids that exist in every ruleset.
pub(crate) const SID_DEFAULT: u32 = 0;
pub(crate) const SID_DISABLED: u32 = 1;
pub(crate) const SID_EMPTY: u32 = 2;
/// The rule id of a result a local override decided.
pub(crate) const SID_OVERRIDE: u32 = 3;

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
    /// Parameter stores, session replay and client-key apps (client SDKs only).
    pub(crate) client: super::client::ClientData,
    /// The event-logging settings (`sdk_configs`).
    pub(crate) sdk_configs: super::SdkConfigs,
    /// What `to_json` writes back beyond the compiled forms; evaluation never reads it.
    pub(crate) source: super::wire::Source,
    /// The JSON text of every return value, for client initialize responses (written on
    /// first use).
    pub(crate) value_text: std::sync::OnceLock<super::text::ValueText>,
    /// Every name hashed, one slot per costly name hashing of client initialize responses
    /// (see [`Ruleset::hashed_names`]; written on first use).
    pub(crate) hashed_names: [std::sync::OnceLock<super::text::NameText>; 2],
}

/// Compiled config mapping (spec 4.10): `overrides` with the rules they name.
#[derive(Debug)]
pub(crate) struct Mappings {
    pub(super) names: Vec<(Box<str>, Vec<Mapping>)>,
    pub(super) index: StrIndex,
    /// The `override_rules`, compiled (their own pass checks are unused: see
    /// [`MappingEntry::pass`]).
    pub(crate) rules: Vec<Rule>,
    /// The names of `rules` (their keys in `override_rules`), and what `to_json` writes
    /// back of each.
    pub(crate) rule_names: Vec<Box<str>>,
    pub(crate) rule_sources: Vec<super::wire::RuleSource>,
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
    pub(super) index: StrIndex,
}

impl Specs {
    // Always inlined, as `StrIndex::get`: with the explain path's evaluator beside the
    // normal one, LLVM would otherwise call it out of line on every evaluation.
    #[inline(always)]
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
    /// `targetAppIDs`: the client apps the spec is sent to (client initialize responses).
    pub(crate) target_app_ids: Option<Box<[Box<str>]>>,
    pub(crate) use_new_layer_eval: bool,
    /// The boolean value when it is the same for every user (the first rule that can pass
    /// is public and passes everyone or no one): `check_gate` answers without evaluating.
    pub(crate) constant_value: Option<bool>,
}

impl Spec {
    /// See [`Spec::constant_value`]; needs `Rule::public_only`.
    pub(crate) fn value_for_everyone(&self) -> Option<bool> {
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
#[derive(Debug, Clone)]
pub(crate) enum ReturnValue {
    Bool(bool),
    Null,
    Object(Map<String, Json>),
}

impl ReturnValue {
    pub(super) fn compile(v: Json) -> ReturnValue {
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
    pub(super) fn new(name: &str) -> IdType {
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

/// Every operator by its name in the payload.
pub(crate) const OPERATORS: [(&str, Op); 30] = [
    ("gt", Op::Gt),
    ("gte", Op::Gte),
    ("lt", Op::Lt),
    ("lte", Op::Lte),
    ("version_gt", Op::VersionGt),
    ("version_gte", Op::VersionGte),
    ("version_lt", Op::VersionLt),
    ("version_lte", Op::VersionLte),
    ("version_eq", Op::VersionEq),
    ("version_neq", Op::VersionNeq),
    ("any", Op::Any),
    ("none", Op::None),
    ("str_starts_with_any", Op::StrStartsWithAny),
    ("str_ends_with_any", Op::StrEndsWithAny),
    ("str_contains_any", Op::StrContainsAny),
    ("str_contains_none", Op::StrContainsNone),
    ("any_case_sensitive", Op::AnyCaseSensitive),
    ("none_case_sensitive", Op::NoneCaseSensitive),
    ("before", Op::Before),
    ("after", Op::After),
    ("on", Op::On),
    ("eq", Op::Eq),
    ("neq", Op::Neq),
    ("str_matches", Op::StrMatches),
    ("array_contains_any", Op::ArrayContainsAny),
    ("array_contains_none", Op::ArrayContainsNone),
    ("array_contains_all", Op::ArrayContainsAll),
    ("not_array_contains_all", Op::NotArrayContainsAll),
    ("in_segment_list", Op::InSegmentList),
    ("not_in_segment_list", Op::NotInSegmentList),
];

impl Op {
    pub(super) fn parse(s: Option<&str>) -> Op {
        s.and_then(|s| OPERATORS.iter().find(|(n, _)| *n == s))
            .map_or(Op::Unsupported, |&(_, op)| op)
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

/// Most rules of a multi-rule layer: a merged value records its sources in a `u128`.
pub(crate) const MAX_MERGED_LAYER_RULES: usize = 128;

impl Ruleset {
    /// The payload's `time`: when its configuration last changed, in ms since the epoch.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// The event-logging settings of the payload's `sdk_configs` (exposure sampling and
    /// the dedupe window, spec 11.4, 11.5).
    pub fn sdk_configs(&self) -> &super::SdkConfigs {
        &self.sdk_configs
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

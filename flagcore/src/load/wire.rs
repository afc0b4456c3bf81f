//! The wire model: `download_config_specs` as parsed, before compiling. Also what
//! compiling does not keep but [`Ruleset::to_json`](crate::Ruleset::to_json) writes back
//! ([`Source`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value as Json;

// ---------------------------------------------------------------------------------------------
// Wire model

#[derive(Deserialize)]
#[allow(dead_code)] // Fields are parsed for validation (a wrong type drops the spec) but unused.
pub(super) struct WireSpec {
    #[serde(rename = "type")]
    pub(super) kind: String,
    pub(super) entity: String,
    pub(super) salt: String,
    pub(super) enabled: bool,
    #[serde(rename = "defaultValue")]
    pub(super) default_value: Json,
    pub(super) rules: Vec<WireRule>,
    #[serde(rename = "idType")]
    pub(super) id_type: String,
    pub(super) version: Option<u32>,
    #[serde(rename = "isActive")]
    pub(super) is_active: Option<bool>,
    #[serde(rename = "hasSharedParams")]
    pub(super) has_shared_params: Option<bool>,
    #[serde(rename = "explicitParameters")]
    pub(super) explicit_parameters: Option<Vec<String>>,
    #[serde(rename = "targetAppIDs")]
    pub(super) target_app_ids: Option<Vec<String>>,
    #[serde(rename = "forwardAllExposures")]
    pub(super) forward_all_exposures: Option<bool>,
    #[serde(rename = "useNewLayerEval")]
    pub(super) use_new_layer_eval: Option<bool>,
    #[serde(rename = "fieldsUsed")]
    pub(super) fields_used: Option<Vec<String>>,
    pub(super) checksum: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct WireRule {
    pub(super) id: String,
    pub(super) name: String,
    #[serde(rename = "passPercentage")]
    pub(super) pass_percentage: f64,
    pub(super) conditions: Vec<String>,
    #[serde(rename = "returnValue")]
    pub(super) return_value: Json,
    #[serde(rename = "idType")]
    pub(super) id_type: String,
    pub(super) salt: Option<String>,
    #[serde(rename = "groupName")]
    pub(super) group_name: Option<String>,
    #[serde(rename = "isExperimentGroup")]
    pub(super) is_experiment_group: Option<bool>,
    #[serde(rename = "configDelegate")]
    pub(super) config_delegate: Option<String>,
    #[serde(rename = "samplingRate")]
    pub(super) sampling_rate: Option<u64>,
}

/// One config mapping of `overrides` (spec 4.10).
#[derive(Deserialize)]
pub(super) struct WireMapping {
    pub(super) new_config_name: String,
    pub(super) rules: Vec<WireMappingRule>,
}

#[derive(Deserialize)]
pub(super) struct WireMappingRule {
    pub(super) rule_name: String,
    pub(super) start_time: Option<i64>,
}

impl WireRule {
    /// Moves out what compiling drops (the name) and copies what it transforms, for
    /// `Ruleset::to_json`.
    pub(super) fn take_source(&mut self) -> RuleSource {
        RuleSource {
            name: std::mem::take(&mut self.name).into(),
            salt: self.salt.as_deref().map(Into::into),
            pass_percentage: self.pass_percentage,
        }
    }
}

impl WireSpec {
    /// Moves out what compiling drops but `Ruleset::to_json` writes back.
    pub(super) fn take_source(&mut self) -> SpecSource {
        SpecSource {
            kind: std::mem::take(&mut self.kind).into(),
            rules: self.rules.iter_mut().map(WireRule::take_source).collect(),
        }
    }
}

/// The top-level fields of a payload, sections kept as raw text.
#[derive(Deserialize)]
pub(crate) struct RawTop<'a> {
    #[serde(borrow, default)]
    pub(super) feature_gates: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) dynamic_configs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) layer_configs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) condition_map: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) experiment_to_layer: Option<&'a RawValue>,
    #[serde(default)]
    pub(super) has_updates: Option<Json>,
    #[serde(default)]
    pub(super) time: Option<Json>,
    #[serde(default)]
    pub(super) checksum: Option<Json>,
    #[serde(default)]
    pub(super) default_environment: Option<Json>,
    #[serde(default)]
    pub(super) app_id: Option<Json>,
    #[serde(borrow, default)]
    pub(super) overrides: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) override_rules: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) param_stores: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) session_replay_info: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) sdk_configs: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) sdk_keys_to_app_ids: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub(super) hashed_sdk_keys_to_app_ids: Option<&'a RawValue>,
}

/// A spec or condition of the payload: raw text (v2: parsed straight into the wire model,
/// without an intermediate JSON tree) or a JSON value (v1, after hoisting its conditions).
pub(crate) enum Src<'a> {
    Raw(&'a RawValue),
    Json(Json),
}

impl Src<'_> {
    /// Parses the wire model; on failure also returns the `entity`, for the report.
    pub(super) fn parse<T: serde::de::DeserializeOwned>(
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
pub(super) fn entries(raw: &RawValue) -> Option<Vec<(String, Src<'_>)>> {
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
    pub(super) kind: String,
    #[serde(rename = "idType")]
    pub(super) id_type: String,
    #[serde(rename = "targetValue", default, skip_serializing_if = "Json::is_null")]
    pub(super) target_value: Json,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) operator: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) field: Option<String>,
    #[serde(rename = "additionalValues", skip_serializing_if = "Option::is_none")]
    pub(super) additional_values: Option<BTreeMap<String, String>>,
}

/// What the compile step does not keep but [`Ruleset::to_json`] writes back.
#[derive(Debug, Default)]
pub(crate) struct Source {
    /// Per section (gates, configs, layers), parallel to `Specs::list`.
    pub(crate) specs: [Vec<SpecSource>; 3],
    /// Parallel to `Ruleset::conditions`.
    pub(crate) conditions: Vec<WireCondition>,
    /// v2: the raw `experiment_to_layer` object; v1: the raw `layers` (layer → experiments).
    pub(crate) layer_membership: Option<Box<str>>,
}

/// The raw `layers` of a v1 payload (layer → experiments), which `RawTop` does not declare
/// (a declared field would make a duplicate `layers` key an error).
pub(super) fn v1_layers(payload: &str) -> Option<Box<str>> {
    #[derive(serde::Deserialize)]
    struct Layers<'a> {
        #[serde(borrow)]
        layers: Option<&'a RawValue>,
    }
    let top: Layers<'_> = serde_json::from_str(payload).ok()?;
    top.layers.map(|r| r.get().into())
}

/// The parts of a spec that compiling drops.
#[derive(Debug)]
pub(crate) struct SpecSource {
    /// `type`.
    pub(crate) kind: Box<str>,
    /// Parallel to `Spec::rules`.
    pub(crate) rules: Box<[RuleSource]>,
}

/// The parts of a rule that compiling drops or transforms.
#[derive(Debug)]
pub(crate) struct RuleSource {
    pub(crate) name: Box<str>,
    pub(crate) salt: Option<Box<str>>,
    pub(crate) pass_percentage: f64,
}

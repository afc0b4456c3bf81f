//! The parts of a payload that only client SDKs read: parameter stores (`param_stores`),
//! session replay (`session_replay_info`) and the client-key → app mapping
//! (`sdk_keys_to_app_ids`, `hashed_sdk_keys_to_app_ids`). The evaluator never reads them; the
//! client initialize response and [`crate::ParameterStore`] do.
//!
//! Parsed as strictly as Statsig's core parses them: a malformed section rejects the payload.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value as Json};

use super::error::{Limits, LoadError};
use crate::index::StrIndex;

/// The compiled client-side sections of a payload.
#[derive(Debug, Default)]
pub(crate) struct ClientData {
    /// Parameter stores in name order.
    pub(crate) param_stores: Vec<ParamStore>,
    pub(crate) param_store_index: StrIndex,
    pub(crate) sdk_keys_to_app_ids: Option<Map<String, Json>>,
    pub(crate) hashed_sdk_keys_to_app_ids: Option<Map<String, Json>>,
    pub(crate) session_replay: Option<Box<SessionReplay>>,
}

impl ClientData {
    /// The parameter store named `name`.
    pub(crate) fn param_store(&self, name: &str) -> Option<&ParamStore> {
        // in bounds: StrIndex over `param_stores`.
        self.param_store_index
            .get(name, |i| &self.param_stores[i].name)
            .and_then(|i| self.param_stores.get(i))
    }
}

/// One parameter store.
#[derive(Debug)]
pub(crate) struct ParamStore {
    pub(crate) name: Box<str>,
    pub(crate) target_app_ids: Option<Box<[Box<str>]>>,
    /// Parameters in name order.
    pub(crate) params: Vec<Param>,
    pub(crate) index: StrIndex,
}

impl ParamStore {
    /// The parameter named `name`.
    pub(crate) fn param(&self, name: &str) -> Option<&Param> {
        // in bounds: StrIndex over `params`.
        self.index
            .get(name, |i| &self.params[i].name)
            .and_then(|i| self.params.get(i))
    }
}

impl ParamStore {
    /// A store made of a local override's parameters (Statsig's
    /// `override_parameter_store`): each value that has the shape of a payload parameter is
    /// that parameter; any other is a static parameter of the value's JSON type.
    pub(crate) fn from_override(name: &str, parameters: &Map<String, Json>) -> ParamStore {
        let mut params: Vec<Param> = parameters
            .iter()
            .map(|(n, v)| match WireParam::deserialize(v) {
                Ok(p) => p.compile(n.clone()),
                Err(_) => Param {
                    name: n.as_str().into(),
                    ref_type: "static".into(),
                    param_type: json_type(v).into(),
                    target: ParamTarget::Static(v.clone()),
                },
            })
            .collect();
        params.sort_by(|a, b| a.name.cmp(&b.name));
        let index = StrIndex::build(params.len(), |i| &params[i].name);
        ParamStore {
            name: name.into(),
            target_app_ids: None,
            params,
            index,
        }
    }
}

/// The `param_type` Statsig infers for an override's plain value.
fn json_type(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

/// One parameter of a store.
#[derive(Debug)]
pub(crate) struct Param {
    /// Its key in the store.
    pub(crate) name: Box<str>,
    pub(crate) ref_type: Box<str>,
    pub(crate) param_type: Box<str>,
    pub(crate) target: ParamTarget,
}

/// Where a parameter's value comes from.
#[derive(Debug)]
pub(crate) enum ParamTarget {
    /// A fixed value.
    Static(Json),
    /// `pass_value` when the gate passes, else `fail_value`.
    Gate {
        gate: Box<str>,
        pass: Json,
        fail: Json,
    },
    /// A parameter of a dynamic config.
    DynamicConfig { config: Box<str>, param: Box<str> },
    /// A parameter of an experiment.
    Experiment {
        experiment: Box<str>,
        param: Box<str>,
    },
    /// A parameter of a layer.
    Layer { layer: Box<str>, param: Box<str> },
}

/// `session_replay_info`.
#[derive(Debug, Deserialize)]
pub(crate) struct SessionReplay {
    pub(crate) sampling_rate: Option<f64>,
    pub(crate) targeting_gate: Option<String>,
    pub(crate) recording_blocked: Option<bool>,
    pub(crate) session_recording_event_triggers: Option<BTreeMap<String, Trigger>>,
    pub(crate) session_recording_exposure_triggers: Option<BTreeMap<String, Trigger>>,
    pub(crate) session_recording_privacy_settings: Option<PrivacySettings>,
}

/// A session-recording trigger.
#[derive(Debug, Deserialize)]
pub(crate) struct Trigger {
    pub(crate) sampling_rate: Option<f64>,
    pub(crate) values: Option<Vec<String>>,
    #[allow(dead_code)] // Parsed for validation, as Statsig parses it; recomputed per user.
    pub(crate) passes_sampling: Option<bool>,
}

/// `session_recording_privacy_settings`.
#[derive(Debug, Deserialize)]
pub(crate) struct PrivacySettings {
    pub(crate) privacy_mode: String,
    pub(crate) unmasked_elements: Option<Vec<String>>,
    pub(crate) masked_elements: Option<Vec<String>>,
    pub(crate) blocked_elements: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Wire model of `param_stores`, with Statsig's types: a parameter's shape is the first of these
// whose fields are all present and well typed (not its `ref_type`).

#[derive(Deserialize)]
struct WireStore {
    parameters: BTreeMap<String, WireParam>,
    #[serde(rename = "targetAppIDs")]
    target_app_ids: Option<Vec<String>>,
    #[allow(dead_code)] // Validated as Statsig validates it.
    version: Option<u32>,
    #[allow(dead_code)]
    checksum: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WireParam {
    Static {
        #[allow(dead_code)]
        name: Option<String>,
        ref_type: String,
        param_type: String,
        value: Json,
    },
    Gate {
        #[allow(dead_code)]
        name: Option<String>,
        ref_type: String,
        param_type: String,
        gate_name: String,
        pass_value: Json,
        fail_value: Json,
    },
    DynamicConfig {
        #[allow(dead_code)]
        name: Option<String>,
        ref_type: String,
        param_type: String,
        config_name: String,
        param_name: String,
    },
    Experiment {
        #[allow(dead_code)]
        name: Option<String>,
        ref_type: String,
        param_type: String,
        experiment_name: String,
        param_name: String,
    },
    Layer {
        #[allow(dead_code)]
        name: Option<String>,
        ref_type: String,
        param_type: String,
        layer_name: String,
        param_name: String,
    },
}

impl WireParam {
    fn compile(self, name: String) -> Param {
        let (ref_type, param_type, target) = match self {
            WireParam::Static {
                ref_type,
                param_type,
                value,
                ..
            } => (ref_type, param_type, ParamTarget::Static(value)),
            WireParam::Gate {
                ref_type,
                param_type,
                gate_name,
                pass_value,
                fail_value,
                ..
            } => (
                ref_type,
                param_type,
                ParamTarget::Gate {
                    gate: gate_name.into(),
                    pass: pass_value,
                    fail: fail_value,
                },
            ),
            WireParam::DynamicConfig {
                ref_type,
                param_type,
                config_name,
                param_name,
                ..
            } => (
                ref_type,
                param_type,
                ParamTarget::DynamicConfig {
                    config: config_name.into(),
                    param: param_name.into(),
                },
            ),
            WireParam::Experiment {
                ref_type,
                param_type,
                experiment_name,
                param_name,
                ..
            } => (
                ref_type,
                param_type,
                ParamTarget::Experiment {
                    experiment: experiment_name.into(),
                    param: param_name.into(),
                },
            ),
            WireParam::Layer {
                ref_type,
                param_type,
                layer_name,
                param_name,
                ..
            } => (
                ref_type,
                param_type,
                ParamTarget::Layer {
                    layer: layer_name.into(),
                    param: param_name.into(),
                },
            ),
        };
        Param {
            name: name.into(),
            ref_type: ref_type.into(),
            param_type: param_type.into(),
            target,
        }
    }
}

/// The raw client-side sections of a payload (`None`: absent or `null`).
pub(crate) struct RawClient<'a> {
    pub(crate) param_stores: Option<&'a RawValue>,
    pub(crate) session_replay_info: Option<&'a RawValue>,
    pub(crate) sdk_keys_to_app_ids: Option<&'a RawValue>,
    pub(crate) hashed_sdk_keys_to_app_ids: Option<&'a RawValue>,
}

fn non_null(r: Option<&RawValue>) -> Option<&RawValue> {
    r.filter(|r| r.get().trim() != "null")
}

/// Parses and compiles the client-side sections.
pub(crate) fn compile(raw: RawClient<'_>, limits: &Limits) -> Result<ClientData, LoadError> {
    let mut data = ClientData::default();
    if let Some(r) = non_null(raw.param_stores) {
        let stores: BTreeMap<String, &RawValue> = serde_json::from_str(r.get())
            .map_err(|_| top_error("param_stores", "must be an object of parameter stores"))?;
        let mut total = 0;
        for (name, r) in stores {
            let w: WireStore =
                serde_json::from_str(r.get()).map_err(|source| LoadError::ParamStore {
                    name: name.clone(),
                    source,
                })?;
            total += w.parameters.len();
            limits.check(
                || "number of parameter-store parameters".into(),
                limits.max_param_store_parameters,
                total,
            )?;
            let params: Vec<Param> = w
                .parameters
                .into_iter()
                .map(|(n, p)| p.compile(n))
                .collect();
            let index = StrIndex::build(params.len(), |i| &params[i].name);
            data.param_stores.push(ParamStore {
                name: name.into(),
                target_app_ids: w
                    .target_app_ids
                    .map(|v| v.into_iter().map(String::into_boxed_str).collect()),
                params,
                index,
            });
        }
        let stores = &data.param_stores;
        data.param_store_index = StrIndex::build(stores.len(), |i| &stores[i].name);
    }
    if let Some(r) = non_null(raw.session_replay_info) {
        let s: SessionReplay = serde_json::from_str(r.get())
            .map_err(|_| top_error("session_replay_info", "is malformed"))?;
        data.session_replay = Some(Box::new(s));
    }
    let app_map = |r: Option<&RawValue>, field: &'static str| match non_null(r) {
        None => Ok(None),
        Some(r) => serde_json::from_str::<Map<String, Json>>(r.get())
            .map(Some)
            .map_err(|_| top_error(field, "must be an object")),
    };
    data.sdk_keys_to_app_ids = app_map(raw.sdk_keys_to_app_ids, "sdk_keys_to_app_ids")?;
    data.hashed_sdk_keys_to_app_ids =
        app_map(raw.hashed_sdk_keys_to_app_ids, "hashed_sdk_keys_to_app_ids")?;
    Ok(data)
}

fn top_error(field: &'static str, problem: &'static str) -> LoadError {
    LoadError::TopLevel { field, problem }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).expect("JSON")
    }

    fn stores(s: &str) -> Result<ClientData, LoadError> {
        let r = raw(s);
        compile(
            RawClient {
                param_stores: Some(&r),
                session_replay_info: None,
                sdk_keys_to_app_ids: None,
                hashed_sdk_keys_to_app_ids: None,
            },
            &Limits::default(),
        )
    }

    #[test]
    fn a_parameter_shape_is_decided_by_its_fields_not_its_ref_type() {
        let d = stores(
            r#"{"s": {"parameters": {
              "p": {"ref_type": "gate", "param_type": "string", "value": "x", "gate_name": "g",
                    "pass_value": 1, "fail_value": 2},
              "q": {"ref_type": "whatever", "param_type": "number", "layer_name": "l",
                    "param_name": "n"}}}}"#,
        )
        .expect("valid");
        let s = d.param_store("s").expect("store");
        assert!(matches!(
            s.param("p").unwrap().target,
            ParamTarget::Static(_)
        ));
        assert!(matches!(
            s.param("q").unwrap().target,
            ParamTarget::Layer { .. }
        ));
    }

    #[test]
    fn a_malformed_parameter_rejects_the_payload() {
        let e = stores(r#"{"s": {"parameters": {"p": {"ref_type": "gate"}}}}"#).unwrap_err();
        assert!(matches!(e, LoadError::ParamStore { ref name, .. } if name == "s"));
        assert!(stores(r#"{"s": {"parameters": {}, "version": "2"}}"#).is_err());
        assert!(stores(r#"[1]"#).is_err());
    }

    #[test]
    fn parameters_count_against_the_limit() {
        let r = raw(r#"{"s": {"parameters": {"a": {"ref_type": "static",
            "param_type": "number", "value": 1}, "b": {"ref_type": "static",
            "param_type": "number", "value": 2}}}}"#);
        let limits = Limits {
            max_param_store_parameters: 1,
            ..Limits::default()
        };
        let e = compile(
            RawClient {
                param_stores: Some(&r),
                session_replay_info: None,
                sdk_keys_to_app_ids: None,
                hashed_sdk_keys_to_app_ids: None,
            },
            &limits,
        )
        .unwrap_err();
        assert!(matches!(e, LoadError::Limit { .. }));
    }
}

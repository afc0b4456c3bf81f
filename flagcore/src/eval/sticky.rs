//! Sticky assignments: keep a user in the experiment group first assigned after the
//! allocation changes, as the official core's persistent storage does
//! (`PersistentValuesManager`, `user_persisted_values`).
//!
//! The core does no IO: the caller loads the user's persisted values (a
//! [`UserPersistedValues`] map, experiment or layer name → [`StickyValues`], stored under
//! [`storage_key`]), passes them in [`StickyOptions`], and applies the [`Change`] the
//! evaluation returns (save the new assignment, or delete a stale one).
//! `flagcore_sync::sticky` has storages (memory, files) and the load–evaluate–save loop.
//!
//! ```text
//!  storage ──load(key)──► UserPersistedValues ─┐
//!                                              ▼
//!  user, name ─────────► View::experiment_sticky / layer_sticky ──► result (reason Persisted
//!                                              │                    when a stored value won)
//!  storage ◄──save / delete(key, name)── Change ┘
//! ```
//!
//! The rules, exactly the official core's:
//!
//! - Nothing happens when the user has no unit id of the spec's id type ([`storage_key`] is
//!   `None`), e.g. for an unknown name.
//! - No persisted values passed (`None`), or the experiment not active: the live result, and
//!   [`Change::Delete`] of the name. For a layer "active" is that of the experiment the stored
//!   value was allocated to (its `config_delegate`), when the payload has it, else the live
//!   layer's.
//! - A stored value for the name: it wins ([`Reason::Persisted`], its value, rule id, group,
//!   exposures), unless `enforce_targeting` is set and the user now fails the experiment's
//!   targeting, or `enforce_overrides` is set and a console override rule matches (then the
//!   live result wins and nothing is saved). For a layer these checks run on the stored
//!   value's experiment; a stored layer value without one always wins.
//! - No stored value, and the user is in an experiment group of the active experiment: the
//!   live result, and [`Change::Save`] of its [`StickyValues`].
//!
//! The plain evaluation methods ([`View::experiment`], …) are untouched by this: they never
//! read or write persisted values and stay allocation-free. This path allocates (the storage
//! key, values to save).

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value as Json;

use super::evaluator::{Evaluator, RuleFilter};
use super::record::{Kind, RawExposure};
use super::result::{
    Evaluation, JsonObject, Reason, SecondaryExposure, SecondaryExposures, ValueShape,
};
use super::trace::NoTrace;
use crate::load::{ReturnValue, Ruleset, Spec, Specs};
use crate::store::{empty_map, evaluate, plain, Exposure, Exposures, Layer, Scratch, View};
use crate::user::User;

/// A user's persisted values: experiment or layer name → its sticky assignment (the
/// official core's `UserPersistedValues`). One map per [`storage_key`].
pub type UserPersistedValues = HashMap<String, StickyValues>;

/// The key the official core stores a user's values under for specs of unit type
/// `id_type`: `"{unit id}:{id_type}"`, e.g. `"user-42:userID"` or `"acme:companyID"`.
///
/// `userID` (in any case) is the user id; any other type is the custom id of that name
/// (exact, then lower-cased). `None` when the user has no such id. A unit id that is not a
/// string (a number) gives its string form, as in bucketing.
///
/// ```
/// use flagcore::{sticky::storage_key, Attributes, User, Value};
///
/// let ids = [("companyID", Value::Str("acme"))];
/// let user = User::with_user_id("u1").custom_ids(Attributes::Pairs(&ids));
/// assert_eq!(storage_key(&user, "userID").as_deref(), Some("u1:userID"));
/// assert_eq!(storage_key(&user, "companyID").as_deref(), Some("acme:companyID"));
/// assert_eq!(storage_key(&user, "stableID"), None);
/// ```
pub fn storage_key(user: &User<'_>, id_type: &str) -> Option<String> {
    let unit = if id_type.eq_ignore_ascii_case("userid") {
        user.user_id?
    } else {
        let lower = id_type.to_lowercase();
        user.custom_ids.get2(id_type, &lower)?
    };
    Some(
        unit.uval()
            .with_str_or_empty(|id| format!("{id}:{id_type}")),
    )
}

/// One sticky assignment, as the official core persists it (`StickyValues`): what the
/// experiment (or layer) gave the user when first assigned.
///
/// Its JSON form is the official one, field for field, so values written by the official
/// SDK's storage load here and the other way round:
///
/// ```json
/// {"value": true, "json_value": {"color": "blue"}, "rule_id": "exp-Test", "group_name": "Test",
///  "secondary_exposures": [{"gate": "holdout", "gateValue": "false", "ruleID": "default"}],
///  "undelegated_secondary_exposures": null, "config_delegate": null,
///  "explicit_parameters": ["color"], "time": 1764000000000, "config_version": 3}
/// ```
///
/// Reading is lenient where the official reader is lenient (`time` that is not a number
/// reads as `null`) and also accepts missing fields (as `false`, `null` or empty); writing
/// always writes every field.
///
/// ```
/// use flagcore::sticky::StickyValues;
///
/// let v: StickyValues = serde_json::from_str(r#"{"value": true, "json_value": {"p": 1},
///   "rule_id": "r", "group_name": "Test", "secondary_exposures": [], "time": 1700000000000}"#)?;
/// assert_eq!(v.group_name.as_deref(), Some("Test"));
/// assert_eq!(v.secondary_exposures().len(), 0);
/// let back = serde_json::to_value(&v)?;
/// assert_eq!(back["config_delegate"], serde_json::Value::Null);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct StickyValues {
    /// The boolean value (always `true` for values the official core saves).
    pub value: bool,
    /// The JSON value (an object for experiments and layers; `None` is `null`).
    pub json_value: Option<Json>,
    /// The rule that assigned the user.
    pub rule_id: Option<String>,
    /// The experiment group.
    pub group_name: Option<String>,
    /// For a layer: the experiment the user was allocated to.
    pub config_delegate: Option<String>,
    /// The explicit parameters of the (allocated) experiment.
    pub explicit_parameters: Option<Vec<Box<str>>>,
    /// The ruleset time (`lcut`) of the assignment, in milliseconds.
    pub time: Option<u64>,
    /// The spec's version at the assignment.
    pub config_version: Option<u32>,
    exposures: StoredExposures,
}

/// Equal when every field and both exposure lists (entry by entry) are.
impl PartialEq for StickyValues {
    fn eq(&self, other: &StickyValues) -> bool {
        fn same(a: Option<SecondaryExposures<'_>>, b: Option<SecondaryExposures<'_>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a.len() == b.len() && a.iter().eq(b.iter()),
                (None, None) => true,
                _ => false,
            }
        }
        self.value == other.value
            && self.json_value == other.json_value
            && self.rule_id == other.rule_id
            && self.group_name == other.group_name
            && self.config_delegate == other.config_delegate
            && self.explicit_parameters == other.explicit_parameters
            && self.time == other.time
            && self.config_version == other.config_version
            && same(
                Some(self.secondary_exposures()),
                Some(other.secondary_exposures()),
            )
            && same(
                self.undelegated_secondary_exposures(),
                other.undelegated_secondary_exposures(),
            )
    }
}

/// The two exposure lists of a [`StickyValues`], in the compact form results borrow:
/// entries index a string table of their own (equality is [`StickyValues`]'s).
#[derive(Clone, Debug, Default)]
struct StoredExposures {
    strs: Vec<Box<str>>,
    secondary: Vec<RawExposure>,
    undelegated: Option<Vec<RawExposure>>,
}

impl StoredExposures {
    fn intern(&mut self, s: &str) -> u32 {
        let i = match self.strs.iter().position(|x| &**x == s) {
            Some(i) => i,
            None => {
                self.strs.push(s.into());
                self.strs.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(u32::MAX)
    }

    fn raw(&mut self, e: SecondaryExposure<'_>) -> RawExposure {
        RawExposure {
            gate: self.intern(e.gate),
            value: e.gate_value,
            rule: self.intern(e.rule_id),
        }
    }

    fn list<'a>(&'a self, raw: &'a [RawExposure]) -> SecondaryExposures<'a> {
        SecondaryExposures {
            strs: &self.strs,
            raw,
        }
    }
}

impl StickyValues {
    /// The gates checked on the way to the assignment (logged with the exposure of a
    /// persisted result).
    pub fn secondary_exposures(&self) -> SecondaryExposures<'_> {
        self.exposures.list(&self.exposures.secondary)
    }

    /// A layer's own exposures, before delegation (`None` where the official value has
    /// `null`).
    pub fn undelegated_secondary_exposures(&self) -> Option<SecondaryExposures<'_>> {
        let e = &self.exposures;
        e.undelegated.as_deref().map(|raw| e.list(raw))
    }

    /// Replaces the secondary exposures.
    pub fn set_secondary_exposures<'e>(
        &mut self,
        list: impl IntoIterator<Item = SecondaryExposure<'e>>,
    ) {
        let raw = list.into_iter().map(|e| self.exposures.raw(e)).collect();
        self.exposures.secondary = raw;
    }

    /// Replaces the undelegated secondary exposures (`None`: `null`).
    pub fn set_undelegated_secondary_exposures<'e>(
        &mut self,
        list: Option<impl IntoIterator<Item = SecondaryExposure<'e>>>,
    ) {
        let raw = list.map(|l| l.into_iter().map(|e| self.exposures.raw(e)).collect());
        self.exposures.undelegated = raw;
    }

    /// The value a live result saves (the official `make_sticky_value_from_experiment` /
    /// `…_from_layer`).
    fn from_live(e: &Evaluation<'_>, raw: Option<&ReturnValue>) -> StickyValues {
        let json_value = match raw {
            Some(ReturnValue::Object(m)) => Json::Object(m.clone()),
            Some(ReturnValue::Bool(b)) => Json::Bool(*b),
            Some(ReturnValue::Null) => Json::Null,
            None if e.kind == Kind::Layer => Json::Object(e.json.to_map()),
            None => Json::Null,
        };
        let (config_delegate, explicit) = match e.kind {
            Kind::Layer => (
                e.allocated_experiment.map(str::to_owned),
                Some(e.explicit_parameters.unwrap_or(&[]).to_vec()),
            ),
            _ => (None, e.explicit_parameters.map(<[Box<str>]>::to_vec)),
        };
        let mut v = StickyValues {
            value: true,
            json_value: Some(json_value),
            rule_id: Some(e.rule_id.to_owned()),
            group_name: e.group_name.map(str::to_owned),
            config_delegate,
            explicit_parameters: explicit,
            time: Some(e.lcut),
            config_version: e.version,
            exposures: StoredExposures::default(),
        };
        v.set_secondary_exposures(e.secondary.iter());
        v.set_undelegated_secondary_exposures(e.undelegated.map(|u| u.iter()));
        v
    }

    /// The result a stored value gives in place of `live` (the official
    /// `make_experiment_from_sticky_value` / `make_layer_from_sticky_value`): the stored
    /// value, rule id, group, exposures and time; the live name, unit type, spec version
    /// and layer membership; active and in the experiment.
    fn result<'a>(&'a self, live: &Evaluation<'a>) -> Evaluation<'a> {
        let json = match &self.json_value {
            Some(Json::Object(m)) => JsonObject::one(m),
            _ => JsonObject::one(empty_map()),
        };
        let layer = live.kind == Kind::Layer;
        Evaluation {
            kind: live.kind,
            name: live.name,
            value: self.value,
            json,
            rule_id: self.rule_id.as_deref().unwrap_or(""),
            group_name: self.group_name.as_deref(),
            id_type: live.id_type,
            version: live.version,
            is_experiment_group: true,
            is_experiment_active: true,
            is_in_layer: live.is_in_layer,
            explicit_parameters: match (&self.explicit_parameters, layer) {
                (Some(p), _) => Some(p),
                (None, true) => Some(&[]),
                (None, false) => None,
            },
            allocated_experiment: if layer {
                self.config_delegate.as_deref()
            } else {
                None
            },
            secondary: self.secondary_exposures(),
            undelegated: self.undelegated_secondary_exposures(),
            reason: Reason::Persisted,
            id_list_used: false,
            lcut: self.time.unwrap_or(0),
            override_config_name: live.override_config_name,
            // As the official `make_evaluation_result_from_sticky_value`: sampling facts
            // from the live result.
            sampling_rate: live.sampling_rate,
            forward_all_exposures: live.forward_all_exposures,
            has_seen_analytical_gates: live.has_seen_analytical_gates,
            undelegated_missing: layer && self.exposures.undelegated.is_none(),
            sdk_configs: live.sdk_configs,
            no_id_type: false,
            value_shape: match &self.json_value {
                Some(Json::Object(_)) => ValueShape::Object,
                Some(Json::Bool(b)) => ValueShape::Bool(*b),
                _ => ValueShape::Null,
            },
        }
    }
}

/// The official JSON form (field order as the official core writes it).
#[derive(Serialize, Deserialize)]
struct Wire {
    #[serde(default)]
    value: bool,
    #[serde(default)]
    json_value: Option<Json>,
    #[serde(default)]
    rule_id: Option<String>,
    #[serde(default)]
    group_name: Option<String>,
    #[serde(default)]
    secondary_exposures: Vec<WireExposure>,
    #[serde(default)]
    undelegated_secondary_exposures: Option<Vec<WireExposure>>,
    #[serde(default)]
    config_delegate: Option<String>,
    #[serde(default)]
    explicit_parameters: Option<Vec<Box<str>>>,
    #[serde(default, deserialize_with = "lenient_time")]
    time: Option<u64>,
    #[serde(default)]
    config_version: Option<u32>,
}

/// A secondary exposure as Statsig writes it (`gateValue` is the string `"true"` or
/// `"false"`).
#[derive(Serialize, Deserialize)]
struct WireExposure {
    gate: String,
    #[serde(rename = "gateValue")]
    gate_value: String,
    #[serde(rename = "ruleID")]
    rule_id: String,
}

/// The official reader of `time`: an integer, or a float truncated; anything else is
/// `None` (negative integers wrap, as the official `as u64` does).
fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Json::deserialize(d)? {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| n.as_i64().map(|i| i as u64))
            .or_else(|| n.as_f64().map(|f| f as u64)),
        _ => None,
    })
}

impl Serialize for StickyValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = |list: SecondaryExposures<'_>| -> Vec<WireExposure> {
            list.iter()
                .map(|e| WireExposure {
                    gate: e.gate.to_owned(),
                    gate_value: if e.gate_value { "true" } else { "false" }.to_owned(),
                    rule_id: e.rule_id.to_owned(),
                })
                .collect()
        };
        Wire {
            value: self.value,
            json_value: self.json_value.clone(),
            rule_id: self.rule_id.clone(),
            group_name: self.group_name.clone(),
            secondary_exposures: wire(self.secondary_exposures()),
            undelegated_secondary_exposures: self.undelegated_secondary_exposures().map(wire),
            config_delegate: self.config_delegate.clone(),
            explicit_parameters: self.explicit_parameters.clone(),
            time: self.time,
            config_version: self.config_version,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StickyValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = Wire::deserialize(deserializer)?;
        fn exposure(e: &WireExposure) -> SecondaryExposure<'_> {
            SecondaryExposure {
                gate: &e.gate,
                gate_value: e.gate_value == "true",
                rule_id: &e.rule_id,
            }
        }
        let mut v = StickyValues {
            value: w.value,
            json_value: w.json_value,
            rule_id: w.rule_id,
            group_name: w.group_name,
            config_delegate: w.config_delegate,
            explicit_parameters: w.explicit_parameters,
            time: w.time,
            config_version: w.config_version,
            exposures: StoredExposures::default(),
        };
        v.set_secondary_exposures(w.secondary_exposures.iter().map(exposure));
        v.set_undelegated_secondary_exposures(
            w.undelegated_secondary_exposures
                .as_ref()
                .map(|l| l.iter().map(exposure)),
        );
        Ok(v)
    }
}

/// How an evaluation uses persisted values (the official `ExperimentEvaluationOptions` /
/// `LayerEvaluationOptions`).
#[derive(Clone, Copy, Debug, Default)]
pub struct StickyOptions<'p> {
    /// The user's values for the spec's [`storage_key`] (`user_persisted_values`). `None`
    /// asks for no stickiness: the stored value of the name is to be deleted. Pass an empty
    /// map for a user with nothing stored yet.
    pub persisted: Option<&'p UserPersistedValues>,
    /// A stored value gives way when a console override rule of the experiment matches.
    pub enforce_overrides: bool,
    /// A stored value gives way when the user no longer passes the experiment's targeting.
    pub enforce_targeting: bool,
    /// Whether the result's exposure goes to the sink (for a layer: whether its reads log).
    pub exposures: Exposures,
}

impl<'p> StickyOptions<'p> {
    /// Sticky evaluation with `persisted` (the user's values, possibly empty).
    pub fn with(persisted: &'p UserPersistedValues) -> StickyOptions<'p> {
        StickyOptions {
            persisted: Some(persisted),
            ..StickyOptions::default()
        }
    }
}

/// What the caller's storage must do after a sticky evaluation.
#[derive(Clone, Debug, PartialEq)]
#[must_use = "a sticky assignment is kept only if the caller saves it"]
pub enum Change {
    /// Nothing.
    None,
    /// Store `values` as the assignment of `config` under `key`.
    Save {
        /// The [`storage_key`] of the user for the spec's unit type.
        key: String,
        /// The experiment or layer name.
        config: String,
        /// The assignment.
        values: Box<StickyValues>,
    },
    /// Remove the assignment of `config` under `key` (if any).
    Delete {
        /// The [`storage_key`] of the user for the spec's unit type.
        key: String,
        /// The experiment or layer name.
        config: String,
    },
}

impl Change {
    /// Applies the change to a map of values loaded for `key` (for callers that keep the
    /// values of one key in memory). A change for another key is ignored.
    pub fn apply_to(&self, key: &str, values: &mut UserPersistedValues) {
        match self {
            Change::Save {
                key: k,
                config,
                values: v,
            } if k == key => {
                values.insert(config.clone(), (**v).clone());
            }
            Change::Delete { key: k, config } if k == key => {
                values.remove(config);
            }
            _ => {}
        }
    }
}

/// What the rules decided for one evaluation.
enum Decision<'p> {
    /// The live result, nothing to store.
    Live,
    /// The live result; delete the assignment of `config` under `key`.
    Delete { key: String, config: String },
    /// The live result, saved under `key` as the assignment of `config`.
    Save { key: String, config: String },
    /// The stored value's result.
    Stored(&'p StickyValues),
}

impl Decision<'_> {
    /// The change for a live result (`raw`: its raw return value).
    fn change(self, live: &Evaluation<'_>, raw: Option<&ReturnValue>) -> Change {
        match self {
            Decision::Live | Decision::Stored(_) => Change::None,
            Decision::Delete { key, config } => Change::Delete { key, config },
            Decision::Save { key, config } => Change::Save {
                key,
                config,
                values: Box::new(StickyValues::from_live(live, raw)),
            },
        }
    }
}

impl View {
    /// The unit type (`idType`) of an experiment (`Kind::Experiment`, a dynamic config) or a
    /// layer, to compute the [`storage_key`] before a sticky evaluation; `None` when the
    /// snapshot has no such spec.
    pub fn id_type(&self, kind: Kind, name: &str) -> Option<&str> {
        let rs = self.ruleset()?;
        let specs = match kind {
            Kind::Gate => &rs.gates,
            Kind::DynamicConfig | Kind::Experiment => &rs.configs,
            Kind::Layer => &rs.layers,
        };
        spec(specs, name).map(|s| &*s.id_type)
    }

    /// Evaluates an experiment with the user's persisted values (the official
    /// `get_experiment_with_options` with `user_persisted_values`): the result (the stored
    /// assignment when it holds, with [`Reason::Persisted`]) and the [`Change`] the caller's
    /// storage must make. See [the module](crate::sticky) for the rules.
    ///
    /// The exposure (unless `options.exposures` suppresses it) is that of the returned
    /// result. The result borrows the snapshot, `scratch` and `options.persisted`.
    ///
    /// ```
    /// use flagcore::sticky::{storage_key, Change, StickyOptions, UserPersistedValues};
    /// use flagcore::{Reason, Scratch, Store, User};
    ///
    /// let store = Store::new();
    /// store.load_json(br#"{"feature_gates": {}, "layer_configs": {}, "experiment_to_layer": {},
    ///   "condition_map": {"all": {"type": "public", "idType": "userID"}},
    ///   "dynamic_configs": {"exp": {"type": "dynamic_config", "entity": "experiment",
    ///     "salt": "s", "enabled": true, "defaultValue": {}, "idType": "userID", "isActive": true,
    ///     "rules": [{"id": "exp-Test", "name": "Test", "passPercentage": 100, "conditions": ["all"],
    ///       "returnValue": {"color": "blue"}, "idType": "userID", "groupName": "Test",
    ///       "isExperimentGroup": true}]}},
    ///   "has_updates": true, "time": 1}"#)?;
    /// let user = User::with_user_id("u1");
    /// let mut scratch = Scratch::new();
    /// let snapshot = store.snapshot();
    ///
    /// // Nothing stored yet: the live assignment, to be saved.
    /// let mut stored = UserPersistedValues::new();
    /// let (result, change) = snapshot.experiment_sticky(&mut scratch, &user, "exp", StickyOptions::with(&stored));
    /// assert_eq!(result.group_name(), Some("Test"));
    /// let key = storage_key(&user, "userID").unwrap();
    /// assert!(matches!(&change, Change::Save { key: k, .. } if *k == key));
    /// change.apply_to(&key, &mut stored);
    ///
    /// // Next time the stored assignment wins.
    /// let (result, change) = snapshot.experiment_sticky(&mut scratch, &user, "exp", StickyOptions::with(&stored));
    /// assert_eq!(result.reason(), Reason::Persisted);
    /// assert_eq!(result.get_str("color", ""), "blue");
    /// assert_eq!(change, Change::None);
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn experiment_sticky<'a>(
        &'a self,
        scratch: &'a mut Scratch,
        user: &User<'_>,
        name: &'a str,
        options: StickyOptions<'a>,
    ) -> (Evaluation<'a>, Change) {
        let env = self.env();
        let (shaped, raw) = evaluate(
            self.ruleset(),
            &env,
            self.local_overrides(),
            &mut scratch.sec,
            user,
            Kind::Experiment,
            name,
            None,
            true,
            NoTrace,
        );
        let scratch: &'a Scratch = scratch;
        let live = shaped.attach(&scratch.sec);
        let (result, change) = match self.decide(user, &live, options) {
            Decision::Stored(found) => (found.result(&live), Change::None),
            decision => (live, decision.change(&live, raw)),
        };
        if options.exposures == Exposures::Log {
            if let Some(sink) = self.sink() {
                sink.log(&Exposure::new(user, &result));
            }
        }
        (result, change)
    }

    /// Evaluates a layer with the user's persisted values (the official `get_layer_with_options`
    /// with `user_persisted_values`): a [`Layer`] whose reads log exposures as
    /// [`View::layer`]'s do (of the stored assignment when it holds), and the [`Change`] the
    /// caller's storage must make. See [the module](crate::sticky) for the rules.
    pub fn layer_sticky<'a>(
        &'a self,
        user: &'a User<'a>,
        name: &'a str,
        options: StickyOptions<'a>,
    ) -> (Layer<'a>, Change) {
        let env = self.env();
        let mut sec = Vec::new();
        let (shaped, raw) = evaluate(
            self.ruleset(),
            &env,
            self.local_overrides(),
            &mut sec,
            user,
            Kind::Layer,
            name,
            None,
            true,
            NoTrace,
        );
        // The rules read the result without its exposure lists (which borrow `sec`).
        let bare = shaped.bare();
        match self.decide(user, &bare, options) {
            Decision::Stored(found) => {
                let persisted = plain(found.result(&bare));
                (
                    self.layer_from(user, persisted, sec, options.exposures),
                    Change::None,
                )
            }
            decision => {
                let change = decision.change(&shaped.attach(&sec), raw);
                (
                    self.layer_from(user, shaped, sec, options.exposures),
                    change,
                )
            }
        }
    }

    /// The official `try_apply_sticky_value_to_experiment` / `…_to_layer`.
    fn decide<'p>(
        &self,
        user: &User<'_>,
        live: &Evaluation<'_>,
        options: StickyOptions<'p>,
    ) -> Decision<'p> {
        let Some(key) = storage_key(user, live.id_type) else {
            return Decision::Live;
        };
        let config = live.name;
        let layer = live.kind == Kind::Layer;
        let found = options.persisted.and_then(|p| p.get(config));
        let rs = self.ruleset();
        // A layer is in an experiment only through its allocated experiment.
        let (live_active, in_experiment) = if layer {
            let allocated = live.allocated_experiment.is_some();
            (
                allocated && live.is_experiment_active,
                allocated && live.is_experiment_group,
            )
        } else {
            (live.is_experiment_active, live.is_experiment_group)
        };
        let active = match (layer, found.and_then(|f| f.config_delegate.as_deref())) {
            (true, Some(delegate)) => rs
                .and_then(|rs| spec_is_active(rs, delegate))
                .unwrap_or(live_active),
            _ => live_active,
        };
        if options.persisted.is_none() || !active {
            return Decision::Delete {
                key,
                config: config.to_owned(),
            };
        }
        if let Some(found) = found {
            let recheck = if layer {
                found.config_delegate.as_deref()
            } else {
                Some(config)
            };
            let keep = match (recheck, rs) {
                (Some(spec), Some(rs)) => self.sticky_holds(rs, user, spec, options),
                _ => true,
            };
            return if keep {
                Decision::Stored(found)
            } else {
                Decision::Live
            };
        }
        if in_experiment && live_active {
            return Decision::Save {
                key,
                config: config.to_owned(),
            };
        }
        Decision::Live
    }

    /// The official `should_return_sticky_value`: whether the stored value still holds
    /// under `enforce_targeting` / `enforce_overrides`, re-evaluating experiment `spec`.
    fn sticky_holds(
        &self,
        rs: &Ruleset,
        user: &User<'_>,
        spec: &str,
        options: StickyOptions<'_>,
    ) -> bool {
        let filters = [
            (options.enforce_targeting, RuleFilter::Targeting),
            (options.enforce_overrides, RuleFilter::Overrides),
        ];
        for (on, filter) in filters {
            if on && self.filtered_value(rs, user, spec, filter) {
                return false;
            }
        }
        true
    }

    fn filtered_value(&self, rs: &Ruleset, user: &User<'_>, spec: &str, f: RuleFilter) -> bool {
        let Some(spec) = self::spec(&rs.configs, spec) else {
            return false;
        };
        let env = self.env();
        let mut sec = Vec::new();
        let mut ev = Evaluator::new(rs, user, &env, &mut sec);
        ev.keep_exposures = false;
        ev.filtered_value(spec, f)
    }
}

/// `isActive` of the dynamic config (experiment) `name`, when it exists and says.
fn spec_is_active(rs: &Ruleset, name: &str) -> Option<bool> {
    spec(&rs.configs, name)?.is_active
}

/// The spec `name` of `specs`. Out of line: one more caller of the (inlined) name lookup
/// here would change how the compiler inlines it into the hot evaluation paths.
#[inline(never)]
fn spec<'s>(specs: &'s Specs, name: &str) -> Option<&'s Spec> {
    specs.find(name).and_then(|i| specs.list.get(i))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{SecondaryExposure, StickyValues};

    /// The official serialisation test's value reads, and writes back every field in the
    /// official order.
    #[test]
    fn official_json_round_trips() {
        let raw = json!({
          "value": true, "json_value": {"header_text": "old user test"},
          "rule_id": "3ZCniK9rvnQyXDQlQ1tGD9", "group_name": "test_group",
          "secondary_exposures": [{"gate": "test_holdout", "gateValue": "true", "ruleID": "default"}],
          "undelegated_secondary_exposures": [], "config_version": 1, "time": 1757974789243_u64,
          "config_delegate": null, "explicit_parameters": null
        });
        let v: StickyValues = serde_json::from_value(raw.clone()).unwrap();
        let e = v.secondary_exposures().get(0).unwrap();
        assert_eq!(
            (e.gate, e.gate_value, e.rule_id),
            ("test_holdout", true, "default")
        );
        assert_eq!(
            v.undelegated_secondary_exposures().map(|u| u.len()),
            Some(0)
        );
        assert_eq!(serde_json::to_value(&v).unwrap(), raw);
        let text = serde_json::to_string(&v).unwrap();
        assert!(text.starts_with(r#"{"value":true,"json_value":"#), "{text}");
        assert!(
            text.ends_with(r#""time":1757974789243,"config_version":1}"#),
            "{text}"
        );
    }

    /// Equality is by content, not by how the exposure strings happen to be stored.
    #[test]
    fn equality_ignores_the_string_table() {
        let e = |gate| SecondaryExposure {
            gate,
            gate_value: true,
            rule_id: "r",
        };
        let mut a = StickyValues::default();
        a.set_secondary_exposures([e("old")]);
        a.set_secondary_exposures([e("g")]);
        let mut b = StickyValues::default();
        b.set_secondary_exposures([e("g")]);
        assert_eq!(a, b);
        b.set_undelegated_secondary_exposures(Some([e("g")]));
        assert_ne!(a, b);
    }

    #[test]
    fn time_reads_as_the_official_reader_reads_it() {
        let t = |v: serde_json::Value| {
            serde_json::from_value::<StickyValues>(json!({"time": v}))
                .unwrap()
                .time
        };
        assert_eq!(t(json!(5)), Some(5));
        assert_eq!(t(json!(1.7e12)), Some(1_700_000_000_000));
        assert_eq!(t(json!(-1)), Some(u64::MAX));
        assert_eq!(t(json!("5")), None);
        assert_eq!(t(json!(null)), None);
    }
}

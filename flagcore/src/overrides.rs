//! Local overrides, kept and matched as Statsig's `StatsigLocalOverrideAdapter` keeps and
//! matches them.
//!
//! Each overridden name holds values by id: the override for everyone is stored under
//! Statsig's own key for "no id" (`__STATSIG_NO_ID__`). For a user, the override of the
//! `userID` wins, then that of the first custom ID (in the user's order) that has one, then
//! the override for everyone. The evaluator asks before anything else, for the top-level
//! entity and for every nested one (a `pass_gate` condition, a layer's delegate, an
//! `experiment_group` condition, a config mapping's target), as Statsig's evaluator does.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value as Json};

use crate::load::client::ParamStore;
use crate::load::{ReturnValue, Spec};
use crate::user::{Attributes, User};

/// Statsig's key of the override for everyone.
const NO_ID: &str = "__STATSIG_NO_ID__";

/// One name's overrides, by id ([`NO_ID`] for everyone).
#[derive(Debug, Clone)]
pub(crate) struct ById<T>(HashMap<String, T>);

impl<T> Default for ById<T> {
    fn default() -> Self {
        ById(HashMap::new())
    }
}

impl<T> ById<T> {
    /// The override that applies to `user`: its `userID`'s, else the first custom ID's that
    /// has one, else the one for everyone.
    pub(crate) fn find(&self, user: &User<'_>) -> Option<&T> {
        let by_id =
            |v: crate::user::Value<'_>| v.uval().with_str(|s| s.and_then(|s| self.0.get(s)));
        if let Some(hit) = user.user_id.and_then(by_id) {
            return Some(hit);
        }
        let hit = match user.custom_ids {
            Attributes::None => None,
            Attributes::Pairs(p) => p.iter().find_map(|(_, v)| by_id(*v)),
            Attributes::Json(m) => m.values().find_map(|v| by_id(crate::user::Value::Json(v))),
        };
        hit.or_else(|| self.0.get(NO_ID))
    }

    fn set(&mut self, id: Option<&str>, v: T) {
        self.0.insert(id.unwrap_or(NO_ID).to_owned(), v);
    }
}

/// An experiment's override: a value, or a group whose value the payload gives.
#[derive(Debug, Clone)]
pub(crate) enum ExperimentOverride {
    Value(ReturnValue),
    Group(Box<str>),
}

impl ExperimentOverride {
    /// The value the override gives to the experiment `spec` (`None`: no value, as when
    /// the experiment is not in the payload or has no rule of that group).
    pub(crate) fn value<'a>(&'a self, spec: Option<&'a Spec>) -> Option<&'a ReturnValue> {
        match self {
            ExperimentOverride::Value(v) => Some(v),
            ExperimentOverride::Group(g) => spec?
                .rules
                .iter()
                .find(|r| r.group_name.as_deref() == Some(&**g))
                .map(|r| &r.return_value),
        }
    }
}

/// All local overrides of a store.
#[derive(Debug, Default, Clone)]
pub(crate) struct Overrides {
    pub(crate) gates: HashMap<String, ById<bool>>,
    pub(crate) configs: HashMap<String, ById<ReturnValue>>,
    pub(crate) experiments: HashMap<String, ById<ExperimentOverride>>,
    pub(crate) layers: HashMap<String, ById<ReturnValue>>,
    pub(crate) param_stores: HashMap<String, ById<Arc<ParamStore>>>,
}

impl Overrides {
    pub(crate) fn is_empty(&self) -> bool {
        self.gates.is_empty()
            && self.configs.is_empty()
            && self.experiments.is_empty()
            && self.layers.is_empty()
            && self.param_stores.is_empty()
    }

    pub(crate) fn set_gate(&mut self, name: &str, value: bool, id: Option<&str>) {
        entry(&mut self.gates, name).set(id, value);
    }

    pub(crate) fn set_config(&mut self, name: &str, value: Map<String, Json>, id: Option<&str>) {
        entry(&mut self.configs, name).set(id, ReturnValue::Object(value));
    }

    pub(crate) fn set_experiment(
        &mut self,
        name: &str,
        value: ExperimentOverride,
        id: Option<&str>,
    ) {
        entry(&mut self.experiments, name).set(id, value);
    }

    pub(crate) fn set_layer(&mut self, name: &str, value: Map<String, Json>, id: Option<&str>) {
        entry(&mut self.layers, name).set(id, ReturnValue::Object(value));
    }

    pub(crate) fn set_param_store(
        &mut self,
        name: &str,
        value: &Map<String, Json>,
        id: Option<&str>,
    ) {
        let store = Arc::new(ParamStore::from_override(name, value));
        entry(&mut self.param_stores, name).set(id, store);
    }

    /// The parameter store override of `name` that applies to `user`.
    pub(crate) fn param_store(&self, name: &str, user: &User<'_>) -> Option<&ParamStore> {
        self.param_stores.get(name)?.find(user).map(|s| &**s)
    }
}

fn entry<'m, T>(map: &'m mut HashMap<String, ById<T>>, name: &str) -> &'m mut ById<T> {
    map.entry(name.to_owned()).or_default()
}

/// Statsig's removal: without an id every override of `name` goes (for everyone and for
/// each id); with one, only that id's.
pub(crate) fn remove<T>(map: &mut HashMap<String, ById<T>>, name: &str, id: Option<&str>) {
    match id {
        None => {
            map.remove(name);
        }
        Some(id) => {
            if let Some(by_id) = map.get_mut(name) {
                by_id.0.remove(id);
                if by_id.0.is_empty() {
                    map.remove(name);
                }
            }
        }
    }
}

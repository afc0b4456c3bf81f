//! Parameter stores (`param_stores`): named parameters whose values are fixed or come from a
//! gate, a dynamic config, an experiment or a layer, resolved for a user the way Statsig's
//! core resolves them.

use serde::Deserialize;
use serde_json::{Map, Value as Json};

use crate::eval::Kind;
use crate::load::client::{ParamStore, ParamTarget};
use crate::store::View;
use crate::user::User;

/// A parameter store of the snapshot ([`View::parameter_store`]), borrowed from it.
///
/// Each parameter is either a fixed value or points at a gate (one value when it passes,
/// another when it fails), a dynamic config, an experiment or a layer (one of its
/// parameters). Reading a parameter evaluates what it points at through the snapshot's
/// convenience methods, so the store's exposure sink receives that evaluation's exposure, as
/// Statsig logs it. The typed getters return the fallback when the parameter is missing, its
/// target gives no value, or the value has another JSON type (Statsig's rules: an integer
/// is an `f64` too, but an `f64` is never an `i64`).
///
/// ```
/// use flagcore::{Store, User};
///
/// let store = Store::new();
/// store.load_json(br#"{"feature_gates": {}, "dynamic_configs": {}, "layer_configs": {},
///   "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1,
///   "param_stores": {"checkout": {"parameters": {
///     "max_items": {"ref_type": "static", "param_type": "number", "value": 25},
///     "banner": {"ref_type": "gate", "param_type": "string", "gate_name": "holiday",
///                "pass_value": "Happy holidays", "fail_value": "Welcome"}}}}}"#)?;
///
/// let snapshot = store.snapshot();
/// let user = User::with_user_id("u1");
/// let params = snapshot.parameter_store("checkout").expect("a store of that name");
/// assert_eq!(params.get_i64(&user, "max_items", 10), 25);
/// assert_eq!(params.get_str(&user, "banner", ""), "Welcome"); // no gate `holiday`: it fails
/// assert!(params.get_bool(&user, "max_items", true)); // a number, not a boolean: the fallback
/// # Ok::<(), flagcore::LoadError>(())
/// ```
#[derive(Clone, Copy)]
pub struct ParameterStore<'a> {
    view: &'a View,
    store: &'a ParamStore,
}

impl core::fmt::Debug for ParameterStore<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ParameterStore")
            .field("name", &self.name())
            .field("parameters", &self.store.params.len())
            .finish()
    }
}

impl View {
    /// The parameter store named `name`, if the payload has one (local overrides of the
    /// store do not apply: see [`View::parameter_store_for_user`]).
    pub fn parameter_store(&self, name: &str) -> Option<ParameterStore<'_>> {
        let store = self.ruleset()?.client.param_store(name)?;
        Some(ParameterStore { view: self, store })
    }

    /// The parameter store named `name` as `user` sees it (Statsig's
    /// `get_parameter_store_for_user` and `get_*_parameter_from_store`): a local override
    /// of the store for that user ([`crate::Store::override_parameter_store`]) replaces the
    /// payload's store, even where the payload has none of that name.
    ///
    /// ```
    /// use flagcore::{Store, User};
    ///
    /// let store = Store::new();
    /// let user = User::with_user_id("u1");
    /// assert!(store.snapshot().parameter_store_for_user(&user, "checkout").is_none());
    /// let params = serde_json::json!({"banner": "Welcome"});
    /// store.override_parameter_store("checkout", params.as_object().unwrap().clone(), Some("u1"));
    /// let snapshot = store.snapshot();
    /// let checkout = snapshot.parameter_store_for_user(&user, "checkout").unwrap();
    /// assert_eq!(checkout.get_str(&user, "banner", ""), "Welcome");
    /// assert_eq!(checkout.parameter_type("banner"), Some("string"));
    /// ```
    pub fn parameter_store_for_user(
        &self,
        user: &User<'_>,
        name: &str,
    ) -> Option<ParameterStore<'_>> {
        if let Some(store) = self
            .local_overrides()
            .and_then(|o| o.param_store(name, user))
        {
            return Some(ParameterStore { view: self, store });
        }
        self.parameter_store(name)
    }

    /// The names of the payload's parameter stores, in name order.
    pub fn parameter_store_names(&self) -> impl Iterator<Item = &str> {
        self.ruleset()
            .into_iter()
            .flat_map(|rs| rs.client.param_stores.iter().map(|s| &*s.name))
    }
}

impl<'a> ParameterStore<'a> {
    /// The store's name.
    pub fn name(&self) -> &'a str {
        &self.store.name
    }

    /// The parameters' names, in name order.
    pub fn parameter_names(&self) -> impl Iterator<Item = &'a str> {
        self.store.params.iter().map(|p| &*p.name)
    }

    /// The declared type of a parameter (`string`, `boolean`, `number`, `object`, `array`).
    pub fn parameter_type(&self, parameter: &str) -> Option<&'a str> {
        self.store.param(parameter).map(|p| &*p.param_type)
    }

    /// The value of `parameter` for `user`, of whatever JSON type it is; `None` when the
    /// store has no such parameter or its target has no such value.
    pub fn get(&self, user: &User<'_>, parameter: &str) -> Option<&'a Json> {
        let view = self.view;
        match &self.store.param(parameter)?.target {
            ParamTarget::Static(v) => Some(v),
            ParamTarget::Gate { gate, pass, fail } => Some(if view.check_gate(user, gate) {
                pass
            } else {
                fail
            }),
            ParamTarget::DynamicConfig { config, param } => {
                view.dynamic_config(user, config).get(param)
            }
            ParamTarget::Experiment { experiment, param } => {
                view.experiment(user, experiment).get(param)
            }
            // Layers log per parameter read; a store's reference reads without logging.
            ParamTarget::Layer { layer, param } => {
                view.evaluate_tls(user, Kind::Layer, layer).get(param)
            }
        }
    }

    /// A boolean parameter, or `fallback`.
    pub fn get_bool(&self, user: &User<'_>, parameter: &str, fallback: bool) -> bool {
        self.get(user, parameter)
            .and_then(Json::as_bool)
            .unwrap_or(fallback)
    }

    /// A numeric parameter as `f64`, or `fallback`.
    pub fn get_f64(&self, user: &User<'_>, parameter: &str, fallback: f64) -> f64 {
        self.get(user, parameter)
            .and_then(Json::as_f64)
            .unwrap_or(fallback)
    }

    /// An integer parameter (one that fits an `i64`), or `fallback`.
    pub fn get_i64(&self, user: &User<'_>, parameter: &str, fallback: i64) -> i64 {
        self.get(user, parameter)
            .and_then(Json::as_i64)
            .unwrap_or(fallback)
    }

    /// A string parameter, borrowed from the snapshot, or `fallback`.
    pub fn get_str<'b>(&self, user: &User<'_>, parameter: &str, fallback: &'b str) -> &'b str
    where
        'a: 'b,
    {
        self.get(user, parameter)
            .and_then(Json::as_str)
            .unwrap_or(fallback)
    }

    /// An object parameter, borrowed from the snapshot.
    pub fn get_object(&self, user: &User<'_>, parameter: &str) -> Option<&'a Map<String, Json>> {
        self.get(user, parameter).and_then(Json::as_object)
    }

    /// An array parameter, borrowed from the snapshot.
    pub fn get_array(&self, user: &User<'_>, parameter: &str) -> Option<&'a [Json]> {
        self.get(user, parameter)
            .and_then(Json::as_array)
            .map(Vec::as_slice)
    }

    /// A parameter deserialised as `T` (it may borrow from the snapshot); `None` when
    /// missing or of another shape.
    pub fn get_as<T: Deserialize<'a>>(&self, user: &User<'_>, parameter: &str) -> Option<T> {
        T::deserialize(self.get(user, parameter)?).ok()
    }
}

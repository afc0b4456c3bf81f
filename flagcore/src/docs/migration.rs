//! # Migrating from Statsig's server SDK
//!
//! Each call of the official server SDK (`statsig-rust`, and the server SDKs built on its
//! core) and what does the same with flagcore. `statsig` is the official `Statsig`
//! instance; `store` a [`Store`](crate::Store) kept fresh by `flagcore-sync`, `view` a
//! [`Snapshot`](crate::Snapshot) (`store.snapshot()`, one per request) or any
//! [`View`](crate::View). Answers are the same for the same payload and user (see
//! [`super::semantics`]).
//!
//! ## Set-up
//!
//! | official | flagcore |
//! | --- | --- |
//! | `Statsig::new(secret, options)`, `initialize()` | `flagcore_sync` polls Statsig (or a file) into a `Store`; `Store::load_json(bytes)` installs a payload you have |
//! | `StatsigOptions::environment` | [`Options::environment`](crate::Options) |
//! | `StatsigOptions::event_logging_adapter`, `disable_all_logging` | [`Options::exposure_sink`](crate::Options) (`flagcore_sync::EventLogger`, or your own [`ExposureSink`](crate::ExposureSink)); no sink logs nothing |
//! | `shutdown()`, `flush_events()` | `EventLogger::shutdown(deadline)` |
//! | `StatsigUser::with_user_id(id)`, `StatsigUserBuilder` | [`User::with_user_id`](crate::User) and its setters (borrowed, no allocation); [`UserData`](crate::UserData) for Statsig's user JSON |
//!
//! ## Evaluating
//!
//! | official | flagcore |
//! | --- | --- |
//! | `check_gate(user, name)` | [`view.check_gate(user, name)`](crate::View::check_gate) |
//! | `get_feature_gate(user, name)` | [`view.gate(user, name)`](crate::View::gate): value, rule id, reason |
//! | `get_dynamic_config(user, name)` | [`view.dynamic_config(user, name)`](crate::View::dynamic_config) |
//! | `get_experiment(user, name)` | [`view.experiment(user, name)`](crate::View::experiment): value, group name, active state |
//! | `get_layer(user, name)` | [`view.layer(user, name)`](crate::View::layer), a [`Layer`](crate::Layer) |
//! | `…_with_options(…, disable_exposure_logging: true)` | [`view.evaluate(&mut scratch, user, kind, name, Exposures::Suppress)`](crate::View::evaluate); for layers [`view.layer_with(user, name, Exposures::Suppress)`](crate::View::layer_with) |
//! | `evaluation_details.reason` | [`Evaluation::reason`](crate::Evaluation::reason) |
//! | `__evaluation.secondary_exposures` | [`View::evaluate`](crate::View::evaluate) with a [`Scratch`](crate::Scratch): [`Evaluation::secondary_exposures`](crate::Evaluation::secondary_exposures) |
//! | `get_client_init_response_with_options(user, options)` | [`view.client_initialize_response(user, &options, &mut buf)`](crate::View::client_initialize_response) |
//! | `get_parameter_store(name)` | [`view.parameter_store(name)`](crate::View::parameter_store) |
//! | `get_parameter_store_for_user(user, name)`, `get_*_parameter_from_store(user, store, p, ..)` | [`view.parameter_store_for_user(user, name)`](crate::View::parameter_store_for_user) (local overrides apply), then its typed reads |
//! | `get_experiment_groups(name)` | [`view.experiment_groups(name)`](crate::View::experiment_groups): active state, each group's name, rule id, unit type and value (`None` for a name that is not an experiment) |
//! | `get_experiment_by_group_name(name, group)` | [`view.experiment_by_group_name(name, group)`](crate::View::experiment_by_group_name) |
//! | `get_experiment_by_group_id_advanced(name, rule_id)` | [`view.experiment_by_group_id(name, rule_id)`](crate::View::experiment_by_group_id) |
//!
//! ## Reading parameters
//!
//! On every result ([`Evaluation`](crate::Evaluation), [`JsonObject`](crate::JsonObject))
//! and on a [`Layer`](crate::Layer), with the official fallback rules (a missing
//! parameter or one of another type gives the fallback; integers read as `f64`, but a
//! float, even `3.0`, is no `i64`):
//!
//! | official | flagcore |
//! | --- | --- |
//! | `config.get_bool(p, fallback)` | `config.get_bool(p, fallback)` |
//! | `get_f64`, `get_i64` | `get_f64`, `get_i64` |
//! | `get_string(p, fallback.to_string())` | `get_str(p, fallback)` (borrowed, no copy) |
//! | `get_opt::<T>(p)` | `get_as::<T>(p)` (`T` may borrow: `&str`, `Vec<&str>`) |
//! | `get::<T>(p, fallback)` | `get_or(p, fallback)` |
//! | `get_array`, `get_object` | `get_as::<Vec<_>>`, `get_as::<serde_json::Map<_, _>>`, or `get(p)` for the raw [`serde_json::Value`] |
//! | `layer.get_raw_value(p)` | `layer.get(p)` |
//! | `config.value` | [`Evaluation::json`](crate::Evaluation::json) (borrowed; `to_map()` copies) |
//!
//! `serde_json` is re-exported as `flagcore::serde_json`.
//!
//! ## Exposures
//!
//! | official | flagcore |
//! | --- | --- |
//! | `check_gate`, `get_*` log an exposure | the same calls hand the exposure to the sink |
//! | `layer.get*(p)` logs a layer exposure of `p` when it returns a value | [`Layer`](crate::Layer)'s reads do the same; `layer.evaluation()` reads without logging |
//! | `manually_log_gate_exposure(user, name)` (and the config and experiment twins) | evaluate with `Exposures::Suppress`, later [`view.log_exposure(user, &result)`](crate::View::log_exposure) |
//! | `manually_log_layer_parameter_exposure(user, layer, p)` | [`layer.log_exposure(p)`](crate::Layer::log_exposure) or [`view.log_layer_exposure(user, &result, p)`](crate::View::log_layer_exposure) |
//!
//! ## Overrides
//!
//! An override is for everyone (`None`) or for an id: it applies to a user whose `userID`,
//! or any of whose custom IDs, is that id (the `userID`'s override first, then a custom
//! ID's, then the one for everyone). It answers wherever the entity is evaluated: nested
//! gates, a layer's delegate, `experiment_group` conditions. Results report reason
//! [`Reason::LocalOverride`](crate::Reason) and rule id `override`, as Statsig's do.
//!
//! | official | flagcore |
//! | --- | --- |
//! | `override_gate(name, value, id)` | [`store.override_gate(name, value, id)`](crate::Store::override_gate) |
//! | `override_dynamic_config(name, value, id)` | [`store.override_config(name, value, id)`](crate::Store::override_config) |
//! | `override_experiment(name, value, id)` | [`store.override_experiment(name, value, id)`](crate::Store::override_experiment) |
//! | `override_experiment_by_group_name(name, group, id)` | [`store.override_experiment_by_group_name(name, group, id)`](crate::Store::override_experiment_by_group_name) |
//! | `override_layer(name, value, id)` | [`store.override_layer(name, value, id)`](crate::Store::override_layer) |
//! | `override_parameter_store(name, value, id)` | [`store.override_parameter_store(name, value, id)`](crate::Store::override_parameter_store) |
//! | `remove_gate_override(name, id)` and the config, experiment, layer twins | [`store.remove_override(Kind::Gate, name, id)`](crate::Store::remove_override) (`Kind::DynamicConfig`, `Kind::Experiment`, `Kind::Layer`); `None` removes every override of the name |
//! | `remove_parameter_store_override(name, id)` | [`store.remove_parameter_store_override(name, id)`](crate::Store::remove_parameter_store_override) |
//! | `remove_all_overrides()` | [`store.clear_overrides()`](crate::Store::clear_overrides) |
//! | `ClientInitResponseOptions::include_local_overrides` | [`ClientInitOptions::include_local_overrides`](crate::ClientInitOptions::include_local_overrides) |
//!
//! ```
//! use flagcore::serde_json::json;
//! use flagcore::{Attributes, ClientInitOptions, Kind, Reason, Store, User, Value};
//!
//! let store = Store::new();
//! store.load_json(br#"{"feature_gates": {}, "layer_configs": {},
//!   "dynamic_configs": {"checkout_test": {"type": "dynamic_config", "entity": "experiment",
//!     "salt": "s", "enabled": true, "defaultValue": {}, "idType": "userID", "isActive": true,
//!     "rules": [
//!       {"id": "g0", "name": "g0", "groupName": "Control", "isExperimentGroup": true,
//!        "passPercentage": 100, "conditions": [], "returnValue": {"color": "blue"}, "idType": "userID"},
//!       {"id": "g1", "name": "g1", "groupName": "Test", "isExperimentGroup": true,
//!        "passPercentage": 100, "conditions": [], "returnValue": {"color": "green"}, "idType": "userID"}]}},
//!   "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1}"#)?;
//!
//! // statsig.override_gate("new_checkout", true, Some("company-7"))
//! store.override_gate("new_checkout", true, Some("company-7"));
//! // statsig.override_experiment_by_group_name("checkout_test", "Test", Some("qa-user"))
//! store.override_experiment_by_group_name("checkout_test", "Test", Some("qa-user"));
//! // statsig.override_dynamic_config("pricing", {"currency": "EUR"}, None)
//! let eur = json!({"currency": "EUR"});
//! store.override_config("pricing", eur.as_object().unwrap().clone(), None);
//!
//! let ids = [("companyID", Value::Str("company-7"))];
//! let employee = User::with_user_id("u1").custom_ids(Attributes::Pairs(&ids));
//! let qa = User::with_user_id("qa-user");
//! let view = store.snapshot();
//! assert!(view.check_gate(&employee, "new_checkout"));
//! let e = view.experiment(&qa, "checkout_test");
//! assert_eq!((e.rule_id(), e.reason()), ("override", Reason::LocalOverride));
//! assert_eq!(e.get_str("color", ""), "green");
//! assert_eq!(view.dynamic_config(&qa, "pricing").get_str("currency", "USD"), "EUR");
//!
//! // get_client_init_response_with_options(user, {include_local_overrides: true})
//! let mut body = Vec::new();
//! let options = ClientInitOptions::default().include_local_overrides(true);
//! view.client_initialize_response(&qa, &options, &mut body);
//!
//! // statsig.get_experiment_groups("checkout_test"), get_experiment_by_group_name(..)
//! let groups: Vec<_> = view.experiment_groups("checkout_test").unwrap().iter().collect();
//! assert_eq!((groups[0].group_name, groups[0].rule_id), ("Control", "g0"));
//! let control = view.experiment_by_group_name("checkout_test", "Control");
//! assert_eq!(control.get_str("color", ""), "blue");
//! assert_eq!(view.experiment_by_group_id("checkout_test", "g1").group_name(), Some("Test"));
//!
//! // statsig.remove_gate_override("new_checkout", None); remove_all_overrides()
//! store.remove_override(Kind::Gate, "new_checkout", None);
//! assert!(!store.snapshot().check_gate(&employee, "new_checkout"));
//! store.clear_overrides();
//! # Ok::<(), flagcore::LoadError>(())
//! ```
//!
//! Statsig's `ExperimentGroup` has no group size, so neither has
//! [`ExperimentGroup`](crate::ExperimentGroup).
//!
//! ## Sticky assignments (persistent storage)
//!
//! The official core keeps a user in the group first assigned when it is given a
//! `PersistentStorage` and the user's values. flagcore's core takes the values and returns
//! what to store ([`crate::sticky`]); `flagcore_sync::sticky` has the storages and the
//! loop. The rules, the storage key and the stored JSON are the official ones: values
//! written by one load in the other.
//!
//! | official | flagcore |
//! | --- | --- |
//! | `StatsigOptions::persistent_storage` (`impl PersistentStorage`: `load`, `save`, `delete`) | `flagcore_sync::sticky::PersistentStorage` (`MemoryStorage`, `FileStorage`, or yours), passed per call |
//! | `get_persistent_storage_key(user, id_type)` | [`sticky::storage_key(user, id_type)`](crate::sticky::storage_key); the spec's type from [`view.id_type(kind, name)`](crate::View::id_type) |
//! | `StickyValues`, `UserPersistedValues` | [`StickyValues`](crate::sticky::StickyValues) (same JSON), [`UserPersistedValues`](crate::sticky::UserPersistedValues) |
//! | `get_experiment_with_options(user, name, ExperimentEvaluationOptions { user_persisted_values, enforce_targeting, enforce_overrides, .. })` | [`view.experiment_sticky(scratch, user, name, StickyOptions { persisted, enforce_targeting, enforce_overrides, .. })`](crate::View::experiment_sticky) → result and [`Change`](crate::sticky::Change) to store; or `flagcore_sync::sticky::experiment(storage, view, …)`, which loads and stores |
//! | `get_layer_with_options(user, name, LayerEvaluationOptions { user_persisted_values, .. })` | [`view.layer_sticky(user, name, options)`](crate::View::layer_sticky); `flagcore_sync::sticky::layer` |
//! | `details.reason == "Persisted"` | [`Reason::Persisted`](crate::Reason::Persisted) |
//! | the storage's `save` / `delete` calls made during evaluation | the returned [`Change`](crate::sticky::Change): `Save { key, config, values }`, `Delete { key, config }`, `None` |
//!
//! One difference in use: the official core asks for no stickiness when it is given no
//! values (`None`), and a storage's `load` returns `None` for a user with nothing stored,
//! so a first assignment is saved only if the caller passes an empty map. Pass
//! `Some(&empty)` (as `flagcore_sync::sticky::experiment` does) for such users.
//!
//! ```
//! use std::collections::HashMap;
//! use flagcore::sticky::{storage_key, Change, StickyOptions, UserPersistedValues};
//! use flagcore::{Kind, Reason, Scratch, Store, User};
//!
//! // Official:
//! //   let values = storage.get_values_for_user(&user, "userID");
//! //   let options = ExperimentEvaluationOptions { user_persisted_values: values, ..Default::default() };
//! //   let exp = statsig.get_experiment_with_options(&user, "checkout_exp", options);
//! // flagcore (a HashMap standing in for your storage):
//! let mut storage: HashMap<String, UserPersistedValues> = HashMap::new();
//! let store = Store::new();
//! store.load_json(br#"{"feature_gates": {}, "layer_configs": {}, "experiment_to_layer": {},
//!   "condition_map": {"all": {"type": "public", "idType": "userID"}},
//!   "dynamic_configs": {"checkout_exp": {"type": "dynamic_config", "entity": "experiment",
//!     "salt": "s", "enabled": true, "defaultValue": {}, "idType": "userID", "isActive": true,
//!     "rules": [{"id": "exp-Test", "name": "Test", "passPercentage": 100, "conditions": ["all"],
//!       "returnValue": {"color": "blue"}, "idType": "userID", "groupName": "Test",
//!       "isExperimentGroup": true}]}},
//!   "has_updates": true, "time": 1}"#)?;
//! let user = User::with_user_id("u1");
//! let snapshot = store.snapshot();
//! let mut scratch = Scratch::new();
//! for round in 0..2 {
//!     let id_type = snapshot.id_type(Kind::Experiment, "checkout_exp").unwrap_or("userID");
//!     let key = storage_key(&user, id_type).expect("the user has a user id");
//!     let values = storage.get(&key).cloned().unwrap_or_default();
//!     let (exp, change) = snapshot.experiment_sticky(&mut scratch, &user, "checkout_exp",
//!         StickyOptions::with(&values));
//!     assert_eq!(exp.get_str("color", "grey"), "blue");
//!     assert_eq!(exp.reason() == Reason::Persisted, round == 1); // stored the first time
//!     match change {
//!         Change::Save { key, config, values } => {
//!             storage.entry(key).or_default().insert(config, *values);
//!         }
//!         Change::Delete { key, config } => {
//!             storage.entry(key).or_default().remove(&config);
//!         }
//!         Change::None => {}
//!     }
//! }
//! # Ok::<(), flagcore::LoadError>(())
//! ```

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
//! | `get_client_init_response(user)`, `get_parameter_store(name)` | not in this crate yet |
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
//! | official | flagcore |
//! | --- | --- |
//! | `override_gate(name, value, Some(user_id))` | [`store.override_gate(name, value, Some(user_id))`](crate::Store::override_gate) (`None`: everyone) |
//! | `override_dynamic_config`, `override_experiment` | [`store.override_config`](crate::Store::override_config) |
//! | `override_layer` | [`store.override_layer`](crate::Store::override_layer) |
//! | `remove_*_override`, `remove_all_overrides` | [`store.remove_override`](crate::Store::remove_override), [`store.clear_overrides`](crate::Store::clear_overrides) |
//!
//! Not yet: overrides by custom ID, `override_experiment_by_group_name`, listing an
//! experiment's groups, persistent storage (sticky assignments).

//! The store: the active ruleset behind an atomic pointer, snapshots, local overrides and
//! exposure records.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock};

mod cell;

use cell::{Held, StateCell};
use serde_json::{Map, Value as Json};

use crate::eval::{typed_as, typed_bool, typed_f64, typed_i64, typed_str};
use crate::eval::{
    Abort, Answer, Evaluator, Found, Kind, NoTrace, RawExposure, Record, Trace, TraceBuilder,
    Tracer,
};
use crate::eval::{Env, IdLists, Options, RulesetUpdate, SystemClock};
use crate::eval::{Evaluation, JsonObject, Reason, SecondaryExposures, ValueShape};
use crate::load::{Limits, LoadError};
use crate::load::{ReturnValue, Ruleset, Spec, SID_DEFAULT, SID_EMPTY};
use crate::overrides::{remove, ExperimentOverride, Overrides};
use crate::user::User;

/// Reusable buffer for the secondary exposures of one evaluation.
///
/// Evaluating with the same `Scratch` over and over allocates nothing once the buffer has
/// grown to the deepest chain of nested gates seen. An [`Evaluation`] borrows the scratch it
/// was evaluated with, so one scratch serves one live result at a time.
#[derive(Debug, Default)]
pub struct Scratch {
    pub(crate) sec: Vec<RawExposure>,
}

impl Scratch {
    /// An empty scratch buffer with room for a typical chain of nested gates.
    pub fn new() -> Scratch {
        Scratch {
            sec: Vec::with_capacity(32),
        }
    }
}

/// Whether an evaluation hands an exposure record to the store's [`ExposureSink`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Exposures {
    /// Log the exposure (the default).
    #[default]
    Log,
    /// Evaluate without logging (for example to render an admin page).
    Suppress,
}

/// One exposure: what Statsig's exposure event carries, borrowed for the duration of the
/// [`ExposureSink::log`] call. Copy out what you keep.
///
/// Gates, dynamic configs and experiments are exposed when evaluated; a layer is exposed
/// per parameter read ([`Layer::get_bool`] and the other reads of [`View::layer`]), as
/// Statsig's SDKs do, and never by its evaluation alone. An exposure logged later by
/// [`View::log_exposure`], [`View::log_layer_exposure`] or [`Layer::log_exposure`] is
/// `manual` (Statsig's `isManualExposure`).
#[derive(Clone, Copy, Debug)]
pub struct Exposure<'a> {
    /// The user the evaluation was for.
    pub user: &'a User<'a>,
    /// The full result: name, value, rule id, group, secondary exposures, ruleset time.
    pub evaluation: &'a Evaluation<'a>,
    /// For a layer exposure: the parameter that was read (`None` for every other kind).
    pub parameter: Option<&'a str>,
    /// Logged by an explicit call after the evaluation, not by the evaluation or read.
    pub manual: bool,
}

impl<'a> Exposure<'a> {
    /// The exposure of `evaluation` (a gate, config or experiment) logged by evaluating it.
    pub fn new(user: &'a User<'a>, evaluation: &'a Evaluation<'a>) -> Exposure<'a> {
        Exposure {
            user,
            evaluation,
            parameter: None,
            manual: false,
        }
    }
}

/// Receives exposure records. Called on the evaluating thread, right after the evaluation;
/// implementations must be quick and must not block (queue the record and return).
pub trait ExposureSink: Send + Sync {
    /// Handles one exposure.
    fn log(&self, exposure: &Exposure<'_>);

    /// Told of an evaluation whose exposure was not logged because the caller suppressed
    /// it ([`Exposures::Suppress`]): a gate, config or experiment evaluated so, a layer
    /// evaluated so and each of its parameters then read. Statsig counts these per name in
    /// its `statsig::non_exposed_checks` event. Does nothing by default.
    fn not_logged(&self, kind: Kind, name: &str) {
        let _ = (kind, name);
    }
}

/// One consistent state of a [`Store`]: the ruleset and everything evaluated with it (ID
/// lists, local overrides, options). It carries every evaluation method; reach it through
/// a [`Snapshot`] (borrowed from the store, cheapest) or an [`OwnedSnapshot`] (`'static`
/// and `Send`, to hold across `.await`), which both dereference to it. A function that
/// evaluates can take `&View` and accept either.
///
/// ```
/// use flagcore::{Store, User, View};
///
/// fn banner(flags: &View, user: &User<'_>) -> &'static str {
///     if flags.check_gate(user, "new_banner") { "new" } else { "old" }
/// }
///
/// let store = Store::new();
/// let user = User::with_user_id("u1");
/// assert_eq!(banner(&store.snapshot(), &user), "old");
/// assert_eq!(banner(&store.snapshot_owned(), &user), "old");
/// ```
pub struct View {
    ruleset: Option<Arc<Ruleset>>,
    id_lists: Arc<IdLists>,
    overrides: Arc<Overrides>,
    options: Arc<Options>,
    /// No exposure sink and no local overrides: a gate check needs only its boolean.
    plain: bool,
}

impl View {
    fn new(
        ruleset: Option<Arc<Ruleset>>,
        id_lists: Arc<IdLists>,
        overrides: Arc<Overrides>,
        options: Arc<Options>,
    ) -> View {
        let plain = options.exposure_sink.is_none() && overrides.is_empty();
        View {
            ruleset,
            id_lists,
            overrides,
            options,
            plain,
        }
    }

    fn empty(options: Arc<Options>) -> View {
        View::new(None, Arc::default(), Arc::default(), options)
    }
}

impl core::fmt::Debug for View {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("View")
            .field("ruleset_time", &self.ruleset().map(Ruleset::time))
            .finish()
    }
}

/// The evaluation engine's entry point: holds the active [`Ruleset`] (with ID lists and
/// local overrides) behind an atomic pointer.
///
/// Readers never block and never see a half-installed state: [`Store::snapshot`] gives one
/// consistent view, and installing a ruleset swaps a pointer. `Store` is `Send + Sync`;
/// share it with an `Arc`.
///
/// ```
/// use flagcore::{Store, User};
///
/// let store = Store::new();
/// assert!(!store.check_gate(&User::with_user_id("u1"), "new_checkout")); // no ruleset yet
///
/// store.load_json(br#"{"feature_gates": {"new_checkout": {"type": "feature_gate",
///     "entity": "feature_gate", "salt": "s", "enabled": true, "defaultValue": false,
///     "idType": "userID", "rules": [{"id": "everyone", "name": "all", "passPercentage": 100,
///     "conditions": ["c"], "returnValue": true, "idType": "userID"}]}},
///   "dynamic_configs": {}, "layer_configs": {},
///   "condition_map": {"c": {"type": "public", "idType": "userID"}}, "experiment_to_layer": {},
///   "has_updates": true, "time": 1}"#)?;
/// assert!(store.check_gate(&User::with_user_id("u1"), "new_checkout"));
/// # Ok::<(), flagcore::LoadError>(())
/// ```
pub struct Store {
    state: StateCell,
    options: Arc<Options>,
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl core::fmt::Debug for Store {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = self.state.load();
        f.debug_struct("Store")
            .field("ruleset_time", &s.ruleset.as_ref().map(|r| r.time()))
            .field("options", &self.options)
            .finish()
    }
}

impl Store {
    /// An empty store with default [`Options`]: every check returns the default value with
    /// [`Reason::NoRuleset`] until a ruleset is installed.
    pub fn new() -> Store {
        Store::with_options(Options::default())
    }

    /// An empty store with the given options.
    pub fn with_options(options: Options) -> Store {
        let options = Arc::new(options);
        Store {
            state: StateCell::new(View::empty(options.clone())),
            options,
        }
    }

    /// The options this store evaluates with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Parses `bytes` as a `download_config_specs` payload (default [`Limits`]) and installs
    /// it. On error nothing changes: the current ruleset keeps serving.
    pub fn load_json(&self, bytes: &[u8]) -> Result<Arc<Ruleset>, LoadError> {
        self.load_json_with_limits(bytes, &Limits::default())
    }

    /// Like [`Store::load_json`] with explicit limits.
    pub fn load_json_with_limits(
        &self,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<Arc<Ruleset>, LoadError> {
        let rs = Arc::new(Ruleset::from_json_with_limits(bytes, limits)?);
        self.install(rs.clone());
        Ok(rs)
    }

    /// Installs a compiled ruleset. Readers holding a [`Snapshot`] keep the one they have;
    /// new snapshots see this one. Never blocks readers.
    /// The store's [`InstallListener`](crate::InstallListener), if any, is told after the swap.
    pub fn install(&self, ruleset: impl Into<Arc<Ruleset>>) {
        let ruleset = ruleset.into();
        let previous = self.state.rcu(|s| {
            View::new(
                Some(ruleset.clone()),
                s.id_lists.clone(),
                s.overrides.clone(),
                s.options.clone(),
            )
        });
        if let Some(listener) = &self.options.install_listener {
            listener.installed(RulesetUpdate {
                previous_time: previous.ruleset.as_deref().map(Ruleset::time),
                time: ruleset.time(),
            });
        }
    }

    /// The active ruleset, if any.
    pub fn ruleset(&self) -> Option<Arc<Ruleset>> {
        self.state.load().ruleset.clone()
    }

    /// Replaces all ID lists (for `in_segment_list` conditions).
    pub fn set_id_lists(&self, lists: IdLists) {
        let lists = Arc::new(lists);
        self.state.rcu(|s| {
            View::new(
                s.ruleset.clone(),
                lists.clone(),
                s.overrides.clone(),
                s.options.clone(),
            )
        });
    }

    /// Edits the ID lists: `edit` gets a copy of the current lists, and the edited copy is
    /// installed atomically. (`edit` may run more than once if writers race.)
    pub fn update_id_lists(&self, mut edit: impl FnMut(&mut IdLists)) {
        self.state.rcu(|s| {
            let mut lists = (*s.id_lists).clone();
            edit(&mut lists);
            View::new(
                s.ruleset.clone(),
                Arc::new(lists),
                s.overrides.clone(),
                s.options.clone(),
            )
        });
    }

    /// The current ID lists.
    pub fn id_lists(&self) -> Arc<IdLists> {
        self.state.load().id_lists.clone()
    }

    fn edit_overrides(&self, mut edit: impl FnMut(&mut Overrides)) {
        self.state.rcu(|s| {
            let mut o = (*s.overrides).clone();
            edit(&mut o);
            View::new(
                s.ruleset.clone(),
                s.id_lists.clone(),
                Arc::new(o),
                s.options.clone(),
            )
        });
    }

    /// Forces a gate's value (Statsig's `override_gate`): for everyone (`id = None`) or for
    /// the users whose `userID` or any custom ID is `id`. A user's `userID` override wins,
    /// then a custom ID's, then the one for everyone. The override answers wherever the
    /// gate is evaluated, nested gates (`pass_gate` conditions) included; results report
    /// [`Reason::LocalOverride`] and rule id `override`.
    ///
    /// ```
    /// use flagcore::{Attributes, Reason, Store, User, Value};
    ///
    /// let store = Store::new();
    /// store.override_gate("new_checkout", true, Some("company-7"));
    /// let ids = [("companyID", Value::Str("company-7"))];
    /// let user = User::with_user_id("u1").custom_ids(Attributes::Pairs(&ids));
    /// let snapshot = store.snapshot();
    /// let gate = snapshot.gate(&user, "new_checkout");
    /// assert!(gate.value());
    /// assert_eq!((gate.rule_id(), gate.reason()), ("override", Reason::LocalOverride));
    /// assert!(!snapshot.check_gate(&User::with_user_id("u2"), "new_checkout"));
    /// ```
    pub fn override_gate(&self, name: &str, value: bool, id: Option<&str>) {
        self.edit_overrides(|o| o.set_gate(name, value, id));
    }

    /// Forces the value of a dynamic config (Statsig's `override_dynamic_config`), for
    /// everyone or for one id as [`Store::override_gate`]. Experiments have their own
    /// overrides ([`Store::override_experiment`]), as in Statsig.
    pub fn override_config(&self, name: &str, value: Map<String, Json>, id: Option<&str>) {
        self.edit_overrides(|o| o.set_config(name, value.clone(), id));
    }

    /// Forces the value of an experiment (Statsig's `override_experiment`), for everyone or
    /// for one id as [`Store::override_gate`]. The result has no group; a layer that
    /// delegates to the experiment takes the value too.
    pub fn override_experiment(&self, name: &str, value: Map<String, Json>, id: Option<&str>) {
        self.edit_overrides(|o| {
            o.set_experiment(
                name,
                ExperimentOverride::Value(ReturnValue::Object(value.clone())),
                id,
            )
        });
    }

    /// Puts users in an experiment group (Statsig's `override_experiment_by_group_name`):
    /// the experiment's value becomes the value of the payload's first rule of that group
    /// name, looked up in the ruleset each evaluation sees (empty when there is none). As
    /// with Statsig, the result reports rule id `override` and no group name.
    ///
    /// ```
    /// use flagcore::{Reason, Store, User};
    ///
    /// let store = Store::new();
    /// store.override_experiment_by_group_name("checkout_test", "Test", None);
    /// let snapshot = store.snapshot();
    /// let e = snapshot.experiment(&User::with_user_id("u1"), "checkout_test");
    /// assert_eq!(e.reason(), Reason::LocalOverride);
    /// assert!(e.json().is_empty()); // no ruleset: no group of that name
    /// ```
    pub fn override_experiment_by_group_name(&self, name: &str, group: &str, id: Option<&str>) {
        self.edit_overrides(|o| {
            o.set_experiment(name, ExperimentOverride::Group(group.into()), id)
        });
    }

    /// Forces the value of a layer (Statsig's `override_layer`).
    pub fn override_layer(&self, name: &str, value: Map<String, Json>, id: Option<&str>) {
        self.edit_overrides(|o| o.set_layer(name, value.clone(), id));
    }

    /// Replaces a parameter store's parameters (Statsig's `override_parameter_store`) for
    /// [`View::parameter_store_for_user`] and its reads: each value shaped like a payload
    /// parameter (`{"ref_type": "gate", "param_type": .., "gate_name": .., ..}`) is that
    /// parameter; any other value is a fixed parameter of its JSON type. Parameters the
    /// override leaves out are absent. Client initialize responses are unaffected, as in
    /// Statsig.
    ///
    /// ```
    /// use flagcore::{Store, User};
    ///
    /// let store = Store::new();
    /// let params = serde_json::json!({"max_items": 50});
    /// store.override_parameter_store("checkout", params.as_object().unwrap().clone(), None);
    /// let snapshot = store.snapshot();
    /// let user = User::with_user_id("u1");
    /// let checkout = snapshot.parameter_store_for_user(&user, "checkout").unwrap();
    /// assert_eq!(checkout.get_i64(&user, "max_items", 10), 50);
    /// ```
    pub fn override_parameter_store(&self, name: &str, value: Map<String, Json>, id: Option<&str>) {
        self.edit_overrides(|o| o.set_param_store(name, &value, id));
    }

    /// Removes overrides of `name` as `kind` (Statsig's `remove_gate_override` and its
    /// config, experiment and layer twins): with `id = None` every override of that name,
    /// for everyone and for each id; with an id, only that id's.
    pub fn remove_override(&self, kind: Kind, name: &str, id: Option<&str>) {
        self.edit_overrides(|o| match kind {
            Kind::Gate => remove(&mut o.gates, name, id),
            Kind::DynamicConfig => remove(&mut o.configs, name, id),
            Kind::Experiment => remove(&mut o.experiments, name, id),
            Kind::Layer => remove(&mut o.layers, name, id),
        });
    }

    /// Removes parameter store overrides as [`Store::remove_override`] removes the others
    /// (Statsig's `remove_parameter_store_override`).
    pub fn remove_parameter_store_override(&self, name: &str, id: Option<&str>) {
        self.edit_overrides(|o| remove(&mut o.param_stores, name, id));
    }

    /// Removes every local override (Statsig's `remove_all_overrides`).
    pub fn clear_overrides(&self) {
        self.edit_overrides(|o| *o = Overrides::default());
    }

    /// A consistent view of the current state. Nearly free: one atomic load of the store's
    /// generation and a thread-local reference count (each thread caches the state it last
    /// saw, see [`docs::performance`](crate::docs::performance)); a snapshot taken after an
    /// install returns sees the new ruleset. Take one per request, not forever: an old
    /// snapshot keeps its ruleset alive.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            state: self.state.held(),
            store: PhantomData,
        }
    }

    /// A consistent view of the current state that owns its reference: `'static`, `Send`
    /// and `Sync`, so it can be held across `.await` or moved to another thread. It costs
    /// one reference-count increment (and decrement when dropped) on a count shared by all
    /// threads; prefer [`Store::snapshot`] where a borrow will do.
    ///
    /// ```
    /// use flagcore::{OwnedSnapshot, Store, User};
    ///
    /// fn assert_send<T: Send + Sync + 'static>(_: &T) {}
    ///
    /// let store = Store::new();
    /// let snapshot: OwnedSnapshot = store.snapshot_owned();
    /// assert_send(&snapshot);
    /// let handle = std::thread::spawn(move || snapshot.check_gate(&User::with_user_id("u1"), "g"));
    /// assert!(!handle.join().unwrap());
    /// ```
    pub fn snapshot_owned(&self) -> OwnedSnapshot {
        OwnedSnapshot {
            state: self.state.load_full(),
        }
    }

    /// Checks a gate against the current ruleset, logging the exposure.
    pub fn check_gate(&self, user: &User<'_>, name: &str) -> bool {
        self.state.with(|view| view.check_gate(user, name))
    }
}

/// One consistent view of a [`Store`]: evaluations through the same snapshot all see the same
/// ruleset, ID lists and overrides, whatever is installed meanwhile. Its evaluation methods
/// are those of [`View`], which it dereferences to.
///
/// It borrows the store and is neither `Send` nor `Sync` (it counts references to the
/// thread's cached state with a thread-local count, not the shared one); to hold one
/// across `.await` or share it between threads, use
/// [`Store::snapshot_owned`].
pub struct Snapshot<'s> {
    state: Held,
    store: PhantomData<&'s Store>,
}

impl core::ops::Deref for Snapshot<'_> {
    type Target = View;
    #[inline]
    fn deref(&self) -> &View {
        &self.state
    }
}

impl core::fmt::Debug for Snapshot<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Snapshot")
            .field("ruleset_time", &self.ruleset().map(Ruleset::time))
            .finish()
    }
}

/// A [`Snapshot`] that owns its reference to the state ([`Store::snapshot_owned`]):
/// `'static`, `Send`, `Sync` and cheap to clone. Dereferences to [`View`].
#[derive(Clone)]
pub struct OwnedSnapshot {
    state: Arc<View>,
}

impl core::ops::Deref for OwnedSnapshot {
    type Target = View;
    #[inline]
    fn deref(&self) -> &View {
        &self.state
    }
}

impl core::fmt::Debug for OwnedSnapshot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OwnedSnapshot")
            .field("ruleset_time", &self.ruleset().map(Ruleset::time))
            .finish()
    }
}

thread_local! {
    /// Each thread's exposure buffer for the convenience methods.
    static SCRATCH: Cell<Vec<RawExposure>> = const { Cell::new(Vec::new()) };
}

impl View {
    /// The ruleset of this snapshot, if one was installed.
    pub fn ruleset(&self) -> Option<&Ruleset> {
        self.ruleset.as_deref()
    }

    pub(crate) fn env(&self) -> Env<'_> {
        let o = &*self.options;
        Env {
            tier: o.environment.as_deref(),
            country: o.country_lookup.as_deref(),
            clock: o.clock.as_deref().unwrap_or(&SystemClock),
            id_lists: Some(&self.id_lists),
            app_id: None,
        }
    }

    /// The store's exposure sink, when one is configured.
    pub(crate) fn sink(&self) -> Option<&dyn ExposureSink> {
        self.options.exposure_sink.as_deref()
    }

    /// A layer result whose reads log through this view. `sec` is the buffer `shaped`
    /// attaches its exposures from.
    #[inline(always)]
    pub(crate) fn layer_from<'a>(
        &'a self,
        user: &'a User<'a>,
        shaped: Shaped<'a>,
        sec: Vec<RawExposure>,
        exposures: Exposures,
    ) -> Layer<'a> {
        Layer {
            view: self,
            user,
            bare: shaped.bare(),
            shaped,
            sec,
            exposures,
        }
    }

    /// The local overrides, when there are any.
    pub(crate) fn local_overrides(&self) -> Option<&Overrides> {
        Some(&*self.overrides).filter(|o| !o.is_empty())
    }

    /// Evaluates `name` as `kind` for `user`: the general form behind the convenience
    /// methods. The result borrows from this snapshot and from `scratch` (which holds the
    /// secondary exposures), so it allocates nothing.
    ///
    /// ```
    /// use flagcore::{Exposures, Kind, Scratch, Store, User};
    ///
    /// let store = Store::new();
    /// let snapshot = store.snapshot();
    /// let mut scratch = Scratch::new();
    /// let user = User::with_user_id("u1");
    /// let result = snapshot.evaluate(&mut scratch, &user, Kind::Gate, "any_gate", Exposures::Suppress);
    /// assert!(!result.value());
    /// assert_eq!(result.reason(), flagcore::Reason::NoRuleset);
    /// ```
    pub fn evaluate<'a>(
        &'a self,
        scratch: &'a mut Scratch,
        user: &User<'_>,
        kind: Kind,
        name: &'a str,
        exposures: Exposures,
    ) -> Evaluation<'a> {
        let shaped = self.run(&mut scratch.sec, user, kind, name, exposures, true);
        shaped.attach(&scratch.sec)
    }

    /// Evaluates into `sec` (collecting secondary exposures only when `keep_exposures`) and
    /// hands the exposure to the sink (unless suppressed). Inlined so that the result is
    /// built in place, not copied out through the callers.
    #[inline(always)]
    fn run<'a>(
        &'a self,
        sec: &mut Vec<RawExposure>,
        user: &User<'_>,
        kind: Kind,
        name: &'a str,
        exposures: Exposures,
        keep_exposures: bool,
    ) -> Shaped<'a> {
        let env = self.env();
        let overrides = self.local_overrides();
        let (shaped, _) = evaluate(
            self.ruleset(),
            &env,
            overrides,
            sec,
            user,
            kind,
            name,
            None,
            keep_exposures,
            NoTrace,
        );
        // A layer is exposed per parameter read, not by its evaluation.
        if kind != Kind::Layer {
            if let Some(sink) = &self.options.exposure_sink {
                match exposures {
                    Exposures::Log => sink.log(&Exposure::new(user, &shaped.attach(sec))),
                    Exposures::Suppress => sink.not_logged(kind, name),
                }
            }
        }
        shaped
    }

    /// Logs the exposure of `evaluation` (a gate, dynamic config or experiment evaluated by
    /// this view with [`Exposures::Suppress`]) now, as a manual exposure: evaluate when the
    /// page is built, log when the feature is really shown (Statsig's
    /// `manually_log_gate_exposure` and its config and experiment twins). Evaluate with
    /// [`View::evaluate`] and a [`Scratch`] so that the record carries the secondary
    /// exposures. For a layer use [`View::log_layer_exposure`]; nothing happens here.
    ///
    /// ```
    /// use flagcore::{Exposures, Kind, Scratch, Store, User};
    ///
    /// let store = Store::new();
    /// let snapshot = store.snapshot();
    /// let user = User::with_user_id("u1");
    /// let mut scratch = Scratch::new();
    /// let checkout = snapshot.evaluate(&mut scratch, &user, Kind::Gate, "new_checkout", Exposures::Suppress);
    /// // … later, when the new checkout is on screen:
    /// snapshot.log_exposure(&user, &checkout);
    /// ```
    pub fn log_exposure(&self, user: &User<'_>, evaluation: &Evaluation<'_>) {
        if evaluation.kind() == Kind::Layer {
            return;
        }
        if let Some(sink) = &self.options.exposure_sink {
            let mut exposure = Exposure::new(user, evaluation);
            exposure.manual = true;
            sink.log(&exposure);
        }
    }

    /// Logs the exposure of `parameter` of the layer result `layer` as a manual exposure
    /// (Statsig's `manually_log_layer_parameter_exposure`), whether or not the layer has
    /// that parameter, as Statsig does. Nothing happens for a result of another kind.
    pub fn log_layer_exposure(&self, user: &User<'_>, layer: &Evaluation<'_>, parameter: &str) {
        if layer.kind() != Kind::Layer {
            return;
        }
        if let Some(sink) = &self.options.exposure_sink {
            sink.log(&Exposure {
                user,
                evaluation: layer,
                parameter: Some(parameter),
                manual: true,
            });
        }
    }

    /// Evaluates `name` as `kind` for `user` and explains the answer: the result, exactly
    /// as [`View::evaluate`] gives it, with every step the evaluator took (rules visited,
    /// each condition's user-side value, where it was read, operator, target and outcome,
    /// nested gates, delegated experiments, pass-percentage buckets). Nothing is logged to
    /// the exposure sink. It allocates (it is for people and tools, not the hot path: the
    /// normal evaluation runs the same code with a tracer that compiles to nothing).
    ///
    /// ```
    /// use flagcore::{Kind, Store, TraceStep, User};
    ///
    /// let store = Store::new();
    /// store.load_json(br#"{
    ///   "feature_gates": {"beta": {"type": "feature_gate", "entity": "feature_gate",
    ///     "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID",
    ///     "rules": [{"id": "staff", "name": "staff", "passPercentage": 100,
    ///                "conditions": ["c"], "returnValue": true, "idType": "userID"}]}},
    ///   "dynamic_configs": {}, "layer_configs": {}, "experiment_to_layer": {},
    ///   "condition_map": {"c": {"type": "user_field", "field": "email", "idType": "userID",
    ///     "operator": "str_ends_with_any", "targetValue": ["@example.com"]}},
    ///   "has_updates": true, "time": 1
    /// }"#)?;
    /// let user = User::with_user_id("u1").email("ana@example.com");
    /// let trace = store.snapshot().explain(&user, Kind::Gate, "beta");
    /// assert_eq!(trace.answer.value, true);
    /// assert_eq!(trace.answer.rule_id, "staff");
    /// let TraceStep::Spec(gate) = &trace.steps[0] else { panic!() };
    /// let TraceStep::Rule(rule) = &gate.steps[0] else { panic!() };
    /// assert_eq!(rule.conditions[0].read.as_deref(), Some("email"));
    /// println!("{trace}"); // indented text; serde_json::to_string(&trace) for JSON
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn explain(&self, user: &User<'_>, kind: Kind, name: &str) -> Trace {
        let env = self.env();
        let builder = TraceBuilder::new();
        let mut sec = Vec::new();
        let (shaped, _) = evaluate(
            self.ruleset(),
            &env,
            self.local_overrides(),
            &mut sec,
            user,
            kind,
            name,
            None,
            true,
            &builder,
        );
        let e = shaped.attach(&sec);
        Trace {
            answer: Answer::new(&e),
            steps: builder.into_steps(),
        }
    }

    /// [`View::explain`] of a feature gate.
    pub fn explain_gate(&self, user: &User<'_>, name: &str) -> Trace {
        self.explain(user, Kind::Gate, name)
    }

    /// [`View::explain`] of a dynamic config.
    pub fn explain_config(&self, user: &User<'_>, name: &str) -> Trace {
        self.explain(user, Kind::DynamicConfig, name)
    }

    /// [`View::explain`] of an experiment.
    pub fn explain_experiment(&self, user: &User<'_>, name: &str) -> Trace {
        self.explain(user, Kind::Experiment, name)
    }

    /// [`View::explain`] of a layer.
    pub fn explain_layer(&self, user: &User<'_>, name: &str) -> Trace {
        self.explain(user, Kind::Layer, name)
    }

    /// Evaluates with the thread's own scratch buffer; the result carries no secondary
    /// exposures (they reach the sink, and [`View::evaluate`] returns them).
    #[inline]
    pub(crate) fn evaluate_tls<'a>(
        &'a self,
        user: &User<'_>,
        kind: Kind,
        name: &'a str,
    ) -> Evaluation<'a> {
        if self.options.exposure_sink.is_none() {
            // Nobody reads the exposures: none are collected, and an empty buffer never
            // allocates.
            let mut sec = Vec::new();
            return self
                .run(&mut sec, user, kind, name, Exposures::Suppress, false)
                .bare();
        }
        with_thread_buffer(|sec| self.run(sec, user, kind, name, Exposures::Log, true).bare())
    }

    /// Whether the gate passes for `user` (logs the exposure).
    pub fn check_gate(&self, user: &User<'_>, name: &str) -> bool {
        match self.ruleset() {
            // The common case: only the boolean is needed, so no result record is built.
            Some(rs) if self.plain => gate_value(rs, || self.env(), user, name),
            _ => self.gate_logged(user, name),
        }
    }

    /// [`View::check_gate`] with exposures or overrides: kept out of line, so that the
    /// common case stays a small function.
    #[inline(never)]
    fn gate_logged(&self, user: &User<'_>, name: &str) -> bool {
        self.evaluate_tls(user, Kind::Gate, name).value()
    }

    /// Evaluates a feature gate (logs the exposure). The result omits secondary exposures;
    /// use [`View::evaluate`] to read them.
    pub fn gate<'a>(&'a self, user: &User<'_>, name: &'a str) -> Evaluation<'a> {
        self.evaluate_tls(user, Kind::Gate, name)
    }

    /// Evaluates a dynamic config (logs the exposure).
    pub fn dynamic_config<'a>(&'a self, user: &User<'_>, name: &'a str) -> Evaluation<'a> {
        self.evaluate_tls(user, Kind::DynamicConfig, name)
    }

    /// Evaluates an experiment: value, group name, active state (logs the exposure).
    pub fn experiment<'a>(&'a self, user: &User<'_>, name: &'a str) -> Evaluation<'a> {
        self.evaluate_tls(user, Kind::Experiment, name)
    }

    /// Evaluates a layer: parameters and allocated experiment. Evaluating logs nothing;
    /// each parameter read through the returned [`Layer`] ([`Layer::get_bool`], …) hands a
    /// layer exposure of that parameter to the sink, as Statsig's `layer.get(..)` does.
    ///
    /// ```
    /// use flagcore::{Store, User};
    ///
    /// let store = Store::new();
    /// let snapshot = store.snapshot();
    /// let user = User::with_user_id("u1");
    /// let layer = snapshot.layer(&user, "checkout_layer");
    /// let color = layer.get_str("button_color", "blue"); // logs the exposure of button_color
    /// let quiet = layer.evaluation().get_i64("items", 10); // reads without logging
    /// assert_eq!((color, quiet), ("blue", 10));
    /// ```
    pub fn layer<'a>(&'a self, user: &'a User<'a>, name: &'a str) -> Layer<'a> {
        self.layer_with(user, name, Exposures::Log)
    }

    /// [`View::layer`], choosing whether parameter reads log exposures:
    /// [`Exposures::Suppress`] reads without logging (Statsig's `disable_exposure_logging`);
    /// [`Layer::log_exposure`] still logs a manual exposure.
    pub fn layer_with<'a>(
        &'a self,
        user: &'a User<'a>,
        name: &'a str,
        exposures: Exposures,
    ) -> Layer<'a> {
        if self.options.exposure_sink.is_none() {
            let mut sec = Vec::new();
            let shaped = self.run(
                &mut sec,
                user,
                Kind::Layer,
                name,
                Exposures::Suppress,
                false,
            );
            return self.layer_from(user, shaped, sec, exposures);
        }
        // The layer keeps the thread's buffer (its exposures are reported at each read) and
        // gives it back when dropped.
        let mut sec = SCRATCH.try_with(Cell::take).unwrap_or_default();
        let shaped = self.run(&mut sec, user, Kind::Layer, name, Exposures::Suppress, true);
        if exposures == Exposures::Suppress {
            if let Some(sink) = &self.options.exposure_sink {
                sink.not_logged(Kind::Layer, name);
            }
        }
        self.layer_from(user, shaped, sec, exposures)
    }
}

/// A layer evaluated by [`View::layer`]: its parameters, read with the layer exposure each
/// read implies.
///
/// Each successful read (`get`, or a typed read that found a value of its type) hands one
/// layer exposure of that parameter to the store's [`ExposureSink`], shaped as Statsig
/// shapes it: a parameter the allocated experiment sets explicitly reports the experiment
/// and the full secondary exposures, any other the layer's own (undelegated) ones; a
/// multi-rule layer reports the rule that supplied the parameter. A read that falls back
/// (missing parameter, wrong type) logs nothing, as in Statsig. [`Layer::evaluation`] reads
/// without logging.
///
/// It dereferences to the result without its exposure lists ([`Evaluation::value`],
/// [`Evaluation::rule_id`], …); the typed reads of that result do not log. Allocation-free
/// once warmed up; it holds the thread's exposure buffer while alive.
pub struct Layer<'a> {
    view: &'a View,
    user: &'a User<'a>,
    bare: Evaluation<'a>,
    shaped: Shaped<'a>,
    sec: Vec<RawExposure>,
    exposures: Exposures,
}

impl<'a> core::ops::Deref for Layer<'a> {
    type Target = Evaluation<'a>;
    fn deref(&self) -> &Evaluation<'a> {
        &self.bare
    }
}

impl core::fmt::Debug for Layer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Layer")
            .field("evaluation", &self.evaluation())
            .field("exposures", &self.exposures)
            .finish()
    }
}

impl Drop for Layer<'_> {
    fn drop(&mut self) {
        if self.sec.capacity() > 0 {
            let sec = std::mem::take(&mut self.sec);
            let _ = SCRATCH.try_with(|c| {
                let old = c.take();
                c.set(if old.capacity() >= sec.capacity() {
                    old
                } else {
                    sec
                });
            });
        }
    }
}

impl<'a> Layer<'a> {
    /// The full result, secondary and undelegated exposures included. Reading from it logs
    /// nothing.
    pub fn evaluation(&self) -> Evaluation<'_> {
        self.shaped.attach(&self.sec)
    }

    /// Logs the exposure of `parameter` now, as a manual exposure (Statsig's
    /// `manually_log_layer_parameter_exposure`), also for a layer read with
    /// [`Exposures::Suppress`].
    pub fn log_exposure(&self, parameter: &str) {
        self.view
            .log_layer_exposure(self.user, &self.evaluation(), parameter);
    }

    fn expose(&self, parameter: &str) {
        let Some(sink) = &self.view.options.exposure_sink else {
            return;
        };
        if self.exposures == Exposures::Suppress {
            sink.not_logged(Kind::Layer, self.bare.name());
            return;
        }
        sink.log(&Exposure {
            user: self.user,
            evaluation: &self.evaluation(),
            parameter: Some(parameter),
            manual: false,
        });
    }

    fn exposed<T>(&self, parameter: &str, v: Option<T>) -> Option<T> {
        if v.is_some() {
            self.expose(parameter);
        }
        v
    }

    /// The raw value of `parameter` (logs its exposure when present; Statsig's
    /// `get_raw_value`).
    pub fn get(&self, parameter: &str) -> Option<&'a Json> {
        self.exposed(parameter, self.bare.json().get(parameter))
    }

    /// The boolean `parameter`, or `fallback` ([`JsonObject::get_bool`]); logs the exposure
    /// unless it falls back.
    pub fn get_bool(&self, parameter: &str, fallback: bool) -> bool {
        self.exposed(parameter, typed_bool(self.bare.json().get(parameter)))
            .unwrap_or(fallback)
    }

    /// The number `parameter` as `f64`, or `fallback` ([`JsonObject::get_f64`]); logs the
    /// exposure unless it falls back.
    pub fn get_f64(&self, parameter: &str, fallback: f64) -> f64 {
        self.exposed(parameter, typed_f64(self.bare.json().get(parameter)))
            .unwrap_or(fallback)
    }

    /// The integer `parameter`, or `fallback` ([`JsonObject::get_i64`]); logs the exposure
    /// unless it falls back.
    pub fn get_i64(&self, parameter: &str, fallback: i64) -> i64 {
        self.exposed(parameter, typed_i64(self.bare.json().get(parameter)))
            .unwrap_or(fallback)
    }

    /// The string `parameter`, borrowed, or `fallback` ([`JsonObject::get_str`]); logs the
    /// exposure unless it falls back.
    pub fn get_str<'f>(&self, parameter: &str, fallback: &'f str) -> &'f str
    where
        'a: 'f,
    {
        self.exposed(parameter, typed_str(self.bare.json().get(parameter)))
            .unwrap_or(fallback)
    }

    /// `parameter` deserialised as `T` ([`JsonObject::get_as`], may allocate); logs the
    /// exposure when it deserialises.
    pub fn get_as<T: serde::Deserialize<'a>>(&self, parameter: &str) -> Option<T> {
        self.exposed(parameter, typed_as(self.bare.json().get(parameter)))
    }

    /// `parameter` deserialised as `T`, or `fallback` ([`JsonObject::get_or`], may
    /// allocate); logs the exposure unless it falls back.
    pub fn get_or<T: serde::Deserialize<'a>>(&self, parameter: &str, fallback: T) -> T {
        self.get_as(parameter).unwrap_or(fallback)
    }
}

impl Ruleset {
    /// Evaluates against this ruleset alone: no environment tier, no ID lists, no
    /// overrides, no exposure logging, the system clock. Services use a [`Store`].
    pub fn evaluate<'a>(
        &'a self,
        scratch: &'a mut Scratch,
        user: &User<'_>,
        kind: Kind,
        name: &'a str,
    ) -> Evaluation<'a> {
        let env = Env {
            tier: None,
            country: None,
            clock: &SystemClock,
            id_lists: None,
            app_id: None,
        };
        evaluate(
            Some(self),
            &env,
            None,
            &mut scratch.sec,
            user,
            kind,
            name,
            None,
            true,
            NoTrace,
        )
        .0
        .attach(&scratch.sec)
    }

    /// Whether a gate passes for `user` in this ruleset alone (see [`Ruleset::evaluate`]).
    pub fn check_gate(&self, user: &User<'_>, name: &str) -> bool {
        let env = Env {
            tier: None,
            country: None,
            clock: &SystemClock,
            id_lists: None,
            app_id: None,
        };
        gate_value(self, || env, user, name)
    }
}

/// Runs `f` with this thread's exposure buffer (a fresh one if it is in use, e.g. when an
/// exposure sink evaluates).
#[inline(always)]
pub(crate) fn with_thread_buffer<R>(f: impl FnOnce(&mut Vec<RawExposure>) -> R) -> R {
    // Moving a `Vec` in and out of the cell neither allocates nor frees.
    let mut sec = SCRATCH.try_with(Cell::take).unwrap_or_default();
    let r = f(&mut sec);
    let _ = SCRATCH.try_with(|c| c.set(sec));
    r
}

/// A gate's boolean: what [`evaluate`] reports as `value`, without building the record.
/// The environment is built only once the name is found.
#[inline]
fn gate_value<'e>(
    rs: &Ruleset,
    env: impl FnOnce() -> Env<'e>,
    user: &User<'_>,
    name: &str,
) -> bool {
    if rs.mappings.is_some() {
        // Config mapping may answer for the name (spec 4.10).
        return gate_value_mapped(rs, &env(), user, name);
    }
    let Some(spec) = rs.gates.find(name).and_then(|i| rs.gates.list.get(i)) else {
        return false;
    };
    match spec.constant_value {
        Some(value) => value,
        None => gate_value_evaluated(rs, &env(), user, spec),
    }
}

/// [`gate_value`] of a gate that must be evaluated (kept out of line, so that the lookup
/// and the constant answers stay small).
#[inline(never)]
fn gate_value_evaluated(rs: &Ruleset, env: &Env<'_>, user: &User<'_>, spec: &Spec) -> bool {
    // Exposures are not kept, so the buffer stays empty and never allocates.
    let mut sec = Vec::new();
    let mut ev = Evaluator::new(rs, user, env, &mut sec);
    ev.keep_exposures = false;
    ev.gate_value(spec)
}

/// [`gate_value`] in a ruleset with config mappings: the general evaluation.
#[cold]
fn gate_value_mapped(rs: &Ruleset, env: &Env<'_>, user: &User<'_>, name: &str) -> bool {
    let mut sec = Vec::new();
    let mut ev = Evaluator::new(rs, user, env, &mut sec);
    ev.keep_exposures = false;
    let mut rec = Record::default();
    ev.evaluate(name, Kind::Gate, &mut rec).is_ok() && rec.value
}

pub(crate) fn empty_map() -> &'static Map<String, Json> {
    static EMPTY: OnceLock<Map<String, Json>> = OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

/// A result that found nothing to evaluate.
pub(crate) fn blank<'a>(kind: Kind, name: &'a str, reason: Reason, lcut: u64) -> Evaluation<'a> {
    Evaluation {
        kind,
        name,
        value: false,
        json: JsonObject::one(empty_map()),
        rule_id: "",
        group_name: None,
        id_type: "",
        version: None,
        is_experiment_group: false,
        is_experiment_active: false,
        is_in_layer: false,
        explicit_parameters: None,
        allocated_experiment: None,
        secondary: SecondaryExposures::EMPTY,
        undelegated: match kind {
            Kind::Layer => Some(SecondaryExposures::EMPTY),
            _ => None,
        },
        reason,
        id_list_used: false,
        lcut,
        override_config_name: None,
        no_id_type: false,
        value_shape: ValueShape::Object,
        sampling_rate: None,
        forward_all_exposures: false,
        has_seen_analytical_gates: false,
        undelegated_missing: kind == Kind::Layer,
        sdk_configs: &crate::SdkConfigs::DEFAULT,
    }
}

/// A local override's result where no ruleset is installed yet (Statsig answers overrides
/// before it looks at the payload).
#[cold]
fn overridden_without_ruleset<'a>(
    o: &'a Overrides,
    user: &User<'_>,
    kind: Kind,
    name: &'a str,
) -> Option<Evaluation<'a>> {
    let mut e = blank(kind, name, Reason::LocalOverride, 0);
    let json = |v: &'a ReturnValue| match v {
        ReturnValue::Object(m) => JsonObject::one(m),
        _ => JsonObject::one(empty_map()),
    };
    match kind {
        Kind::Gate => e.value = *o.gates.get(name)?.find(user)?,
        Kind::DynamicConfig => e.json = json(o.configs.get(name)?.find(user)?),
        Kind::Experiment => {
            let v = o.experiments.get(name)?.find(user)?.value(None);
            e.json = v.map_or(JsonObject::one(empty_map()), json);
        }
        Kind::Layer => e.json = json(o.layers.get(name)?.find(user)?),
    }
    e.rule_id = "override";
    Some(e)
}

/// An evaluation without its exposure lists, and how to attach them from the buffer.
#[derive(Clone, Copy)]
pub(crate) struct Shaped<'a> {
    e: Evaluation<'a>,
    strs: &'a [Box<str>],
    /// `Some(n)`: `secondary` is the first `n` buffer entries (`None` for blank results).
    secondary_len: Option<usize>,
    /// `Some((from, to))`: `undelegated` is that range of the buffer.
    undelegated: Option<(usize, usize)>,
}

impl<'a> Shaped<'a> {
    /// The result without exposure lists (borrowing only the snapshot).
    #[inline(always)]
    pub(crate) fn bare(self) -> Evaluation<'a> {
        self.e
    }

    /// The result with its exposure lists, borrowing `sec` too.
    #[inline(always)]
    pub(crate) fn attach<'b>(self, sec: &'b [RawExposure]) -> Evaluation<'b>
    where
        'a: 'b,
    {
        let mut e = self.e;
        let range = |from: usize, to: usize| SecondaryExposures {
            strs: self.strs,
            raw: sec.get(from..to).unwrap_or(&[]),
        };
        if let Some(n) = self.secondary_len {
            e.secondary = range(0, n);
        }
        if let Some((from, to)) = self.undelegated {
            e.undelegated = Some(range(from, to));
        }
        e
    }
}

/// A result whose exposure lists are already in it (no buffer to attach).
pub(crate) fn plain(e: Evaluation<'_>) -> Shaped<'_> {
    Shaped {
        e,
        strs: &[],
        secondary_len: None,
        undelegated: None,
    }
}

/// One top-level evaluation, shaped into the reported record (spec 4.11). The exposures
/// stay in `sec` (when `keep_exposures`); [`Shaped::attach`] adds them. Also returns the raw
/// return value the result's JSON comes from (`None` for a merged layer value and for
/// results that evaluated nothing), which sticky assignments persist; callers that do not
/// need it drop it, and inlining removes it. `tracer` is told every step: [`NoTrace`] for the
/// normal evaluation (it compiles to nothing), a recorder for [`View::explain`].
#[inline(always)] // Builds the result in the caller's frame instead of copying it out.
#[allow(clippy::too_many_arguments)] // Internal; every caller passes all of them.
pub(crate) fn evaluate<'a, T: Tracer>(
    rs: Option<&'a Ruleset>,
    env: &Env<'_>,
    overrides: Option<&'a Overrides>,
    sec: &mut Vec<RawExposure>,
    user: &User<'_>,
    kind: Kind,
    name: &'a str,
    known: Option<&'a Spec>,
    keep_exposures: bool,
    tracer: T,
) -> (Shaped<'a>, Option<&'a ReturnValue>) {
    sec.clear();
    let lcut = rs.map_or(0, Ruleset::time);
    let Some(rs) = rs else {
        return match overrides.and_then(|o| overridden_without_ruleset(o, user, kind, name)) {
            Some(e) => (plain(e), None),
            None => (plain(blank(kind, name, Reason::NoRuleset, 0)), None),
        };
    };
    let mut rec = Record::default();
    let (outcome, id_list_used, country_not_loaded) = {
        let mut ev = Evaluator::with_tracer(rs, user, env, sec, tracer);
        ev.keep_exposures = keep_exposures;
        ev.overrides = overrides;
        let outcome = match known {
            // The spec of `name` (the caller found it): no lookup.
            Some(spec) => ev.evaluate_known(spec, kind, &mut rec),
            None => ev.evaluate(name, kind, &mut rec),
        };
        (outcome, ev.id_list_used.get(), ev.country_not_loaded.get())
    };
    let found = match outcome {
        Ok(f) => f,
        Err(Abort) => {
            let mut e = blank(kind, name, Reason::DepthExceeded, lcut);
            e.rule_id = rs.str(SID_DEFAULT);
            e.undelegated = None;
            e.sdk_configs = &rs.sdk_configs;
            return (plain(e), None);
        }
    };
    if found == Found::Unrecognized {
        let mut e = blank(kind, name, Reason::Unrecognized, lcut);
        e.sdk_configs = &rs.sdk_configs;
        return (plain(e), None);
    }
    let reason = if rec.local_override {
        Reason::LocalOverride
    } else if rec.unsupported {
        Reason::Unsupported
    } else if country_not_loaded {
        Reason::CountryLookupNotLoaded
    } else {
        Reason::Recognized
    };
    let n = rec.secondary_end.unwrap_or(sec.len());
    let undelegated = match kind {
        Kind::Gate | Kind::DynamicConfig => None,
        // The delegation snapshot when the experiment delegated (even an empty one, even
        // when the delegate ended Unsupported); otherwise null when Unsupported or when
        // there are no exposures, else the exposures.
        Kind::Experiment => match rec.undelegated {
            Some(r) => Some(r),
            None if rec.unsupported || n == 0 => None,
            None => Some((0, n)),
        },
        Kind::Layer => Some(match rec.undelegated {
            Some(r) => r,
            None if rec.unsupported => (0, 0),
            None => (0, n),
        }),
    };
    let json = match (kind, rec.merged, rec.json) {
        (Kind::Gate, ..) => JsonObject::one(empty_map()),
        (_, Some(m), _) => JsonObject::merged(rs, m),
        (_, None, Some(ReturnValue::Object(m))) => JsonObject::one(m),
        _ => JsonObject::one(&rs.empty),
    };
    let e = Evaluation {
        kind,
        name,
        value: rec.value,
        json,
        rule_id: rs.str(rec.rule_id.unwrap_or(SID_EMPTY)),
        group_name: match kind {
            Kind::Experiment | Kind::Layer => rec.group_name,
            Kind::Gate | Kind::DynamicConfig => None,
        },
        id_type: rec.id_type.unwrap_or(""),
        version: rec.version,
        is_experiment_group: rec.is_experiment_group,
        is_experiment_active: rec.is_experiment_active,
        is_in_layer: rec.is_in_layer,
        explicit_parameters: rec.explicit_parameters,
        allocated_experiment: match kind {
            Kind::Layer => rec.config_delegate.filter(|d| !d.is_empty()),
            _ => None,
        },
        secondary: SecondaryExposures::EMPTY,
        undelegated: None,
        reason,
        id_list_used,
        lcut,
        override_config_name: rec.override_config_name,
        no_id_type: rec.local_override && rec.id_type.is_none(),
        value_shape: match (kind, rec.merged, rec.json) {
            (Kind::Gate, ..) | (_, Some(_), _) | (_, None, Some(ReturnValue::Object(_))) => {
                ValueShape::Object
            }
            (_, None, Some(ReturnValue::Bool(b))) => ValueShape::Bool(*b),
            (_, None, Some(ReturnValue::Null) | None) => ValueShape::Null,
        },
        sampling_rate: rec.sampling_rate,
        forward_all_exposures: rec.forward_all_exposures,
        has_seen_analytical_gates: rec.has_seen_analytical_gates,
        // As the official core's `finalize_evaluation` leaves it: no list unless a rule
        // delegated (or the multi-rule algorithm ran) or there are exposures.
        undelegated_missing: kind == Kind::Layer
            && rec.undelegated.is_none()
            && (rec.unsupported || n == 0),
        sdk_configs: &rs.sdk_configs,
    };
    let shaped = Shaped {
        e,
        strs: &rs.strs,
        secondary_len: Some(n),
        undelegated,
    };
    (shaped, rec.json)
}

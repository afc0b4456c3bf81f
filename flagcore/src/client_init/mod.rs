//! Client initialize responses: every gate, config, experiment and layer evaluated for one
//! user, in the JSON document Statsig's client SDKs bootstrap from (the official server
//! SDKs' `get_client_init_response`, v1 format).
//!
//! ```text
//!  View + user + options ──► for each spec (target-app filter) ──► evaluate ──► write JSON
//!                                                                   (thread's exposure buffer)
//!  names hashed (djb2 / sha256 / none), secondary exposures de-duplicated, parameter stores,
//!  user, evaluated keys, session replay ──────────────────────────► the caller's Vec<u8>
//! ```
//!
//! The response is written straight into a caller-owned buffer: nothing is built in between,
//! and a buffer reused from one response to the next stops growing once it fits the largest.

mod hashing;

pub use hashing::HashAlgorithm;
use hashing::{djb2, djb2_chars, push_str, push_u64, Names};

use serde_json::Value as Json;

use crate::eval::{
    Evaluation, Kind, RawExposure, Reason, ResponseMemo, SecondaryExposures, ValueShape,
};
use crate::load::client::{ParamStore, ParamTarget, SessionReplay, Trigger};
use crate::load::{Ruleset, Spec, ValueText};
use crate::store::{evaluate, with_thread_buffer, View};
use crate::user::{Attributes, User, Value};
use crate::value::UVal;

/// What a client initialize response is made for: how names are hashed, which client app it
/// is for, and a few SDK details.
///
/// ```
/// use flagcore::{ClientInitOptions, HashAlgorithm};
///
/// let options = ClientInitOptions::default()
///     .hash(HashAlgorithm::Sha256)
///     .client_key("client-abc123");
/// assert_eq!(options.hash, HashAlgorithm::Sha256);
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ClientInitOptions<'a> {
    /// How names are written ([`HashAlgorithm::Djb2`] by default, as in Statsig).
    pub hash: HashAlgorithm,
    /// The client SDK key the response is for. The payload's `sdk_keys_to_app_ids` (or
    /// `hashed_sdk_keys_to_app_ids`) maps it to an app: specs and parameter stores whose
    /// `targetAppIDs` do not name that app are left out, and `target_app` conditions see it.
    pub client_key: Option<&'a str>,
    /// Whether the store's local overrides apply (off by default, as in Statsig).
    pub include_local_overrides: bool,
    /// A uniform random number in `[0, 1)` for session-replay sampling: recording is
    /// allowed when it is at most the payload's `sampling_rate`, and each trigger
    /// `passes_sampling` likewise. Statsig draws one per response; the core does no IO and
    /// has no random source, so pass your own where the rates are strictly between 0 and 1.
    /// The default, 0.5, gives Statsig's answer for rates 0 and 1.
    pub sampling_draw: f64,
    /// `sdkInfo.sdkType` (`flagcore` by default).
    pub sdk_type: &'a str,
    /// `sdkInfo.sdkVersion` (this crate's version by default).
    pub sdk_version: &'a str,
    /// `sdkInfo.sessionId`, written when set.
    pub session_id: Option<&'a str>,
    /// Whether nested gates are evaluated once per response ([`ResponseMemo`]); off only in
    /// the test that compares the two.
    remember_nested: bool,
}

impl Default for ClientInitOptions<'_> {
    fn default() -> Self {
        ClientInitOptions {
            hash: HashAlgorithm::Djb2,
            client_key: None,
            include_local_overrides: false,
            sampling_draw: 0.5,
            sdk_type: "flagcore",
            sdk_version: env!("CARGO_PKG_VERSION"),
            session_id: None,
            remember_nested: true,
        }
    }
}

impl<'a> ClientInitOptions<'a> {
    /// Sets [`ClientInitOptions::hash`].
    pub fn hash(mut self, hash: HashAlgorithm) -> Self {
        self.hash = hash;
        self
    }

    /// Sets [`ClientInitOptions::client_key`].
    pub fn client_key(mut self, key: &'a str) -> Self {
        self.client_key = Some(key);
        self
    }

    /// Sets [`ClientInitOptions::include_local_overrides`].
    pub fn include_local_overrides(mut self, on: bool) -> Self {
        self.include_local_overrides = on;
        self
    }

    /// Sets [`ClientInitOptions::sampling_draw`].
    pub fn sampling_draw(mut self, draw: f64) -> Self {
        self.sampling_draw = draw;
        self
    }

    /// Sets `sdkInfo`'s type, version and (optional) session id.
    pub fn sdk_info(
        mut self,
        sdk_type: &'a str,
        version: &'a str,
        session: Option<&'a str>,
    ) -> Self {
        self.sdk_type = sdk_type;
        self.sdk_version = version;
        self.session_id = session;
        self
    }
}

impl View {
    /// Appends the client initialize response for `user` to `out`: the JSON document
    /// Statsig's client SDKs (JavaScript, React, mobile) bootstrap from, with the same keys,
    /// hashed names and values as Statsig's server SDKs give (`get_client_init_response`).
    ///
    /// Every feature gate, dynamic config, experiment and layer (not segments or holdouts)
    /// is evaluated, exposures are not logged, and the response carries the secondary and
    /// undelegated exposures the client logs later. Object keys are in a fixed order, not
    /// sorted. Clear and reuse `out` across calls: once it has grown to the largest
    /// response, a response allocates nothing.
    ///
    /// Without a ruleset, and when an evaluation fails (nested gates too deep, spec
    /// [`Reason::DepthExceeded`]), the response is Statsig's blank one: no entities,
    /// `has_updates: false`.
    ///
    /// ```
    /// use flagcore::{ClientInitOptions, Store, User};
    ///
    /// let store = Store::new();
    /// store.load_json(br#"{"feature_gates": {"beta": {"type": "feature_gate",
    ///     "entity": "feature_gate", "salt": "s", "enabled": true, "defaultValue": false,
    ///     "idType": "userID", "rules": [{"id": "all", "name": "all", "passPercentage": 100,
    ///     "conditions": ["c"], "returnValue": true, "idType": "userID"}]}},
    ///   "dynamic_configs": {}, "layer_configs": {},
    ///   "condition_map": {"c": {"type": "public", "idType": "userID"}},
    ///   "experiment_to_layer": {}, "has_updates": true, "time": 1}"#)?;
    ///
    /// let mut body = Vec::new(); // keep it: the next response reuses its capacity
    /// let user = User::with_user_id("u1");
    /// store.snapshot().client_initialize_response(&user, &ClientInitOptions::default(), &mut body);
    ///
    /// let response: serde_json::Value = serde_json::from_slice(&body).unwrap();
    /// let beta = &response["feature_gates"]["3020272"]; // djb2("beta")
    /// assert_eq!(beta["value"], true);
    /// assert_eq!(beta["rule_id"], "all");
    /// assert_eq!(response["hash_used"], "djb2");
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn client_initialize_response(
        &self,
        user: &User<'_>,
        options: &ClientInitOptions<'_>,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        let Some(rs) = self.ruleset() else {
            write_blank(self, None, user, out);
            return;
        };
        let written = ResponseMemo::with_thread_memo(rs.gates.list.len(), rs.strs.len(), |memo| {
            with_thread_buffer(|sec| Writer::new(self, rs, user, options, memo, sec, out).all())
        });
        if written.is_err() {
            out.truncate(start);
            write_blank(self, Some(rs), user, out);
        }
    }
}

/// An evaluation ended with an error that Statsig's core lets end the whole response.
struct Failed;

/// What every evaluation of one response shares.
#[derive(Clone, Copy)]
struct Ctx<'v, 'u> {
    view: &'v View,
    rs: &'v Ruleset,
    user: &'v User<'u>,
    options: &'v ClientInitOptions<'v>,
    /// The app of the client key (`None` when no key was given).
    app: Option<Option<&'v Json>>,
    /// How names are written.
    names: Names<'v>,
    /// The JSON text of the ruleset's return values.
    text: &'v ValueText,
    /// The nested gates evaluated so far (`None`: not remembered).
    memo: Option<&'v ResponseMemo>,
}

impl<'v> Ctx<'v, '_> {
    /// Evaluates `name` as `kind` into `sec` (exposures not logged).
    fn evaluate<'s>(
        &self,
        sec: &'s mut Vec<RawExposure>,
        kind: Kind,
        name: &'v str,
    ) -> Evaluation<'s>
    where
        'v: 's,
    {
        self.evaluate_spec(sec, kind, name, None)
    }

    /// Evaluates `name` as `kind`, whose spec is `known` when the caller has it.
    fn evaluate_spec<'s>(
        &self,
        sec: &'s mut Vec<RawExposure>,
        kind: Kind,
        name: &'v str,
        known: Option<&'v Spec>,
    ) -> Evaluation<'s>
    where
        'v: 's,
    {
        let mut env = self.view.env();
        if let Some(app) = self.app {
            env.app_id = Some(app);
        }
        let overrides = if self.options.include_local_overrides {
            self.view.local_overrides()
        } else {
            None
        };
        evaluate(
            Some(self.rs),
            &env,
            overrides,
            sec,
            self.user,
            kind,
            name,
            known,
            true,
            self.memo,
        )
        .0
        .attach(sec)
    }
}

/// Writes one response.
struct Writer<'v, 'u, 'o> {
    ctx: Ctx<'v, 'u>,
    sec: &'o mut Vec<RawExposure>,
    out: &'o mut Vec<u8>,
}

impl<'v, 'u, 'o> Writer<'v, 'u, 'o> {
    fn new(
        view: &'v View,
        rs: &'v Ruleset,
        user: &'v User<'u>,
        options: &'v ClientInitOptions<'v>,
        memo: &'v ResponseMemo,
        sec: &'o mut Vec<RawExposure>,
        out: &'o mut Vec<u8>,
    ) -> Self {
        let app = options.client_key.map(|key| app_of_key(rs, key));
        Writer {
            ctx: Ctx {
                view,
                rs,
                user,
                options,
                app,
                names: Names::new(options.hash, rs),
                text: rs.value_text(),
                memo: options.remember_nested.then_some(memo),
            },
            sec,
            out,
        }
    }

    fn raw(&mut self, s: &str) {
        self.out.extend_from_slice(s.as_bytes());
    }

    fn name(&mut self, name: &str) {
        self.ctx.names.push(self.out, name);
    }

    fn all(&mut self) -> Result<(), Failed> {
        let rs = self.ctx.rs;
        self.raw("{\"feature_gates\":{");
        self.section(&rs.gates.list, |_| Kind::Gate)?;
        self.raw("},\"dynamic_configs\":{");
        self.section(&rs.configs.list, |s| match &*s.entity {
            "dynamic_config" => Kind::DynamicConfig,
            _ => Kind::Experiment,
        })?;
        self.raw("},\"layer_configs\":{");
        self.section(&rs.layers.list, |_| Kind::Layer)?;
        self.raw("},\"time\":");
        push_u64(self.out, rs.time());
        self.raw(",\"has_updates\":true,\"hash_used\":");
        push_str(self.out, self.ctx.options.hash.label());
        self.raw(",\"user\":");
        write_user(self.ctx.view, Some(rs), self.ctx.user, self.out);
        self.raw(",\"sdkInfo\":{\"sdkType\":");
        push_str(self.out, self.ctx.options.sdk_type);
        self.raw(",\"sdkVersion\":");
        push_str(self.out, self.ctx.options.sdk_version);
        if let Some(id) = self.ctx.options.session_id {
            self.raw(",\"sessionId\":");
            push_str(self.out, id);
        }
        self.raw("},\"sdkParams\":{},\"evaluated_keys\":");
        write_evaluated_keys(self.ctx.user, self.out);
        self.raw(",\"param_stores\":{");
        self.param_stores();
        self.raw("}");
        if let Some(sr) = rs.client.session_replay.as_deref() {
            self.session_replay(sr);
        }
        write_pa_hash(self.ctx.user, self.out);
        self.raw("}");
        Ok(())
    }

    /// Whether a spec or store with these `targetAppIDs` is left out for the client key's
    /// app (Statsig's `should_filter_config_for_app`).
    fn filtered(&self, target_app_ids: Option<&[Box<str>]>) -> bool {
        let Some(Some(app)) = self.ctx.app else {
            return false;
        };
        UVal::from_json(app).with_str(|app| match (app, target_app_ids) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(app), Some(ids)) => !ids.iter().any(|id| &**id == app),
        })
    }

    fn section(&mut self, specs: &'v [Spec], kind: impl Fn(&Spec) -> Kind) -> Result<(), Failed> {
        let mut first = true;
        for spec in specs {
            if matches!(&*spec.entity, "segment" | "holdout")
                || self.filtered(spec.target_app_ids.as_deref())
            {
                continue;
            }
            let kind = kind(spec);
            let hash = self.ctx.names;
            // Evaluate first (the buffer holds the exposures), then write.
            let e = self
                .ctx
                .evaluate_spec(self.sec, kind, &spec.name, Some(spec));
            if e.reason() == Reason::DepthExceeded {
                return Err(Failed);
            }
            let out = &mut *self.out;
            if !first {
                out.push(b',');
            }
            first = false;
            write_entity(out, self.ctx.text, hash, &spec.entity, kind, &e);
        }
        Ok(())
    }

    fn param_stores(&mut self) {
        let rs = self.ctx.rs;
        let mut first = true;
        for store in &rs.client.param_stores {
            if self.filtered(store.target_app_ids.as_deref()) {
                continue;
            }
            if !first {
                self.raw(",");
            }
            first = false;
            self.name(&store.name);
            self.raw(":");
            write_param_store(self.out, self.ctx.names, store);
        }
    }

    fn session_replay(&mut self, sr: &'v SessionReplay) {
        let draw = self.ctx.options.sampling_draw;
        let mut can_record = sr.recording_blocked != Some(true);
        let mut passes_targeting = None;
        if let Some(gate) = &sr.targeting_gate {
            let e = self.ctx.evaluate(self.sec, Kind::Gate, gate);
            let passes = e.reason() != Reason::DepthExceeded && e.value();
            passes_targeting = Some(passes);
            can_record &= passes;
        }
        if sr.sampling_rate.is_some_and(|rate| draw > rate) {
            can_record = false;
        }
        let out = &mut *self.out;
        out.extend_from_slice(b",\"can_record_session\":");
        push_bool(out, can_record);
        if let Some(rate) = sr.sampling_rate {
            out.extend_from_slice(b",\"session_recording_rate\":");
            push_json(out, &rate);
        }
        if let Some(b) = sr.recording_blocked {
            out.extend_from_slice(b",\"recording_blocked\":");
            push_bool(out, b);
        }
        if let Some(p) = passes_targeting {
            out.extend_from_slice(b",\"passes_session_recording_targeting\":");
            push_bool(out, p);
        }
        let hash = self.ctx.names;
        for (key, triggers, hashed) in [
            (
                "session_recording_event_triggers",
                &sr.session_recording_event_triggers,
                false,
            ),
            (
                "session_recording_exposure_triggers",
                &sr.session_recording_exposure_triggers,
                true,
            ),
        ] {
            let Some(triggers) = triggers else { continue };
            out.extend_from_slice(b",\"");
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(b"\":{");
            for (i, (name, t)) in triggers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                if hashed {
                    hash.push(out, name);
                } else {
                    push_str(out, name);
                }
                out.push(b':');
                write_trigger(out, t, draw);
            }
            out.push(b'}');
        }
        if let Some(p) = &sr.session_recording_privacy_settings {
            out.extend_from_slice(b",\"session_recording_privacy_settings\":{\"privacy_mode\":");
            push_str(out, &p.privacy_mode);
            for (key, list) in [
                ("unmasked_elements", &p.unmasked_elements),
                ("masked_elements", &p.masked_elements),
                ("blocked_elements", &p.blocked_elements),
            ] {
                if let Some(list) = list {
                    out.extend_from_slice(b",\"");
                    out.extend_from_slice(key.as_bytes());
                    out.extend_from_slice(b"\":");
                    push_str_list(out, list);
                }
            }
            out.push(b'}');
        }
    }
}

/// The app a client key maps to: the payload's `app_id`, replaced by the key's entry in
/// `sdk_keys_to_app_ids` when that map exists, then by its djb2 entry in
/// `hashed_sdk_keys_to_app_ids` when that one exists (Statsig's `select_app_id_for_gcir`).
fn app_of_key<'r>(rs: &'r Ruleset, key: &str) -> Option<&'r Json> {
    let mut app = rs.app_id.as_ref();
    if let Some(map) = &rs.client.sdk_keys_to_app_ids {
        app = map.get(key);
    }
    if let Some(map) = &rs.client.hashed_sdk_keys_to_app_ids {
        let mut digits = crate::value::StackStr::<20>::new();
        // Cannot fail: a u32 has at most 10 digits.
        let _ = core::fmt::Write::write_fmt(&mut digits, format_args!("{}", djb2(key)));
        app = map.get(digits.as_str());
    }
    app
}

fn push_bool(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn push_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
    // Cannot fail: the values written have string keys, and writing to a Vec does not fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

fn push_str_list(out: &mut Vec<u8>, list: &[String]) {
    out.push(b'[');
    for (i, s) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, s);
    }
    out.push(b']');
}

fn write_trigger(out: &mut Vec<u8>, t: &Trigger, draw: f64) {
    out.push(b'{');
    let mut sep = "";
    if let Some(values) = &t.values {
        out.extend_from_slice(b"\"values\":");
        push_str_list(out, values);
        sep = ",";
    }
    if let Some(rate) = t.sampling_rate {
        out.extend_from_slice(sep.as_bytes());
        out.extend_from_slice(b"\"passes_sampling\":");
        push_bool(out, draw <= rate);
    }
    out.push(b'}');
}

/// A list of secondary exposures, de-duplicated (first wins) and with hashed gate names.
fn write_exposures(out: &mut Vec<u8>, hash: Names<'_>, list: SecondaryExposures<'_>) {
    out.push(b'[');
    let mut first = true;
    for (i, raw) in list.raw.iter().enumerate() {
        if list.raw.get(..i).is_some_and(|seen| seen.contains(raw)) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        let Some(x) = list.get(i) else { continue };
        out.extend_from_slice(b"{\"gate\":");
        hash.push_sid(out, raw.gate, x.gate);
        out.extend_from_slice(if x.gate_value {
            b",\"gateValue\":\"true\",\"ruleID\":"
        } else {
            b",\"gateValue\":\"false\",\"ruleID\":"
        });
        push_str(out, x.rule_id);
        out.push(b'}');
    }
    out.push(b']');
}

/// One entity of `feature_gates`, `dynamic_configs` or `layer_configs`, keyed by its hashed
/// name (Statsig's `GateEvaluation`, `DynamicConfigEvaluation`, `ExperimentEvaluation`,
/// `LayerEvaluation`).
fn write_entity(
    out: &mut Vec<u8>,
    text: &ValueText,
    hash: Names<'_>,
    entity: &str,
    kind: Kind,
    e: &Evaluation<'_>,
) {
    let start = out.len();
    hash.push(out, e.name());
    let written = start..out.len();
    out.extend_from_slice(b":{\"name\":");
    out.extend_from_within(written);
    out.extend_from_slice(b",\"rule_id\":");
    push_str(out, e.rule_id());
    out.extend_from_slice(b",\"secondary_exposures\":");
    write_exposures(out, hash, e.secondary_exposures());
    if !(kind == Kind::Gate && e.no_id_type) {
        out.extend_from_slice(b",\"id_type\":");
        push_str(out, e.id_type());
    }
    if kind == Kind::Gate {
        out.extend_from_slice(b",\"value\":");
        push_bool(out, e.value());
        out.push(b'}');
        return;
    }
    out.extend_from_slice(b",\"value\":");
    match e.value_shape {
        ValueShape::Object => match e.json().as_map().and_then(|m| text.get(m)) {
            Some(json) => out.extend_from_slice(json),
            None => push_json(out, &e.json()),
        },
        ValueShape::Null => out.extend_from_slice(b"null"),
        ValueShape::Bool(b) => push_bool(out, b),
    }
    out.extend_from_slice(b",\"is_device_based\":");
    push_bool(out, matches!(e.id_type(), "stableID" | "stableid"));
    out.extend_from_slice(b",\"group\":");
    push_str(out, e.rule_id());
    match kind {
        Kind::Gate => {}
        Kind::DynamicConfig => {
            out.extend_from_slice(b",\"passed\":");
            push_bool(out, e.value());
        }
        Kind::Experiment => {
            if e.is_in_layer() {
                out.extend_from_slice(b",\"is_in_layer\":true");
            }
            if let Some(p) = e.explicit_parameters {
                out.extend_from_slice(b",\"explicit_parameters\":");
                write_names(out, p);
            }
            if let Some(g) = e.group_name() {
                out.extend_from_slice(b",\"group_name\":");
                push_str(out, g);
            }
            if entity == "experiment" {
                out.extend_from_slice(b",\"is_experiment_active\":");
                push_bool(out, e.is_experiment_active());
                out.extend_from_slice(b",\"is_user_in_experiment\":");
                push_bool(out, e.is_user_in_experiment());
            }
        }
        Kind::Layer => {
            if let Some(g) = e.group_name() {
                out.extend_from_slice(b",\"group_name\":");
                push_str(out, g);
            }
            if let Some(exp) = e.allocated_experiment() {
                out.extend_from_slice(b",\"is_experiment_active\":");
                push_bool(out, e.is_experiment_active());
                out.extend_from_slice(b",\"is_user_in_experiment\":");
                push_bool(out, e.is_user_in_experiment());
                out.extend_from_slice(b",\"allocated_experiment_name\":");
                hash.push(out, exp);
            }
            out.extend_from_slice(b",\"explicit_parameters\":");
            write_names(out, e.explicit_parameters.unwrap_or(&[]));
            out.extend_from_slice(b",\"undelegated_secondary_exposures\":");
            write_exposures(
                out,
                hash,
                e.undelegated_secondary_exposures()
                    .unwrap_or(SecondaryExposures::EMPTY),
            );
            let value = e.json();
            if value.as_map().is_none() {
                // A multi-rule layer: which rule each parameter comes from.
                out.extend_from_slice(b",\"parameter_rule_ids\":{");
                for (i, key) in value.keys().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_str(out, key);
                    out.push(b':');
                    push_str(out, e.exposure_rule_id(key));
                }
                out.push(b'}');
            }
        }
    }
    out.push(b'}');
}

fn write_names(out: &mut Vec<u8>, names: &[Box<str>]) {
    out.push(b'[');
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, n);
    }
    out.push(b']');
}

/// One parameter store as the response carries it: each parameter's definition, with the
/// names of the gates, configs, experiments and layers it points at hashed.
fn write_param_store(out: &mut Vec<u8>, hash: Names<'_>, store: &ParamStore) {
    out.push(b'{');
    for (i, p) in store.params.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_str(out, &p.name);
        out.extend_from_slice(b":{\"name\":");
        push_str(out, &p.name);
        out.extend_from_slice(b",\"ref_type\":");
        push_str(out, &p.ref_type);
        out.extend_from_slice(b",\"param_type\":");
        push_str(out, &p.param_type);
        let (key, name, param) = match &p.target {
            ParamTarget::Static(v) => {
                out.extend_from_slice(b",\"value\":");
                push_json(out, v);
                out.push(b'}');
                continue;
            }
            ParamTarget::Gate { gate, pass, fail } => {
                out.extend_from_slice(b",\"gate_name\":");
                hash.push(out, gate);
                out.extend_from_slice(b",\"pass_value\":");
                push_json(out, pass);
                out.extend_from_slice(b",\"fail_value\":");
                push_json(out, fail);
                out.push(b'}');
                continue;
            }
            ParamTarget::DynamicConfig { config, param } => ("config_name", config, param),
            ParamTarget::Experiment { experiment, param } => ("experiment_name", experiment, param),
            ParamTarget::Layer { layer, param } => ("layer_name", layer, param),
        };
        out.extend_from_slice(b",\"");
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        hash.push(out, name);
        out.extend_from_slice(b",\"param_name\":");
        push_str(out, param);
        out.push(b'}');
    }
    out.push(b'}');
}

fn push_value(out: &mut Vec<u8>, v: Value<'_>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => push_bool(out, b),
        Value::Int(i) => push_json(out, &i),
        Value::Float(f) => push_json(out, &f),
        Value::Str(s) => push_str(out, s),
        Value::Json(j) => push_json(out, j),
    }
}

/// Writes attributes as a JSON object (the first of repeated names wins, as in lookups).
fn write_attributes(out: &mut Vec<u8>, attrs: Attributes<'_>) {
    match attrs {
        Attributes::None => out.extend_from_slice(b"{}"),
        Attributes::Json(m) => push_json(out, m),
        Attributes::Pairs(pairs) => {
            out.push(b'{');
            let mut first = true;
            for (i, (k, v)) in pairs.iter().enumerate() {
                if pairs
                    .get(..i)
                    .is_some_and(|seen| seen.iter().any(|(s, _)| s == k))
                {
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                push_str(out, k);
                out.push(b':');
                push_value(out, *v);
            }
            out.push(b'}');
        }
    }
}

/// The user as Statsig logs it: every field but the private attributes, and the environment
/// (the user's own, else the store's tier, else the payload's `default_environment`).
fn write_user(view: &View, rs: Option<&Ruleset>, user: &User<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut sep = false;
    let mut key = |out: &mut Vec<u8>, k: &str| {
        if sep {
            out.push(b',');
        }
        sep = true;
        push_str(out, k);
        out.push(b':');
    };
    let fields = user.fields();
    // `customIDs` comes second in Statsig's order.
    if let Some((name, Some(v))) = fields.first() {
        key(out, name);
        push_value(out, *v);
    }
    if !matches!(user.custom_ids, Attributes::None) {
        key(out, "customIDs");
        write_attributes(out, user.custom_ids);
    }
    for (name, v) in fields.iter().skip(1) {
        if let Some(v) = v {
            key(out, name);
            push_value(out, *v);
        }
    }
    if !matches!(user.custom, Attributes::None) {
        key(out, "custom");
        write_attributes(out, user.custom);
    }
    if !matches!(user.environment, Attributes::None) {
        key(out, "statsigEnvironment");
        write_attributes(out, user.environment);
    } else {
        let tier = view
            .env()
            .tier
            .or_else(|| rs.and_then(|r| r.default_environment.as_deref()));
        if let Some(tier) = tier {
            key(out, "statsigEnvironment");
            out.extend_from_slice(b"{\"tier\":");
            push_str(out, tier);
            out.push(b'}');
        }
    }
    out.push(b'}');
}

/// `evaluated_keys`: the user's id and custom ids, as strings.
fn write_evaluated_keys(user: &User<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut sep = false;
    if let Some(id) = user.user_id {
        id.uval().with_str(|s| {
            if let Some(s) = s.filter(|s| !s.is_empty()) {
                out.extend_from_slice(b"\"userID\":");
                push_str(out, s);
                sep = true;
            }
        });
    }
    let mut any = false;
    let mut entry = |out: &mut Vec<u8>, k: &str, v: Value<'_>| {
        out.extend_from_slice(if any {
            b","
        } else if sep {
            b",\"customIDs\":{"
        } else {
            b"\"customIDs\":{"
        });
        any = true;
        push_str(out, k);
        out.push(b':');
        v.uval().with_str_or_empty(|s| push_str(out, s));
    };
    match user.custom_ids {
        Attributes::None => {}
        Attributes::Json(m) => m.iter().for_each(|(k, v)| entry(out, k, Value::Json(v))),
        Attributes::Pairs(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if !pairs
                    .get(..i)
                    .is_some_and(|seen| seen.iter().any(|(s, _)| s == k))
                {
                    entry(out, k, *v);
                }
            }
        }
    }
    if any {
        out.push(b'}');
    }
    out.push(b'}');
}

/// `pa_hash`: djb2 of each private attribute's `name:value`, summed modulo 2^32; absent
/// without private attributes.
fn write_pa_hash(user: &User<'_>, out: &mut Vec<u8>) {
    let mut sum: u32 = 0;
    let mut add = |k: &str, v: Value<'_>| {
        v.uval().with_str_or_empty(|s| {
            let h = djb2_chars(djb2(k), ":".chars().chain(s.chars()));
            sum = sum.wrapping_add(h);
        });
    };
    match user.private_attributes {
        Attributes::None => return,
        Attributes::Json(m) if m.is_empty() => return,
        Attributes::Pairs([]) => return,
        Attributes::Json(m) => m.iter().for_each(|(k, v)| add(k, Value::Json(v))),
        Attributes::Pairs(pairs) => {
            for (i, (k, v)) in pairs.iter().enumerate() {
                if !pairs
                    .get(..i)
                    .is_some_and(|seen| seen.iter().any(|(s, _)| s == k))
                {
                    add(k, *v);
                }
            }
        }
    }
    out.extend_from_slice(b",\"pa_hash\":\"");
    push_u64(out, u64::from(sum));
    out.push(b'"');
}

/// Statsig's blank response (no ruleset, or an evaluation failed).
fn write_blank(view: &View, rs: Option<&Ruleset>, user: &User<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"{\"feature_gates\":{},\"dynamic_configs\":{},\"layer_configs\":{},\"time\":0,\
          \"has_updates\":false,\"hash_used\":\"\",\"user\":",
    );
    write_user(view, rs, user, out);
    out.extend_from_slice(
        b",\"sdkInfo\":{},\"sdkParams\":{},\"evaluated_keys\":{},\"param_stores\":{}",
    );
    write_pa_hash(user, out);
    out.push(b'}');
}

#[cfg(test)]
// The core does no IO; its tests read the corpus (the switch they compare is crate-private).
#[allow(clippy::disallowed_methods)]
mod tests {
    use std::path::Path;

    use super::{ClientInitOptions, HashAlgorithm};
    use crate::{Store, UserData};

    /// The response with nested gates remembered against the one without.
    fn same_either_way(store: &Store, users: &[UserData], what: &str) -> usize {
        let snapshot = store.snapshot();
        let mut checked = 0;
        for hash in [HashAlgorithm::None, HashAlgorithm::Djb2] {
            let on = ClientInitOptions::default().hash(hash);
            let off = ClientInitOptions {
                remember_nested: false,
                ..on
            };
            for u in users {
                let user = u.view();
                let (mut a, mut b) = (Vec::new(), Vec::new());
                snapshot.client_initialize_response(&user, &on, &mut a);
                snapshot.client_initialize_response(&user, &off, &mut b);
                let strip = |body: &[u8]| {
                    let mut j: serde_json::Value = serde_json::from_slice(body).expect("JSON");
                    j.as_object_mut().map(|o| o.remove("time"));
                    j
                };
                assert_eq!(strip(&a), strip(&b), "{what}: {u:?}");
                checked += 1;
            }
        }
        checked
    }

    fn users(path: &Path) -> Vec<UserData> {
        let text = std::fs::read_to_string(path).expect("users");
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| UserData::from_json(l.as_bytes()).expect("a user"))
            .collect()
    }

    /// Remembering nested gates changes no response: every shared fixture and own case.
    #[test]
    fn remembered_nested_gates_change_no_response() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut dirs = Vec::new();
        for base in ["conformance/fixtures", "examples/tests/data"] {
            for e in std::fs::read_dir(root.join(base)).expect("a corpus folder") {
                let dir = e.expect("an entry").path();
                if dir.join("dcs.json").is_file() && dir.join("users.jsonl").is_file() {
                    dirs.push(dir);
                }
            }
        }
        assert!(dirs.len() > 20, "{} corpora", dirs.len());
        let mut checked = 0;
        for dir in &dirs {
            let store = Store::new();
            let bytes = std::fs::read(dir.join("dcs.json")).expect("a payload");
            if store.load_json(&bytes).is_err() {
                continue; // cases of rejected payloads
            }
            let mut users = users(&dir.join("users.jsonl"));
            users.truncate(60);
            checked += same_either_way(&store, &users, &dir.display().to_string());
        }
        assert!(checked > 1000, "{checked} responses");
    }

    /// A gate so costly that checking it three times passes the per-call evaluation limit:
    /// the third check is evaluated, not replayed, and the response fails as it did
    /// without the memo; two checks stay within the limit either way.
    #[test]
    fn a_replay_counts_the_evaluations_it_stands_for() {
        for checks in [2, 3] {
            let mut gates = serde_json::Map::new();
            let mut conditions = serde_json::Map::new();
            let gate = |name: &str, conds: Vec<String>| {
                serde_json::json!({"name": name, "type": "feature_gate",
                    "entity": "feature_gate", "salt": name, "enabled": true,
                    "defaultValue": false, "idType": "userID", "rules": [{"id": format!("{name}-r"),
                    "name": "r", "passPercentage": 100, "conditions": conds,
                    "returnValue": true, "idType": "userID", "salt": "s"}]})
            };
            let depth = 11; // g0 takes 2^12 - 1 evaluations: two checks 8,191, three 12,286
            for k in 0..depth {
                let c = format!("c{}", k + 1);
                conditions.insert(
                    c.clone(),
                    serde_json::json!({"type": "pass_gate", "targetValue": format!("g{}", k + 1),
                        "idType": "userID"}),
                );
                gates.insert(format!("g{k}"), gate(&format!("g{k}"), vec![c.clone(), c]));
            }
            conditions.insert(
                "pub".into(),
                serde_json::json!({"type": "public", "idType": "userID"}),
            );
            gates.insert(
                format!("g{depth}"),
                gate(&format!("g{depth}"), vec!["pub".into()]),
            );
            conditions.insert(
                "c0".into(),
                serde_json::json!({"type": "pass_gate", "targetValue": "g0", "idType": "userID"}),
            );
            gates.insert("top".into(), gate("top", vec!["c0".into(); checks]));
            let payload = serde_json::json!({"feature_gates": gates, "dynamic_configs": {},
                "layer_configs": {}, "condition_map": conditions, "experiment_to_layer": {},
                "has_updates": true, "time": 1});
            let store = Store::new();
            store
                .load_json(payload.to_string().as_bytes())
                .expect("loads");
            let user = UserData::from_json(br#"{"userID": "u"}"#).expect("a user");
            let mut body = Vec::new();
            let options = ClientInitOptions::default().hash(HashAlgorithm::None);
            store
                .snapshot()
                .client_initialize_response(&user.view(), &options, &mut body);
            let j: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            // Over the limit, the response is the blank one.
            assert_eq!(j["has_updates"], checks == 2, "{checks} checks: {j}");
            assert_eq!(same_either_way(&store, &[user], "costly gate"), 2);
        }
    }
}

//! The evaluator: the procedure of the spec's section 4 over a compiled [`Ruleset`].

use core::cell::Cell;

use super::env::Env;
use super::memo::ResponseMemo;
use super::record::{Abort, Found, Kind, Merged, RawExposure, Record};
use super::trace::{NoTrace, Read, Tracer};
use crate::hash::Prefix;
use crate::load::{
    CondKind, Condition, FieldRef, GateRef, IdType, Op, Pass, ReturnValue, Rule, Ruleset, Spec,
    Target, MAX_MERGED_LAYER_RULES, MISSING_CONDITION, SID_DEFAULT, SID_DISABLED, SID_EMPTY,
    SID_OVERRIDE,
};
use crate::overrides::Overrides;

use crate::user::{TopField, User};
use crate::value::{with_lower, UVal};

/// Most nested gate evaluations in one call (spec 4.8).
const MAX_NESTED_DEPTH: u32 = 64;
/// Most layer delegations in one call (spec 4.8).
const MAX_DELEGATION_DEPTH: u32 = 300;
/// Most config-mapping hops (spec 4.10) in a row, with no nested gate evaluation between
/// them. Statsig does not limit them: a mapping cycle overflows its stack. Here it ends the
/// whole evaluation.
const MAX_MAPPING_DEPTH: u32 = 64;
/// Most `experiment_group` conditions resolved inside one another. Statsig evaluates each
/// as a fresh top-level call without limit: a cycle (or a very long chain) overflows its
/// stack. Here a cycle, or a chain longer than this, ends the whole evaluation.
const MAX_EXPERIMENT_GROUP_DEPTH: usize = 8;
/// Most spec evaluations (nested gates, delegates, mapped specs, experiment groups) in one
/// top-level evaluation. Depth limits alone do not bound the work: where errors are caught
/// and the next mapping entry is tried, a payload with cycles can branch at every level
/// (Statsig's core then runs for minutes). Real payloads need a few dozen; past this the
/// evaluation ends with [`crate::Reason::DepthExceeded`].
const MAX_SPEC_EVALUATIONS: u32 = 10_000;
/// User agents longer than this are not parsed.
const MAX_UA_BYTES: usize = 1000;

/// The rules a sticky-enforcement re-evaluation keeps ([`Evaluator::filtered_value`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RuleFilter {
    /// Targeting rules: id `targetingGate` or `inlineTargetingRules`.
    Targeting,
    /// Console overrides: an id ending in `override`.
    Overrides,
}

impl RuleFilter {
    /// Whether a rule of id `id` is kept (Statsig's `is_targeting_rule` / `is_override_rule`).
    pub(crate) fn selects(self, id: &str) -> bool {
        match self {
            RuleFilter::Targeting => id == "targetingGate" || id == "inlineTargetingRules",
            RuleFilter::Overrides => id.ends_with("override"),
        }
    }
}

/// Per-call evaluation state. `sec` is the caller's reusable exposure buffer. `T` watches
/// the evaluation ([`super::trace`]); the default [`NoTrace`] is a zero-sized type whose
/// hooks are empty, so the normal evaluation compiles as if they were not there.
pub(crate) struct Evaluator<'r, 'u, 'e, T: Tracer = NoTrace> {
    pub(crate) rs: &'r Ruleset,
    pub(crate) user: &'e User<'u>,
    pub(crate) env: &'e Env<'e>,
    pub(crate) sec: &'e mut Vec<RawExposure>,
    nested_depth: u32,
    delegation_depth: u32,
    mapping_depth: u32,
    experiment_group_depth: u32,
    /// The experiments whose group is being resolved, outermost first (`None` until the
    /// first `experiment_group` condition, so that starting an evaluation stays cheap).
    experiment_group_path: Option<[&'r str; MAX_EXPERIMENT_GROUP_DEPTH]>,
    /// A guard that stands for Statsig overflowing its stack was hit: unlike its depth
    /// errors, this [`Abort`] is never caught.
    overflow: bool,
    /// Spec evaluations so far (bounded by [`MAX_SPEC_EVALUATIONS`]).
    evaluations: u32,
    now: Option<i64>,
    pub(crate) id_list_used: Cell<bool>,
    pub(crate) country_not_loaded: Cell<bool>,
    /// Whether secondary exposures are collected (only the value is wanted otherwise).
    pub(crate) keep_exposures: bool,
    /// The local overrides, asked before every spec evaluation (`None`: there are none).
    pub(crate) overrides: Option<&'r Overrides>,
    /// Recent bucketing hashes: (prefix id, unit type, hash). Experiments hash the same
    /// salt and unit for each group's condition.
    memo: Cell<[(u32, &'r str, u64); 2]>,
    /// Told about every step (a no-op unless explaining).
    pub(crate) tracer: T,
}

/// The standard field plans used to read the UA and the IP.
const USER_AGENT_FIELD: FieldPlan<'static> = FieldPlan {
    name: "userAgent",
    lower: "useragent",
    top: Some(TopField::UserAgent),
    alias: None,
};
const IP_FIELD: FieldPlan<'static> = FieldPlan {
    name: "ip",
    lower: "ip",
    top: Some(TopField::Ip),
    alias: None,
};

#[derive(Clone, Copy)]
struct FieldPlan<'a> {
    name: &'a str,
    lower: &'a str,
    top: Option<TopField>,
    alias: Option<TopField>,
}

impl FieldRef {
    fn plan(&self) -> FieldPlan<'_> {
        FieldPlan {
            name: &self.name,
            lower: &self.lower,
            top: self.top,
            alias: self.alias,
        }
    }
}

impl<'r, 'u, 'e> Evaluator<'r, 'u, 'e> {
    pub(crate) fn new(
        rs: &'r Ruleset,
        user: &'e User<'u>,
        env: &'e Env<'e>,
        sec: &'e mut Vec<RawExposure>,
    ) -> Self {
        Evaluator::with_tracer(rs, user, env, sec, NoTrace)
    }
}

impl<'r, 'u, 'e, T: Tracer> Evaluator<'r, 'u, 'e, T> {
    /// An evaluator that tells `tracer` every step it takes.
    pub(crate) fn with_tracer(
        rs: &'r Ruleset,
        user: &'e User<'u>,
        env: &'e Env<'e>,
        sec: &'e mut Vec<RawExposure>,
        tracer: T,
    ) -> Self {
        Evaluator {
            rs,
            user,
            env,
            sec,
            nested_depth: 0,
            delegation_depth: 0,
            mapping_depth: 0,
            experiment_group_depth: 0,
            experiment_group_path: None,
            overflow: false,
            evaluations: 0,
            now: None,
            id_list_used: Cell::new(false),
            country_not_loaded: Cell::new(false),
            keep_exposures: true,
            overrides: None,
            memo: Cell::new([(u32::MAX, "", 0); 2]),
            tracer,
        }
    }

    /// Looks up `name` in the map of `kind` and evaluates it (spec 4.3).
    pub(crate) fn evaluate(
        &mut self,
        name: &str,
        kind: Kind,
        rec: &mut Record<'r>,
    ) -> Result<Found, Abort> {
        let specs = match kind {
            Kind::Gate => &self.rs.gates,
            Kind::DynamicConfig | Kind::Experiment => &self.rs.configs,
            Kind::Layer => &self.rs.layers,
        };
        match specs.find(name).and_then(|i| specs.list.get(i)) {
            Some(spec) => self.evaluate_known(spec, kind, rec),
            None if self.overrides.is_some() && self.try_override(name, kind, None, rec) => {
                Ok(Found::Recognized)
            }
            None if self.try_mapping(name, kind, rec)? => Ok(Found::Recognized),
            None => Ok(Found::Unrecognized),
        }
    }

    /// A local override of `name` for this user (Statsig asks before config mapping and
    /// before looking at the spec): fills in `rec` and returns `true` when there is one.
    #[cold]
    fn try_override(
        &mut self,
        name: &str,
        kind: Kind,
        spec: Option<&'r Spec>,
        rec: &mut Record<'r>,
    ) -> bool {
        let Some(o) = self.overrides else {
            return false;
        };
        let user = self.user;
        match kind {
            Kind::Gate => match o.gates.get(name).and_then(|b| b.find(user)) {
                Some(&v) => rec.value = v,
                None => return false,
            },
            Kind::DynamicConfig => match o.configs.get(name).and_then(|b| b.find(user)) {
                Some(v) => rec.json = Some(v),
                None => return false,
            },
            Kind::Experiment => match o.experiments.get(name).and_then(|b| b.find(user)) {
                Some(v) => rec.json = v.value(spec),
                None => return false,
            },
            Kind::Layer => match o.layers.get(name).and_then(|b| b.find(user)) {
                Some(v) => rec.json = Some(v),
                None => return false,
            },
        }
        rec.rule_id = Some(SID_OVERRIDE);
        rec.local_override = true;
        self.tracer.overridden(name, kind);
        true
    }

    /// Evaluates `spec`, unless config mapping (spec 4.10) answers for its name.
    #[inline]
    pub(crate) fn evaluate_known(
        &mut self,
        spec: &'r Spec,
        kind: Kind,
        rec: &mut Record<'r>,
    ) -> Result<Found, Abort> {
        if self.overrides.is_some() && self.try_override(&spec.name, kind, Some(spec), rec) {
            return Ok(Found::Recognized);
        }
        if self.rs.mappings.is_some() && self.try_mapping(&spec.name, kind, rec)? {
            return Ok(Found::Recognized);
        }
        self.evaluate_spec(spec, kind, rec)
    }

    /// Config mapping (spec 4.10): the first mapping of `name` with an entry whose rule
    /// passes, and whose target is recognized, answers instead (`true`). As in Statsig, an
    /// evaluation error (nesting too deep) in an entry's rule skips the entry, and one in
    /// the target abandons the mapping; mapping hops are not nested evaluations.
    fn try_mapping(&mut self, name: &str, kind: Kind, rec: &mut Record<'r>) -> Result<bool, Abort> {
        let rs = self.rs;
        let Some(mappings) = rs.mappings.as_deref() else {
            return Ok(false);
        };
        let Some(list) = mappings.find(name) else {
            return Ok(false);
        };
        self.tracer.enter_mapping(name);
        let mapped = self.try_mapping_list(mappings, list, kind, rec);
        self.tracer.exit_mapping(matches!(mapped, Ok(true)));
        mapped
    }

    /// [`Evaluator::try_mapping`] over the mappings of one name.
    fn try_mapping_list(
        &mut self,
        mappings: &'r crate::load::Mappings,
        list: &'r [crate::load::Mapping],
        kind: Kind,
        rec: &mut Record<'r>,
    ) -> Result<bool, Abort> {
        let section = match kind {
            Kind::Gate => 0,
            Kind::DynamicConfig | Kind::Experiment => 1,
            Kind::Layer => 2,
        };
        for mapping in list {
            for entry in &mapping.entries {
                if entry.start_time > self.now() {
                    continue;
                }
                let Some(rule) = entry.rule.and_then(|r| mappings.rules.get(r as usize)) else {
                    continue;
                };
                let depths = self.depths();
                self.tracer.rule(rule, Some(&mapping.new_config_name));
                let matched = match self.eval_conditions(rule, rec) {
                    Ok(()) => rec.value && !rec.unsupported,
                    Err(Abort) if self.overflow => return Err(Abort),
                    Err(Abort) => {
                        self.set_depths(depths);
                        false
                    }
                };
                self.reset(rec);
                if !matched || !self.passes(&entry.pass[section], &rule.id_type) {
                    continue;
                }
                rec.override_config_name = Some(&mapping.new_config_name);
                if self.mapping_depth >= MAX_MAPPING_DEPTH {
                    self.overflow = true;
                    return Err(Abort);
                }
                self.mapping_depth += 1;
                let found = self.evaluate(&mapping.new_config_name, kind, rec);
                self.set_depths(depths);
                match found {
                    Ok(Found::Recognized) => return Ok(true),
                    Err(Abort) if self.overflow => return Err(Abort),
                    Ok(Found::Unrecognized) | Err(Abort) => {}
                }
                self.reset(rec);
                break;
            }
        }
        Ok(false)
    }

    /// The nesting counters, to restore them where an evaluation error is caught.
    fn depths(&self) -> [u32; 4] {
        [
            self.nested_depth,
            self.delegation_depth,
            self.mapping_depth,
            self.experiment_group_depth,
        ]
    }

    fn set_depths(&mut self, d: [u32; 4]) {
        [
            self.nested_depth,
            self.delegation_depth,
            self.mapping_depth,
            self.experiment_group_depth,
        ] = d;
    }

    /// Empties the record and drops its exposures (Statsig's `reset_result`).
    fn reset(&mut self, rec: &mut Record<'r>) {
        self.sec.truncate(rec.base);
        *rec = Record::at(rec.base);
    }

    /// Evaluates `spec` itself (no override, no mapping), telling the tracer where it
    /// starts and ends.
    #[inline(always)]
    pub(crate) fn evaluate_spec(
        &mut self,
        spec: &'r Spec,
        kind: Kind,
        rec: &mut Record<'r>,
    ) -> Result<Found, Abort> {
        self.tracer.enter_spec(spec, kind);
        let found = self.evaluate_spec_rules(spec, kind, rec);
        self.tracer.exit_spec(self.rs, rec, found.is_err());
        found
    }

    fn evaluate_spec_rules(
        &mut self,
        spec: &'r Spec,
        kind: Kind,
        rec: &mut Record<'r>,
    ) -> Result<Found, Abort> {
        self.evaluations += 1;
        if self.evaluations > MAX_SPEC_EVALUATIONS {
            // Like a stack overflow in Statsig's core: never caught, ends the evaluation.
            self.overflow = true;
            return Err(Abort);
        }
        if !rec.meta_set {
            rec.meta_set = true;
            rec.id_type = Some(&spec.id_type);
        }
        // The first spec with a version gives it (Statsig's `if result.version.is_none()`): a
        // layer without one takes its delegate's, even a delegate a multi-rule layer skips.
        if rec.version.is_none() {
            rec.version = spec.version;
        }
        if let Some(a) = spec.is_active {
            rec.is_experiment_active = a;
        }
        if let Some(s) = spec.has_shared_params {
            rec.is_in_layer = s;
        }
        if let Some(e) = &spec.explicit_parameters {
            rec.explicit_parameters = Some(e);
        }
        if spec.use_new_layer_eval && kind == Kind::Layer {
            return self.evaluate_layer_rules(spec, rec);
        }
        for rule in &spec.rules {
            self.tracer.rule(rule, None);
            if rule.public_only {
                rec.value = true;
            } else {
                self.eval_conditions(rule, rec)?;
                if rec.unsupported {
                    return Ok(Found::Recognized);
                }
            }
            if !rec.value {
                continue;
            }
            if self.delegate(rule, rec)? {
                finalise(spec, None, rec);
                return Ok(Found::Recognized);
            }
            if self.pass_percentage(rule) {
                rec.value = !rule.return_value.is_false();
                rec.json = Some(&rule.return_value);
            } else {
                rec.value = spec.default_value.is_true();
                rec.json = Some(&spec.default_value);
            }
            rec.rule_id = Some(rule.sid);
            rec.group_name = rule.group_name.as_deref();
            rec.is_experiment_group = rule.is_experiment_group.unwrap_or(false);
            rec.is_experiment_active = spec.is_active.unwrap_or(false);
            finalise(spec, Some(rule), rec);
            return Ok(Found::Recognized);
        }
        rec.value = spec.default_value.is_true();
        rec.json = Some(&spec.default_value);
        rec.rule_id = Some(if spec.enabled {
            SID_DEFAULT
        } else {
            SID_DISABLED
        });
        finalise(spec, None, rec);
        Ok(Found::Recognized)
    }

    /// Statsig's restricted re-evaluation for sticky assignments (`enforce_targeting`,
    /// `enforce_overrides`; its `only_evaluate_targeting` / `only_evaluate_overrides`): the
    /// boolean value of `spec` when only its top-level rules that `filter` selects exist.
    /// Local overrides and config mapping are not consulted; nested gates evaluate in full.
    /// No selected rule gives `false`; an evaluation error gives `false`, as in Statsig.
    pub(crate) fn filtered_value(&mut self, spec: &'r Spec, filter: RuleFilter) -> bool {
        let selected = |r: &&'r Rule| filter.selects(&r.id);
        if !spec.rules.iter().any(|r| selected(&r)) {
            return false;
        }
        let mut rec = Record::default();
        for rule in spec.rules.iter().filter(selected) {
            match self.conditions_value(rule, &mut rec) {
                Err(value) => return value,
                Ok(false) => continue,
                Ok(true) => rec.value = true,
            }
            match self.delegate(rule, &mut rec) {
                Err(Abort) => return false,
                Ok(true) => return rec.value,
                Ok(false) => {}
            }
            return if self.pass_percentage(rule) {
                !rule.return_value.is_false()
            } else {
                spec.default_value.is_true()
            };
        }
        spec.default_value.is_true()
    }

    /// A gate's boolean alone: what [`Evaluator::evaluate_spec`] reports as `value`, without
    /// filling the record's metadata (the fast path of `check_gate`).
    #[inline]
    pub(crate) fn gate_value(&mut self, spec: &'r Spec) -> bool {
        let mut rec = Record::default();
        for rule in &spec.rules {
            if !rule.public_only {
                if self.eval_conditions(rule, &mut rec).is_err() {
                    return false;
                }
                if rec.unsupported {
                    return rec.value;
                }
                if !rec.value {
                    continue;
                }
            }
            if matches!(rule.config_delegate, Some((_, Some(_)))) {
                // A gate that delegates (not something Statsig produces): the general path.
                let mut rec = Record::default();
                return self.evaluate_spec(spec, Kind::Gate, &mut rec).is_ok() && rec.value;
            }
            return if self.pass_percentage(rule) {
                !rule.return_value.is_false()
            } else {
                spec.default_value.is_true()
            };
        }
        spec.default_value.is_true()
    }

    /// A rule's conditions where only a boolean is wanted: `Ok(passed)`, or `Err(value)`
    /// when the evaluation ends here with `value` (an error gives `false`, an unsupported
    /// condition the value so far). A public-only rule passes without evaluating.
    #[inline(always)]
    fn conditions_value(&mut self, rule: &'r Rule, rec: &mut Record<'r>) -> Result<bool, bool> {
        if rule.public_only {
            return Ok(true);
        }
        if self.eval_conditions(rule, rec).is_err() {
            return Err(false);
        }
        if rec.unsupported {
            return Err(rec.value);
        }
        Ok(rec.value)
    }

    /// Layer → experiment delegation (spec 4.6 steps 2–3): evaluates the rule's delegate
    /// into `rec` when it exists; `false` when the rule does not delegate.
    fn delegate(&mut self, rule: &'r Rule, rec: &mut Record<'r>) -> Result<bool, Abort> {
        let Some((_, Some(delegate))) = &rule.config_delegate else {
            return Ok(false);
        };
        if self.delegation_depth >= MAX_DELEGATION_DEPTH {
            return Err(Abort);
        }
        let Some(exp) = self.rs.configs.list.get(*delegate as usize) else {
            return Err(Abort);
        };
        rec.undelegated = Some((rec.base, self.sec.len()));
        rec.value = false;
        rec.json = None;
        self.delegation_depth += 1;
        self.evaluate_known(exp, Kind::Experiment, rec)?;
        self.delegation_depth -= 1;
        rec.explicit_parameters = exp.explicit_parameters.as_deref();
        rec.config_delegate = Some(&exp.name);
        Ok(true)
    }

    /// Multi-rule layer evaluation (spec 4.7, `useNewLayerEval`): every passing rule adds
    /// the parameters not set yet; the first passing rule may delegate to an experiment.
    fn evaluate_layer_rules(
        &mut self,
        spec: &'r Spec,
        rec: &mut Record<'r>,
    ) -> Result<Found, Abort> {
        let mut merged = Merged {
            layer: spec,
            delegate: None,
            rules: 0,
        };
        let mut has_passed = false;
        let mut passed = false;
        let mut rule_id = SID_DEFAULT;
        let mut config_delegate = None;
        let mut group_name = None;
        let mut is_experiment_group = false;
        let mut explicit_parameters = None;
        // The buffer from `rec.base` to `collected` holds the layer's secondary exposures
        // so far; what follows is still the record's own list. An accepted delegate's
        // exposures (`hole`) are secondary but not undelegated exposures.
        let mut collected = rec.base;
        let mut hole = None;
        for (i, rule) in spec.rules.iter().enumerate() {
            self.tracer.rule(rule, None);
            if rule.public_only {
                rec.value = true;
            } else {
                self.eval_conditions(rule, rec)?;
            }
            collected = self.sec.len();
            if rec.unsupported {
                self.split_layer_exposures(rec, collected, hole);
                return Ok(Found::Recognized);
            }
            if !rec.value || !self.pass_percentage(rule) {
                continue;
            }
            // Statsig moves the layer's exposures out of the record before each delegation,
            // so a config mapping resetting the delegate's record does not drop them.
            let base = rec.base;
            rec.base = self.sec.len();
            let delegated = self.delegate(rule, rec);
            rec.base = base;
            if delegated? {
                // Statsig also skips a delegate whose value reuses a parameter already set,
                // but before any rule has passed no parameter is set.
                if has_passed {
                    continue;
                }
                let value = match rec.json {
                    Some(ReturnValue::Object(m)) => Some(m),
                    Some(ReturnValue::Bool(_) | ReturnValue::Null) => None,
                    None => continue,
                };
                merged.delegate = Some((value, rule.sid));
                hole = Some((collected, self.sec.len()));
                collected = self.sec.len();
                passed = rec.value;
                config_delegate = rec.config_delegate;
                group_name = rec.group_name;
                rule_id = rule.sid;
                is_experiment_group = rule.is_experiment_group.unwrap_or(false);
                explicit_parameters = rec.explicit_parameters;
            } else {
                passed = rec.value;
                merged.rules |= 1u128 << (i % MAX_MERGED_LAYER_RULES);
            }
            has_passed = true;
        }
        // Exposures of a delegate skipped by the last rule are dropped (as Statsig does).
        self.sec.truncate(collected);
        rec.value = passed;
        rec.config_delegate = config_delegate;
        rec.group_name = group_name;
        rec.rule_id = Some(rule_id);
        rec.json = None;
        rec.merged = Some(merged);
        rec.is_experiment_group = is_experiment_group;
        rec.is_experiment_active = spec.is_active.unwrap_or(false);
        rec.explicit_parameters = explicit_parameters;
        self.split_layer_exposures(rec, collected, hole);
        finalise(spec, None, rec);
        Ok(Found::Recognized)
    }

    /// Sets a multi-rule layer's exposure lists: the secondary exposures are the buffer from
    /// the record's base to `end`; the undelegated ones are the same without `hole`, copied
    /// after them when there is a hole.
    fn split_layer_exposures(
        &mut self,
        rec: &mut Record<'r>,
        end: usize,
        hole: Option<(usize, usize)>,
    ) {
        self.sec.truncate(end);
        rec.secondary_end = Some(end);
        rec.undelegated = Some(match hole {
            None => (rec.base, end),
            Some((from, to)) => {
                copy_to_end(self.sec, rec.base..from);
                copy_to_end(self.sec, to..end);
                (end, self.sec.len())
            }
        });
    }

    /// ANDs a rule's conditions without short-circuit (spec 4.4).
    #[inline]
    fn eval_conditions(&mut self, rule: &'r Rule, rec: &mut Record<'r>) -> Result<(), Abort> {
        let mut all = true;
        for &ci in &rule.conditions {
            if ci == MISSING_CONDITION {
                rec.unsupported = true;
                return Ok(());
            }
            let Some(c) = self.rs.conditions.get(ci as usize) else {
                rec.unsupported = true;
                return Ok(());
            };
            self.eval_condition(c, rec)?;
            if !rec.value {
                all = false;
            }
        }
        rec.value = all;
        self.tracer.conditions(all);
        Ok(())
    }

    /// SHA-256 of `prefix` + the unit id of type `id`, remembered for the next lookups
    /// (used by `user_bucket`, whose salt repeats across an experiment's group rules).
    fn unit_hash(&self, prefix: &Prefix, id: &'r IdType) -> u64 {
        let mut memo = self.memo.get();
        if prefix.id != u32::MAX {
            if let Some(&(_, _, h)) = memo
                .iter()
                .find(|(p, n, _)| *p == prefix.id && *n == &*id.name)
            {
                if T::RECORDS {
                    // A trace says where the unit id came from, remembered or not.
                    let _ = self.unit_value(id);
                }
                return h;
            }
        }
        let hash = || {
            self.unit_value(id)
                .with_str_or_empty(|s| prefix.hash_u64(s.as_bytes()))
        };
        let h = match self.tracer.memo() {
            Some(m) if prefix.id != u32::MAX => m.unit_hash(prefix.id, &id.name, hash),
            _ => hash(),
        };
        memo[1] = memo[0];
        memo[0] = (prefix.id, &id.name, h);
        self.memo.set(memo);
        h
    }

    #[inline]
    fn pass_percentage(&self, rule: &'r Rule) -> bool {
        self.passes(&rule.pass, &rule.id_type)
    }

    #[inline]
    fn passes(&self, pass: &Pass, id_type: &'r IdType) -> bool {
        match pass {
            Pass::Always => {
                self.tracer.percentage(None, 10_000.0, true);
                true
            }
            Pass::Never => {
                self.tracer.percentage(None, 0.0, false);
                false
            }
            Pass::Hash { prefix, threshold } => {
                let h = self
                    .unit_value(id_type)
                    .with_str_or_empty(|s| prefix.hash_u64(s.as_bytes()));
                let passed = ((h % 10_000) as f64) < *threshold;
                self.tracer.percentage(Some(h % 10_000), *threshold, passed);
                passed
            }
        }
    }

    /// Evaluates one condition into `rec.value` (or `rec.unsupported`).
    #[inline(always)]
    fn eval_condition(&mut self, c: &'r Condition, rec: &mut Record<'r>) -> Result<(), Abort> {
        self.tracer.condition(self.rs, c);
        let r = self.eval_condition_value(c, rec);
        self.tracer.condition_end(rec.value, rec.unsupported);
        r
    }

    fn eval_condition_value(
        &mut self,
        c: &'r Condition,
        rec: &mut Record<'r>,
    ) -> Result<(), Abort> {
        let v = match &c.kind {
            CondKind::Public => {
                rec.value = true;
                return Ok(());
            }
            CondKind::Gate(g) => return self.nested_gate(g, rec),
            CondKind::Unsupported => {
                rec.unsupported = true;
                return Ok(());
            }
            _ if c.op == Op::Unsupported => {
                rec.unsupported = true;
                return Ok(());
            }
            CondKind::UserField(f) => match f {
                Some(f) => self.user_value(f.plan()),
                None => UVal::Missing,
            },
            CondKind::EnvField(f) => match f {
                Some(f) => self.env_value(f),
                None => UVal::Missing,
            },
            CondKind::UnitId => self.unit_value(&c.id_type),
            CondKind::UserBucket(prefix, table) => {
                let bucket = self.unit_hash(prefix, &c.id_type) % 1000;
                if let Some(t) = table {
                    self.tracer.operand(&UVal::Int(bucket as i64));
                    // in bounds: `bucket` < 1000, so `bucket / 64` < 16 = `t.len()`.
                    rec.value = (t[(bucket / 64) as usize] >> (bucket % 64)) & 1 == 1;
                    return Ok(());
                }
                UVal::Int(bucket as i64)
            }
            CondKind::CurrentTime => UVal::Time(self.now()),
            CondKind::UaBased(f, ua_field) => {
                let own = match f {
                    Some(f) => self.user_value(f.plan()),
                    None => UVal::Missing,
                };
                if own.is_missing() {
                    rec.value = self.ua_condition(c, *ua_field);
                    return Ok(());
                }
                own
            }
            CondKind::IpBased(f, is_country) => {
                let own = match f {
                    Some(f) => self.user_value(f.plan()),
                    None => UVal::Missing,
                };
                if own.is_missing() && *is_country {
                    rec.value = self.ip_country_condition(c);
                    return Ok(());
                }
                own
            }
            CondKind::TargetApp => match self.env.app_id.unwrap_or(self.rs.app_id.as_ref()) {
                Some(v) => UVal::from_json(v),
                None => UVal::Missing,
            },
            CondKind::ExperimentGroup(name) => {
                let group = match name {
                    Some(n) => self.experiment_group(n)?,
                    None => None,
                };
                match group {
                    Some(g) => UVal::Str(g),
                    None => UVal::Missing,
                }
            }
        };
        rec.value = self.apply(c, v);
        Ok(())
    }

    /// `pass_gate` / `fail_gate` (spec 4.8).
    fn nested_gate(&mut self, g: &GateRef, rec: &mut Record<'r>) -> Result<(), Abort> {
        if self.nested_depth >= MAX_NESTED_DEPTH {
            return Err(Abort);
        }
        let mut child = Record::at(self.sec.len());
        let rs = self.rs;
        if rs.mappings.is_some() || self.overrides.is_some() {
            // Config mapping and local overrides may answer for any name, even one that is
            // not a gate. Mapping
            // hops are only limited between two nested evaluations (those are limited).
            let hops = self.mapping_depth;
            self.mapping_depth = 0;
            self.nested_depth += 1;
            self.evaluate(rs.str(g.sid), Kind::Gate, &mut child)?;
            self.nested_depth -= 1;
            self.mapping_depth = hops;
        } else if let Some(i) = g.index {
            let Some(spec) = self.rs.gates.list.get(i as usize) else {
                return Err(Abort);
            };
            let tracer = self.tracer;
            let slot = (self.nested_depth == 0 && self.experiment_group_depth == 0)
                .then(|| ResponseMemo::slot(i, self.delegation_depth))
                .flatten();
            match (tracer.memo(), slot) {
                (Some(memo), Some(slot)) => self.remembered_gate(memo, slot, spec, &mut child)?,
                _ => {
                    self.nested_depth += 1;
                    self.evaluate_spec(spec, Kind::Gate, &mut child)?;
                    self.nested_depth -= 1;
                }
            }
        }
        if child.has_seen_analytical_gates {
            rec.has_seen_analytical_gates = true;
        }
        if child.unsupported {
            rec.unsupported = true;
            return Ok(());
        }
        // A gate is analytical when its rule has no sampling rate; a segment has no rate of
        // its own, only what it saw (spec 11.5).
        if !g.is_segment && child.sampling_rate.is_none() {
            rec.has_seen_analytical_gates = true;
        }
        rec.value = child.value;
        rec.rule_id = child.rule_id;
        if child.override_config_name.is_some() {
            rec.override_config_name = child.override_config_name;
        }
        if !g.is_segment && self.keep_exposures {
            if let Some(rule) = child.rule_id.filter(|r| *r != SID_EMPTY) {
                self.sec.push(RawExposure {
                    gate: g.sid,
                    value: child.value,
                    rule,
                });
            }
        }
        if g.fail {
            rec.value = !rec.value;
        }
        Ok(())
    }

    /// A nested gate through the response's memo: replayed when remembered (and the
    /// evaluations it stands for stay within the limit), else evaluated and remembered.
    #[cold]
    fn remembered_gate(
        &mut self,
        memo: &ResponseMemo,
        slot: usize,
        spec: &'r Spec,
        child: &mut Record<'r>,
    ) -> Result<(), Abort> {
        if let Some(r) = memo.get(slot) {
            if self.evaluations + r.evaluations <= MAX_SPEC_EVALUATIONS {
                self.evaluations += r.evaluations;
                memo.replay(&r, child, self.sec);
                if r.id_list_used {
                    self.id_list_used.set(true);
                }
                if r.country_not_loaded {
                    self.country_not_loaded.set(true);
                }
                return Ok(());
            }
        }
        let (base, evaluations) = (self.sec.len(), self.evaluations);
        let flags = (self.id_list_used.get(), self.country_not_loaded.get());
        self.nested_depth += 1;
        self.evaluate_spec(spec, Kind::Gate, child)?;
        self.nested_depth -= 1;
        // A flag already set cannot tell whether this gate would set it: not remembered.
        if !flags.0 && !flags.1 && child.override_config_name.is_none() {
            let added = self.sec.get(base..).unwrap_or_default();
            memo.remember(
                slot,
                child,
                added,
                self.evaluations - evaluations,
                (self.id_list_used.get(), self.country_not_loaded.get()),
            );
        }
        Ok(())
    }

    /// The group of an experiment for this user (`experiment_group` conditions). Statsig
    /// gets it from a separate top-level evaluation: its nesting starts afresh, and an
    /// evaluation error there only means "no group".
    fn experiment_group(&mut self, name: &'r str) -> Result<Option<&'r str>, Abort> {
        let depth = self.experiment_group_depth as usize;
        let path = self
            .experiment_group_path
            .get_or_insert([""; MAX_EXPERIMENT_GROUP_DEPTH]);
        match path.get_mut(..=depth) {
            Some([outer @ .., slot]) if !outer.contains(&name) => *slot = name,
            _ => {
                self.overflow = true;
                return Err(Abort);
            }
        }
        let depths = self.depths();
        self.nested_depth = 0;
        self.delegation_depth = 0;
        self.experiment_group_depth += 1;
        let mark = self.sec.len();
        let mut rec = Record::at(mark);
        let found = self.evaluate(name, Kind::Experiment, &mut rec);
        self.set_depths(depths);
        // The experiment's own exposures are not secondary exposures of this evaluation.
        self.sec.truncate(mark);
        match found {
            Ok(Found::Recognized) => Ok(rec.group_name),
            Err(Abort) if self.overflow => Err(Abort),
            Ok(Found::Unrecognized) | Err(Abort) => Ok(None),
        }
    }

    fn now(&mut self) -> i64 {
        match self.now {
            Some(t) => t,
            None => {
                let t = self.env.now_ms();
                self.now = Some(t);
                t
            }
        }
    }

    /// `userValue(field)` (spec 3.2).
    fn user_value(&self, f: FieldPlan<'_>) -> UVal<'_> {
        let u = self.user;
        if let Some(t) = f.top {
            if let Some(v) = u.top(t) {
                let v = v.uval();
                if has_nonempty_str(&v) {
                    self.tracer.read(Read::User(t));
                    return v;
                }
            }
        }
        if let Some(v) = u.custom.get2(f.name, f.lower) {
            self.tracer.read(Read::Custom(f.name));
            return v.uval();
        }
        if let Some(v) = u.private_attributes.get2(f.name, f.lower) {
            self.tracer.read(Read::Private(f.name));
            return v.uval();
        }
        if let Some(a) = f.alias {
            if let Some(v) = u.top(a) {
                self.tracer.read(Read::User(a));
                return v.uval();
            }
        }
        UVal::Missing
    }

    /// `unitValue(idType)` (spec 3.3).
    #[inline]
    fn unit_value(&self, id: &IdType) -> UVal<'_> {
        let v = if id.is_user_id {
            self.user.user_id
        } else {
            self.user.custom_ids.get2(&id.name, &id.lower)
        };
        if v.is_some() {
            self.tracer.read(Read::Unit(id.is_user_id, &id.name));
        }
        v.map_or(UVal::Missing, |v| v.uval())
    }

    /// `envValue(field)` (spec 3.4).
    fn env_value(&self, f: &FieldRef) -> UVal<'_> {
        if let Some(v) = self.user.environment.get(&f.name) {
            self.tracer.read(Read::Environment(&f.name));
            return v.uval();
        }
        if &*f.name == "tier" || &*f.lower == "tier" {
            if let Some(t) = self.env.tier.or(self.rs.default_environment.as_deref()) {
                self.tracer.read(Read::Tier);
                return UVal::Str(t);
            }
        }
        UVal::Missing
    }

    fn ua_condition(&self, c: &Condition, field: Option<crate::ua::Field>) -> bool {
        let ua_val = self.user_value(USER_AGENT_FIELD);
        let Some(field) = field else {
            return self.apply(c, UVal::Missing);
        };
        ua_val.with_str(|ua| {
            let Some(ua) = ua.filter(|s| s.len() <= MAX_UA_BYTES) else {
                return self.apply(c, UVal::Missing);
            };
            if let Some(memo) = self.tracer.memo() {
                return memo.ua_field(ua, field, |v| self.apply(c, UVal::Str(v)));
            }
            let parsed = crate::ua::parse(ua);
            let mut buf = crate::value::StackStr::<128>::new();
            self.apply(c, UVal::Str(parsed.field(field, &mut buf)))
        })
    }

    fn ip_country_condition(&self, c: &Condition) -> bool {
        let ip = self.user_value(IP_FIELD);
        let parsed = ip.with_str(|s| s.and_then(parse_ipv4));
        let Some(ip) = parsed else {
            // Statsig reaches for its table once the address has four dotted parts, numeric
            // or not, and says so in the reason when the table is not loaded.
            if self.env.country.is_none()
                && ip.with_str(|s| s.is_some_and(|s| s.split('.').count() == 4))
            {
                self.country_not_loaded.set(true);
            }
            return self.apply(c, UVal::Missing);
        };
        match self.env.country {
            Some(lookup) => match ip.and_then(|ip| lookup.country(ip)) {
                Some(country) => {
                    let mut buf = crate::value::StackStr::<16>::new();
                    let _ = core::fmt::Write::write_str(&mut buf, country);
                    self.apply(c, UVal::Str(buf.as_str()))
                }
                None => self.apply(c, UVal::Missing),
            },
            None => {
                self.country_not_loaded.set(true);
                self.apply(c, UVal::Missing)
            }
        }
    }

    /// Applies the condition's operator to the user-side value (spec section 6).
    pub(super) fn apply(&self, c: &Condition, v: UVal<'_>) -> bool {
        self.tracer.operand(&v);
        let t = &c.target;
        match c.op {
            Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
                let (Some(a), Some(b)) = (v.number(), target_number(t)) else {
                    return false;
                };
                match c.op {
                    Op::Gt => a > b,
                    Op::Gte => a >= b,
                    Op::Lt => a < b,
                    _ => a <= b,
                }
            }
            Op::VersionGt
            | Op::VersionGte
            | Op::VersionLt
            | Op::VersionLte
            | Op::VersionEq
            | Op::VersionNeq => {
                let Target::Str(st) = t else {
                    return false;
                };
                let ord = v.with_str(|s| s.and_then(|s| compare_versions(s, &st.version)));
                let Some(ord) = ord else {
                    return false;
                };
                use core::cmp::Ordering as O;
                match c.op {
                    Op::VersionGt => ord == O::Greater,
                    Op::VersionGte => ord != O::Less,
                    Op::VersionLt => ord == O::Less,
                    Op::VersionLte => ord != O::Greater,
                    Op::VersionEq => ord == O::Equal,
                    _ => ord != O::Equal,
                }
            }
            Op::Any | Op::None => {
                let hit = v.with_str_or_empty(|s| {
                    with_lower(s, |l| match t {
                        Target::Object(o) => o.get(l).is_some(),
                        Target::Array(a) => a.contains_lower(l),
                        _ => false,
                    })
                });
                hit == (c.op == Op::Any)
            }
            Op::StrStartsWithAny
            | Op::StrEndsWithAny
            | Op::StrContainsAny
            | Op::StrContainsNone => {
                let Target::Array(a) = t else {
                    return c.op == Op::StrContainsNone;
                };
                let hit = v.with_str_or_empty(|s| {
                    with_lower(s, |l| {
                        a.entries.iter().any(|e| match c.op {
                            Op::StrStartsWithAny => l.starts_with(&*e.lower),
                            Op::StrEndsWithAny => l.ends_with(&*e.lower),
                            _ => l.contains(&*e.lower),
                        })
                    })
                });
                hit != (c.op == Op::StrContainsNone)
            }
            Op::AnyCaseSensitive | Op::NoneCaseSensitive => {
                let hit = match t {
                    Target::Array(a) => v.with_str_or_empty(|s| a.contains_text(s)),
                    _ => false,
                };
                hit == (c.op == Op::AnyCaseSensitive)
            }
            Op::Before | Op::After | Op::On => {
                let Some(left) = v.timestamp().or_else(|| v.integer()) else {
                    return false;
                };
                let left = if left.unsigned_abs() < 10_000_000_000 {
                    left.saturating_mul(1000)
                } else {
                    left
                };
                let right = match t {
                    Target::Str(st) => st.timestamp.or(st.number.map(|f| f as i64)),
                    Target::Number(f) => Some(*f as i64),
                    _ => None,
                };
                let Some(right) = right else {
                    return false;
                };
                match c.op {
                    Op::Before => left < right,
                    Op::After => left > right,
                    _ => left / 86_400_000 == right / 86_400_000,
                }
            }
            Op::Eq => equals(&v, t),
            Op::Neq => !equals(&v, t),
            Op::StrMatches => {
                let Target::Str(st) = t else {
                    return false;
                };
                let Some(re) = &st.regex else {
                    return false;
                };
                v.with_str(|s| s.is_some_and(|s| re.is_match(s).unwrap_or(false)))
            }
            Op::ArrayContainsAny
            | Op::ArrayContainsNone
            | Op::ArrayContainsAll
            | Op::NotArrayContainsAll => {
                let (UVal::Array(user), Target::Array(a)) = (v, t) else {
                    return false;
                };
                // A user element without a string form (null, object) matches no target
                // element, not even "" (spec 6.8).
                let has = |text: &str| {
                    user.iter()
                        .any(|e| UVal::from_json(e).with_str(|s| s == Some(text)))
                };
                match c.op {
                    Op::ArrayContainsAny => a.entries.iter().any(|e| has(&e.text)),
                    Op::ArrayContainsNone => !a.entries.iter().any(|e| has(&e.text)),
                    Op::ArrayContainsAll => a.entries.iter().all(|e| has(&e.text)),
                    _ => a.entries.iter().any(|e| !has(&e.text)),
                }
            }
            Op::InSegmentList | Op::NotInSegmentList => {
                // The official core names the ID list as the reason's source only once it
                // looks one up: not for a unit id without a string form (missing, null,
                // an object), which is in no list.
                let listed = match t {
                    Target::Str(st) => v.with_str(|s| match s {
                        Some(id) => {
                            self.id_list_used.set(true);
                            self.env.in_id_list(&st.text, id)
                        }
                        None => false,
                    }),
                    _ => false,
                };
                listed == (c.op == Op::InSegmentList)
            }
            Op::Unsupported => false,
        }
    }
}

/// `eq` (spec 6.6).
fn equals(v: &UVal<'_>, t: &Target) -> bool {
    match t {
        Target::Null => v.is_null_like(),
        Target::Bool(b) => matches!(v, UVal::Bool(x) if x == b),
        Target::Number(n) => v.number() == Some(*n),
        Target::Str(st) => v.with_str(|s| s == Some(&*st.text)),
        Target::Array(a) => {
            let UVal::Array(user) = v else {
                return false;
            };
            user.len() == a.entries.len()
                && a.entries.iter().all(|e| match user.get(e.index) {
                    Some(u) => UVal::from_json(u).with_str(|s| s == Some(&*e.text)),
                    None => false,
                })
        }
        Target::Object(o) => {
            let UVal::Object(user) = v else {
                return false;
            };
            user.len() == o.keys.len()
                && o.keys.iter().all(|(k, text)| match user.get(&**k) {
                    Some(u) => UVal::from_json(u).with_str(|s| s == Some(&**text)),
                    None => false,
                })
        }
    }
}

fn target_number(t: &Target) -> Option<f64> {
    match t {
        Target::Number(n) => Some(*n),
        Target::Str(st) => st.number,
        _ => None,
    }
}

/// Whether a top-level field value has a non-empty string form.
fn has_nonempty_str(v: &UVal<'_>) -> bool {
    match v {
        UVal::Str(s) => !s.is_empty(),
        UVal::Bool(_) | UVal::Int(_) | UVal::Float(_) | UVal::Num(_) | UVal::Array(_) => true,
        UVal::Missing | UVal::Null | UVal::Object(_) | UVal::Time(_) => false,
    }
}

/// Compares a user version string with a pre-parsed target (spec 6.2); `None` on a parse
/// failure reached before a difference.
fn compare_versions(user: &str, target: &[Option<i128>]) -> Option<core::cmp::Ordering> {
    use core::cmp::Ordering;
    let mut a = crate::load::version_parts(user);
    let mut b = target.iter();
    loop {
        let (x, y) = (a.next(), b.next());
        if x.is_none() && y.is_none() {
            return Some(Ordering::Equal);
        }
        let x = match x {
            Some(p) => p?,
            None => 0,
        };
        let y = match y {
            Some(p) => (*p)?,
            None => 0,
        };
        match x.cmp(&y) {
            Ordering::Equal => continue,
            other => return Some(other),
        }
    }
}

/// Parses a dotted IPv4 address the way Statsig does (spec 8): `Some(None)` for four parts
/// whose value is outside the IPv4 range, `None` when it is not four integer parts.
fn parse_ipv4(s: &str) -> Option<Option<u32>> {
    let mut parts = s.split('.');
    let mut n: i64 = 0;
    for _ in 0..4 {
        let p: i64 = parts.next()?.parse().ok()?;
        n = n
            .checked_mul(256)
            .and_then(|n| n.checked_add(p))
            .unwrap_or(-1);
    }
    if parts.next().is_some() {
        return None;
    }
    Some(u32::try_from(n).ok())
}

/// Appends `sec[range]` to `sec`. The ranges come from the evaluator's own bookkeeping;
/// should that ever be wrong, the copy is skipped (a wrong exposure list, found by the
/// debug assertion in tests) rather than a panic in the host process.
fn copy_to_end(sec: &mut Vec<RawExposure>, range: core::ops::Range<usize>) {
    let valid = range.start <= range.end && range.end <= sec.len();
    debug_assert!(valid, "exposure range {range:?} of {}", sec.len());
    if valid {
        sec.extend_from_within(range);
    }
}

fn finalise<'r>(spec: &'r Spec, rule: Option<&'r Rule>, rec: &mut Record<'r>) {
    rec.sampling_rate = rule.and_then(|r| r.sampling_rate);
    rec.forward_all_exposures = spec.forward_all_exposures;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A payload with no specs and these `condition_map` entries (`"id": {…}` each).
    fn ruleset_of_conditions(conditions: &[String]) -> Ruleset {
        let payload = format!(
            r#"{{"feature_gates": {{}}, "dynamic_configs": {{}}, "layer_configs": {{}},
              "experiment_to_layer": {{}}, "has_updates": true, "time": 1,
              "condition_map": {{{}}}}}"#,
            conditions.join(",")
        );
        Ruleset::from_json(payload.as_bytes()).unwrap()
    }

    fn parts(s: &str) -> Vec<Option<i128>> {
        crate::load::version_parts(s).collect()
    }

    #[test]
    fn bucket_tables_match_the_generic_operator() {
        // Each `user_bucket` condition has a `unit_id` twin with the same operator and
        // target, whose generic evaluation on the bucket number is the ground truth.
        let targets = [
            (
                "any",
                r#"{"0": true, "7": true, "07": true, "999": true, "1000": true, " 5": true}"#,
            ),
            ("none", r#"{"12": true, "abc": false, "-1": true}"#),
            ("none", r#"[0, 3, "12", 12.0, "abc", 999, -1, 1e2]"#),
            ("any", r#"[5, "6", 100.0]"#),
            ("lt", "500"),
            ("gte", r#""250""#),
            ("eq", "42"),
            // The bisected comparisons at and beyond their edges.
            ("lt", "0"),
            ("lte", "0"),
            ("lte", "999"),
            ("gt", "999"),
            ("gte", "1000"),
            ("lt", "1e9"),
            ("gt", "-5"),
            ("lt", "500.5"),
            ("gt", "499.5"),
            ("gte", r#""abc""#),
            ("lt", "null"),
            ("lte", "[1, 2]"),
        ];
        let mut conditions = Vec::new();
        for (i, (op, target)) in targets.iter().enumerate() {
            for kind in ["user_bucket", "unit_id"] {
                conditions.push(format!(
                    r#""{kind}{i}": {{"type": "{kind}", "operator": "{op}", "idType": "userID",
                        "targetValue": {target}}}"#
                ));
            }
        }
        let rs = ruleset_of_conditions(&conditions);
        let user = User::new();
        let env = Env::bare();
        let mut sec = Vec::new();
        let ev = Evaluator::new(&rs, &user, &env, &mut sec);
        for pair in rs.conditions.chunks(2) {
            let CondKind::UserBucket(_, Some(table)) = &pair[0].kind else {
                panic!("user_bucket condition without a table");
            };
            for b in 0..1000u64 {
                let bit = (table[(b / 64) as usize] >> (b % 64)) & 1 == 1;
                let want = ev.apply(&pair[1], UVal::Int(b as i64));
                assert_eq!(bit, want, "bucket {b} of {:?}", pair[0].op);
            }
        }
    }

    #[test]
    fn array_elements_without_string_form_match_nothing() {
        // Spec 6.8: null and object elements of a user array match no target element, not
        // even "", while a user "" does.
        let ops = [
            "array_contains_any",
            "array_contains_none",
            "array_contains_all",
            "not_array_contains_all",
        ];
        let conditions: Vec<String> = ops
            .iter()
            .map(|op| {
                format!(
                    r#""{op}": {{"type": "user_field", "operator": "{op}", "field": "tags",
                        "idType": "userID", "targetValue": [""]}}"#
                )
            })
            .collect();
        let rs = ruleset_of_conditions(&conditions);
        let user = User::new();
        let env = Env::bare();
        let mut sec = Vec::new();
        let ev = Evaluator::new(&rs, &user, &env, &mut sec);
        for (elements, contained) in [
            ("[null]", false),
            ("[{}]", false),
            ("[{\"a\": 1}, null]", false),
            ("[\"\"]", true),
            ("[null, \"\"]", true),
            ("[[]]", false),
        ] {
            let v: serde_json::Value = serde_json::from_str(elements).unwrap();
            let got: Vec<bool> = rs
                .conditions
                .iter()
                .map(|c| ev.apply(c, UVal::from_json(&v)))
                .collect();
            // any, none, all, not all of the single target "".
            let want = [contained, !contained, contained, !contained];
            assert_eq!(got, want, "user {elements}");
        }
    }

    #[test]
    fn versions_compare_like_statsig() {
        use core::cmp::Ordering::*;
        assert_eq!(compare_versions("1", &parts("1.0.0")), Some(Equal));
        assert_eq!(compare_versions("+1", &parts("1.0.0-beta")), Some(Equal));
        assert_eq!(compare_versions(" 1 . 2", &parts("1")), Some(Greater));
        assert_eq!(compare_versions("1.x", &parts("2.0")), Some(Less));
        assert_eq!(compare_versions("1.x", &parts("1.0")), None);
        assert_eq!(compare_versions("", &parts("1")), None);
        assert_eq!(compare_versions("1..2", &parts("1")), None);
    }

    #[test]
    fn ipv4_parsing() {
        assert_eq!(parse_ipv4("8.8.8.8"), Some(Some(0x0808_0808)));
        assert_eq!(parse_ipv4("+8.8.8.8"), Some(Some(0x0808_0808)));
        assert_eq!(parse_ipv4("256.0.0.0"), Some(None));
        assert_eq!(parse_ipv4(" 8.8.8.8"), None);
        assert_eq!(parse_ipv4("8.8.8"), None);
        assert_eq!(parse_ipv4("::1"), None);
    }
}

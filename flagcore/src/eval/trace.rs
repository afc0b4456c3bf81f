//! Evaluation traces: what the evaluator did to reach a result, step by step.
//!
//! The evaluator is generic over a [`Tracer`] that it tells about every step: a spec entered
//! and left, a rule visited, a condition with the user-side value its operator saw, a pass
//! percentage with the user's bucket. The normal evaluation uses [`NoTrace`], a zero-sized
//! type whose hooks are empty: it monomorphises away, so the hot path stays as it was
//! (allocation-free, same instructions). [`View::explain`](crate::View::explain) evaluates
//! with a [`TraceBuilder`], the same evaluator with hooks that record, and returns a
//! [`Trace`].
//!
//! ```text
//!  Evaluator<NoTrace>        normal evaluation: hooks compile to nothing
//!  Evaluator<&TraceBuilder>  explain: the same code, each hook appends to the trace
//! ```

use core::cell::RefCell;
use core::fmt;

use serde::Serialize;
use serde_json::{Map, Value as Json};

use super::record::{Kind, Record};
use super::result::Evaluation;
use crate::load::{CondKind, Condition, Op, Rule, Ruleset, Spec, Target};
use crate::user::TopField;
use crate::value::UVal;

/// Where a user-side value was read from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Read<'a> {
    /// A top-level user field.
    User(TopField),
    /// `custom.<name>`.
    Custom(&'a str),
    /// `privateAttributes.<name>`.
    Private(&'a str),
    /// The unit id: `userID` (`true`) or `customIDs.<name>`.
    Unit(bool, &'a str),
    /// `statsigEnvironment.<name>`.
    Environment(&'a str),
    /// The environment tier of the store's options (or the payload's default).
    Tier,
}

/// What the evaluator tells about each step. Every hook has an empty default body.
pub(crate) trait Tracer {
    /// Whether the hooks record anything (work done only for a trace is skipped when not).
    const RECORDS: bool = false;
    /// Evaluation of `spec` (as `kind`) starts.
    #[inline(always)]
    fn enter_spec(&self, _spec: &Spec, _kind: Kind) {}
    /// The spec entered last ends with `rec` (`aborted`: with an evaluation error).
    #[inline(always)]
    fn exit_spec(&self, _rs: &Ruleset, _rec: &Record<'_>, _aborted: bool) {}
    /// A rule is visited; `mapping_to` names the spec a config-mapping rule leads to.
    #[inline(always)]
    fn rule(&self, _rule: &Rule, _mapping_to: Option<&str>) {}
    /// The conditions of the rule visited last were ANDed to `all`.
    #[inline(always)]
    fn conditions(&self, _all: bool) {}
    /// A pass percentage was checked: the bucket (`h % 10000`, `None` for 0% and 100%), the
    /// threshold in hundredths of a percent, the outcome.
    #[inline(always)]
    fn percentage(&self, _bucket: Option<u64>, _threshold: f64, _passed: bool) {}
    /// A condition starts.
    #[inline(always)]
    fn condition(&self, _rs: &Ruleset, _c: &Condition) {}
    /// The user-side value the condition's operator is applied to.
    #[inline(always)]
    fn operand(&self, _v: &UVal<'_>) {}
    /// The condition started last ends.
    #[inline(always)]
    fn condition_end(&self, _value: bool, _unsupported: bool) {}
    /// A user-side value was found at `_read`.
    #[inline(always)]
    fn read(&self, _read: Read<'_>) {}
    /// A local override answered for `name`.
    #[inline(always)]
    fn overridden(&self, _name: &str, _kind: Kind) {}
    /// Config mapping of `name` starts (its rules follow).
    #[inline(always)]
    fn enter_mapping(&self, _name: &str) {}
    /// The config mapping entered last ends (`applied`: a mapped spec answered).
    #[inline(always)]
    fn exit_mapping(&self, _applied: bool) {}
}

/// The tracer of the normal evaluation: records nothing, costs nothing.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NoTrace;

impl Tracer for NoTrace {}

/// One step of an evaluation trace.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TraceStep {
    /// A rule visited (of a spec, or of a config mapping).
    Rule(RuleTrace),
    /// A spec evaluated (a nested gate, an experiment a layer delegates to, a mapped spec,
    /// the experiment of an `experiment_group` condition, or the entity itself).
    Spec(SpecTrace),
    /// Config mapping (spec 4.10) of a name: its rules, and the mapped spec in the rule
    /// that matched.
    Mapping(MappingTrace),
    /// A local override answered.
    Override {
        /// The overridden name.
        name: String,
        /// The kind it was asked as (`gate`, `config`, `experiment`, `layer`).
        kind: &'static str,
    },
}

/// The evaluation of one spec: its rules in order and where it ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SpecTrace {
    /// The spec's name.
    pub name: String,
    /// The kind it was evaluated as (`gate`, `config`, `experiment`, `layer`).
    pub kind: &'static str,
    /// The payload's `entity` (`feature_gate`, `segment`, `holdout`, `experiment`, …).
    pub entity: String,
    /// Whether the spec is enabled (a disabled spec ends on rule `disabled`).
    pub enabled: bool,
    /// The spec's unit type.
    pub id_type: String,
    /// The rules visited and what they evaluated, in order.
    pub steps: Vec<TraceStep>,
    /// The boolean value at the end of this spec (a gate's value; for other kinds whether
    /// a rule passed).
    pub value: bool,
    /// The rule id the spec ended on (`default`, `disabled` when no rule passed).
    pub rule_id: String,
    /// The experiment group the spec ended in.
    pub group_name: Option<String>,
    /// The evaluation ended with an error here (nesting too deep, a cycle).
    pub aborted: bool,
}

/// The config mapping of one name.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MappingTrace {
    /// The name mapped.
    pub name: String,
    /// Whether a mapped spec answered instead of the name's own.
    pub applied: bool,
    /// The mapping rules visited; a matching rule's `then` holds the mapped spec.
    pub steps: Vec<TraceStep>,
}

/// One rule visited.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RuleTrace {
    /// The rule's position among its spec's rules (`None` for a config-mapping rule).
    pub index: Option<usize>,
    /// The rule's id.
    pub id: String,
    /// The experiment group the rule assigns.
    pub group_name: Option<String>,
    /// For a config-mapping rule: the spec it maps to.
    pub mapping_to: Option<String>,
    /// Every condition is `public`: the conditions were not evaluated.
    pub public_only: bool,
    /// The conditions, all evaluated (they are ANDed without short-circuit).
    pub conditions: Vec<ConditionTrace>,
    /// Whether all conditions passed (`None` when not evaluated or ended unsupported).
    pub conditions_pass: Option<bool>,
    /// The pass-percentage check, when the conditions passed.
    pub percentage: Option<PercentageTrace>,
    /// What the rule evaluated next (the experiment a layer rule delegates to, the spec a
    /// mapping leads to).
    pub then: Vec<TraceStep>,
}

/// One condition of a rule.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConditionTrace {
    /// The condition's type (`user_field`, `pass_gate`, `user_bucket`, `unit_id`, …).
    #[serde(rename = "type")]
    pub condition_type: &'static str,
    /// The operator (`None` for `public`, `pass_gate`, `fail_gate`).
    pub operator: Option<&'static str>,
    /// The condition's field, or the gate or experiment it names.
    pub field: Option<String>,
    /// The condition's unit type.
    pub id_type: String,
    /// The target value (de-duplicated as compiled).
    pub target: Json,
    /// Where the user-side value was found (`userID`, `email`, `custom.plan`,
    /// `customIDs.companyID`, `tier`, …); `None` when nothing was read or it is missing.
    pub read: Option<String>,
    /// The user-side value the operator saw (a parsed user agent's field, a bucket number,
    /// a group name); absent when missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_value: Option<Json>,
    /// The condition's outcome (after `fail_gate`'s negation).
    pub pass: bool,
    /// The condition is not supported: the evaluation ends here as Unsupported.
    pub unsupported: bool,
    /// Specs evaluated by the condition (the gate of `pass_gate`/`fail_gate`, the
    /// experiment of `experiment_group`).
    pub nested: Vec<TraceStep>,
}

/// A rule's pass-percentage check.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PercentageTrace {
    /// The pass percentage (0 to 100).
    pub pass_percentage: f64,
    /// The user's bucket, 0 to 9999 (SHA-256 of salts and unit id, modulo 10000); passes
    /// below `pass_percentage × 100`. `None` for 0% and 100%, which hash nothing.
    pub bucket: Option<u64>,
    /// The unit id it was hashed from (`None`: the user has no such id).
    pub unit: Option<String>,
    /// Whether the check passed.
    pub pass: bool,
}

/// The answer of one evaluation, owned: what an [`Evaluation`] says, in a form to print or
/// serialise (`Display` writes one line; serde gives the fields below).
///
/// ```
/// use flagcore::{Answer, Store, User};
///
/// let store = Store::new();
/// let answer = Answer::new(&store.snapshot().gate(&User::with_user_id("u1"), "g"));
/// assert_eq!(answer.to_string(), "gate `g`: false (rule ``, NoRuleset)");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Answer {
    /// The kind asked for ([`Kind::label`]: `gate`, `config`, `experiment`, `layer`).
    pub kind: &'static str,
    /// The name asked for.
    pub name: String,
    /// The value: a boolean for gates, the JSON object otherwise.
    pub value: Json,
    /// The rule id of the result.
    pub rule_id: String,
    /// The experiment group of the result.
    pub group_name: Option<String>,
    /// The reason ([`Reason`](crate::Reason) by name: `Recognized`, `Unrecognized`, …).
    pub reason: String,
    /// For a layer: the experiment it delegated to.
    pub allocated_experiment: Option<String>,
}

impl Answer {
    /// The answer of `e`.
    pub fn new(e: &Evaluation<'_>) -> Answer {
        Answer {
            kind: e.kind().label(),
            name: e.name().to_owned(),
            value: match e.kind() {
                Kind::Gate => Json::Bool(e.value()),
                _ => Json::Object(e.json().to_map()),
            },
            rule_id: e.rule_id().to_owned(),
            group_name: e.group_name().map(str::to_owned),
            reason: format!("{:?}", e.reason()),
            allocated_experiment: e.allocated_experiment().map(str::to_owned),
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} `{}`: {}", self.kind, self.name, self.value)?;
        write!(f, " (rule `{}`", self.rule_id)?;
        if let Some(g) = &self.group_name {
            write!(f, ", group `{g}`")?;
        }
        if let Some(e) = &self.allocated_experiment {
            write!(f, ", experiment `{e}`")?;
        }
        write!(f, ", {})", self.reason)
    }
}

/// An evaluation explained: the answer, exactly as the normal evaluation gives it, and every
/// step taken to reach it. Made by [`View::explain`](crate::View::explain); serialises to
/// JSON (serde: the answer's fields and `steps`) and renders as indented text (`Display`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Trace {
    /// The answer.
    #[serde(flatten)]
    pub answer: Answer,
    /// The steps taken: normally one [`TraceStep::Spec`] for the entity; an override, or
    /// the config-mapping rules and the mapped spec, where those answered.
    pub steps: Vec<TraceStep>,
}

struct Frame {
    spec: SpecTrace,
    /// A config-mapping frame (its `spec` holds the name and the steps).
    mapping: bool,
    /// The last condition of the last rule is still being evaluated.
    open_condition: bool,
    /// A unit id read outside a condition (for the next percentage check).
    pending_unit: Option<String>,
    /// Steps with no place (see [`Frame::child_steps`]; stays empty).
    unplaced: Vec<TraceStep>,
}

impl Frame {
    fn new(spec: SpecTrace) -> Frame {
        Frame {
            spec,
            mapping: false,
            open_condition: false,
            pending_unit: None,
            unplaced: Vec::new(),
        }
    }

    fn last_rule(&mut self) -> Option<&mut RuleTrace> {
        match self.spec.steps.last_mut() {
            Some(TraceStep::Rule(r)) => Some(r),
            _ => None,
        }
    }

    fn open_condition(&mut self) -> Option<&mut ConditionTrace> {
        if !self.open_condition {
            return None;
        }
        self.last_rule().and_then(|r| r.conditions.last_mut())
    }

    /// Where a step evaluated now belongs: the open condition, else the last rule (a
    /// delegate, a mapped spec), else the frame itself.
    fn child_steps(&mut self) -> &mut Vec<TraceStep> {
        let open = self.open_condition;
        if !matches!(self.spec.steps.last(), Some(TraceStep::Rule(_))) {
            return &mut self.spec.steps;
        }
        match self.spec.steps.last_mut() {
            Some(TraceStep::Rule(r)) => match r.conditions.last_mut() {
                Some(c) if open => &mut c.nested,
                _ => &mut r.then,
            },
            // Not reached (checked above); a list of its own keeps this panic-free.
            _ => &mut self.unplaced,
        }
    }
}

fn empty_spec() -> SpecTrace {
    SpecTrace {
        name: String::new(),
        kind: "",
        entity: String::new(),
        enabled: true,
        id_type: String::new(),
        steps: Vec::new(),
        value: false,
        rule_id: String::new(),
        group_name: None,
        aborted: false,
    }
}

/// The recording tracer: a stack of the specs being evaluated, the outermost a pseudo-frame
/// holding the top-level steps.
pub(crate) struct TraceBuilder {
    stack: RefCell<Vec<Frame>>,
}

impl TraceBuilder {
    pub(crate) fn new() -> TraceBuilder {
        TraceBuilder {
            stack: RefCell::new(vec![Frame::new(empty_spec())]),
        }
    }

    /// The top-level steps recorded.
    pub(crate) fn into_steps(self) -> Vec<TraceStep> {
        let mut stack = self.stack.into_inner();
        // Frames left open (should not happen: every enter has its exit) are closed.
        while stack.len() > 1 {
            if let Some(f) = stack.pop() {
                if let Some(top) = stack.last_mut() {
                    top.child_steps().push(TraceStep::Spec(f.spec));
                }
            }
        }
        stack.pop().map(|f| f.spec.steps).unwrap_or_default()
    }

    fn top<R>(&self, f: impl FnOnce(&mut Frame) -> R) -> Option<R> {
        self.stack.borrow_mut().last_mut().map(f)
    }
}

impl Tracer for &TraceBuilder {
    const RECORDS: bool = true;

    fn enter_spec(&self, spec: &Spec, kind: Kind) {
        self.stack.borrow_mut().push(Frame::new(SpecTrace {
            name: spec.name.to_string(),
            kind: kind.label(),
            entity: spec.entity.to_string(),
            enabled: spec.enabled,
            id_type: spec.id_type.to_string(),
            ..empty_spec()
        }));
    }

    fn exit_spec(&self, rs: &Ruleset, rec: &Record<'_>, aborted: bool) {
        let mut stack = self.stack.borrow_mut();
        if stack.len() < 2 || stack.last().is_some_and(|f| f.mapping) {
            return;
        }
        let Some(mut frame) = stack.pop() else {
            return;
        };
        frame.spec.value = rec.value;
        frame.spec.rule_id = rec.rule_id.map(|r| rs.str(r)).unwrap_or("").to_owned();
        frame.spec.group_name = rec.group_name.map(str::to_owned);
        frame.spec.aborted = aborted;
        if let Some(top) = stack.last_mut() {
            top.child_steps().push(TraceStep::Spec(frame.spec));
        }
    }

    fn rule(&self, rule: &Rule, mapping_to: Option<&str>) {
        self.top(|f| {
            let index = mapping_to.is_none().then(|| {
                f.spec
                    .steps
                    .iter()
                    .filter(|s| matches!(s, TraceStep::Rule(r) if r.mapping_to.is_none()))
                    .count()
            });
            f.open_condition = false;
            f.pending_unit = None;
            f.spec.steps.push(TraceStep::Rule(RuleTrace {
                index,
                id: rule.id.to_string(),
                group_name: rule.group_name.as_deref().map(str::to_owned),
                mapping_to: mapping_to.map(str::to_owned),
                public_only: rule.public_only,
                conditions: Vec::new(),
                conditions_pass: None,
                percentage: None,
                then: Vec::new(),
            }));
        });
    }

    fn conditions(&self, all: bool) {
        self.top(|f| {
            if let Some(r) = f.last_rule() {
                r.conditions_pass = Some(all);
            }
        });
    }

    fn percentage(&self, bucket: Option<u64>, threshold: f64, passed: bool) {
        self.top(|f| {
            let unit = f.pending_unit.take();
            if let Some(r) = f.last_rule() {
                r.percentage = Some(PercentageTrace {
                    pass_percentage: threshold / 100.0,
                    bucket,
                    unit: bucket.and(unit),
                    pass: passed,
                });
            }
        });
    }

    fn condition(&self, rs: &Ruleset, c: &Condition) {
        let (condition_type, field) = describe(rs, c);
        let operator = match c.kind {
            CondKind::Public | CondKind::Gate(_) => None,
            _ => Some(c.op.name()),
        };
        let trace = ConditionTrace {
            condition_type,
            operator,
            field,
            id_type: c.id_type.name.to_string(),
            target: target_json(&c.target),
            read: None,
            user_value: None,
            pass: false,
            unsupported: false,
            nested: Vec::new(),
        };
        self.top(|f| {
            if f.last_rule().is_none() {
                // A condition outside a rule (not something the evaluator does): keep it
                // under a rule without id.
                f.spec.steps.push(TraceStep::Rule(RuleTrace {
                    index: None,
                    id: String::new(),
                    group_name: None,
                    mapping_to: None,
                    public_only: false,
                    conditions: Vec::new(),
                    conditions_pass: None,
                    percentage: None,
                    then: Vec::new(),
                }));
            }
            if let Some(r) = f.last_rule() {
                r.conditions.push(trace);
            }
            f.open_condition = true;
        });
    }

    fn operand(&self, v: &UVal<'_>) {
        let json = uval_json(v);
        self.top(|f| {
            if let Some(c) = f.open_condition() {
                c.user_value = json;
            }
        });
    }

    fn condition_end(&self, value: bool, unsupported: bool) {
        self.top(|f| {
            if let Some(c) = f.open_condition() {
                c.pass = value && !unsupported;
                c.unsupported = unsupported;
            }
            f.open_condition = false;
        });
    }

    fn read(&self, read: Read<'_>) {
        let place = match read {
            Read::User(t) => top_field_name(t).to_owned(),
            Read::Custom(n) => format!("custom.{n}"),
            Read::Private(n) => format!("privateAttributes.{n}"),
            Read::Unit(true, _) => "userID".to_owned(),
            Read::Unit(false, n) => format!("customIDs.{n}"),
            Read::Environment(n) => format!("statsigEnvironment.{n}"),
            Read::Tier => "tier (the store's environment)".to_owned(),
        };
        self.top(|f| match f.open_condition() {
            Some(c) => c.read = Some(place),
            None => f.pending_unit = Some(place),
        });
    }

    fn enter_mapping(&self, name: &str) {
        let mut frame = Frame::new(SpecTrace {
            name: name.to_owned(),
            ..empty_spec()
        });
        frame.mapping = true;
        self.stack.borrow_mut().push(frame);
    }

    fn exit_mapping(&self, applied: bool) {
        let mut stack = self.stack.borrow_mut();
        if stack.len() < 2 || !stack.last().is_some_and(|f| f.mapping) {
            return;
        }
        let Some(frame) = stack.pop() else {
            return;
        };
        if let Some(top) = stack.last_mut() {
            top.child_steps().push(TraceStep::Mapping(MappingTrace {
                name: frame.spec.name,
                applied,
                steps: frame.spec.steps,
            }));
        }
    }

    fn overridden(&self, name: &str, kind: Kind) {
        self.top(|f| {
            f.child_steps().push(TraceStep::Override {
                name: name.to_owned(),
                kind: kind.label(),
            })
        });
    }
}

fn top_field_name(t: TopField) -> &'static str {
    match t {
        TopField::UserId => "userID",
        TopField::Email => "email",
        TopField::Ip => "ip",
        TopField::Country => "country",
        TopField::Locale => "locale",
        TopField::AppVersion => "appVersion",
        TopField::UserAgent => "userAgent",
    }
}

/// A condition's type and the field (or gate, or experiment) it names.
fn describe(rs: &Ruleset, c: &Condition) -> (&'static str, Option<String>) {
    let field = |f: &Option<crate::load::FieldRef>| f.as_ref().map(|f| f.name.to_string());
    match &c.kind {
        CondKind::Public => ("public", None),
        CondKind::Gate(g) => (
            if g.fail { "fail_gate" } else { "pass_gate" },
            Some(rs.str(g.sid).to_owned()),
        ),
        CondKind::UserField(f) => ("user_field", field(f)),
        CondKind::EnvField(f) => ("environment_field", field(f)),
        CondKind::UnitId => ("unit_id", None),
        CondKind::UserBucket(..) => ("user_bucket", None),
        CondKind::CurrentTime => ("current_time", None),
        CondKind::UaBased(f, _) => ("ua_based", field(f)),
        CondKind::IpBased(f, _) => ("ip_based", field(f)),
        CondKind::TargetApp => ("target_app", None),
        CondKind::ExperimentGroup(n) => ("experiment_group", n.as_deref().map(str::to_owned)),
        CondKind::Unsupported => ("unsupported", None),
    }
}

fn target_json(t: &Target) -> Json {
    match t {
        Target::Null => Json::Null,
        Target::Bool(b) => Json::Bool(*b),
        Target::Number(n) => number_json(*n),
        Target::Str(s) => Json::String(s.text.to_string()),
        Target::Array(a) => a
            .entries
            .iter()
            .map(|e| Json::String(e.text.to_string()))
            .collect(),
        Target::Object(o) => Json::Object(
            o.keys
                .iter()
                .map(|(k, _)| (k.to_string(), Json::Bool(true)))
                .collect::<Map<String, Json>>(),
        ),
    }
}

/// A number as JSON: an integer when it is one (`500`, not `500.0`).
fn number_json(n: f64) -> Json {
    match crate::value::f64_integer_form(n) {
        Some(i) => Json::from(i),
        None => serde_json::Number::from_f64(n).map_or(Json::Null, Json::Number),
    }
}

fn uval_json(v: &UVal<'_>) -> Option<Json> {
    Some(match *v {
        UVal::Missing => return None,
        UVal::Null => Json::Null,
        UVal::Bool(b) => Json::Bool(b),
        UVal::Int(i) => Json::from(i),
        UVal::Time(i) => Json::from(i),
        UVal::Float(f) => number_json(f),
        UVal::Num(n) => Json::Number(n.clone()),
        UVal::Str(s) => Json::String(s.to_owned()),
        UVal::Array(a) => Json::Array(a.to_vec()),
        UVal::Object(o) => Json::Object(o.clone()),
    })
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.answer)?;
        if self.steps.is_empty() {
            writeln!(f, "  nothing evaluated")?;
        }
        write_steps(f, &self.steps, 1)
    }
}

fn pad(f: &mut fmt::Formatter<'_>, depth: usize) -> fmt::Result {
    for _ in 0..depth {
        f.write_str("  ")?;
    }
    Ok(())
}

fn mark(pass: bool) -> &'static str {
    if pass {
        "PASS"
    } else {
        "FAIL"
    }
}

fn write_steps(f: &mut fmt::Formatter<'_>, steps: &[TraceStep], depth: usize) -> fmt::Result {
    for step in steps {
        match step {
            TraceStep::Override { name, kind } => {
                pad(f, depth)?;
                writeln!(f, "local override of {kind} `{name}` answers")?;
            }
            TraceStep::Spec(s) => write_spec(f, s, depth)?,
            TraceStep::Mapping(m) => {
                pad(f, depth)?;
                let outcome = if m.applied { "applied" } else { "not applied" };
                writeln!(f, "config mapping of `{}` ({outcome})", m.name)?;
                write_steps(f, &m.steps, depth + 1)?;
            }
            TraceStep::Rule(r) => write_rule(f, r, depth)?,
        }
    }
    Ok(())
}

fn write_spec(f: &mut fmt::Formatter<'_>, s: &SpecTrace, depth: usize) -> fmt::Result {
    pad(f, depth)?;
    write!(f, "{} `{}` ({}", s.entity, s.name, s.id_type)?;
    if !s.enabled {
        f.write_str(", disabled")?;
    }
    writeln!(f, ")")?;
    write_steps(f, &s.steps, depth + 1)?;
    pad(f, depth + 1)?;
    if s.aborted {
        return writeln!(f, "=> evaluation error (nesting too deep or a cycle)");
    }
    write!(f, "=> {} by rule `{}`", s.value, s.rule_id)?;
    if let Some(g) = &s.group_name {
        write!(f, ", group `{g}`")?;
    }
    writeln!(f)
}

fn write_rule(f: &mut fmt::Formatter<'_>, r: &RuleTrace, depth: usize) -> fmt::Result {
    pad(f, depth)?;
    match (&r.mapping_to, r.index) {
        (Some(to), _) => write!(f, "config mapping rule `{}` (to `{to}`)", r.id)?,
        (None, Some(i)) => write!(f, "rule {i} `{}`", r.id)?,
        (None, None) => write!(f, "rule `{}`", r.id)?,
    }
    if let Some(g) = &r.group_name {
        write!(f, " (group `{g}`)")?;
    }
    match (r.public_only, r.conditions_pass) {
        (true, _) => writeln!(f, ": public")?,
        (false, Some(p)) => writeln!(f, ": conditions {}", mark(p))?,
        (false, None) => writeln!(f)?,
    }
    for c in &r.conditions {
        write_condition(f, c, depth + 1)?;
    }
    if let Some(p) = &r.percentage {
        pad(f, depth + 1)?;
        write!(f, "{} pass percentage {}%", mark(p.pass), p.pass_percentage)?;
        if let Some(b) = p.bucket {
            write!(f, ": bucket {b} of 10000")?;
            match &p.unit {
                Some(u) => write!(f, " (from {u})")?,
                None => write!(f, " (no unit id)")?,
            }
        }
        writeln!(f)?;
    }
    write_steps(f, &r.then, depth + 1)
}

fn write_condition(f: &mut fmt::Formatter<'_>, c: &ConditionTrace, depth: usize) -> fmt::Result {
    pad(f, depth)?;
    let status = if c.unsupported {
        "UNSUPPORTED"
    } else {
        mark(c.pass)
    };
    write!(f, "{status} {}", c.condition_type)?;
    match c.condition_type {
        "pass_gate" | "fail_gate" | "experiment_group" => {
            if let Some(name) = &c.field {
                write!(f, " `{name}`")?;
            }
        }
        _ => {
            if let Some(field) = &c.field {
                write!(f, " {field}")?;
            }
            if matches!(c.condition_type, "unit_id" | "user_bucket") {
                write!(f, " ({})", c.id_type)?;
            }
        }
    }
    if let Some(op) = c.operator {
        write!(f, " {op} {}", c.target)?;
        match &c.user_value {
            Some(v) => write!(f, ": user value {v}")?,
            None => write!(f, ": user value missing")?,
        }
        if let Some(read) = &c.read {
            write!(f, " (from {read})")?;
        }
    }
    writeln!(f)?;
    write_steps(f, &c.nested, depth + 1)
}

impl Op {
    /// The operator's name in the payload.
    pub(crate) fn name(self) -> &'static str {
        crate::load::OPERATORS
            .iter()
            .find(|(_, op)| *op == self)
            .map_or("unsupported", |(n, _)| n)
    }
}

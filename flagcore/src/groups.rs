//! An experiment's groups without a user: listing them (Statsig's `get_experiment_groups`)
//! and the result of one group (`get_experiment_by_group_name`,
//! `get_experiment_by_group_id_advanced`), for admin pages, previews and QA tools.

use serde_json::{Map, Value as Json};

use crate::eval::{Evaluation, JsonObject, Kind, Reason};
use crate::load::{ReturnValue, Rule, Ruleset, Spec};
use crate::store::View;

/// The groups of one experiment ([`Ruleset::experiment_groups`]), borrowed from the ruleset.
#[derive(Clone, Copy, Debug)]
pub struct ExperimentGroups<'a> {
    spec: &'a Spec,
}

impl<'a> ExperimentGroups<'a> {
    /// The experiment's `isActive` (`false` when the payload does not say).
    pub fn is_experiment_active(&self) -> bool {
        self.spec.is_active.unwrap_or(false)
    }

    /// The experiment's groups, in rule order: the rules marked `isExperimentGroup` (holdout,
    /// targeting and layer-allocation rules are left out), whatever the experiment's state.
    pub fn iter(&self) -> impl Iterator<Item = ExperimentGroup<'a>> + 'a {
        self.spec
            .rules
            .iter()
            .filter(|r| r.is_experiment_group == Some(true))
            .map(ExperimentGroup::of)
    }
}

/// One group of an experiment, as Statsig's `ExperimentGroup` reports it.
#[derive(Clone, Copy, Debug)]
pub struct ExperimentGroup<'a> {
    /// The group's name (`""` when the rule has none).
    pub group_name: &'a str,
    /// The id of the group's rule.
    pub rule_id: &'a str,
    /// The rule's unit type (`userID`, a custom ID name).
    pub id_type: &'a str,
    /// The group's parameters (empty when the rule's value is not an object).
    pub value: &'a Map<String, Json>,
}

impl<'a> ExperimentGroup<'a> {
    fn of(rule: &'a Rule) -> ExperimentGroup<'a> {
        ExperimentGroup {
            group_name: rule.group_name.as_deref().unwrap_or(""),
            rule_id: &rule.id,
            id_type: &rule.id_type.name,
            value: object(&rule.return_value),
        }
    }
}

fn empty() -> &'static Map<String, Json> {
    static EMPTY: std::sync::OnceLock<Map<String, Json>> = std::sync::OnceLock::new();
    EMPTY.get_or_init(Map::new)
}

fn object(v: &ReturnValue) -> &Map<String, Json> {
    match v {
        ReturnValue::Object(m) => m,
        _ => empty(),
    }
}

impl Ruleset {
    /// The groups of the experiment `name` (Statsig's `get_experiment_groups`); `None` when
    /// the name is not an experiment of this ruleset (unknown, or a dynamic config).
    ///
    /// ```
    /// use flagcore::Ruleset;
    ///
    /// let rs = Ruleset::from_json(br#"{"feature_gates": {}, "layer_configs": {},
    ///   "dynamic_configs": {"checkout_test": {"type": "dynamic_config", "entity": "experiment",
    ///     "salt": "s", "enabled": true, "defaultValue": {}, "idType": "userID", "isActive": true,
    ///     "rules": [
    ///       {"id": "g0", "name": "g0", "groupName": "Control", "isExperimentGroup": true,
    ///        "passPercentage": 100, "conditions": [], "returnValue": {"color": "blue"}, "idType": "userID"},
    ///       {"id": "g1", "name": "g1", "groupName": "Test", "isExperimentGroup": true,
    ///        "passPercentage": 100, "conditions": [], "returnValue": {"color": "green"}, "idType": "userID"}]}},
    ///   "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1}"#)?;
    ///
    /// let groups = rs.experiment_groups("checkout_test").expect("an experiment");
    /// assert!(groups.is_experiment_active());
    /// let names: Vec<&str> = groups.iter().map(|g| g.group_name).collect();
    /// assert_eq!(names, ["Control", "Test"]);
    /// assert_eq!(groups.iter().nth(1).unwrap().value["color"], "green");
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn experiment_groups(&self, name: &str) -> Option<ExperimentGroups<'_>> {
        let spec = self.configs.list.get(self.configs.find(name)?)?;
        (&*spec.entity == "experiment").then_some(ExperimentGroups { spec })
    }

    /// The result a user in group `group` of the config `name` gets (Statsig's
    /// `get_experiment_by_group_name`): the value, rule id, unit type and group name of the
    /// first rule with that group name, the experiment's active state, reason
    /// [`Reason::Recognized`], no exposures. Without such a rule (or config), an empty value,
    /// rule id `default` and [`Reason::Unrecognized`]. Nothing is evaluated and nothing is logged.
    ///
    /// ```
    /// use flagcore::{Reason, Ruleset};
    ///
    /// let rs = Ruleset::from_json(br#"{"feature_gates": {}, "layer_configs": {},
    ///   "dynamic_configs": {"checkout_test": {"type": "dynamic_config", "entity": "experiment",
    ///     "salt": "s", "enabled": true, "defaultValue": {}, "idType": "userID",
    ///     "rules": [{"id": "g1", "name": "g1", "groupName": "Test", "isExperimentGroup": true,
    ///       "passPercentage": 100, "conditions": [], "returnValue": {"color": "green"},
    ///       "idType": "userID"}]}},
    ///   "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1}"#)?;
    ///
    /// let test = rs.experiment_by_group_name("checkout_test", "Test");
    /// assert_eq!((test.rule_id(), test.group_name()), ("g1", Some("Test")));
    /// assert_eq!(test.get_str("color", "blue"), "green");
    /// assert_eq!(rs.experiment_by_group_name("checkout_test", "Nope").reason(), Reason::Unrecognized);
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn experiment_by_group_name<'a>(&'a self, name: &'a str, group: &str) -> Evaluation<'a> {
        self.experiment_by_rule(name, |r| r.group_name.as_deref() == Some(group))
    }

    /// Like [`Ruleset::experiment_by_group_name`], by the group's rule id (Statsig's
    /// `get_experiment_by_group_id_advanced`).
    pub fn experiment_by_group_id<'a>(&'a self, name: &'a str, rule_id: &str) -> Evaluation<'a> {
        self.experiment_by_rule(name, |r| &*r.id == rule_id)
    }

    fn experiment_by_rule<'a>(
        &'a self,
        name: &'a str,
        pick: impl Fn(&Rule) -> bool,
    ) -> Evaluation<'a> {
        let found = self
            .configs
            .find(name)
            .and_then(|i| self.configs.list.get(i))
            .and_then(|spec| Some((spec, spec.rules.iter().find(|r| pick(r))?)));
        let mut e = blank(name, Reason::Unrecognized, self.time());
        if let Some((spec, rule)) = found {
            e.json = JsonObject::one(object(&rule.return_value));
            e.rule_id = &rule.id;
            e.group_name = rule.group_name.as_deref();
            e.id_type = &rule.id_type.name;
            e.is_experiment_group = rule.is_experiment_group.unwrap_or(false);
            e.is_experiment_active = spec.is_active.unwrap_or(false);
            e.reason = Reason::Recognized;
        }
        e
    }
}

impl View {
    /// [`Ruleset::experiment_groups`] of this snapshot's ruleset.
    pub fn experiment_groups(&self, name: &str) -> Option<ExperimentGroups<'_>> {
        self.ruleset()?.experiment_groups(name)
    }

    /// [`Ruleset::experiment_by_group_name`] of this snapshot's ruleset ([`Reason::NoRuleset`]
    /// without one). Local overrides do not apply, as in Statsig.
    pub fn experiment_by_group_name<'a>(&'a self, name: &'a str, group: &str) -> Evaluation<'a> {
        match self.ruleset() {
            Some(rs) => rs.experiment_by_group_name(name, group),
            None => blank(name, Reason::NoRuleset, 0),
        }
    }

    /// [`Ruleset::experiment_by_group_id`] of this snapshot's ruleset.
    pub fn experiment_by_group_id<'a>(&'a self, name: &'a str, rule_id: &str) -> Evaluation<'a> {
        match self.ruleset() {
            Some(rs) => rs.experiment_by_group_id(name, rule_id),
            None => blank(name, Reason::NoRuleset, 0),
        }
    }
}

/// An experiment result without a group (rule id `default`, as Statsig reports it).
fn blank(name: &str, reason: Reason, lcut: u64) -> Evaluation<'_> {
    let mut e = crate::store::blank(Kind::Experiment, name, reason, lcut);
    e.rule_id = "default";
    e
}

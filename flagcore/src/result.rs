//! Evaluation results: values and reasons borrowed from the snapshot.

use serde_json::{Map, Value as Json};

use crate::eval::{Kind, RawExposure};

/// Why a result has the value it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The name was found and evaluated.
    Recognized,
    /// No spec of that name (and kind) exists: the value is the default (`false` / `{}`).
    Unrecognized,
    /// A condition type or operator this engine (and Statsig's core) does not support was
    /// reached; the value is what the rules gave up to that point (Statsig semantics).
    Unsupported,
    /// A local override decided the value.
    LocalOverride,
    /// No ruleset has been installed yet: the value is the default.
    NoRuleset,
    /// Evaluated, but an `ip_based` condition needed an IP-to-country lookup and none is
    /// configured (Statsig's `CountryLookupNotLoaded:Recognized`).
    CountryLookupNotLoaded,
    /// Nested gates were more than 64 levels deep (or formed a cycle): the value is the
    /// default (`false` / `{}`) with rule id `default`.
    DepthExceeded,
}

impl Reason {
    /// Statsig's label for this reason (the part after the source in `Network:Recognized`).
    pub fn label(self) -> &'static str {
        match self {
            Reason::Recognized => "Recognized",
            Reason::Unrecognized => "Unrecognized",
            Reason::Unsupported => "Unsupported",
            Reason::LocalOverride => "LocalOverride",
            Reason::NoRuleset => "NoValues",
            Reason::CountryLookupNotLoaded => "Recognized",
            Reason::DepthExceeded => "Statsig Evaluation Depth Exceeded",
        }
    }
}

/// A gate checked on the way to a result (Statsig's `secondary_exposures` entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SecondaryExposure<'a> {
    /// The gate's name.
    pub gate: &'a str,
    /// Its value for the user.
    pub gate_value: bool,
    /// The rule that decided it.
    pub rule_id: &'a str,
}

/// A list of secondary exposures, borrowed; iterate it or index it.
#[derive(Clone, Copy)]
pub struct SecondaryExposures<'a> {
    pub(crate) strs: &'a [Box<str>],
    pub(crate) raw: &'a [RawExposure],
}

impl<'a> SecondaryExposures<'a> {
    pub(crate) const EMPTY: SecondaryExposures<'static> = SecondaryExposures {
        strs: &[],
        raw: &[],
    };

    /// Number of entries (duplicates are kept, as Statsig keeps them).
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Entry `i`.
    pub fn get(&self, i: usize) -> Option<SecondaryExposure<'a>> {
        self.raw.get(i).map(|r| self.resolve(r))
    }

    fn resolve(&self, r: &RawExposure) -> SecondaryExposure<'a> {
        let strs = self.strs;
        let s = |id: u32| strs.get(id as usize).map_or("", |s| &**s);
        SecondaryExposure {
            gate: s(r.gate),
            gate_value: r.value,
            rule_id: s(r.rule),
        }
    }

    /// The entries in evaluation order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = SecondaryExposure<'a>> + 'a {
        let this = *self;
        self.raw.iter().map(move |r| this.resolve(r))
    }
}

impl core::fmt::Debug for SecondaryExposures<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The full result of one evaluation, borrowed from the snapshot (and, for the exposure
/// lists, from the [`Scratch`](crate::Scratch) it was evaluated with).
#[derive(Clone, Copy, Debug)]
pub struct Evaluation<'a> {
    pub(crate) kind: Kind,
    pub(crate) name: &'a str,
    pub(crate) value: bool,
    pub(crate) json: &'a Map<String, Json>,
    pub(crate) rule_id: &'a str,
    pub(crate) group_name: Option<&'a str>,
    pub(crate) id_type: &'a str,
    pub(crate) version: Option<u32>,
    pub(crate) is_experiment_group: bool,
    pub(crate) is_experiment_active: bool,
    pub(crate) is_in_layer: bool,
    pub(crate) explicit_parameters: &'a [Box<str>],
    pub(crate) allocated_experiment: Option<&'a str>,
    pub(crate) secondary: SecondaryExposures<'a>,
    pub(crate) undelegated: Option<SecondaryExposures<'a>>,
    pub(crate) reason: Reason,
    pub(crate) id_list_used: bool,
    pub(crate) lcut: u64,
}

impl<'a> Evaluation<'a> {
    /// What was evaluated.
    pub fn kind(&self) -> Kind {
        self.kind
    }
    /// The name that was evaluated.
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// The boolean result: the gate's value, or for configs whether a rule passed.
    pub fn value(&self) -> bool {
        self.value
    }
    /// The JSON object value of a config, experiment or layer (`{}` for gates).
    pub fn json(&self) -> &'a Map<String, Json> {
        self.json
    }
    /// The id of the rule that decided the result (`default`, `disabled`, or `""` when none).
    pub fn rule_id(&self) -> &'a str {
        self.rule_id
    }
    /// The experiment group name, for experiments and layers.
    pub fn group_name(&self) -> Option<&'a str> {
        self.group_name
    }
    /// The unit type the spec buckets by (`userID`, `stableID`, …), `""` when unrecognized.
    pub fn id_type(&self) -> &'a str {
        self.id_type
    }
    /// The spec's version.
    pub fn version(&self) -> Option<u32> {
        self.version
    }
    /// Whether the user is in an experiment group.
    pub fn is_user_in_experiment(&self) -> bool {
        self.is_experiment_group
    }
    /// Whether the experiment is active.
    pub fn is_experiment_active(&self) -> bool {
        self.is_experiment_active
    }
    /// Whether the experiment belongs to a layer.
    pub fn is_in_layer(&self) -> bool {
        self.is_in_layer
    }
    /// The explicit parameters of the (allocated) experiment.
    pub fn explicit_parameters(&self) -> impl Iterator<Item = &'a str> {
        self.explicit_parameters.iter().map(|s| &**s)
    }
    /// For layers: the experiment the user is allocated to.
    pub fn allocated_experiment(&self) -> Option<&'a str> {
        self.allocated_experiment
    }
    /// Gates checked on the way, in order (empty unless evaluated with a scratch).
    pub fn secondary_exposures(&self) -> SecondaryExposures<'a> {
        self.secondary
    }
    /// Exposures of a layer's own rules, before delegation (Statsig's
    /// `undelegated_secondary_exposures`); `None` where Statsig reports none.
    pub fn undelegated_secondary_exposures(&self) -> Option<SecondaryExposures<'a>> {
        self.undelegated
    }
    /// Why the result is what it is.
    pub fn reason(&self) -> Reason {
        self.reason
    }
    /// Whether an ID list was consulted (Statsig's `:IdListInMemory`).
    pub fn used_id_list(&self) -> bool {
        self.id_list_used
    }
    /// The ruleset's time (`lcut`), 0 when there is no ruleset.
    pub fn ruleset_time(&self) -> u64 {
        self.lcut
    }
    /// A parameter of the value.
    pub fn get(&self, parameter: &str) -> Option<&'a Json> {
        self.json.get(parameter)
    }
}

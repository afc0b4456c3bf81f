//! The record of one evaluation as the evaluator fills it in, and the compact secondary
//! exposure: what [`super::evaluator`] writes and [`super::result`] reads.

use serde_json::{Map, Value as Json};

use crate::load::{ReturnValue, Spec};

/// What kind of entity is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A feature gate (`feature_gates`; segments and holdouts are gates too).
    Gate,
    /// A dynamic config (`dynamic_configs`).
    DynamicConfig,
    /// An experiment (`dynamic_configs` with experiment semantics).
    Experiment,
    /// A layer (`layer_configs`).
    Layer,
}

impl Kind {
    /// The kind's short label: `gate`, `config`, `experiment`, `layer` (the conformance
    /// result format's `kind`, and [`Trace`](crate::Trace)'s).
    pub fn label(self) -> &'static str {
        match self {
            Kind::Gate => "gate",
            Kind::DynamicConfig => "config",
            Kind::Experiment => "experiment",
            Kind::Layer => "layer",
        }
    }
}

/// One secondary exposure: a gate checked on the way to a result, in compact form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawExposure {
    pub(crate) gate: u32,
    pub(crate) value: bool,
    pub(crate) rule: u32,
}

/// The evaluation aborted (nesting too deep or a cycle).
#[derive(Debug)]
pub(crate) struct Abort;

/// Whether the name was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Found {
    Recognized,
    Unrecognized,
}

/// The mutable result record of one top-level evaluation (spec 4.2).
#[derive(Debug, Default)]
pub(crate) struct Record<'r> {
    pub(crate) value: bool,
    pub(crate) unsupported: bool,
    pub(crate) json: Option<&'r ReturnValue>,
    pub(crate) rule_id: Option<u32>,
    pub(crate) group_name: Option<&'r str>,
    pub(crate) meta_set: bool,
    pub(crate) id_type: Option<&'r str>,
    pub(crate) version: Option<u32>,
    pub(crate) is_experiment_group: bool,
    pub(crate) is_experiment_active: bool,
    pub(crate) is_in_layer: bool,
    pub(crate) explicit_parameters: Option<&'r [Box<str>]>,
    pub(crate) config_delegate: Option<&'r str>,
    pub(crate) sampling_rate: Option<u64>,
    pub(crate) forward_all_exposures: bool,
    /// A nested gate without a sampling rate (an "analytical" gate) was evaluated on the
    /// way (Statsig's `has_seen_analytical_gates`): sampling then logs the exposure.
    pub(crate) has_seen_analytical_gates: bool,
    /// Where this record's secondary exposures start in the shared buffer.
    pub(crate) base: usize,
    /// The undelegated secondary exposures: a range of the shared buffer.
    pub(crate) undelegated: Option<(usize, usize)>,
    /// Where the secondary exposures end in the buffer when not at its end (multi-rule
    /// layers drop a trailing part and copy their undelegated list after it).
    pub(crate) secondary_end: Option<usize>,
    /// The merged value of a multi-rule layer (spec 4.7).
    pub(crate) merged: Option<Merged<'r>>,
    /// The spec config mapping evaluated instead (spec 4.10).
    pub(crate) override_config_name: Option<&'r str>,
    /// A local override decided the result (Statsig's `override_reason`).
    pub(crate) local_override: bool,
}

impl<'r> Record<'r> {
    /// A fresh record whose exposures start at `base` in the buffer.
    pub(crate) fn at(base: usize) -> Record<'r> {
        Record {
            base,
            ..Record::default()
        }
    }
}

/// The value of a multi-rule layer (spec 4.7): which sources its parameters come from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Merged<'r> {
    pub(crate) layer: &'r Spec,
    /// The accepted delegate's value (if an object) and the delegating rule's id.
    pub(crate) delegate: Option<(Option<&'r Map<String, Json>>, u32)>,
    /// Bit `i`: rule `i`'s return value contributes.
    pub(crate) rules: u128,
}

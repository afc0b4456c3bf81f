//! Loading errors and the limits that bound untrusted payloads.

/// Why a `download_config_specs` payload was rejected.
///
/// Loading is all-or-nothing: on error no ruleset is produced, so the caller keeps serving the
/// ruleset it already has. Each variant names the entity and field at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The bytes are not valid JSON (or nest deeper than the JSON parser allows). Check that the
    /// payload was not truncated or replaced by an error page.
    #[error("payload is not valid JSON")]
    Json(#[source] serde_json::Error),
    /// The payload is JSON but not a `download_config_specs` object: a required top-level field
    /// is missing or has the wrong type.
    #[error("top-level field `{field}` {problem}")]
    TopLevel {
        /// The top-level field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A condition in `condition_map` (or inline in a v1 rule) is malformed; Statsig rejects the
    /// whole payload for one bad condition.
    #[error("condition `{id}` is malformed")]
    Condition {
        /// The condition's id (v2) or `<section>/<spec>/<rule index>/<condition index>` (v1).
        id: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// An entry of the config-mapping fields `overrides` or `override_rules` is malformed;
    /// like Statsig's core, the whole payload is rejected.
    #[error("`{field}` entry `{name}` is malformed")]
    Mapping {
        /// `overrides` or `override_rules`.
        field: &'static str,
        /// The entry's key: the mapped spec's name, or the rule's name.
        name: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// A parameter store of `param_stores` is malformed (a parameter matches none of the
    /// shapes static, gate, dynamic config, experiment or layer, or a field has the wrong
    /// type); like Statsig's core, the whole payload is rejected.
    #[error("parameter store `{name}` is malformed")]
    ParamStore {
        /// The store's name.
        name: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The payload exceeds one of the configured [`Limits`]. Raise the limit if the payload is
    /// legitimate.
    #[error("{what} exceeds the limit of {limit} ({found} found)")]
    Limit {
        /// Which limit, and where (e.g. `rules of gate \`x\``).
        what: String,
        /// The configured limit.
        limit: usize,
        /// What the payload has.
        found: usize,
    },
}

/// Bounds on what an untrusted payload may make the loader do.
///
/// The defaults admit every real Statsig payload we know of with a wide margin (the largest
/// test payload has under 100 specs and is 9 MB).
///
/// ```
/// let mut limits = flagcore::Limits::default();
/// limits.max_payload_bytes = 1 << 20;
/// let err = flagcore::Ruleset::from_json_with_limits(&vec![b' '; 2 << 20], &limits).unwrap_err();
/// assert!(err.to_string().contains("exceeds the limit"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest payload accepted, in bytes.
    pub max_payload_bytes: usize,
    /// Most specs (gates + configs + layers) in one payload.
    pub max_specs: usize,
    /// Most rules in one spec.
    pub max_rules_per_spec: usize,
    /// Most conditions in one payload.
    pub max_conditions: usize,
    /// Most condition references in one rule.
    pub max_conditions_per_rule: usize,
    /// Most elements in one condition's target list.
    pub max_target_values: usize,
    /// Longest `str_matches` pattern, in bytes.
    pub max_regex_bytes: usize,
    /// Size limit of one compiled regex, in bytes.
    pub max_regex_compiled_bytes: usize,
    /// Most parameters in all parameter stores (`param_stores`) together.
    pub max_param_store_parameters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_bytes: 64 << 20,
            max_specs: 100_000,
            max_rules_per_spec: 10_000,
            max_conditions: 1_000_000,
            max_conditions_per_rule: 1_000,
            max_target_values: 1_000_000,
            max_regex_bytes: 4_096,
            max_regex_compiled_bytes: 1 << 20,
            max_param_store_parameters: 1_000_000,
        }
    }
}

impl Limits {
    pub(crate) fn check(
        &self,
        what: impl FnOnce() -> String,
        limit: usize,
        found: usize,
    ) -> Result<(), LoadError> {
        if found > limit {
            Err(LoadError::Limit {
                what: what(),
                limit,
                found,
            })
        } else {
            Ok(())
        }
    }
}

//! Flag keys → flagcore entities, and evaluation results → OpenFeature resolutions: shared
//! by the provider and the OFREP sidecar.
//!
//! ## Flag keys
//!
//! Statsig has four kinds of entity, in three namespaces (gates; dynamic configs and
//! experiments; layers). A flag key names one:
//!
//! - `gate:NAME`, `config:NAME`, `experiment:NAME`, `layer:NAME` name the kind explicitly
//!   (`config:` and `experiment:` both look in the configs-and-experiments namespace; the
//!   entity is evaluated as what the payload says it is);
//! - a bare `NAME` is the gate of that name, else the config or experiment, else the layer;
//! - `ENTITY.PARAM` (where `ENTITY` is one of the forms above and the whole key names no
//!   entity) is the parameter `PARAM` of a config's, experiment's or layer's value: a typed
//!   value (string, number, boolean, object), and for a layer the parameter read is what
//!   its exposure reports, as in Statsig's SDKs.
//!
//! Gates resolve to a boolean; configs, experiments and layers to their value object.
//!
//! ## Reasons
//!
//! | flagcore result | reason |
//! | --- | --- |
//! | rule `disabled` (the spec is off) | `DISABLED` (a successful evaluation) |
//! | rule `default` (no rule matched) | `DEFAULT` |
//! | an experiment or layer result with a group (the user was assigned to a group) | `SPLIT` |
//! | any other rule | `TARGETING_MATCH` |
//! | a local override | `STATIC` |
//! | a sticky (persisted) assignment | `CACHED` |
//! | an unsupported condition (value as Statsig gives it) | `UNKNOWN` |
//!
//! Errors: an unknown key or parameter is `FLAG_NOT_FOUND`; no ruleset installed yet is
//! `PROVIDER_NOT_READY`; nested gates deeper than flagcore's limit are `GENERAL`.
//!
//! ## Variant and metadata
//!
//! The variant is the experiment group name when there is one, else the rule id. The flag
//! metadata carries flagcore's evaluation details: `kind` (`gate`, `config`, `experiment`,
//! `layer`), `name` (the entity evaluated), `ruleId`, `groupName` (when there is one),
//! `allocatedExperiment` (layers, when allocated), `idType`, `statsigReason` (Statsig's
//! reason label, e.g. `Recognized`) and `parameter` (for `ENTITY.PARAM` keys).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use flagcore::serde_json::Value as Json;
use flagcore::{Evaluation, Exposures, JsonObject, Kind, Reason, Ruleset, Scratch, User, View};

/// An OpenFeature resolution reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResolutionReason {
    /// A local override gave the value.
    Static,
    /// No rule matched: the spec's default value.
    Default,
    /// A rule matched.
    TargetingMatch,
    /// The user was assigned to an experiment group.
    Split,
    /// A persisted (sticky) assignment gave the value.
    Cached,
    /// The spec is disabled: its disabled value (a successful evaluation).
    Disabled,
    /// An unsupported condition was met; the value is what Statsig gives.
    Unknown,
}

impl ResolutionReason {
    /// The reason as OpenFeature spells it (`TARGETING_MATCH`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionReason::Static => "STATIC",
            ResolutionReason::Default => "DEFAULT",
            ResolutionReason::TargetingMatch => "TARGETING_MATCH",
            ResolutionReason::Split => "SPLIT",
            ResolutionReason::Cached => "CACHED",
            ResolutionReason::Disabled => "DISABLED",
            ResolutionReason::Unknown => "UNKNOWN",
        }
    }
}

/// Why a key could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No entity (or parameter) of that key exists in the ruleset: check the key and the
    /// key scheme ([module documentation](self)). OpenFeature's `FLAG_NOT_FOUND`.
    #[error("flag {0:?} was not found")]
    FlagNotFound(String),
    /// No ruleset is installed yet: wait for the first sync. `PROVIDER_NOT_READY`.
    #[error("no ruleset is installed yet")]
    NotReady,
    /// Nested gates went deeper than flagcore evaluates (or formed a cycle): the payload
    /// is at fault. `GENERAL`.
    #[error("flag {0:?}: nested gates are too deep")]
    DepthExceeded(String),
}

impl ResolveError {
    /// The OpenFeature error code.
    pub fn code(&self) -> &'static str {
        match self {
            ResolveError::FlagNotFound(_) => "FLAG_NOT_FOUND",
            ResolveError::NotReady => "PROVIDER_NOT_READY",
            ResolveError::DepthExceeded(_) => "GENERAL",
        }
    }
}

/// The kind's label in keys and metadata.
pub fn kind_label(kind: Kind) -> &'static str {
    match kind {
        Kind::Gate => "gate",
        Kind::DynamicConfig => "config",
        Kind::Experiment => "experiment",
        Kind::Layer => "layer",
    }
}

/// What a flag key names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target<'k> {
    /// The entity's kind.
    pub kind: Kind,
    /// The entity's name.
    pub name: &'k str,
    /// The parameter of its value, for `ENTITY.PARAM` keys.
    pub parameter: Option<&'k str>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Entry {
    gate: bool,
    config: Option<Kind>,
    layer: bool,
}

/// The names of one ruleset's entities, to resolve flag keys in O(1).
#[derive(Debug, Default)]
pub struct Catalog {
    names: HashMap<Box<str>, Entry>,
}

impl Catalog {
    /// The catalog of `ruleset`.
    pub fn new(ruleset: &Ruleset) -> Catalog {
        let mut names: HashMap<Box<str>, Entry> = HashMap::new();
        for n in ruleset.gate_names() {
            names.entry(n.into()).or_default().gate = true;
        }
        for (n, entity) in ruleset.config_names() {
            let kind = if entity == "experiment" {
                Kind::Experiment
            } else {
                Kind::DynamicConfig
            };
            names.entry(n.into()).or_default().config = Some(kind);
        }
        for n in ruleset.layer_names() {
            names.entry(n.into()).or_default().layer = true;
        }
        Catalog { names }
    }

    fn entity<'k>(&self, key: &'k str) -> Option<(Kind, &'k str)> {
        let (prefix, name) = match key.split_once(':') {
            Some((p @ ("gate" | "config" | "experiment" | "layer"), name)) => (Some(p), name),
            _ => (None, key),
        };
        let e = self.names.get(name)?;
        let kind = match prefix {
            Some("gate") => e.gate.then_some(Kind::Gate)?,
            Some("config" | "experiment") => e.config?,
            Some(_) => e.layer.then_some(Kind::Layer)?,
            None if e.gate => Kind::Gate,
            None => e.config.or_else(|| e.layer.then_some(Kind::Layer))?,
        };
        Some((kind, name))
    }

    /// What `key` names, by the key scheme of the [module documentation](self).
    pub fn target<'k>(&self, key: &'k str) -> Option<Target<'k>> {
        if let Some((kind, name)) = self.entity(key) {
            return Some(Target {
                kind,
                name,
                parameter: None,
            });
        }
        let (entity, parameter) = key.rsplit_once('.')?;
        let (kind, name) = self.entity(entity)?;
        (kind != Kind::Gate).then_some(Target {
            kind,
            name,
            parameter: Some(parameter),
        })
    }

    /// The key of every entity, sorted: the bare name where it resolves to that entity,
    /// else `kind:name`.
    pub fn keys(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.names.len());
        for (name, e) in &self.names {
            let mut bare = true;
            let mut push = |kind: Kind| {
                if bare {
                    out.push(name.to_string());
                    bare = false;
                } else {
                    out.push(format!("{}:{name}", kind_label(kind)));
                }
            };
            if e.gate {
                push(Kind::Gate);
            }
            if let Some(k) = e.config {
                push(k);
            }
            if e.layer {
                push(Kind::Layer);
            }
        }
        out.sort_unstable();
        out
    }
}

struct Cached {
    ruleset: usize,
    time: u64,
    catalog: Arc<Catalog>,
}

/// The [`Catalog`] of the ruleset last seen, rebuilt when a snapshot shows another one
/// (lock-free: one atomic load per lookup).
#[derive(Default)]
pub struct CatalogCache {
    cell: ArcSwapOption<Cached>,
}

impl core::fmt::Debug for CatalogCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CatalogCache").finish_non_exhaustive()
    }
}

impl CatalogCache {
    /// An empty cache.
    pub fn new() -> CatalogCache {
        CatalogCache::default()
    }

    /// The catalog of `view`'s ruleset (`None` when it has none).
    pub fn get(&self, view: &View) -> Option<Arc<Catalog>> {
        let ruleset = view.ruleset()?;
        let id = ruleset as *const Ruleset as usize;
        if let Some(c) = &*self.cell.load() {
            if c.ruleset == id && c.time == ruleset.time() {
                return Some(c.catalog.clone());
            }
        }
        let catalog = Arc::new(Catalog::new(ruleset));
        self.cell.store(Some(Arc::new(Cached {
            ruleset: id,
            time: ruleset.time(),
            catalog: catalog.clone(),
        })));
        Some(catalog)
    }
}

/// A resolved flag's value, borrowed from the snapshot.
#[derive(Clone, Copy, Debug)]
pub enum FlagValue<'a> {
    /// A gate's boolean.
    Bool(bool),
    /// A config's, experiment's or layer's value object.
    Object(JsonObject<'a>),
    /// One parameter of a value object.
    Json(&'a Json),
}

/// One metadata value (OpenFeature's and OFREP's metadata are flat: strings, numbers,
/// booleans).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetaValue<'a> {
    /// A string.
    Str(&'a str),
}

/// A successful resolution, borrowed from the snapshot.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'a> {
    /// The evaluation behind it.
    pub evaluation: Evaluation<'a>,
    /// The parameter read, for `ENTITY.PARAM` keys.
    pub parameter: Option<&'a str>,
    /// The value.
    pub value: FlagValue<'a>,
    /// The OpenFeature reason.
    pub reason: ResolutionReason,
}

impl<'a> Resolved<'a> {
    /// The variant: the group name, else the rule id.
    pub fn variant(&self) -> &'a str {
        self.evaluation
            .group_name()
            .unwrap_or(self.evaluation.rule_id())
    }

    /// The flag metadata (see the [module documentation](self)).
    pub fn metadata(&self) -> impl Iterator<Item = (&'static str, MetaValue<'a>)> + 'a {
        let e = self.evaluation;
        let id_type = Some(e.id_type()).filter(|t| !t.is_empty());
        [
            ("kind", Some(kind_label(e.kind()))),
            ("name", Some(e.name())),
            ("ruleId", Some(e.rule_id())),
            ("groupName", e.group_name()),
            ("allocatedExperiment", e.allocated_experiment()),
            ("idType", id_type),
            ("statsigReason", Some(e.reason().label())),
            ("parameter", self.parameter),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, MetaValue::Str(v?))))
    }
}

/// The OpenFeature reason of a flagcore result, or the error it is.
pub fn reason(e: &Evaluation<'_>) -> Result<ResolutionReason, ResolveError> {
    Ok(match e.reason() {
        Reason::Unrecognized => return Err(ResolveError::FlagNotFound(e.name().to_owned())),
        Reason::NoRuleset => return Err(ResolveError::NotReady),
        Reason::DepthExceeded => return Err(ResolveError::DepthExceeded(e.name().to_owned())),
        Reason::LocalOverride => ResolutionReason::Static,
        Reason::Persisted => ResolutionReason::Cached,
        Reason::Recognized | Reason::CountryLookupNotLoaded => match e.rule_id() {
            "disabled" => ResolutionReason::Disabled,
            "default" => ResolutionReason::Default,
            _ if e.kind() != Kind::Gate
                && e.kind() != Kind::DynamicConfig
                && e.group_name().is_some() =>
            {
                ResolutionReason::Split
            }
            _ => ResolutionReason::TargetingMatch,
        },
        // `Unsupported`, and any reason a later flagcore adds.
        _ => ResolutionReason::Unknown,
    })
}

/// Logs the exposure of one layer parameter read (`flagcore_sync::EventLogger::log_layer_parameter`).
pub type LayerExposure<'l> = &'l dyn Fn(&User<'_>, &Evaluation<'_>, &str);

/// Resolves `key` for `user` from `view` (with `catalog`, the catalog of its ruleset):
/// evaluates the entity, reads the parameter, and logs the exposure when `exposures` is
/// [`Exposures::Log`]. For a layer that is the exposure of the parameter read, through
/// `layer_exposure` (else as a manual exposure, [`View::log_layer_exposure`]); a whole
/// layer object logs none, as in Statsig's SDKs.
pub fn resolve<'a>(
    view: &'a View,
    scratch: &'a mut Scratch,
    catalog: Option<&Catalog>,
    user: &User<'_>,
    key: &'a str,
    exposures: Exposures,
    layer_exposure: Option<LayerExposure<'_>>,
) -> Result<Resolved<'a>, ResolveError> {
    let catalog = catalog.ok_or(ResolveError::NotReady)?;
    let target = catalog
        .target(key)
        .ok_or_else(|| ResolveError::FlagNotFound(key.to_owned()))?;
    let e = view.evaluate(scratch, user, target.kind, target.name, exposures);
    let reason = reason(&e)?;
    let value = match (target.kind, target.parameter) {
        (Kind::Gate, _) => FlagValue::Bool(e.value()),
        (_, None) => FlagValue::Object(e.json()),
        (kind, Some(p)) => {
            let v = e
                .json()
                .get(p)
                .ok_or_else(|| ResolveError::FlagNotFound(key.to_owned()))?;
            if kind == Kind::Layer && exposures == Exposures::Log {
                match layer_exposure {
                    Some(log) => log(user, &e, p),
                    None => view.log_layer_exposure(user, &e, p),
                }
            }
            FlagValue::Json(v)
        }
    };
    Ok(Resolved {
        evaluation: e,
        parameter: target.parameter,
        value,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYLOAD: &[u8] = br#"{
      "feature_gates": {
        "both": {"type": "feature_gate", "entity": "feature_gate", "salt": "s", "enabled": true,
          "defaultValue": false, "idType": "userID", "rules": []}},
      "dynamic_configs": {
        "both": {"type": "dynamic_config", "entity": "dynamic_config", "salt": "s",
          "enabled": true, "defaultValue": {"a": 1}, "idType": "userID", "rules": []},
        "exp": {"type": "dynamic_config", "entity": "experiment", "salt": "s",
          "enabled": true, "defaultValue": {"b": "x"}, "idType": "userID", "rules": []}},
      "layer_configs": {
        "lay": {"type": "dynamic_config", "entity": "layer", "salt": "s",
          "enabled": true, "defaultValue": {"c": true}, "idType": "userID", "rules": []}},
      "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1
    }"#;

    fn catalog() -> Catalog {
        Catalog::new(&Ruleset::from_json(PAYLOAD).expect("valid"))
    }

    #[test]
    fn key_scheme() {
        let c = catalog();
        let t = |k| c.target(k).map(|t| (t.kind, t.name, t.parameter));
        assert_eq!(t("both"), Some((Kind::Gate, "both", None)));
        assert_eq!(t("gate:both"), Some((Kind::Gate, "both", None)));
        assert_eq!(t("config:both"), Some((Kind::DynamicConfig, "both", None)));
        assert_eq!(t("exp"), Some((Kind::Experiment, "exp", None)));
        assert_eq!(t("config:exp"), Some((Kind::Experiment, "exp", None)));
        assert_eq!(t("lay"), Some((Kind::Layer, "lay", None)));
        assert_eq!(t("layer:lay.c"), Some((Kind::Layer, "lay", Some("c"))));
        assert_eq!(t("exp.b"), Some((Kind::Experiment, "exp", Some("b"))));
        assert_eq!(t("gate:exp"), None);
        assert_eq!(t("layer:both"), None);
        assert_eq!(t("nothing"), None);
        assert_eq!(t("gate:both.x"), None, "gates have no parameters");
        assert_eq!(
            c.keys(),
            ["both", "config:both", "exp", "lay"].map(String::from)
        );
    }
}

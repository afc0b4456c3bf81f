//! A payload becomes a [`Ruleset`]: loading (`load`: parse and compile) then what evaluation
//! precomputes (`eval::prepare`). This is the one place that runs both.

use crate::eval::Kind;
use crate::load::{compile, Limits, LoadError, Ruleset};

impl Ruleset {
    /// Parses and compiles a `download_config_specs` payload with the default [`Limits`].
    ///
    /// Accepts the `dcs-v2` shape and the legacy v1 shape. On error nothing is produced: keep
    /// serving the previous ruleset.
    pub fn from_json(bytes: &[u8]) -> Result<Ruleset, LoadError> {
        Ruleset::from_json_with_limits(bytes, &Limits::default())
    }

    /// Parses and compiles a payload, bounded by `limits`.
    pub fn from_json_with_limits(bytes: &[u8], limits: &Limits) -> Result<Ruleset, LoadError> {
        let mut rs = compile(bytes, limits)?;
        crate::eval::prepare(&mut rs);
        Ok(rs)
    }

    /// Every entity with the kind it is evaluated as: gates, then dynamic configs and
    /// experiments (an `experiment` entity is an experiment), then layers, in payload order,
    /// then the specs the loader dropped ([`Ruleset::dropped_specs`]; they evaluate as
    /// unrecognized, as in Statsig's core).
    ///
    /// ```
    /// use flagcore::{Kind, Ruleset};
    ///
    /// let rs = Ruleset::from_json(br#"{"feature_gates": {"g": {"type": "feature_gate",
    ///   "salt": "s", "enabled": true, "defaultValue": false, "idType": "userID", "rules": []}},
    ///   "dynamic_configs": {}, "layer_configs": {}, "condition_map": {},
    ///   "experiment_to_layer": {}, "has_updates": true, "time": 1}"#)?;
    /// assert_eq!(rs.entities(), [(Kind::Gate, "g")]);
    /// # Ok::<(), flagcore::LoadError>(())
    /// ```
    pub fn entities(&self) -> Vec<(Kind, &str)> {
        let mut out: Vec<(Kind, &str)> = self.gate_names().map(|n| (Kind::Gate, n)).collect();
        for (name, entity) in self.config_names() {
            let kind = if entity == "experiment" {
                Kind::Experiment
            } else {
                Kind::DynamicConfig
            };
            out.push((kind, name));
        }
        out.extend(self.layer_names().map(|n| (Kind::Layer, n)));
        for d in self.dropped_specs().iter().filter(|d| !d.name.is_empty()) {
            let kind = match d.section {
                "feature_gates" => Kind::Gate,
                "layer_configs" => Kind::Layer,
                _ if d.entity.as_deref() == Some("experiment") => Kind::Experiment,
                _ => Kind::DynamicConfig,
            };
            out.push((kind, &d.name));
        }
        out
    }
}

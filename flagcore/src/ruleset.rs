//! A payload becomes a [`Ruleset`]: loading (`load`: parse and compile) then what evaluation
//! precomputes (`eval::prepare`). This is the one place that runs both.

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
}

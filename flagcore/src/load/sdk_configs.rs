//! The event-logging settings of a payload's `sdk_configs` (spec 11.4, 11.5): what the
//! exposure logger needs to sample and deduplicate as the official core does.

use serde_json::Value as Json;

use super::LoadError;

/// Whether, and how, exposures are sampled (`sdk_configs.sampling_mode`, spec 11.5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SamplingMode {
    /// Every exposure that is not a duplicate is logged (`"none"`, absent, or anything
    /// other than `"on"` and `"shadow"`).
    #[default]
    Off,
    /// Exposures outside the sample are dropped; logged ones carry `samplingMode: "on"`.
    On,
    /// Every exposure is logged, each saying whether sampling would have kept it
    /// (`shadowLogged`: `"logged"` or `"dropped"`).
    Shadow,
}

impl SamplingMode {
    /// Statsig's name of the mode in event metadata (`"on"`, `"shadow"`), `None` when off.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            SamplingMode::Off => None,
            SamplingMode::On => Some("on"),
            SamplingMode::Shadow => Some("shadow"),
        }
    }
}

/// The event-logging settings of a ruleset (its payload's `sdk_configs`), read the way the
/// official core reads them; [`Ruleset::sdk_configs`](crate::Ruleset::sdk_configs) and
/// [`Evaluation::sdk_configs`](crate::Evaluation::sdk_configs) give them to an exposure
/// logger.
///
/// Numbers may also come as numeric strings (`"101"`), as the official core accepts
/// them; a rate is truncated to an integer. Other keys of `sdk_configs` are ignored.
///
/// ```
/// use flagcore::{Ruleset, SamplingMode};
///
/// let payload = br#"{"feature_gates": {}, "dynamic_configs": {}, "layer_configs": {},
///   "condition_map": {}, "experiment_to_layer": {}, "has_updates": true, "time": 1,
///   "sdk_configs": {"sampling_mode": "on", "special_case_sampling_rate": 101}}"#;
/// let configs = Ruleset::from_json(payload)?.sdk_configs().clone();
/// assert_eq!(configs.sampling_mode(), SamplingMode::On);
/// assert_eq!(configs.special_case_sampling_rate(), Some(101));
/// assert_eq!(configs.exposure_dedupe_ttl_ms(), None);
/// assert_eq!(configs.exposure_spec_sampling_ttl_ms(), 60_000);
/// # Ok::<(), flagcore::LoadError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SdkConfigs {
    sampling_mode: SamplingMode,
    special_case_sampling_rate: Option<u64>,
    exposure_dedupe_ttl_ms: Option<u64>,
    exposure_spec_sampling_ttl_ms: Option<u64>,
}

/// Both windows' default: 60 s.
const DEFAULT_TTL_MS: u64 = 60_000;

impl Default for SdkConfigs {
    fn default() -> Self {
        SdkConfigs::DEFAULT
    }
}

impl SdkConfigs {
    /// The settings of a payload without `sdk_configs`: no sampling, 60 s windows.
    pub const DEFAULT: SdkConfigs = SdkConfigs {
        sampling_mode: SamplingMode::Off,
        special_case_sampling_rate: None,
        exposure_dedupe_ttl_ms: None,
        exposure_spec_sampling_ttl_ms: None,
    };

    /// `sampling_mode`.
    pub fn sampling_mode(&self) -> SamplingMode {
        self.sampling_mode
    }

    /// `special_case_sampling_rate`: the rate for exposures whose rule id is `default`,
    /// `disabled` or empty (other exposures use their rule's `samplingRate`).
    pub fn special_case_sampling_rate(&self) -> Option<u64> {
        self.special_case_sampling_rate
    }

    /// `exposure_dedupe_ttl_ms`: how often the set of logged exposures is forgotten;
    /// `None` when the payload does not set it (a logger's own window applies, 60,000 ms
    /// in the official core).
    pub fn exposure_dedupe_ttl_ms(&self) -> Option<u64> {
        self.exposure_dedupe_ttl_ms
    }

    /// `exposure_spec_sampling_ttl_ms`: how often the set of (spec, rule) pairs already
    /// seen is forgotten; the first exposure of a pair in a window is always logged
    /// (60,000 by default).
    pub fn exposure_spec_sampling_ttl_ms(&self) -> u64 {
        self.exposure_spec_sampling_ttl_ms.unwrap_or(DEFAULT_TTL_MS)
    }

    /// What [`Ruleset::to_json`](crate::Ruleset::to_json) writes back: the settings read,
    /// in canonical form (numbers as integers); `None` when there are none.
    pub(crate) fn to_map(&self) -> Option<serde_json::Map<String, Json>> {
        let mut map = serde_json::Map::new();
        if let Some(mode) = self.sampling_mode.as_str() {
            map.insert("sampling_mode".into(), mode.into());
        }
        for (key, v) in [
            (
                "special_case_sampling_rate",
                self.special_case_sampling_rate,
            ),
            ("exposure_dedupe_ttl_ms", self.exposure_dedupe_ttl_ms),
            (
                "exposure_spec_sampling_ttl_ms",
                self.exposure_spec_sampling_ttl_ms,
            ),
        ] {
            if let Some(v) = v {
                map.insert(key.into(), v.into());
            }
        }
        (!map.is_empty()).then_some(map)
    }
}

/// The official core's `float_value` of a config value: a number, or a string that parses
/// as one.
fn float(v: Option<&Json>) -> Option<f64> {
    match v? {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Reads `sdk_configs` (absent or `null`: the defaults).
pub(crate) fn compile(raw: Option<&serde_json::value::RawValue>) -> Result<SdkConfigs, LoadError> {
    let Some(raw) = raw.filter(|r| r.get().trim() != "null") else {
        return Ok(SdkConfigs::DEFAULT);
    };
    let map: serde_json::Map<String, Json> =
        serde_json::from_str(raw.get()).map_err(|_| LoadError::TopLevel {
            field: "sdk_configs",
            problem: "must be an object",
        })?;
    // `as`: the official core truncates, saturating (and NaN gives 0).
    let int = |key: &str| float(map.get(key)).map(|f| f as u64);
    Ok(SdkConfigs {
        sampling_mode: match map.get("sampling_mode").and_then(Json::as_str) {
            Some("on") => SamplingMode::On,
            Some("shadow") => SamplingMode::Shadow,
            _ => SamplingMode::Off,
        },
        special_case_sampling_rate: int("special_case_sampling_rate"),
        exposure_dedupe_ttl_ms: int("exposure_dedupe_ttl_ms"),
        exposure_spec_sampling_ttl_ms: int("exposure_spec_sampling_ttl_ms"),
    })
}

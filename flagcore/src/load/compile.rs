//! The compile step: the wire model (`wire`) becomes the compiled [`Ruleset`] (`model`):
//! names interned and indexed, operators turned into enums, targets pre-parsed.

use std::collections::HashMap;

use serde_json::{Map, Value as Json};

use crate::hash::Prefix;
use crate::index::{SeededXxh3, StrIndex};
use crate::value::{json_text, target_timestamp, with_lower};

use super::error::{Limits, LoadError};
use super::model::*;
use super::wire::*;

/// Parses and compiles a payload, bounded by `limits`: the loading half of
/// [`Ruleset::from_json_with_limits`] (what evaluation precomputes comes after, in
/// `eval::prepare`).
pub(crate) fn compile(bytes: &[u8], limits: &Limits) -> Result<Ruleset, LoadError> {
    limits.check(
        || "payload size in bytes".into(),
        limits.max_payload_bytes,
        bytes.len(),
    )?;
    let text = std::str::from_utf8(bytes).map_err(|_| LoadError::TopLevel {
        field: "(payload)",
        problem: "is not UTF-8",
    })?;
    // One pass checks the syntax and splits the payload into its top-level fields.
    let top: RawTop<'_> = match serde_json::from_str(text) {
        Ok(top) => top,
        Err(e) if e.is_data() => {
            return Err(LoadError::TopLevel {
                field: "(payload)",
                problem: "must be a JSON object with well-typed top-level fields",
            })
        }
        Err(e) => return Err(LoadError::Json(e)),
    };
    let mut rs = Builder::new(limits).build(top)?;
    if rs.format == Format::V1 {
        rs.source.layer_membership = v1_layers(text);
    }
    Ok(rs)
}

/// The indexes the compile step resolves names with.
struct Refs<'x> {
    cond_index: &'x StrIndex,
    cond_ids: &'x [String],
    config_index: &'x StrIndex,
    config_names: &'x [String],
}

struct Builder<'l> {
    limits: &'l Limits,
    strs: Vec<Box<str>>,
    str_ids: HashMap<Box<str>, u32, SeededXxh3>,
    dropped: Vec<DroppedSpec>,
    spec_count: usize,
    source: Source,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Builder<'l> {
        let mut b = Builder {
            limits,
            strs: Vec::new(),
            str_ids: HashMap::with_hasher(SeededXxh3::new()),
            dropped: Vec::new(),
            spec_count: 0,
            source: Default::default(),
        };
        for s in ["default", "disabled", "", "override"] {
            b.intern(s);
        }
        b
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.str_ids.get(s) {
            return id;
        }
        // Beyond `u32::MAX` strings (unreachable under any payload that fits in memory) the
        // id saturates; `Ruleset::str` reads an unknown id as "".
        let id = u32::try_from(self.strs.len()).unwrap_or(u32::MAX);
        self.strs.push(s.into());
        self.str_ids.insert(s.into(), id);
        id
    }

    fn build(mut self, top: RawTop<'_>) -> Result<Ruleset, LoadError> {
        let format = match top
            .feature_gates
            .and_then(|r| r.get().trim_start().bytes().next())
        {
            Some(b'[') => Format::V1,
            _ => Format::V2,
        };
        let has_updates = match &top.has_updates {
            Some(Json::Bool(b)) => *b,
            Some(_) => return Err(type_error("has_updates", "must be a boolean")),
            None => return Err(missing("has_updates")),
        };
        let time = match &top.time {
            Some(Json::Number(n)) => n
                .as_u64()
                .ok_or_else(|| type_error("time", "must be a non-negative integer"))?,
            Some(_) => return Err(type_error("time", "must be a non-negative integer")),
            None => return Err(missing("time")),
        };
        let checksum = match &top.checksum {
            Some(Json::String(s)) => Some(s.as_str().into()),
            Some(Json::Null) | None => None,
            Some(_) => return Err(type_error("checksum", "must be a string")),
        };
        let default_environment = match &top.default_environment {
            Some(Json::String(s)) => Some(s.as_str().into()),
            Some(Json::Null) | None => None,
            Some(_) => return Err(type_error("default_environment", "must be a string")),
        };
        let app_id = top.app_id.clone().filter(|v| !v.is_null());
        let sdk_configs = super::sdk_configs::compile(top.sdk_configs)?;
        let client = super::client::compile(
            super::client::RawClient {
                param_stores: top.param_stores,
                session_replay_info: top.session_replay_info,
                sdk_keys_to_app_ids: top.sdk_keys_to_app_ids,
                hashed_sdk_keys_to_app_ids: top.hashed_sdk_keys_to_app_ids,
            },
            self.limits,
        )?;
        if format == Format::V2 {
            self.source.layer_membership = top.experiment_to_layer.map(|r| r.get().into());
        }

        // Collect specs as (name, source) and conditions as (id, source).
        let mut wire_conditions: Vec<(String, Src<'_>)> = Vec::new();
        let sections = ["feature_gates", "dynamic_configs", "layer_configs"];
        let raw_sections = [top.feature_gates, top.dynamic_configs, top.layer_configs];
        let mut raw: [Vec<(String, Src<'_>)>; 3] = Default::default();
        match format {
            Format::V2 => {
                for (i, section) in sections.iter().enumerate() {
                    let Some(r) = raw_sections[i] else {
                        return Err(missing(section));
                    };
                    raw[i] = entries(r)
                        .ok_or_else(|| type_error(section, "must be an object of specs"))?;
                }
                let Some(c) = top.condition_map else {
                    return Err(missing("condition_map"));
                };
                wire_conditions =
                    entries(c).ok_or_else(|| type_error("condition_map", "must be an object"))?;
                match top
                    .experiment_to_layer
                    .map(|r| r.get().trim_start().bytes().next())
                {
                    Some(Some(b'{')) => {}
                    Some(_) => return Err(type_error("experiment_to_layer", "must be an object")),
                    None => return Err(missing("experiment_to_layer")),
                }
            }
            Format::V1 => {
                for (i, section) in sections.iter().enumerate() {
                    let list: Vec<Json> =
                        match raw_sections[i].map(|r| serde_json::from_str(r.get())) {
                            Some(Ok(list)) => list,
                            Some(Err(_)) => {
                                return Err(type_error(section, "must be an array of specs (v1)"))
                            }
                            None => return Err(missing(section)),
                        };
                    for (n, mut spec) in list.into_iter().enumerate() {
                        let Some(name) = spec.get("name").and_then(Json::as_str).map(str::to_owned)
                        else {
                            self.dropped.push(DroppedSpec {
                                section,
                                name: String::new(),
                                entity: None,
                                reason: format!("v1 spec #{n} has no string `name`"),
                            });
                            continue;
                        };
                        hoist_v1_conditions(section, &name, &mut spec, &mut wire_conditions);
                        raw[i].push((name, Src::Json(spec)));
                    }
                }
            }
        }

        // Config mapping: `override_rules` (v1: conditions inline, hoisted like a spec's)
        // and `overrides`.
        let mut mapping_fields = 0;
        let mut mapping_entries = |field: &'static str| -> Result<_, LoadError> {
            let raw = match field {
                "overrides" => top.overrides,
                _ => top.override_rules,
            };
            let Some(raw) = raw.filter(|r| r.get().trim() != "null") else {
                return Ok(None);
            };
            mapping_fields += 1;
            entries(raw)
                .ok_or_else(|| type_error(field, "must be an object"))
                .map(Some)
        };
        let raw_overrides = mapping_entries("overrides")?;
        let mut raw_override_rules = mapping_entries("override_rules")?;
        if let (Format::V1, Some(list)) = (format, raw_override_rules.as_mut()) {
            for (name, src) in list.iter_mut() {
                if let Src::Raw(r) = src {
                    if let Ok(mut rule) = serde_json::from_str::<Json>(r.get()) {
                        let prefix = format!("override_rules/{name}");
                        hoist_rule_conditions(&prefix, &mut rule, &mut wire_conditions);
                        *src = Src::Json(rule);
                    }
                }
            }
        }
        let limits = self.limits;
        for (what, list) in [
            ("number of config mappings", &raw_overrides),
            ("number of override rules", &raw_override_rules),
        ] {
            let n = list.as_ref().map_or(0, Vec::len);
            limits.check(|| what.into(), limits.max_specs, n)?;
        }
        let total_specs = raw.iter().map(Vec::len).sum();
        limits.check(|| "number of specs".into(), limits.max_specs, total_specs)?;
        limits.check(
            || "number of conditions".into(),
            limits.max_conditions,
            wire_conditions.len(),
        )?;

        // Parse specs (a malformed spec is dropped, as Statsig does).
        let mut parsed: [Vec<(String, WireSpec)>; 3] = Default::default();
        for (i, section) in sections.iter().enumerate() {
            for (name, src) in raw[i].drain(..) {
                match src.parse::<WireSpec>() {
                    Ok(spec) => parsed[i].push((name, spec)),
                    Err((e, entity)) => self.dropped.push(DroppedSpec {
                        section,
                        name,
                        entity,
                        reason: e.to_string(),
                    }),
                }
            }
            // A later duplicate name (v1 arrays) replaces an earlier one, like a JSON map.
            dedupe_last_wins(&mut parsed[i]);
        }
        self.spec_count = parsed.iter().map(Vec::len).sum();

        // in bounds (this function): `i` enumerates `sections`, and every per-section array
        // has its 3 entries; each StrIndex is built over, and read with, the list named.
        let gate_names: Vec<&str> = parsed[0].iter().map(|(n, _)| n.as_str()).collect();
        let gate_index = StrIndex::build(gate_names.len(), |i| gate_names[i]);
        let config_names: Vec<String> = parsed[1].iter().map(|(n, _)| n.clone()).collect();
        let config_index = StrIndex::build(config_names.len(), |i| &config_names[i]);

        // Conditions (one bad condition rejects the payload, as Statsig does).
        let mut conditions = Vec::with_capacity(wire_conditions.len());
        let mut cond_ids: Vec<String> = Vec::with_capacity(wire_conditions.len());
        for (id, src) in wire_conditions {
            let wire =
                src.parse::<WireCondition>()
                    .map_err(|(source, _)| LoadError::Condition {
                        id: id.clone(),
                        source,
                    })?;
            let c = self.compile_condition(&id, &wire, &gate_index, &gate_names)?;
            conditions.push(c);
            self.source.conditions.push(wire);
            cond_ids.push(id);
        }
        let cond_index = StrIndex::build(cond_ids.len(), |i| &cond_ids[i]);

        let refs = Refs {
            cond_index: &cond_index,
            cond_ids: &cond_ids,
            config_index: &config_index,
            config_names: &config_names,
        };
        let mut specs: [Specs; 3] = Default::default();
        for (i, section) in sections.iter().enumerate() {
            let mut list = Vec::with_capacity(parsed[i].len());
            for (name, mut wire) in parsed[i].drain(..) {
                self.source.specs[i].push(wire.take_source());
                list.push(self.compile_spec(section, name, wire, &refs)?);
            }
            let index = StrIndex::build(list.len(), |j| &list[j].name);
            specs[i] = Specs { list, index };
        }
        // Config mapping applies only when the payload has both fields (as in Statsig's
        // core); either one alone is still validated.
        let mappings = self.compile_mappings(
            raw_override_rules.unwrap_or_default(),
            raw_overrides.unwrap_or_default(),
            &refs,
            &specs,
        )?;
        let mappings =
            (mapping_fields == 2 && !mappings.names.is_empty()).then(|| Box::new(mappings));
        let [gates, configs, layers] = specs;
        Ok(Ruleset {
            gates,
            configs,
            layers,
            conditions,
            strs: self.strs,
            time,
            checksum,
            has_updates,
            app_id,
            default_environment,
            dropped: self.dropped,
            empty: Map::new(),
            format,
            mappings,
            client,
            sdk_configs,
            source: self.source,
            value_text: std::sync::OnceLock::new(),
            hashed_names: Default::default(),
        })
    }

    fn compile_spec(
        &mut self,
        section: &'static str,
        name: String,
        w: WireSpec,
        refs: &Refs<'_>,
    ) -> Result<Spec, LoadError> {
        let limits = self.limits;
        limits.check(
            || format!("rules of `{name}` in {section}"),
            limits.max_rules_per_spec,
            w.rules.len(),
        )?;
        let use_new_layer_eval = section == "layer_configs" && w.use_new_layer_eval == Some(true);
        if use_new_layer_eval {
            limits.check(
                || format!("rules of multi-rule layer `{name}` (`useNewLayerEval`)"),
                MAX_MERGED_LAYER_RULES,
                w.rules.len(),
            )?;
        }
        let mut rules = Vec::with_capacity(w.rules.len());
        for (n, r) in w.rules.into_iter().enumerate() {
            let what = || format!("conditions of rule {n} of `{name}` in {section}");
            rules.push(self.compile_rule(what, &w.salt, r, refs)?);
        }
        self.intern(&name);
        Ok(Spec {
            name: name.into(),
            entity: w.entity.into(),
            salt: w.salt.into(),
            enabled: w.enabled,
            default_value: ReturnValue::compile(w.default_value),
            rules,
            id_type: w.id_type.into(),
            version: w.version,
            is_active: w.is_active,
            has_shared_params: w.has_shared_params,
            explicit_parameters: w
                .explicit_parameters
                .map(|v| v.into_iter().map(String::into_boxed_str).collect()),
            forward_all_exposures: w.forward_all_exposures.unwrap_or(false),
            target_app_ids: w
                .target_app_ids
                .map(|v| v.into_iter().map(String::into_boxed_str).collect()),
            use_new_layer_eval,
            constant_value: None,
        })
    }

    /// Compiles a rule of a spec whose salt is `spec_salt` (`what` names the rule for a
    /// limit error).
    fn compile_rule(
        &mut self,
        what: impl FnOnce() -> String,
        spec_salt: &str,
        r: WireRule,
        refs: &Refs<'_>,
    ) -> Result<Rule, LoadError> {
        let limits = self.limits;
        limits.check(what, limits.max_conditions_per_rule, r.conditions.len())?;
        let conditions = r
            .conditions
            .iter()
            .map(|id| {
                // in bounds: StrIndex over `cond_ids` (and over `config_names` below).
                refs.cond_index
                    .get(id, |i| &refs.cond_ids[i])
                    .and_then(|i| u32::try_from(i).ok())
                    .unwrap_or(MISSING_CONDITION)
            })
            .collect();
        let pass = self.compile_pass(spec_salt, &r);
        let config_delegate = r.config_delegate.map(|d| {
            let idx = refs
                .config_index
                .get(&d, |i| &refs.config_names[i])
                .and_then(|i| u32::try_from(i).ok());
            (d.into_boxed_str(), idx)
        });
        Ok(Rule {
            sid: self.intern(&r.id),
            id: r.id.into(),
            pass,
            conditions,
            return_value: ReturnValue::compile(r.return_value),
            id_type: IdType::new(&r.id_type),
            group_name: r.group_name.map(String::into_boxed_str),
            is_experiment_group: r.is_experiment_group,
            config_delegate,
            sampling_rate: r.sampling_rate,
            public_only: false,
        })
    }

    /// The pass-percentage check of rule `r` in a spec whose salt is `spec_salt` (spec 4.5).
    fn compile_pass(&mut self, spec_salt: &str, r: &WireRule) -> Pass {
        if r.pass_percentage == 100.0 {
            Pass::Always
        } else if r.pass_percentage == 0.0 {
            Pass::Never
        } else {
            let rule_salt = r.salt.as_deref().unwrap_or(&r.id);
            let text = format!("{spec_salt}.{rule_salt}.");
            let prefix = Prefix::new(text.as_bytes()).with_id(self.intern(&text));
            Pass::Hash {
                prefix,
                threshold: r.pass_percentage * 100.0,
            }
        }
    }

    /// Compiles config mapping (spec 4.10): `overrides` name → mappings, whose entries name
    /// rules of `override_rules`. A rule's pass percentage uses the salt of the spec named
    /// like the mapping (`""` when there is none), which depends on the spec's section.
    fn compile_mappings(
        &mut self,
        raw_rules: Vec<(String, Src<'_>)>,
        raw_overrides: Vec<(String, Src<'_>)>,
        refs: &Refs<'_>,
        specs: &[Specs; 3],
    ) -> Result<Mappings, LoadError> {
        let limits = self.limits;
        let mut wire_rules: Vec<(String, WireRule)> = Vec::with_capacity(raw_rules.len());
        for (name, src) in raw_rules {
            match src.parse::<WireRule>() {
                Ok(r) => wire_rules.push((name, r)),
                Err((source, _)) => {
                    return Err(LoadError::Mapping {
                        field: "override_rules",
                        name,
                        source,
                    })
                }
            }
        }
        dedupe_last_wins(&mut wire_rules);
        let rule_names: Vec<&str> = wire_rules.iter().map(|(n, _)| n.as_str()).collect();
        let rule_index = StrIndex::build(rule_names.len(), |i| rule_names[i]);

        let mut names: Vec<(Box<str>, Vec<Mapping>)> = Vec::with_capacity(raw_overrides.len());
        for (name, src) in raw_overrides {
            let wire = match src.parse::<Vec<WireMapping>>() {
                Ok(w) => w,
                Err((source, _)) => {
                    return Err(LoadError::Mapping {
                        field: "overrides",
                        name,
                        source,
                    })
                }
            };
            limits.check(
                || format!("rules of config mapping `{name}` in overrides"),
                limits.max_rules_per_spec,
                wire.iter().map(|m| m.rules.len()).sum(),
            )?;
            let salts: [&str; 3] = core::array::from_fn(|i| {
                specs[i]
                    .find(&name)
                    .and_then(|j| specs[i].list.get(j))
                    .map_or("", |s| &*s.salt)
            });
            let mut mappings = Vec::with_capacity(wire.len());
            for m in wire {
                let mut entries = Vec::with_capacity(m.rules.len());
                for e in m.rules {
                    let rule = rule_index.get(&e.rule_name, |i| rule_names[i]);
                    let pass = core::array::from_fn(|i| match rule {
                        Some(r) => self.compile_pass(salts[i], &wire_rules[r].1),
                        None => Pass::Never,
                    });
                    entries.push(MappingEntry {
                        rule_name: e.rule_name.into(),
                        start_time: e.start_time.unwrap_or(0),
                        rule: rule.map(|r| r as u32),
                        pass,
                    });
                }
                self.intern(&m.new_config_name);
                mappings.push(Mapping {
                    new_config_name: m.new_config_name.into(),
                    entries,
                });
            }
            names.push((name.into(), mappings));
        }
        let index = StrIndex::build(names.len(), |i| &names[i].0);

        let mut rules = Vec::with_capacity(wire_rules.len());
        let mut rule_names = Vec::with_capacity(wire_rules.len());
        let mut rule_sources = Vec::with_capacity(wire_rules.len());
        for (name, mut r) in wire_rules {
            let what = || format!("conditions of override rule `{name}`");
            rule_sources.push(r.take_source());
            rules.push(self.compile_rule(what, "", r, refs)?);
            rule_names.push(name.into_boxed_str());
        }
        Ok(Mappings {
            names,
            index,
            rules,
            rule_names,
            rule_sources,
        })
    }

    fn compile_condition(
        &mut self,
        id: &str,
        w: &WireCondition,
        gate_index: &StrIndex,
        gate_names: &[&str],
    ) -> Result<Condition, LoadError> {
        let op = Op::parse(w.operator.as_deref());
        let field = w.field.as_deref().map(FieldRef::new);
        let kind = match w.kind.as_str() {
            "public" => CondKind::Public,
            "pass_gate" | "fail_gate" => {
                let g = match &w.target_value {
                    Json::String(s) => s.as_str(),
                    _ => "",
                };
                // in bounds: StrIndex over `gate_names`.
                CondKind::Gate(GateRef {
                    fail: w.kind == "fail_gate",
                    index: gate_index
                        .get(g, |i| gate_names[i])
                        .and_then(|i| u32::try_from(i).ok()),
                    sid: self.intern(g),
                    is_segment: g.starts_with("segment:"),
                })
            }
            "user_field" => CondKind::UserField(field),
            "environment_field" => CondKind::EnvField(field),
            "unit_id" => CondKind::UnitId,
            "user_bucket" => {
                let salt = w
                    .additional_values
                    .as_ref()
                    .and_then(|a| a.get("salt"))
                    .map_or("", String::as_str);
                let text = format!("{salt}.");
                let prefix = Prefix::new(text.as_bytes()).with_id(self.intern(&text));
                CondKind::UserBucket(prefix, None)
            }
            "current_time" => CondKind::CurrentTime,
            "ua_based" => {
                let ua_field = w
                    .field
                    .as_deref()
                    .and_then(crate::ua::Field::from_condition_field);
                CondKind::UaBased(field, ua_field)
            }
            "ip_based" => {
                let is_country = w.field.as_deref() == Some("country");
                CondKind::IpBased(field, is_country)
            }
            "target_app" => CondKind::TargetApp,
            "experiment_group" => CondKind::ExperimentGroup(w.field.as_deref().map(Into::into)),
            _ => CondKind::Unsupported,
        };
        let mut kind = kind;
        let target = match (&mut kind, op, &w.target_value) {
            // A layer allocation (`user_bucket any/none {"500": true, …}`): tabulate the
            // buckets straight from the keys; the target itself is then never read.
            (CondKind::UserBucket(_, table), Op::Any | Op::None, Json::Object(o)) => {
                self.limits.check(
                    || format!("target values of condition `{id}`"),
                    self.limits.max_target_values,
                    o.len(),
                )?;
                *table = Some(Box::new(bucket_table_of_keys(
                    o.keys().map(String::as_str),
                    op,
                )));
                Target::Null
            }
            (_, _, target) => self.compile_target(id, target, op)?,
        };
        Ok(Condition {
            kind,
            op,
            target,
            id_type: IdType::new(&w.id_type),
        })
    }

    fn compile_target(&mut self, id: &str, v: &Json, op: Op) -> Result<Target, LoadError> {
        let limits = self.limits;
        Ok(match v {
            Json::Null => Target::Null,
            Json::Bool(b) => Target::Bool(*b),
            Json::Number(n) => Target::Number(n.as_f64().unwrap_or(f64::NAN)),
            Json::String(s) => {
                let regex = if op == Op::StrMatches {
                    limits.check(
                        || format!("regex length of condition `{id}`"),
                        limits.max_regex_bytes,
                        s.len(),
                    )?;
                    fancy_regex::RegexBuilder::new(s)
                        .delegate_size_limit(limits.max_regex_compiled_bytes)
                        .build()
                        .ok()
                } else {
                    None
                };
                Target::Str(StrTarget {
                    number: s.parse::<f64>().ok(),
                    timestamp: target_timestamp(s),
                    version: version_parts(s).collect(),
                    regex,
                    text: s.as_str().into(),
                })
            }
            Json::Array(a) => {
                limits.check(
                    || format!("target values of condition `{id}`"),
                    limits.max_target_values,
                    a.len(),
                )?;
                let all: Vec<ArrayEntry> = a
                    .iter()
                    .enumerate()
                    .map(|(index, e)| {
                        let text = json_text(e);
                        let lower = with_lower(&text, str::to_owned);
                        ArrayEntry {
                            index,
                            text: text.into(),
                            lower: lower.into(),
                        }
                    })
                    .collect();
                // Last wins among elements with the same lower-cased text.
                // in bounds: each StrIndex here is over the list its closure reads.
                let by_lower_all = StrIndex::build(all.len(), |i| &all[i].lower);
                let entries: Vec<ArrayEntry> = all
                    .iter()
                    .enumerate()
                    .filter(|(i, e)| by_lower_all.get(&e.lower, |j| &all[j].lower) == Some(*i))
                    .map(|(_, e)| ArrayEntry {
                        index: e.index,
                        text: e.text.clone(),
                        lower: e.lower.clone(),
                    })
                    .collect();
                let by_lower = StrIndex::build(entries.len(), |i| &entries[i].lower);
                let by_text = StrIndex::build(entries.len(), |i| &entries[i].text);
                Target::Array(ArrayTarget {
                    entries,
                    by_lower,
                    by_text,
                })
            }
            Json::Object(o) => {
                limits.check(
                    || format!("target values of condition `{id}`"),
                    limits.max_target_values,
                    o.len(),
                )?;
                let keys: Vec<(Box<str>, Box<str>)> = o
                    .iter()
                    .map(|(k, v)| (k.as_str().into(), json_text(v).into()))
                    .collect();
                // in bounds: StrIndex over `keys`.
                let index = StrIndex::build(keys.len(), |i| &keys[i].0);
                Target::Object(ObjectTarget { keys, index })
            }
        })
    }
}

/// Moves a v1 spec's inline conditions into the condition list under synthetic ids
/// (`section/name/rule/condition`, unique even when a gate and a config share a name).
fn hoist_v1_conditions(
    section: &str,
    name: &str,
    spec: &mut Json,
    out: &mut Vec<(String, Src<'_>)>,
) {
    let Some(Json::Array(rules)) = spec.get_mut("rules") else {
        return;
    };
    for (r, rule) in rules.iter_mut().enumerate() {
        hoist_rule_conditions(&format!("{section}/{name}/{r}"), rule, out);
    }
}

/// Moves a v1 rule's inline conditions into the condition list under the ids
/// `prefix/condition`.
fn hoist_rule_conditions(prefix: &str, rule: &mut Json, out: &mut Vec<(String, Src<'_>)>) {
    let Some(Json::Array(conds)) = rule.get_mut("conditions") else {
        return;
    };
    for (c, cond) in conds.iter_mut().enumerate() {
        if cond.is_object() {
            let id = format!("{prefix}/{c}");
            let inline = std::mem::replace(cond, Json::String(id.clone()));
            out.push((id, Src::Json(inline)));
        }
    }
}

fn dedupe_last_wins<T>(v: &mut Vec<(String, T)>) {
    let names: Vec<&str> = v.iter().map(|(n, _)| n.as_str()).collect();
    let index = StrIndex::build(names.len(), |i| names[i]);
    // in bounds: StrIndex over `names`.
    let keep: Vec<bool> = (names.iter().enumerate())
        .map(|(i, n)| index.get(n, |j| names[j]) == Some(i))
        .collect();
    if keep.iter().all(|k| *k) {
        return;
    }
    let mut keep = keep.into_iter();
    v.retain(|_| keep.next().unwrap_or(true));
}

fn missing(field: &'static str) -> LoadError {
    LoadError::TopLevel {
        field,
        problem: "is missing",
    }
}

fn type_error(field: &'static str, problem: &'static str) -> LoadError {
    LoadError::TopLevel { field, problem }
}

/// The table of `any` (or `none`) over bucket texts `keys`: bucket `b` matches a key that is
/// exactly its decimal text.
pub(crate) fn bucket_table_of_keys<'k>(keys: impl Iterator<Item = &'k str>, op: Op) -> BucketTable {
    let mut table = [0u64; 16];
    for b in keys.filter_map(canonical_bucket) {
        // in bounds: `canonical_bucket` gives at most 999, so `b / 64` < 16.
        table[b / 64] |= 1 << (b % 64);
    }
    if op == Op::None {
        for (i, word) in table.iter_mut().enumerate() {
            let valid = if i == 15 {
                (1u64 << (1000 - 15 * 64)) - 1
            } else {
                u64::MAX
            };
            *word = !*word & valid;
        }
    }
    table
}

/// `s` as a bucket number when `s` is exactly the decimal text of one (0..1000).
fn canonical_bucket(s: &str) -> Option<usize> {
    let canonical = !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

//! Conformance driver: evaluates every gate, dynamic config, experiment and layer of a
//! `download_config_specs` payload for every user, in the result format of
//! `conformance/README.md`.
//!
//! ```text
//! evaluate DCS.json [TIER] < users.jsonl > results.jsonl
//! evaluate --ua < user_agents.txt > parsed.jsonl
//! evaluate --client-init [--hash djb2|sha256|none] [--client-key KEY] DCS.json [TIER] < users.jsonl
//! evaluate --param-stores DCS.json [TIER] < users.jsonl
//! evaluate --overrides OPS.json [--hash djb2|sha256|none] DCS.json [TIER] < users.jsonl
//! evaluate --experiment-groups DCS.json [TIER] [-- EXTRA_NAME...]
//! ```
//!
//! `--client-init` prints `{"u": N, "response": <client initialize response>}` per user, and
//! `--param-stores` `{"u": N, "store": .., "param": .., "value": ..}` per user, store and
//! parameter: the output of the reference program over Statsig's official core (object keys
//! sorted, session-replay draws normalised the same way).
//!
//! `--overrides` applies the local overrides of `OPS.json` (a list of operations, see
//! `tests/data/overrides/README.md`) and prints, per user, every entity's result (with its
//! reason), every parameter the user sees in each parameter store, and the client initialize
//! response with the overrides; `--experiment-groups` lists each config's groups and the
//! result of each group by name and by rule id. Both print what the reference program's modes
//! of the same names print. Reasons are written as Statsig's core writes them for a payload
//! given as a bootstrap (`Bootstrap:Recognized`, `LocalOverride:Recognized`).

use std::collections::BTreeSet;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use flagcore::{
    ClientInitOptions, Exposures, HashAlgorithm, Kind, Options, ParameterStore, Reason, Scratch,
    Store, User, UserData,
};
use flagcore_examples::{all_entities, kind_label, result_line, sorted};
use serde_json::{json, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag] if flag == "--ua" => user_agents(),
        [flag, rest @ ..] if flag == "--client-init" => client_init(rest),
        [flag, rest @ ..] if flag == "--overrides" => overrides(rest),
        [flag, rest @ ..] if flag == "--experiment-groups" => experiment_groups(rest),
        [flag, dcs] if flag == "--param-stores" => param_stores(dcs, None),
        [flag, dcs, tier] if flag == "--param-stores" => param_stores(dcs, Some(tier.clone())),
        [dcs] => evaluate(dcs, None),
        [dcs, tier] => evaluate(dcs, Some(tier.clone())),
        _ => Err(
            "usage: evaluate [--client-init [--hash djb2|sha256|none] [--client-key KEY] | \
             --param-stores | --overrides OPS.json [--hash H]] DCS.json [TIER] < users.jsonl\n       \
             evaluate --experiment-groups DCS.json [TIER] [-- NAME...]\n       \
             evaluate --ua < user_agents.txt"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("evaluate: {e}");
            ExitCode::FAILURE
        }
    }
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// A store with the payload at `dcs` loaded, and the payload's bytes.
fn load(dcs: &str, tier: Option<String>) -> Result<(Store, Vec<u8>), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(dcs).map_err(|e| format!("{dcs}: {e}"))?;
    let store = Store::with_options(Options {
        environment: tier,
        ..Options::default()
    });
    store.load_json(&bytes).map_err(|e| {
        let mut message = format!("{dcs}: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        message
    })?;
    Ok((store, bytes))
}

/// The users of stdin, parsed.
fn users() -> impl Iterator<Item = Result<UserData, Box<dyn std::error::Error>>> {
    std::io::stdin()
        .lock()
        .lines()
        .enumerate()
        .map(|(u, line)| {
            Ok(UserData::from_json(line?.as_bytes()).map_err(|e| format!("user {u}: {e}"))?)
        })
}

fn evaluate(dcs: &str, tier: Option<String>) -> Res {
    let (store, _) = load(dcs, tier)?;
    let ruleset = store.ruleset().ok_or("no ruleset")?;
    let entities = all_entities(&ruleset);
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (u, data) in users().enumerate() {
        let data = data?;
        let user = data.view();
        for (kind, name) in &entities {
            let e = snapshot.evaluate(&mut scratch, &user, *kind, name, Exposures::Suppress);
            writeln!(out, "{}", result_line(u, &e))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn client_init(args: &[String]) -> Res {
    let mut options = ClientInitOptions::default();
    let mut rest = Vec::new();
    let mut it = args.iter();
    let mut key = None;
    while let Some(a) = it.next() {
        match a.as_str() {
            "--hash" => {
                let h = it.next().ok_or("--hash needs a value")?;
                options.hash = HashAlgorithm::parse(h).ok_or("--hash: djb2, sha256 or none")?;
            }
            "--client-key" => key = Some(it.next().ok_or("--client-key needs a value")?.clone()),
            _ => rest.push(a.clone()),
        }
    }
    let (dcs, tier) = match rest.as_slice() {
        [dcs] => (dcs, None),
        [dcs, tier] => (dcs, Some(tier.clone())),
        _ => return Err("--client-init: DCS.json [TIER]".into()),
    };
    options.client_key = key.as_deref();
    let (store, bytes) = load(dcs, tier)?;
    // Where Statsig draws at random (sampling rates strictly between 0 and 1), the reference
    // output has null; so does this one.
    let payload: Value = serde_json::from_slice(&bytes)?;
    let sr = &payload["session_replay_info"];
    let fractional = |v: &Value| v.as_f64().is_some_and(|r| r > 0.0 && r < 1.0);
    let any_fractional = |t: &Value| {
        t.as_object()
            .is_some_and(|o| o.values().any(|t| fractional(&t["sampling_rate"])))
    };
    let random_rate = fractional(&sr["sampling_rate"]);
    let random_triggers = [
        (
            "session_recording_event_triggers",
            any_fractional(&sr["session_recording_event_triggers"]),
        ),
        (
            "session_recording_exposure_triggers",
            any_fractional(&sr["session_recording_exposure_triggers"]),
        ),
    ];
    let snapshot = store.snapshot();
    let mut body = Vec::new();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (u, data) in users().enumerate() {
        let data = data?;
        body.clear();
        snapshot.client_initialize_response(&data.view(), &options, &mut body);
        let mut r: Value = serde_json::from_slice(&body)?;
        let forced_off = r["recording_blocked"] == json!(true)
            || r["passes_session_recording_targeting"] == json!(false);
        if random_rate && !forced_off && r.get("can_record_session").is_some() {
            r["can_record_session"] = Value::Null;
        }
        for (key, random) in random_triggers {
            if let (true, Some(ts)) = (random, r.get_mut(key).and_then(Value::as_object_mut)) {
                for t in ts.values_mut() {
                    if t.get("passes_sampling").is_some() {
                        t["passes_sampling"] = Value::Null;
                    }
                }
            }
        }
        writeln!(out, "{}", sorted(json!({"u": u, "response": r})))?;
    }
    out.flush()?;
    Ok(())
}

fn param_stores(dcs: &str, tier: Option<String>) -> Res {
    let (store, _) = load(dcs, tier)?;
    let snapshot = store.snapshot();
    let names: Vec<&str> = snapshot.parameter_store_names().collect();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (u, data) in users().enumerate() {
        let data = data?;
        let user = data.view();
        for name in &names {
            let Some(ps) = snapshot.parameter_store(name) else {
                continue;
            };
            for param in ps.parameter_names() {
                let value = typed_value(&ps, &user, param);
                let row = json!({"u": u, "store": name, "param": param, "value": value});
                writeln!(out, "{}", sorted(row))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// A parameter's value by the typed getter of its declared type, without a fallback (as the
/// reference program calls Statsig's).
fn typed_value(ps: &ParameterStore<'_>, user: &User<'_>, param: &str) -> Option<Value> {
    let v = ps.get(user, param);
    match ps.parameter_type(param).unwrap_or("") {
        "string" => v.and_then(Value::as_str).map(Value::from),
        "boolean" => v.and_then(Value::as_bool).map(Value::from),
        "number" => v.and_then(Value::as_f64).map(Value::from),
        "object" => v.filter(|v| v.is_object()).cloned(),
        "array" => v.filter(|v| v.is_array()).cloned(),
        _ => v.cloned(),
    }
}

/// A result's reason as Statsig's core writes it for a payload given as a bootstrap (with
/// the ID lists held in memory).
fn statsig_reason(e: &flagcore::Evaluation<'_>) -> String {
    let id_lists = if e.used_id_list() {
        ":IdListInMemory"
    } else {
        ""
    };
    match e.reason() {
        Reason::LocalOverride => "LocalOverride:Recognized".into(),
        Reason::CountryLookupNotLoaded => "CountryLookupNotLoaded:Recognized".into(),
        Reason::NoRuleset => Reason::NoRuleset.label().into(),
        Reason::Recognized => format!("Bootstrap:Recognized{id_lists}"),
        r => format!("Bootstrap:{}", r.label()),
    }
}

/// Applies the override operations `ops` (the reference program's `--overrides` format).
fn apply_ops(store: &Store, ops: &Value) -> Result<(), Box<dyn std::error::Error>> {
    let map = |v: &Value| v.as_object().cloned().unwrap_or_default();
    for op in ops.as_array().ok_or("ops: a JSON array")? {
        let name = op["name"].as_str().unwrap_or("");
        let id = op["id"].as_str();
        match op["op"].as_str().ok_or("op")? {
            "gate" => store.override_gate(name, op["value"].as_bool().ok_or("gate value")?, id),
            "dynamic_config" => store.override_config(name, map(&op["value"]), id),
            "experiment" => store.override_experiment(name, map(&op["value"]), id),
            "experiment_by_group_name" => store.override_experiment_by_group_name(
                name,
                op["group"].as_str().ok_or("group")?,
                id,
            ),
            "layer" => store.override_layer(name, map(&op["value"]), id),
            "parameter_store" => store.override_parameter_store(name, map(&op["value"]), id),
            "remove_gate" => store.remove_override(Kind::Gate, name, id),
            "remove_dynamic_config" => store.remove_override(Kind::DynamicConfig, name, id),
            "remove_experiment" => store.remove_override(Kind::Experiment, name, id),
            "remove_layer" => store.remove_override(Kind::Layer, name, id),
            "remove_parameter_store" => store.remove_parameter_store_override(name, id),
            "remove_all" => store.clear_overrides(),
            other => return Err(format!("unknown op {other}").into()),
        }
    }
    Ok(())
}

fn overrides(args: &[String]) -> Res {
    let mut options = ClientInitOptions::default().include_local_overrides(true);
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--hash" => {
                let h = it.next().ok_or("--hash needs a value")?;
                options.hash = HashAlgorithm::parse(h).ok_or("--hash: djb2, sha256 or none")?;
            }
            _ => rest.push(a.clone()),
        }
    }
    let (ops, dcs, tier) = match rest.as_slice() {
        [ops, dcs] => (ops, dcs, None),
        [ops, dcs, tier] => (ops, dcs, Some(tier.clone())),
        _ => return Err("--overrides: OPS.json DCS.json [TIER]".into()),
    };
    let ops: Value =
        serde_json::from_slice(&std::fs::read(ops).map_err(|e| format!("{ops}: {e}"))?)?;
    let (store, _) = load(dcs, tier)?;
    apply_ops(&store, &ops)?;
    let ruleset = store.ruleset().ok_or("no ruleset")?;
    // The payload's entities and every name an operation mentions, as the kind it names.
    let mut entities: BTreeSet<(&'static str, String)> = all_entities(&ruleset)
        .into_iter()
        .map(|(k, n)| (kind_label(k), n))
        .collect();
    let mut stores: BTreeSet<String> = store
        .snapshot()
        .parameter_store_names()
        .map(String::from)
        .collect();
    for op in ops.as_array().into_iter().flatten() {
        let name = op["name"].as_str().unwrap_or("").to_owned();
        let kind = match op["op"]
            .as_str()
            .unwrap_or("")
            .trim_start_matches("remove_")
        {
            "gate" => "gate",
            "dynamic_config" => "config",
            "experiment" | "experiment_by_group_name" => "experiment",
            "layer" => "layer",
            "parameter_store" => {
                stores.insert(name);
                continue;
            }
            _ => continue,
        };
        entities.insert((kind, name));
    }
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let mut body = Vec::new();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (u, data) in users().enumerate() {
        let data = data?;
        let user = data.view();
        for (label, name) in &entities {
            let kind = match *label {
                "gate" => Kind::Gate,
                "config" => Kind::DynamicConfig,
                "experiment" => Kind::Experiment,
                _ => Kind::Layer,
            };
            let e = snapshot.evaluate(&mut scratch, &user, kind, name, Exposures::Suppress);
            let line = result_line(u, &e);
            let mut result = json!({
                "value": line["value"],
                "rule_id": line["rule_id"],
                "group_name": line["group_name"],
                "id_type": e.id_type(),
                "reason": statsig_reason(&e),
                "secondary_exposures": line["secondary_exposures"],
                "undelegated_secondary_exposures": line["undelegated_secondary_exposures"],
                "allocated_experiment": line["allocated_experiment"],
            });
            if matches!(kind, Kind::Experiment | Kind::Layer) {
                result["is_experiment_active"] = e.is_experiment_active().into();
            }
            let row = json!({"u": u, "kind": label, "name": name, "result": result});
            writeln!(out, "{}", sorted(row))?;
        }
        for name in &stores {
            let Some(ps) = snapshot.parameter_store_for_user(&user, name) else {
                continue;
            };
            for param in ps.parameter_names() {
                let ty = ps.parameter_type(param).unwrap_or("");
                let value = typed_value(&ps, &user, param);
                let row = json!({"u": u, "kind": "param", "name": name, "param": param,
                    "result": {"type": ty, "value": value}});
                writeln!(out, "{}", sorted(row))?;
            }
        }
        body.clear();
        snapshot.client_initialize_response(&user, &options, &mut body);
        let r: Value = serde_json::from_slice(&body)?;
        writeln!(out, "{}", sorted(json!({"u": u, "response": r})))?;
    }
    out.flush()?;
    Ok(())
}

fn experiment_groups(args: &[String]) -> Res {
    let (pos, extra) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    let (dcs, tier) = match pos {
        [dcs] => (dcs, None),
        [dcs, tier] => (dcs, Some(tier.clone())),
        _ => return Err("--experiment-groups: DCS.json [TIER] [-- NAME...]".into()),
    };
    let (store, bytes) = load(dcs, tier)?;
    let payload: Value = serde_json::from_slice(&bytes)?;
    // The payload's configs with their rules (either payload shape), then the extra names.
    let mut configs: Vec<(String, Vec<Value>)> = match &payload["dynamic_configs"] {
        Value::Object(o) => o
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    s["rules"].as_array().cloned().unwrap_or_default(),
                )
            })
            .collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|s| {
                let rules = s["rules"].as_array().cloned().unwrap_or_default();
                Some((s["name"].as_str()?.to_owned(), rules))
            })
            .collect(),
        _ => Vec::new(),
    };
    configs.sort_by(|a, b| a.0.cmp(&b.0));
    configs.extend(extra.iter().map(|n| (n.clone(), Vec::new())));
    let snapshot = store.snapshot();
    let mut out = BufWriter::new(std::io::stdout().lock());
    let pick = |e: &flagcore::Evaluation<'_>| {
        json!({"value": e.json().to_map(), "rule_id": e.rule_id(), "id_type": e.id_type(),
            "group_name": e.group_name(), "is_experiment_active": e.is_experiment_active(),
            "reason": statsig_reason(e)})
    };
    for (name, rules) in &configs {
        let groups = match snapshot.experiment_groups(name) {
            Some(g) => json!({
                "is_experiment_active": g.is_experiment_active(),
                "groups": g.iter().map(|g| json!({"group_name": g.group_name, "rule_id": g.rule_id,
                    "id_type": g.id_type, "return_value": g.value})).collect::<Vec<_>>(),
            }),
            None => json!({"is_experiment_active": null, "groups": []}),
        };
        let row = json!({"u": 0, "kind": "experiment_groups", "name": name, "result": groups});
        writeln!(out, "{}", sorted(row))?;
        let field = |f: &str| -> BTreeSet<String> {
            let mut s: BTreeSet<String> = rules
                .iter()
                .filter_map(|r| r[f].as_str().map(String::from))
                .collect();
            s.insert("__missing__".into());
            s
        };
        for group in field("groupName") {
            let r = pick(&snapshot.experiment_by_group_name(name, &group));
            let row =
                json!({"u": 0, "kind": "by_group_name", "name": name, "param": group, "result": r});
            writeln!(out, "{}", sorted(row))?;
        }
        for id in field("id") {
            let r = pick(&snapshot.experiment_by_group_id(name, &id));
            let row =
                json!({"u": 0, "kind": "by_group_id", "name": name, "param": id, "result": r});
            writeln!(out, "{}", sorted(row))?;
        }
    }
    out.flush()?;
    Ok(())
}

fn user_agents() -> Res {
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in std::io::stdin().lock().lines() {
        let ua = line?;
        let p = flagcore::ua::parse(&ua);
        let row = json!({
            "ua": ua,
            "os_name": p.os_name,
            "os_version": p.os_version.to_string(),
            "browser_name": p.browser_name,
            "browser_version": p.browser_version.to_string(),
        });
        writeln!(out, "{row}")?;
    }
    out.flush()?;
    Ok(())
}

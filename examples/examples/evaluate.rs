//! Conformance driver: evaluates every gate, dynamic config, experiment and layer of a
//! `download_config_specs` payload for every user, in the result format of
//! `conformance/README.md`.
//!
//! ```text
//! evaluate DCS.json [TIER] < users.jsonl > results.jsonl
//! evaluate --ua < user_agents.txt > parsed.jsonl
//! evaluate --client-init [--hash djb2|sha256|none] [--client-key KEY] DCS.json [TIER] < users.jsonl
//! evaluate --param-stores DCS.json [TIER] < users.jsonl
//! ```
//!
//! `--client-init` prints `{"u": N, "response": <client initialize response>}` per user, and
//! `--param-stores` `{"u": N, "store": .., "param": .., "value": ..}` per user, store and
//! parameter: the output of the reference program over Statsig's official core (object keys
//! sorted, session-replay draws normalised the same way).

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use flagcore::{ClientInitOptions, Exposures, HashAlgorithm, Options, Scratch, Store, UserData};
use flagcore_examples::{all_entities, result_line, sorted};
use serde_json::{json, Value};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag] if flag == "--ua" => user_agents(),
        [flag, rest @ ..] if flag == "--client-init" => client_init(rest),
        [flag, dcs] if flag == "--param-stores" => param_stores(dcs, None),
        [flag, dcs, tier] if flag == "--param-stores" => param_stores(dcs, Some(tier.clone())),
        [dcs] => evaluate(dcs, None),
        [dcs, tier] => evaluate(dcs, Some(tier.clone())),
        _ => Err(
            "usage: evaluate [--client-init [--hash djb2|sha256|none] [--client-key KEY] | \
             --param-stores] DCS.json [TIER] < users.jsonl\n       evaluate --ua < user_agents.txt"
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
                // The typed getter of the parameter's type, without a fallback (as the
                // reference program calls Statsig's).
                let v = ps.get(&user, param);
                let value = match ps.parameter_type(param).unwrap_or("") {
                    "string" => v.and_then(Value::as_str).map(Value::from),
                    "boolean" => v.and_then(Value::as_bool).map(Value::from),
                    "number" => v.and_then(Value::as_f64).map(Value::from),
                    "object" => v.filter(|v| v.is_object()).cloned(),
                    "array" => v.filter(|v| v.is_array()).cloned(),
                    _ => v.cloned(),
                };
                let row = json!({"u": u, "store": name, "param": param, "value": value});
                writeln!(out, "{}", sorted(row))?;
            }
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

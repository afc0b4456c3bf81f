//! Conformance driver: evaluates every gate, dynamic config, experiment and layer of a
//! `download_config_specs` payload for every user, in the result format of
//! `conformance/README.md`.
//!
//! ```text
//! evaluate DCS.json [TIER] < users.jsonl > results.jsonl
//! evaluate --ua < user_agents.txt > parsed.jsonl
//! ```

use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use flagcore::{Exposures, Options, Scratch, Store, UserData};
use flagcore_examples::{all_entities, result_line};
use serde_json::json;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [flag] if flag == "--ua" => user_agents(),
        [dcs] => evaluate(dcs, None),
        [dcs, tier] => evaluate(dcs, Some(tier.clone())),
        _ => Err(
            "usage: evaluate DCS.json [TIER] < users.jsonl\n       evaluate --ua < user_agents.txt"
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

fn evaluate(dcs: &str, tier: Option<String>) -> Res {
    let bytes = std::fs::read(dcs).map_err(|e| format!("{dcs}: {e}"))?;
    let store = Store::with_options(Options {
        environment: tier,
        ..Options::default()
    });
    let ruleset = store.load_json(&bytes).map_err(|e| {
        let mut message = format!("{dcs}: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        message
    })?;
    let entities = all_entities(&ruleset);
    let snapshot = store.snapshot();
    let mut scratch = Scratch::new();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for (u, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line?;
        let data = UserData::from_json(line.as_bytes()).map_err(|e| format!("user {u}: {e}"))?;
        let user = data.view();
        for (kind, name) in &entities {
            let e = snapshot.evaluate(&mut scratch, &user, *kind, name, Exposures::Suppress);
            writeln!(out, "{}", result_line(u, &e))?;
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

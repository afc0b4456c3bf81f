//! `flagcore validate`: load a payload and report what it holds and what it lost.

use flagcore::Ruleset;
use serde_json::json;

use crate::{input, Failure, Format, Outcome};

/// Arguments of `validate`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The download_config_specs payload (`-`: standard input).
    payload: String,
    /// Exit with 1 when the loader dropped specs (Statsig drops a malformed spec and serves
    /// the rest; the name then evaluates as unrecognized).
    #[arg(long)]
    strict: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

pub(crate) fn run(args: Args) -> Outcome {
    let rs = input::ruleset(&args.payload)?;
    let counts = counts(&rs);
    let dropped = rs.dropped_specs();
    match args.format {
        Format::Json => {
            let report = json!({
                "payload": args.payload,
                "format": shape(&rs),
                "time": rs.time(),
                "counts": counts.iter().map(|(k, n)| ((*k).to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
                "dropped_specs": dropped.iter().map(|d| json!({
                    "section": d.section,
                    "name": d.name,
                    "entity": d.entity,
                    "reason": d.reason,
                })).collect::<Vec<_>>(),
            });
            println!("{report:#}");
        }
        Format::Text => {
            println!(
                "{}: loaded ({}, time {})",
                args.payload,
                shape(&rs),
                rs.time()
            );
            for (what, n) in &counts {
                println!("  {n} {what}");
            }
            if dropped.is_empty() {
                println!("no dropped specs");
            } else {
                println!(
                    "{} dropped specs (they evaluate as unrecognized):",
                    dropped.len()
                );
                for d in dropped {
                    let name = if d.name.is_empty() {
                        "(no name)"
                    } else {
                        &d.name
                    };
                    match &d.entity {
                        Some(e) => println!("  {}/{name} ({e}): {}", d.section, d.reason),
                        None => println!("  {}/{name}: {}", d.section, d.reason),
                    }
                }
            }
        }
    }
    if args.strict && !dropped.is_empty() {
        return Err(Failure::Strict);
    }
    Ok(())
}

/// The payload's shape: `dcs-v2`, or `dcs-v1` (the legacy shape).
fn shape(rs: &Ruleset) -> &'static str {
    match rs.format() {
        flagcore::Format::V1 => "dcs-v1",
        _ => "dcs-v2",
    }
}

/// How many entities of each kind the ruleset serves (dropped specs not counted).
fn counts(rs: &Ruleset) -> Vec<(&'static str, usize)> {
    let experiments = rs
        .config_names()
        .filter(|(_, e)| *e == "experiment")
        .count();
    Vec::from([
        ("feature gates", rs.gate_names().count()),
        ("dynamic configs", rs.config_names().count() - experiments),
        ("experiments", experiments),
        ("layers", rs.layer_names().count()),
    ])
}

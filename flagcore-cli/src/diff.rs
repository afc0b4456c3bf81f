//! `flagcore diff`: how many users change answer between two payloads, entity by entity.

use std::time::{Duration, Instant};

use flagcore::{Answer, Exposures, Kind, Scratch, Snapshot, User};
use serde_json::{json, Value};

use crate::{input, Format, Outcome};

/// Arguments of `diff`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The payload in force.
    old: String,
    /// The payload to compare it with.
    new: String,
    /// The users: a JSON array of Statsig users, or one user JSON object a line.
    #[arg(long)]
    users: String,
    /// Examples of changed users shown per entity.
    #[arg(long, default_value_t = 3)]
    examples: usize,
    /// The environment tier.
    #[arg(long)]
    environment: Option<String>,
    /// Output format (json: every entity, changed or not).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// What changed for one entity.
struct Change {
    kind: Kind,
    name: String,
    in_old: bool,
    in_new: bool,
    /// Users whose value, rule id or group changed (any of them).
    changed: usize,
    value: usize,
    rule: usize,
    group: usize,
    examples: Vec<(usize, Answer, Answer)>,
}

/// Every entity of either payload, old ones first, each once.
fn union(old: &Snapshot<'_>, new: &Snapshot<'_>) -> Vec<(Kind, String, bool, bool)> {
    let names = |s: &Snapshot<'_>| -> Vec<(Kind, String)> {
        s.ruleset().map_or_else(Vec::new, |rs| {
            rs.entities()
                .into_iter()
                .map(|(k, n)| (k, n.to_owned()))
                .collect()
        })
    };
    let (a, b) = (names(old), names(new));
    let mut out: Vec<(Kind, String, bool, bool)> = a
        .iter()
        .map(|(k, n)| (*k, n.clone(), true, b.contains(&(*k, n.clone()))))
        .collect();
    for (k, n) in b {
        if !a.contains(&(k, n.clone())) {
            out.push((k, n, false, true));
        }
    }
    out
}

fn answer(s: &Snapshot<'_>, scratch: &mut Scratch, user: &User<'_>, k: Kind, n: &str) -> Answer {
    Answer::new(&s.evaluate(scratch, user, k, n, Exposures::Suppress))
}

pub(crate) fn run(args: Args) -> Outcome {
    let old_store = input::store(&args.old, args.environment.as_deref())?;
    let new_store = input::store(&args.new, args.environment.as_deref())?;
    let users = input::users(&args.users)?;
    let (old, new) = (old_store.snapshot(), new_store.snapshot());
    let mut changes: Vec<Change> = union(&old, &new)
        .into_iter()
        .map(|(kind, name, in_old, in_new)| Change {
            kind,
            name,
            in_old,
            in_new,
            changed: 0,
            value: 0,
            rule: 0,
            group: 0,
            examples: Vec::new(),
        })
        .collect();
    let mut scratch = Scratch::new();
    let started = Instant::now();
    let mut last_report = started;
    for (u, data) in users.iter().enumerate() {
        let user = data.view();
        for c in &mut changes {
            let a = answer(&old, &mut scratch, &user, c.kind, &c.name);
            let b = answer(&new, &mut scratch, &user, c.kind, &c.name);
            let (value, rule, group) = (
                a.value != b.value,
                a.rule_id != b.rule_id,
                a.group_name != b.group_name,
            );
            if value || rule || group {
                c.changed += 1;
                c.value += usize::from(value);
                c.rule += usize::from(rule);
                c.group += usize::from(group);
                if c.examples.len() < args.examples {
                    c.examples.push((u, a, b));
                }
            }
        }
        if last_report.elapsed() >= Duration::from_secs(2) {
            last_report = Instant::now();
            eprintln!("diff: {}/{} users", u + 1, users.len());
        }
    }
    let user_id = |u: usize| match users[u].view().user_id_value() {
        Some(flagcore::Value::Str(s)) => format!("userID {s:?}"),
        Some(v) => format!("userID {v:?}"),
        None => "no userID".to_owned(),
    };
    match args.format {
        Format::Json => {
            let entities: Vec<Value> = changes
                .iter()
                .map(|c| {
                    json!({
                        "kind": c.kind.label(),
                        "name": c.name,
                        "in_old": c.in_old,
                        "in_new": c.in_new,
                        "changed": c.changed,
                        "value_changed": c.value,
                        "rule_changed": c.rule,
                        "group_changed": c.group,
                        "examples": c.examples.iter().map(|(u, a, b)| json!({
                            "user": u,
                            "old": a,
                            "new": b,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            println!("{:#}", json!({"users": users.len(), "entities": entities}));
        }
        Format::Text => {
            let n = users.len();
            let changed: Vec<&Change> = changes.iter().filter(|c| c.changed > 0).collect();
            println!(
                "{n} users, {} entities, {} with changes",
                changes.len(),
                changed.len()
            );
            for c in &changed {
                let presence = match (c.in_old, c.in_new) {
                    (true, false) => " (removed)",
                    (false, true) => " (added)",
                    _ => "",
                };
                println!(
                    "{} `{}`{presence}: {}/{n} users change ({:.2}%): value {}, rule {}, group {}",
                    c.kind.label(),
                    c.name,
                    c.changed,
                    100.0 * c.changed as f64 / n.max(1) as f64,
                    c.value,
                    c.rule,
                    c.group
                );
                for (u, a, b) in &c.examples {
                    println!("  user {u} ({}):", user_id(*u));
                    println!("    old {a}");
                    println!("    new {b}");
                }
            }
        }
    }
    Ok(())
}

//! `flagcore eval`: evaluate entities for one user, optionally with the trace of each.

use flagcore::{Answer, Exposures, Kind, Ruleset, Scratch};

use crate::{input, Failure, Format, Outcome};

/// An entity kind on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KindArg {
    /// A feature gate (segments and holdouts too).
    Gate,
    /// A dynamic config.
    Config,
    /// An experiment.
    Experiment,
    /// A layer.
    Layer,
}

impl KindArg {
    fn kind(self) -> Kind {
        match self {
            KindArg::Gate => Kind::Gate,
            KindArg::Config => Kind::DynamicConfig,
            KindArg::Experiment => Kind::Experiment,
            KindArg::Layer => Kind::Layer,
        }
    }
}

/// Arguments of `eval`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The download_config_specs payload (`-`: standard input).
    payload: String,
    /// The user: Statsig user JSON (`{"userID": "u1", "email": …}`), or `@FILE` holding it.
    #[arg(long)]
    user: String,
    /// The entities to evaluate (default: every entity of the payload).
    names: Vec<String>,
    /// The kind of the names, where a name is used by more than one kind (or is not in
    /// the payload: it then evaluates as unrecognized).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    /// Print the trace of each evaluation: rules, conditions with the user's values,
    /// nested gates and experiments, percentage buckets.
    #[arg(long)]
    explain: bool,
    /// The environment tier (`production`, `staging`, …) environment conditions see.
    #[arg(long)]
    environment: Option<String>,
    /// Output format (json: one JSON array of answers, or of traces with --explain).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

/// The entities `names` stand for in `rs` (all of them when `names` is empty), of `kind`
/// when given.
pub(crate) fn select(
    rs: &Ruleset,
    names: &[String],
    kind: Option<Kind>,
) -> Result<Vec<(Kind, String)>, Failure> {
    let all = rs.entities();
    if names.is_empty() {
        return Ok(all
            .into_iter()
            .filter(|(k, _)| kind.is_none_or(|want| *k == want))
            .map(|(k, n)| (k, n.to_owned()))
            .collect());
    }
    let mut out = Vec::new();
    for name in names {
        let found: Vec<Kind> = all
            .iter()
            .filter(|(_, n)| n == name)
            .map(|(k, _)| *k)
            .collect();
        match (kind, found.as_slice()) {
            (Some(k), _) => out.push((k, name.clone())),
            (None, [k]) => out.push((*k, name.clone())),
            (None, []) => {
                return Err(Failure::Rejected(format!(
                    "no entity named `{name}` in the payload (pass --kind to evaluate it anyway)"
                )))
            }
            (None, kinds) => {
                let kinds: Vec<&str> = kinds.iter().map(|k| k.label()).collect();
                return Err(Failure::Rejected(format!(
                    "`{name}` names a {}: pass --kind",
                    kinds.join(" and a ")
                )));
            }
        }
    }
    Ok(out)
}

pub(crate) fn run(args: Args) -> Outcome {
    let store = input::store(&args.payload, args.environment.as_deref())?;
    let user_data = input::user(&args.user)?;
    let user = user_data.view();
    let snapshot = store.snapshot();
    let rs = snapshot.ruleset().ok_or("no ruleset")?;
    let entities = select(rs, &args.names, args.kind.map(KindArg::kind))?;
    let mut scratch = Scratch::new();
    let mut json = Vec::new();
    for (kind, name) in &entities {
        if args.explain {
            let trace = snapshot.explain(&user, *kind, name);
            match args.format {
                Format::Text => print!("{trace}"),
                Format::Json => json.push(serde_json::to_value(&trace)?),
            }
        } else {
            let e = snapshot.evaluate(&mut scratch, &user, *kind, name, Exposures::Suppress);
            let answer = Answer::new(&e);
            match args.format {
                Format::Text => println!("{answer}"),
                Format::Json => json.push(serde_json::to_value(&answer)?),
            }
        }
    }
    if args.format == Format::Json {
        println!("{:#}", serde_json::Value::Array(json));
    }
    Ok(())
}

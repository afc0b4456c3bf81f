//! `flagcore`: the command line of the flagcore feature-flag engine.
//!
//! ```text
//! flagcore validate PAYLOAD [--strict]            load, count, list dropped specs (exit 0/1/2)
//! flagcore eval PAYLOAD --user JSON [NAME..]      evaluate (--explain: every step, as a trace)
//! flagcore diff OLD NEW --users FILE              which users change answer between two payloads
//! flagcore init-response PAYLOAD --user JSON      a client SDK's initialize response
//! flagcore serve --file PAYLOAD | --server-secret KEY   the OFREP sidecar (flagcore-serve)
//! ```
//!
//! A payload is a `download_config_specs` JSON file (`-`: standard input). Output is
//! readable text, or JSON with `--format json`. Exit codes: 0 success; 1 `validate --strict`
//! found dropped specs; 2 the input was rejected (unreadable or invalid payload or user,
//! bad arguments).
//!
//! Each subcommand is a module with an `Args` struct and a `run` function; `serve` takes
//! `flagcore_serve::ServeArgs`.
#![forbid(unsafe_code)]

mod diff;
mod eval;
mod init;
mod input;
mod serve;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// The command line.
#[derive(Parser)]
#[command(
    name = "flagcore",
    version,
    about = "Validate, evaluate, explain and diff Statsig rulesets with flagcore"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load a payload: entity counts, dropped specs and why (exit 1 with --strict when specs
    /// were dropped, 2 when the payload is rejected).
    Validate(validate::Args),
    /// Evaluate entities for one user (every entity when no name is given).
    Eval(eval::Args),
    /// For each entity, how many of the users change value, rule or group between two
    /// payloads.
    Diff(diff::Args),
    /// Print the client initialize response (what Statsig's client SDKs bootstrap from)
    /// for one user.
    InitResponse(init::Args),
    /// Serve OFREP (OpenFeature's remote evaluation protocol), health and Prometheus
    /// metrics over HTTP, from a payload file, Statsig or Redis.
    Serve(flagcore_serve::ServeArgs),
}

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Readable text.
    #[default]
    Text,
    /// JSON for machines.
    Json,
}

/// Why a command failed, with the exit code it gives.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The input was rejected (exit 2).
    Rejected(String),
    /// `validate --strict` found dropped specs (exit 1; the report is already printed).
    Strict,
}

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::Rejected(e.to_string())
    }
}

pub(crate) type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Diff(a) => diff::run(a),
        Command::InitResponse(a) => init::run(a),
        Command::Serve(a) => serve::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Strict) => ExitCode::from(1),
        Err(Failure::Rejected(message)) => {
            eprintln!("flagcore: {message}");
            ExitCode::from(2)
        }
    }
}

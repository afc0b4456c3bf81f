//! Reading what the commands take: payloads, users.

use std::io::Read;

use flagcore::{LoadError, Options, Ruleset, Store, UserData};

use crate::Failure;

/// The bytes of `path` (`-`: standard input).
pub(crate) fn read(path: &str) -> Result<Vec<u8>, Failure> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("standard input: {e}"))?;
        return Ok(bytes);
    }
    std::fs::read(path).map_err(|e| Failure::Rejected(format!("{path}: {e}")))
}

/// A load error with its causes: `condition `c` is malformed: missing field …`.
pub(crate) fn error_chain(e: &LoadError) -> String {
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        message.push_str(": ");
        message.push_str(&c.to_string());
        cause = c.source();
    }
    message
}

/// The payload at `path`, compiled.
pub(crate) fn ruleset(path: &str) -> Result<Ruleset, Failure> {
    let bytes = read(path)?;
    Ruleset::from_json(&bytes)
        .map_err(|e| Failure::Rejected(format!("{path}: payload rejected: {}", error_chain(&e))))
}

/// A store serving the payload at `path`, with environment tier `tier`.
pub(crate) fn store(path: &str, tier: Option<&str>) -> Result<Store, Failure> {
    let store = Store::with_options(Options {
        environment: tier.map(str::to_owned),
        ..Options::default()
    });
    store.install(ruleset(path)?);
    Ok(store)
}

/// A user given as Statsig user JSON, or `@FILE` holding it.
pub(crate) fn user(arg: &str) -> Result<UserData, Failure> {
    let (bytes, source) = match arg.strip_prefix('@') {
        Some(path) => (read(path)?, path),
        None => (arg.as_bytes().to_vec(), "--user"),
    };
    UserData::from_json(&bytes)
        .map_err(|e| Failure::Rejected(format!("{source}: not a user JSON object: {e}")))
}

/// Users from `path`: a JSON array of users, or one user JSON object a line.
pub(crate) fn users(path: &str) -> Result<Vec<UserData>, Failure> {
    let bytes = read(path)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| format!("{path}: {e}"))?;
    if text.trim_start().starts_with('[') {
        return serde_json::from_str(text)
            .map_err(|e| Failure::Rejected(format!("{path}: not a JSON array of users: {e}")));
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            UserData::from_json(l.as_bytes())
                .map_err(|e| Failure::Rejected(format!("{path}:{}: not a user: {e}", i + 1)))
        })
        .collect()
}

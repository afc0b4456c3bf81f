//! `flagcore serve`: the OFREP sidecar of `flagcore-serve`, on a tokio runtime of its own.

use crate::{Failure, Outcome};

/// Runs the sidecar until Ctrl-C or SIGTERM.
pub(crate) fn run(args: flagcore_serve::ServeArgs) -> Outcome {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(flagcore_serve::serve(args)).map_err(|e| {
        let mut message = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            message.push_str(&format!(": {c}"));
            cause = c.source();
        }
        Failure::Rejected(message)
    })
}

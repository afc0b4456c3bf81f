//! Runs the OFREP sidecar with `flagcore serve`'s options (a stand-in for the CLI's
//! subcommand): `cargo run -p flagcore-serve --example serve -- --file dcs.json`.

use clap::Parser;

/// The sidecar's command line.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    serve: flagcore_serve::ServeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match flagcore_serve::serve(Cli::parse().serve).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let mut message = format!("flagcore serve: {e}");
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("{message}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! `flagcore init-response`: the client initialize response for one user.

use flagcore::{ClientInitOptions, HashAlgorithm};

use crate::{input, Outcome};

/// How names are hashed in the response.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Hash {
    /// Statsig's default: djb2 of the name.
    #[default]
    Djb2,
    /// Base64 of the SHA-256 of the name.
    Sha256,
    /// Names as they are.
    None,
}

/// Arguments of `init-response`.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The download_config_specs payload (`-`: standard input).
    payload: String,
    /// The user: Statsig user JSON, or `@FILE` holding it.
    #[arg(long)]
    user: String,
    /// How names are hashed.
    #[arg(long, value_enum, default_value_t)]
    hash: Hash,
    /// The client SDK key: only the specs of its app (the payload's
    /// `sdk_keys_to_app_ids`) are included.
    #[arg(long)]
    client_key: Option<String>,
    /// The environment tier.
    #[arg(long)]
    environment: Option<String>,
}

pub(crate) fn run(args: Args) -> Outcome {
    let store = input::store(&args.payload, args.environment.as_deref())?;
    let user_data = input::user(&args.user)?;
    let mut options = ClientInitOptions::default().hash(match args.hash {
        Hash::Djb2 => HashAlgorithm::Djb2,
        Hash::Sha256 => HashAlgorithm::Sha256,
        Hash::None => HashAlgorithm::None,
    });
    if let Some(key) = &args.client_key {
        options = options.client_key(key);
    }
    let mut body = Vec::new();
    store
        .snapshot()
        .client_initialize_response(&user_data.view(), &options, &mut body);
    let text = String::from_utf8(body)?;
    println!("{text}");
    Ok(())
}

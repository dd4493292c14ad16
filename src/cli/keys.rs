//! `authd keys generate`: a new JWT signing key written to a file, and the
//! configuration that uses it printed.

use std::path::PathBuf;

use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::config::Settings;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new key (mode 0600) and print the configuration that uses it.
    Generate {
        /// HS256, RS256, ES256 or EdDSA.
        #[arg(long)]
        alg: String,
        /// The key id; default: the algorithm and today's date.
        #[arg(long)]
        kid: Option<String>,
        /// Where to write the key; default: `<data_dir>/keys/<kid>.pem` (`.secret` for HS256).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn generate_key(
    settings: &Settings,
    alg: &str,
    kid: Option<String>,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    let algorithm = crate::keys::parse_alg(alg)
        .ok_or_else(|| anyhow::anyhow!("--alg {alg:?} is not one of HS256, RS256, ES256, EdDSA"))?;
    let name = crate::keys::alg_name(algorithm);
    let kid = kid.unwrap_or_else(|| {
        format!(
            "{}-{}",
            name.to_lowercase(),
            chrono::Utc::now().format("%Y%m%d%H%M%S")
        )
    });
    let hmac = name == "HS256";
    let out = out.unwrap_or_else(|| {
        settings
            .data_path("keys")
            .join(format!("{kid}.{}", if hmac { "secret" } else { "pem" }))
    });
    let key = crate::keys::generate(algorithm)?;
    crate::keys::write_private_file(&out, key.expose_secret().as_bytes())?;
    let field = if hmac {
        "secret_file"
    } else {
        "private_key_file"
    };
    println!("wrote a new {name} key to {} (mode 0600)", out.display());
    println!();
    println!("[[jwt.keys]]");
    println!("kid = {kid:?}");
    println!("alg = {name:?}");
    println!("{field} = {:?}", out.display().to_string());
    if !hmac {
        println!();
        println!("# make it jwt.signing_kid (access tokens), or add {kid:?} to");
        println!("# jwt.signing_kids to sign {name} ID tokens beside the current signer");
    }
    Ok(())
}

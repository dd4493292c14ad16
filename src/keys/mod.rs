//! JWT keys: loading them from configuration, generating new ones, and the
//! published JWKS. One key per algorithm is its current signer, one of them
//! signs access tokens; every configured key verifies; asymmetric keys are
//! published, symmetric ones never. The refresh-token key ring is
//! loaded in `refresh`.

pub mod refresh;
mod set;

pub use refresh::GENERATED_REFRESH_KEY_FILE;
pub use set::KeySet;

use std::io::Write;
use std::path::Path;

use base64::Engine;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use secrecy::{ExposeSecret, SecretString};

use crate::config::KeySettings;
use crate::config::file::read_bounded;

/// The file, inside `data_dir`, of the generated development signing key.
pub const GENERATED_KEY_FILE: &str = "jwt-rs256.pem";
/// HS256 secrets shorter than this are refused (RFC 7518 section 3.2).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid configuration: {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub(crate) fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> KeyError {
    KeyError::Invalid {
        setting: setting.into(),
        reason: reason.into(),
    }
}

/// The algorithms authd signs and verifies with, by their JOSE names.
pub fn parse_alg(name: &str) -> Option<Algorithm> {
    match name.to_ascii_uppercase().as_str() {
        "HS256" => Some(Algorithm::HS256),
        "RS256" => Some(Algorithm::RS256),
        "ES256" => Some(Algorithm::ES256),
        "EDDSA" => Some(Algorithm::EdDSA),
        _ => None,
    }
}

pub fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        Algorithm::EdDSA => "EdDSA",
        _ => "unsupported",
    }
}

/// One key. Its algorithm is fixed here: a token naming another algorithm is
/// never verified with it, which makes algorithm confusion impossible.
pub struct JwtKey {
    pub kid: String,
    pub alg: Algorithm,
    encoding: Option<EncodingKey>,
    pub(crate) decoding: DecodingKey,
    pub(crate) public_jwk: Option<Jwk>,
}

impl JwtKey {
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    pub(crate) fn encoding(&self) -> Option<&EncodingKey> {
        self.encoding.as_ref()
    }
}

/// Builds a key from PEM (asymmetric) or a raw secret (HS256).
pub fn key_from_material(
    kid: &str,
    alg: Algorithm,
    material: KeyMaterial<'_>,
    setting: &str,
) -> Result<JwtKey, KeyError> {
    let bad = |e: jsonwebtoken::errors::Error| {
        invalid(
            setting,
            format!("cannot read the {} key: {e}", alg_name(alg)),
        )
    };
    let (encoding, decoding, public_jwk) = match (alg, material) {
        (Algorithm::HS256, KeyMaterial::Secret(secret)) => {
            if secret.len() < MIN_HMAC_SECRET_BYTES {
                return Err(invalid(
                    setting,
                    format!(
                        "HS256 secrets must be at least {MIN_HMAC_SECRET_BYTES} bytes, this one has {}; \
                         generate one with `authd keys generate --alg HS256`",
                        secret.len()
                    ),
                ));
            }
            (
                Some(EncodingKey::from_secret(secret)),
                DecodingKey::from_secret(secret),
                None,
            )
        }
        (Algorithm::HS256, _) => {
            return Err(invalid(
                setting,
                "HS256 keys take a `secret`, not a PEM key",
            ));
        }
        (_, KeyMaterial::Secret(_)) => {
            return Err(invalid(
                setting,
                format!("{} keys take a PEM key, not a `secret`", alg_name(alg)),
            ));
        }
        (_, KeyMaterial::PrivatePem(pem)) => {
            let encoding = match alg {
                Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
                Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
                _ => EncodingKey::from_ed_pem(pem),
            }
            .map_err(bad)?;
            let jwk = Jwk::from_encoding_key(&encoding, alg).map_err(bad)?;
            let decoding = DecodingKey::from_jwk(&jwk).map_err(bad)?;
            (Some(encoding), decoding, Some(jwk))
        }
        (_, KeyMaterial::PublicPem(pem)) => {
            let decoding = match alg {
                Algorithm::RS256 => DecodingKey::from_rsa_pem(pem),
                Algorithm::ES256 => DecodingKey::from_ec_pem(pem),
                _ => DecodingKey::from_ed_pem(pem),
            }
            .map_err(bad)?;
            let jwk = Jwk::from_decoding_key(&decoding, Some(alg)).map_err(bad)?;
            (None, decoding, Some(jwk))
        }
    };
    let public_jwk = public_jwk.map(|mut jwk| {
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk
    });
    let key = JwtKey {
        kid: kid.to_owned(),
        alg,
        encoding,
        decoding,
        public_jwk,
    };
    self_test(&key, setting)?;
    Ok(key)
}

/// Where a key's bytes come from.
pub enum KeyMaterial<'a> {
    Secret(&'a [u8]),
    PrivatePem(&'a [u8]),
    PublicPem(&'a [u8]),
}

/// Signs and verifies a probe so a mismatched or unusable key stops start-up
/// instead of failing the first login.
fn self_test(key: &JwtKey, setting: &str) -> Result<(), KeyError> {
    let Some(encoding) = &key.encoding else {
        return Ok(());
    };
    let mut header = jsonwebtoken::Header::new(key.alg);
    header.kid = Some(key.kid.clone());
    let probe = serde_json::json!({ "probe": true, "exp": i64::MAX / 2 });
    let token = jsonwebtoken::encode(&header, &probe, encoding)
        .map_err(|e| invalid(setting, format!("the key cannot sign: {e}")))?;
    let mut validation = jsonwebtoken::Validation::new(key.alg);
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation).map_err(|e| {
        invalid(
            setting,
            format!("the key cannot verify its own signature: {e}"),
        )
    })?;
    Ok(())
}

pub(crate) fn load_configured(index: usize, key: &KeySettings) -> Result<JwtKey, KeyError> {
    let setting = format!("jwt.keys[{index}] (kid {:?})", key.kid);
    if key.kid.is_empty() || key.kid.len() > 128 {
        return Err(invalid(setting, "kid must be 1 to 128 characters"));
    }
    let alg = parse_alg(&key.alg).ok_or_else(|| {
        invalid(
            &setting,
            format!("alg {:?} is not one of HS256, RS256, ES256, EdDSA", key.alg),
        )
    })?;
    // Read through the bound of `config::file`; a failure names the field.
    let read = |field: &str, path: &Path| {
        read_bounded(path).map_err(|e| {
            invalid(
                format!("jwt.keys[{index}].{field} (kid {:?})", key.kid),
                format!("{}: {e}", path.display()),
            )
        })
    };
    let given = [
        key.secret.is_some(),
        key.secret_file.is_some(),
        key.private_key.is_some(),
        key.private_key_file.is_some(),
        key.public_key.is_some(),
        key.public_key_file.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(invalid(
            setting,
            "set exactly one of secret, secret_file, private_key, private_key_file, public_key, public_key_file",
        ));
    }
    let bytes;
    let material = if let Some(secret) = &key.secret {
        KeyMaterial::Secret(secret.expose_secret().as_bytes())
    } else if let Some(path) = &key.secret_file {
        bytes = trim_newline(read("secret_file", path)?);
        KeyMaterial::Secret(&bytes)
    } else if let Some(pem) = &key.private_key {
        KeyMaterial::PrivatePem(pem.expose_secret().as_bytes())
    } else if let Some(path) = &key.private_key_file {
        bytes = read("private_key_file", path)?;
        KeyMaterial::PrivatePem(&bytes)
    } else if let Some(pem) = &key.public_key {
        KeyMaterial::PublicPem(pem.as_bytes())
    } else if let Some(path) = &key.public_key_file {
        bytes = read("public_key_file", path)?;
        KeyMaterial::PublicPem(&bytes)
    } else {
        // The count above makes this branch impossible.
        return Err(invalid(setting, "no key material"));
    };
    key_from_material(&key.kid, alg, material, &setting)
}

pub(crate) fn trim_newline(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        bytes.pop();
    }
    bytes
}

pub(crate) fn load_or_generate_default(data_dir: &Path) -> Result<JwtKey, KeyError> {
    let path = data_dir.join(GENERATED_KEY_FILE);
    let setting = format!("generated key {}", path.display());
    let pem = if path.exists() {
        read_bounded(&path).map_err(|source| KeyError::Io {
            path: path.display().to_string(),
            source,
        })?
    } else {
        let pem = generate(Algorithm::RS256)?;
        write_private_file(&path, pem.expose_secret().as_bytes())?;
        tracing::warn!(
            path = %path.display(),
            "no JWT key configured: generated an RS256 signing key for development; configure jwt.keys in production"
        );
        pem.expose_secret().as_bytes().to_vec()
    };
    // The kid of the generated key is its RFC 7638 thumbprint, stable across restarts.
    let provisional = key_from_material(
        "generated",
        Algorithm::RS256,
        KeyMaterial::PrivatePem(&pem),
        &setting,
    )?;
    let kid = provisional
        .public_jwk
        .as_ref()
        .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256).ok())
        .ok_or_else(|| invalid(&setting, "cannot compute the key thumbprint"))?;
    key_from_material(
        &kid,
        Algorithm::RS256,
        KeyMaterial::PrivatePem(&pem),
        &setting,
    )
}

/// A new key for `alg`: PKCS#8 PEM for asymmetric algorithms, a base64url
/// secret of 256 random bits for HS256.
pub fn generate(alg: Algorithm) -> Result<SecretString, KeyError> {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    let failed = |what: &str| invalid("keys generate", format!("could not generate {what}"));
    let der: Vec<u8> = match alg {
        Algorithm::HS256 => {
            let mut secret = [0u8; 32];
            aws_lc_rs::rand::fill(&mut secret).map_err(|_| failed("randomness"))?;
            return Ok(SecretString::from(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret),
            ));
        }
        Algorithm::RS256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map(|d| d.as_ref().to_vec())
            .map_err(|_| failed("an RSA key"))?,
        Algorithm::ES256 => aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &SystemRandom::new(),
        )
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| failed("a P-256 key"))?,
        Algorithm::EdDSA => {
            aws_lc_rs::signature::Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new())
                .map(|d| d.as_ref().to_vec())
                .map_err(|_| failed("an Ed25519 key"))?
        }
        other => return Err(invalid("--alg", format!("{other:?} is not supported"))),
    };
    Ok(SecretString::from(pem::encode(&pem::Pem::new(
        "PRIVATE KEY",
        der,
    ))))
}

/// Writes a secret file readable by its owner only (0600), creating the
/// directory (0700) if needed. Refuses to overwrite.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    let io = |source| KeyError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(contents).map_err(io)?;
    file.sync_all().map_err(io)
}

//! The key set: every JWT key authd knows, the current signer of each
//! algorithm (one of them signs access tokens, the others only ID tokens),
//! and the JWKS it publishes.

use std::collections::HashMap;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{Jwk, JwkSet};

use super::{
    JwtKey, KeyError, alg_name, invalid, load_configured, load_or_generate_default, parse_alg,
};
use crate::config::Settings;

/// Every key authd knows, the current signers among them, and the JWKS to
/// publish.
///
/// A key set has at most one current signer per algorithm. One of them signs
/// access tokens (`jwt.signing_kid`); an ID token is signed by the current
/// signer of its client's algorithm ([`KeySet::id_token_signer`]), never by an
/// HS256 key: a shared secret would let every holder forge ID tokens, so with
/// HS256 alone no ID-token algorithm is offered. Every asymmetric key,
/// current or not, is published; symmetric keys never are.
pub struct KeySet {
    keys: HashMap<String, JwtKey>,
    /// The access-token signer.
    signer: String,
    /// The current signer of each algorithm (the access-token signer's
    /// included), by algorithm name.
    signers: Vec<(Algorithm, String)>,
    jwks: String,
}

impl KeySet {
    /// Loads the configured keys, or the generated development key (creating it
    /// on first start) when none is configured. The generated key is RS256, so
    /// a development server signs ID tokens with the algorithm every relying
    /// party accepts.
    pub fn load(settings: &Settings) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        if settings.jwt.keys.is_empty() {
            keys.push(load_or_generate_default(&settings.data_dir)?);
        }
        for (i, key) in settings.jwt.keys.iter().enumerate() {
            keys.push(load_configured(i, key)?);
        }
        Self::with_signers(
            keys,
            settings.jwt.signing_kid.as_deref(),
            &settings.jwt.signing_kids,
        )
    }

    /// A key set whose only current signer is the access-token signer.
    pub fn new(keys: Vec<JwtKey>, signing_kid: Option<&str>) -> Result<Self, KeyError> {
        Self::with_signers(keys, signing_kid, &[])
    }

    /// A key set with the current signers `signing_kids` besides the
    /// access-token signer `signing_kid`. Without `signing_kid`, the
    /// access-token signer is the only one of `signing_kids`, or with none
    /// listed the only key able to sign; anything else is ambiguous and
    /// refused.
    pub fn with_signers(
        keys: Vec<JwtKey>,
        signing_kid: Option<&str>,
        signing_kids: &[String],
    ) -> Result<Self, KeyError> {
        let mut by_kid = HashMap::new();
        for key in keys {
            let kid = key.kid.clone();
            if by_kid.insert(kid.clone(), key).is_some() {
                return Err(invalid("jwt.keys", format!("kid {kid:?} appears twice")));
            }
        }
        let signing = |setting: &str, kid: &str| -> Result<String, KeyError> {
            let key = by_kid
                .get(kid)
                .ok_or_else(|| invalid(setting, format!("no key has kid {kid:?}")))?;
            if !key.can_sign() {
                return Err(invalid(
                    setting,
                    format!("key {kid:?} has only a public key and cannot sign"),
                ));
            }
            Ok(kid.to_owned())
        };
        let mut listed = Vec::new();
        for kid in signing_kids {
            let kid = signing("jwt.signing_kids", kid)?;
            if !listed.contains(&kid) {
                listed.push(kid);
            }
        }
        let signer = match (signing_kid, listed.as_slice()) {
            (Some(kid), _) => signing("jwt.signing_kid", kid)?,
            (None, [only]) => only.clone(),
            (None, [_, _, ..]) => {
                return Err(invalid(
                    "jwt.signing_kid",
                    "jwt.signing_kids names several keys: name the one that signs access tokens",
                ));
            }
            (None, []) => {
                let mut signers: Vec<&JwtKey> = by_kid.values().filter(|k| k.can_sign()).collect();
                if signers.len() > 1 {
                    return Err(invalid(
                        "jwt.signing_kid",
                        "several keys can sign: name the active one",
                    ));
                }
                signers
                    .pop()
                    .ok_or_else(|| {
                        invalid(
                            "jwt.keys",
                            "no key can sign (give one a private key or secret)",
                        )
                    })?
                    .kid
                    .clone()
            }
        };
        let mut signers: Vec<(Algorithm, String)> = Vec::new();
        for kid in std::iter::once(&signer).chain(listed.iter()) {
            let alg = by_kid
                .get(kid)
                .map(|k| k.alg)
                .ok_or_else(|| invalid("jwt.signing_kids", format!("no key has kid {kid:?}")))?;
            match signers.iter().find(|(a, _)| *a == alg) {
                Some((_, other)) if other == kid => {}
                Some((_, other)) => {
                    return Err(invalid(
                        "jwt.signing_kids",
                        format!(
                            "keys {other:?} and {kid:?} are both {}: at most one current signer per algorithm",
                            alg_name(alg)
                        ),
                    ));
                }
                None if alg == Algorithm::HS256 && *kid != signer => {
                    return Err(invalid(
                        "jwt.signing_kids",
                        format!(
                            "key {kid:?} is HS256: a shared secret signs only access tokens (as jwt.signing_kid), never ID tokens"
                        ),
                    ));
                }
                None => signers.push((alg, kid.clone())),
            }
        }
        signers.sort_by_key(|(alg, _)| alg_name(*alg));
        let mut published: Vec<Jwk> = by_kid
            .values()
            .filter_map(|k| k.public_jwk.clone())
            .collect();
        published.sort_by(|a, b| a.common.key_id.cmp(&b.common.key_id));
        let jwks = serde_json::to_string(&JwkSet { keys: published })
            .map_err(|e| invalid("jwt.keys", e.to_string()))?;
        Ok(Self {
            keys: by_kid,
            signer,
            signers,
            jwks,
        })
    }

    /// The key that signs access tokens.
    pub fn signer(&self) -> &JwtKey {
        // `new` guarantees the signer is present.
        &self.keys[&self.signer]
    }

    /// The current signer of `alg`, if there is one.
    pub fn signer_for(&self, alg: Algorithm) -> Option<&JwtKey> {
        self.signers
            .iter()
            .find(|(a, _)| *a == alg)
            .and_then(|(_, kid)| self.keys.get(kid))
    }

    /// The key that signs ID tokens of `alg`: the current signer of an
    /// asymmetric algorithm; never an HS256 key.
    pub fn id_token_signer(&self, alg: Algorithm) -> Option<&JwtKey> {
        self.signer_for(alg).filter(|k| k.alg != Algorithm::HS256)
    }

    /// The algorithms ID tokens can be signed with (those with a current
    /// asymmetric signer), for the discovery document and for checking a
    /// client's choice. Empty when the only signer is an HS256 key.
    pub fn id_token_algorithms(&self) -> Vec<&'static str> {
        self.signers
            .iter()
            .filter(|(alg, _)| *alg != Algorithm::HS256)
            .map(|(alg, _)| alg_name(*alg))
            .collect()
    }

    /// Checks a client's ID-token algorithm (its JOSE name) against the
    /// keys: the algorithm, if a current key of it can sign ID tokens; else
    /// why not, to refuse the client at registration or at start-up.
    pub fn check_id_token_alg(&self, name: &str) -> Result<Algorithm, KeyError> {
        let setting = "id_token_signed_response_alg";
        let alg = parse_alg(name).ok_or_else(|| {
            invalid(
                setting,
                format!("{name:?} is not one of RS256, ES256, EdDSA"),
            )
        })?;
        if alg == Algorithm::HS256 {
            return Err(invalid(
                setting,
                "ID tokens are never signed with a shared HS256 secret",
            ));
        }
        self.id_token_signer(alg).map(|_| alg).ok_or_else(|| {
            invalid(
                setting,
                format!(
                    "no current {} signing key: add one to jwt.keys and its kid to jwt.signing_kids",
                    alg_name(alg)
                ),
            )
        })
    }

    /// The algorithm of the ID tokens of a client registered with `chosen`
    /// (`None`: the server's choice): the chosen one if a current key signs
    /// it ([`KeySet::check_id_token_alg`]), else RS256 when a key signs it
    /// (what every relying party accepts), else the first algorithm a key
    /// signs ID tokens with; or why there is none.
    pub fn id_token_alg_for(&self, chosen: Option<&str>) -> Result<Algorithm, KeyError> {
        if let Some(name) = chosen {
            return self.check_id_token_alg(name);
        }
        if self.id_token_signer(Algorithm::RS256).is_some() {
            return Ok(Algorithm::RS256);
        }
        self.id_token_algorithms()
            .first()
            .and_then(|name| parse_alg(name))
            .ok_or_else(|| {
                invalid(
                    "jwt.keys",
                    "no key signs ID tokens: HS256 keys never do; add an RS256, ES256 or EdDSA key \
                     to jwt.keys and its kid to jwt.signing_kids (authd keys generate --alg RS256)",
                )
            })
    }

    pub fn get(&self, kid: &str) -> Option<&JwtKey> {
        self.keys.get(kid)
    }

    /// The JWKS document: public keys only.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    /// Algorithms of the configured keys, for the discovery document.
    pub fn algorithms(&self) -> Vec<&'static str> {
        let mut algs: Vec<&'static str> = self.keys.values().map(|k| alg_name(k.alg)).collect();
        algs.sort_unstable();
        algs.dedup();
        algs
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;
    use crate::keys::{KeyMaterial, generate, key_from_material};

    fn key(kid: &str, alg: Algorithm) -> JwtKey {
        if alg == Algorithm::HS256 {
            let secret = b"a unit-test HS256 secret of 32+ bytes";
            return key_from_material(kid, alg, KeyMaterial::Secret(secret), "test").unwrap();
        }
        let pem = generate(alg).unwrap();
        key_from_material(
            kid,
            alg,
            KeyMaterial::PrivatePem(pem.expose_secret().as_bytes()),
            "test",
        )
        .unwrap()
    }

    fn kids(names: &[&str]) -> Vec<String> {
        names.iter().map(|k| (*k).to_owned()).collect()
    }

    fn refusal(result: Result<KeySet, KeyError>) -> String {
        match result {
            Err(e) => e.to_string(),
            Ok(_) => panic!("the key set was accepted"),
        }
    }

    #[test]
    fn one_asymmetric_key_signs_access_and_id_tokens_as_before() {
        let keys = KeySet::new(vec![key("es", Algorithm::ES256)], None).unwrap();
        assert_eq!(keys.signer().kid, "es");
        assert_eq!(keys.id_token_algorithms(), ["ES256"]);
        assert_eq!(keys.id_token_signer(Algorithm::ES256).unwrap().kid, "es");
        assert!(keys.id_token_signer(Algorithm::RS256).is_none());
        assert_eq!(keys.check_id_token_alg("ES256").unwrap(), Algorithm::ES256);
        assert!(
            keys.check_id_token_alg("RS256")
                .unwrap_err()
                .to_string()
                .contains("no current RS256 signing key")
        );
    }

    #[test]
    fn an_hs256_key_alone_offers_no_id_token_algorithm() {
        let keys = KeySet::new(vec![key("h", Algorithm::HS256)], None).unwrap();
        assert_eq!(keys.signer().kid, "h");
        assert!(keys.id_token_algorithms().is_empty());
        assert!(keys.id_token_signer(Algorithm::HS256).is_none());
        assert!(keys.signer_for(Algorithm::HS256).is_some());
        for alg in ["RS256", "ES256", "EdDSA"] {
            assert!(keys.check_id_token_alg(alg).is_err(), "{alg}");
        }
        let hs = keys.check_id_token_alg("HS256").unwrap_err().to_string();
        assert!(hs.contains("never signed with a shared"), "{hs}");
        assert!(keys.check_id_token_alg("none").is_err());
    }

    #[test]
    fn signing_kids_add_a_current_signer_per_algorithm() {
        let keys = KeySet::with_signers(
            vec![
                key("h", Algorithm::HS256),
                key("es", Algorithm::ES256),
                key("ed", Algorithm::EdDSA),
                key("es-old", Algorithm::ES256),
            ],
            Some("h"),
            &kids(&["es", "ed"]),
        )
        .unwrap();
        assert_eq!(
            keys.signer().kid,
            "h",
            "access tokens stay with signing_kid"
        );
        assert_eq!(keys.id_token_algorithms(), ["ES256", "EdDSA"]);
        assert_eq!(keys.id_token_signer(Algorithm::ES256).unwrap().kid, "es");
        assert_eq!(keys.id_token_signer(Algorithm::EdDSA).unwrap().kid, "ed");
        // A key able to sign but not current only verifies, and is published.
        assert!(keys.get("es-old").is_some());
        assert!(keys.jwks_json().contains("\"es-old\""));
        assert!(keys.jwks_json().contains("\"ed\""));
        assert!(!keys.jwks_json().contains("\"h\""));
    }

    #[test]
    fn the_only_listed_signer_signs_access_tokens_without_signing_kid() {
        let keys = KeySet::with_signers(
            vec![key("es", Algorithm::ES256), key("ed", Algorithm::EdDSA)],
            None,
            &kids(&["ed"]),
        )
        .unwrap();
        assert_eq!(keys.signer().kid, "ed");
        assert_eq!(keys.id_token_algorithms(), ["EdDSA"]);
    }

    #[test]
    fn ambiguous_or_impossible_signers_stop_start_up() {
        let set = |signing_kid: Option<&str>, listed: &[&str]| {
            KeySet::with_signers(
                vec![
                    key("h", Algorithm::HS256),
                    key("h2", Algorithm::HS256),
                    key("es", Algorithm::ES256),
                    key("es2", Algorithm::ES256),
                    key("ed", Algorithm::EdDSA),
                ],
                signing_kid,
                &kids(listed),
            )
        };
        let two_es = refusal(set(Some("es"), &["es2"]));
        assert!(two_es.contains("at most one current signer"), "{two_es}");
        let hs_listed = refusal(set(Some("es"), &["h"]));
        assert!(hs_listed.contains("never ID tokens"), "{hs_listed}");
        let two_hs = refusal(set(Some("h"), &["h2"]));
        assert!(two_hs.contains("at most one current signer"), "{two_hs}");
        let unnamed = refusal(set(None, &["es", "ed"]));
        assert!(unnamed.contains("jwt.signing_kid"), "{unnamed}");
        let unknown = refusal(set(Some("es"), &["nope"]));
        assert!(unknown.contains("jwt.signing_kids"), "{unknown}");
        // Listing the access-token signer again changes nothing.
        let keys = set(Some("es"), &["es", "ed"]).unwrap();
        assert_eq!(keys.id_token_algorithms(), ["ES256", "EdDSA"]);
    }

    #[test]
    fn a_public_key_cannot_be_a_current_signer() {
        let es = key("es", Algorithm::ES256);
        let public = key_from_material(
            "pub",
            Algorithm::EdDSA,
            KeyMaterial::PublicPem(&pem_of_public(&key("x", Algorithm::EdDSA)).into_bytes()),
            "test",
        )
        .unwrap();
        let refused = refusal(KeySet::with_signers(
            vec![es, public],
            Some("es"),
            &kids(&["pub"]),
        ));
        assert!(refused.contains("cannot sign"), "{refused}");
    }

    /// The public half of `key`, as PEM, through its JWK.
    fn pem_of_public(key: &JwtKey) -> String {
        let jwk = key.public_jwk.as_ref().unwrap();
        let jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(okp) = &jwk.algorithm else {
            panic!("not an OKP key");
        };
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&okp.x)
            .unwrap();
        // The SubjectPublicKeyInfo of an Ed25519 key: a fixed prefix, then the key.
        let mut der = vec![
            0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
        ];
        der.extend_from_slice(&raw);
        pem::encode(&pem::Pem::new("PUBLIC KEY", der))
    }
}

//! Webhook signatures as the Standard Webhooks specification defines them:
//! a secret is `whsec_` and the base64 of its key (32 random bytes); the
//! signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the
//! `webhook-signature` header is `v1,<base64 of its HMAC-SHA256>`, one per
//! secret, separated by spaces (the current secret's and, during a
//! rotation's grace, the previous one's).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use secrecy::{ExposeSecret, SecretString};

const PREFIX: &str = "whsec_";
const KEY_BYTES: usize = 32;

/// A new secret, `whsec_<base64>`. Fails only if the system's CSPRNG does.
pub fn generate() -> anyhow::Result<SecretString> {
    let mut key = [0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| anyhow::anyhow!("the system's CSPRNG failed"))?;
    Ok(SecretString::from(format!(
        "{PREFIX}{}",
        STANDARD.encode(key)
    )))
}

/// The HMAC key of a secret `whsec_<base64>`; none if it is not one.
pub fn key_of(secret: &SecretString) -> Option<hmac::Key> {
    let encoded = secret.expose_secret().strip_prefix(PREFIX)?;
    let bytes = STANDARD.decode(encoded).ok()?;
    (!bytes.is_empty()).then(|| hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

/// `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.
pub fn signature(key: &hmac::Key, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("v1,{}", STANDARD.encode(ctx.sign().as_ref()))
}

/// The `webhook-signature` header: one signature per key, space-separated.
pub fn header(keys: &[hmac::Key], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| signature(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks reference libraries.
    #[test]
    fn the_reference_example_signs_as_published() {
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let key = key_of(&secret).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_generated_secret_has_the_prefix_and_a_key() {
        let secret = generate().unwrap();
        assert!(secret.expose_secret().starts_with("whsec_"));
        assert!(key_of(&secret).is_some());
        assert!(key_of(&SecretString::from("nope".to_owned())).is_none());
    }
}

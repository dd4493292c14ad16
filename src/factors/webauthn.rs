//! The relying party of passkeys, built once at start-up from `[webauthn]`
//! (`Settings::relying_party`, which checked it): webauthn-rs's `Webauthn`,
//! or none when passkeys are off.

use webauthn_rs::prelude::{Webauthn, WebauthnBuilder};

use crate::config::{ConfigError, Settings};

/// How long the authenticator is given, as the options tell the browser: a
/// ceremony's own lifetime (`passkey::CEREMONY_SECS`).
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The `Webauthn` of `settings`, or none when passkeys are off (logged).
pub fn build(settings: &Settings) -> Result<Option<Webauthn>, ConfigError> {
    let Some(rp) = settings.relying_party()? else {
        tracing::warn!(
            issuer = settings.issuer(),
            "passkeys are off: [webauthn] is unset and the issuer is not an https origin or localhost"
        );
        return Ok(None);
    };
    let refused = |e: webauthn_rs::prelude::WebauthnError| {
        ConfigError::invalid("webauthn", format!("the relying party is refused: {e}"))
    };
    let Some((first, rest)) = rp.origins.split_first() else {
        return Err(ConfigError::invalid(
            "webauthn.origins",
            "must not be empty",
        ));
    };
    let mut builder = WebauthnBuilder::new(&rp.rp_id, first)
        .map_err(refused)?
        .rp_name(&rp.rp_name)
        .timeout(TIMEOUT);
    for origin in rest {
        builder = builder.append_allowed_origin(origin);
    }
    Ok(Some(builder.build().map_err(refused)?))
}

//! Feeds arbitrary input to everything that parses what clients send: refresh
//! tokens, access tokens (header, claims, signature), and Cookie headers. None
//! of it may panic, and nothing but authd's own tokens may be accepted.
#![no_main]

use std::sync::{Arc, OnceLock};

use authd::keys::{KeyMaterial, KeySet, key_from_material};
use authd::tokens::refresh::RefreshTokens;
use authd::tokens::AccessTokens;
use jsonwebtoken::Algorithm;
use libfuzzer_sys::fuzz_target;
use secrecy::SecretString;

struct Parsers {
    refresh: RefreshTokens,
    access: AccessTokens,
}

fn parsers() -> &'static Parsers {
    static P: OnceLock<Parsers> = OnceLock::new();
    P.get_or_init(|| {
        let secret = b"fuzzing-secret-fuzzing-secret-32";
        let key =
            key_from_material("k1", Algorithm::HS256, KeyMaterial::Secret(secret), "fuzz").unwrap();
        let keys = Arc::new(KeySet::new(vec![key], None).unwrap());
        Parsers {
            refresh: RefreshTokens::new(&SecretString::from(
                "fuzzing-refresh-key-fuzzing-refresh".to_owned(),
            )),
            access: AccessTokens::new(keys, "http://authd.test", "authd", "authd", 900),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let p = parsers();
    assert!(
        p.refresh.decode(text).is_none(),
        "a refresh token was forged"
    );
    assert!(
        p.access.verify(text, chrono::Utc::now()).is_err(),
        "an access token was forged"
    );
    // A Cookie header, split and parsed the way actix-web does for req.cookies().
    for piece in text.split(';') {
        if let Ok(cookie) = actix_web::cookie::Cookie::parse_encoded(piece.trim()) {
            let _ = (cookie.name(), cookie.value());
        }
    }
});

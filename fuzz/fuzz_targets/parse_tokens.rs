//! Feeds arbitrary input to everything that parses what clients send: refresh
//! tokens (against a ring of a current and a retired key, so the key id byte
//! reaches both the keys the ring holds and those it does not), access tokens
//! (header, claims, signature), and Cookie headers. None of it may panic, and
//! nothing but authd's own tokens may be accepted.
#![no_main]

use std::sync::{Arc, OnceLock};

use authd::keys::{KeyMaterial, KeySet, key_from_material};
use authd::tokens::refresh::{RefreshKey, RefreshTokens};
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
        let refresh_key =
            |id, secret: &str| RefreshKey::new(id, &SecretString::from(secret.to_owned()));
        Parsers {
            refresh: RefreshTokens::ring(
                refresh_key(2, "fuzzing-refresh-key-fuzzing-refresh-2"),
                [refresh_key(1, "fuzzing-refresh-key-fuzzing-refresh")],
            )
            .unwrap(),
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
    // The key id is read without any check; it must not panic either.
    let _ = authd::tokens::refresh::key_id_of(text);
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

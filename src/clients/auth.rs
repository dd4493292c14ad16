//! How a request proves to be a registered client: a public client presents
//! no secret (and is refused if it presents one), a confidential client its
//! secret by its registered method, a machine client its secret by HTTP Basic
//! or in the form, as machine clients always could.

use super::{AuthMethod, Client, ClientKind, hash_secret};
use crate::store::{Store, StoreError};

/// What a request presented for its client.
#[derive(Debug, Clone, Copy)]
pub enum Presented<'a> {
    /// A `client_id` and no secret.
    Nothing,
    /// The secret by HTTP Basic.
    Basic(&'a str),
    /// The secret in the form (`client_secret`).
    Post(&'a str),
}

/// Why a client was not authenticated; every one is `invalid_client` to the
/// caller, who cannot tell them apart. The reason is for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthRefusal {
    /// No client has this id.
    Unknown,
    /// A public client presented a secret.
    PublicWithSecret,
    /// A confidential or machine client presented no secret.
    SecretMissing,
    /// The secret came by a method other than the client's.
    WrongMethod,
    /// The secret is not the client's.
    WrongSecret,
}

/// The client with this id, if what was presented proves it; the secret's
/// hash is computed and compared in constant time whether or not the id
/// exists.
pub async fn authenticate_client(
    store: &Store,
    id: &str,
    presented: Presented<'_>,
) -> Result<Result<Client, AuthRefusal>, StoreError> {
    let client = super::find(store, id).await?;
    Ok(check(client, presented))
}

/// The rules of [`authenticate_client`] over a client already read.
pub fn check(client: Option<Client>, presented: Presented<'_>) -> Result<Client, AuthRefusal> {
    let (secret, method) = match presented {
        Presented::Nothing => (None, AuthMethod::None),
        Presented::Basic(s) => (Some(s), AuthMethod::ClientSecretBasic),
        Presented::Post(s) => (Some(s), AuthMethod::ClientSecretPost),
    };
    let matches = secret.is_some_and(|s| {
        let stored = client.as_ref().map_or("", |c| c.secret_hash.as_str());
        secret_matches(stored, s)
    });
    let client = client.ok_or(AuthRefusal::Unknown)?;
    match (client.kind, secret) {
        (ClientKind::Public, None) => return Ok(client),
        (ClientKind::Public, Some(_)) => return Err(AuthRefusal::PublicWithSecret),
        (_, None) => return Err(AuthRefusal::SecretMissing),
        (ClientKind::Confidential, Some(_)) if client.auth_method != method => {
            return Err(AuthRefusal::WrongMethod);
        }
        _ => {}
    }
    if matches {
        Ok(client)
    } else {
        Err(AuthRefusal::WrongSecret)
    }
}

/// Whether `secret` hashes to `stored`, in constant time; never for an empty
/// `stored` (a public client's).
fn secret_matches(stored: &str, secret: &str) -> bool {
    let presented = hash_secret(secret);
    stored.len() == presented.len()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            stored.as_bytes(),
            presented.as_bytes(),
        )
        .is_ok()
}

/// The client with this id and secret, or `None` when either is wrong (the
/// caller cannot tell which): any client with a secret, by whichever method
/// it came (client credentials, introspection, the revocation feed). A public
/// client has no secret, so it is never found this way.
pub async fn authenticate(
    store: &Store,
    id: &str,
    secret: &str,
) -> Result<Option<Client>, StoreError> {
    let client = super::find(store, id).await?;
    let stored = client.as_ref().map_or("", |c| c.secret_hash.as_str());
    let matches = secret_matches(stored, secret);
    Ok(client.filter(|_| matches))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::registration::{ClientSpec, Policy, generate};
    use secrecy::ExposeSecret;

    fn registered(kind: ClientKind, method: Option<AuthMethod>) -> (Client, String) {
        let spec = ClientSpec {
            kind,
            auth_method: method,
            redirect_uris: match kind {
                ClientKind::Machine => vec![],
                _ => vec!["https://app.example.com/cb".into()],
            },
            ..ClientSpec::machine("app", "")
        };
        let (client, secret) = generate(spec, Policy::default(), chrono::Utc::now()).unwrap();
        let secret = secret.map_or_else(String::new, |s| s.expose_secret().to_owned());
        (client, secret)
    }

    #[test]
    fn a_public_client_presents_no_secret_and_is_refused_with_one() {
        let (app, _) = registered(ClientKind::Public, None);
        assert!(check(Some(app.clone()), Presented::Nothing).is_ok());
        for presented in [
            Presented::Basic(""),
            Presented::Post("x"),
            Presented::Basic("x"),
        ] {
            assert_eq!(
                check(Some(app.clone()), presented).unwrap_err(),
                AuthRefusal::PublicWithSecret
            );
        }
    }

    #[test]
    fn a_confidential_client_authenticates_by_its_method_only() {
        let (web, secret) = registered(ClientKind::Confidential, None);
        assert!(check(Some(web.clone()), Presented::Basic(&secret)).is_ok());
        let refusals = [
            (Presented::Post(&secret), AuthRefusal::WrongMethod),
            (Presented::Nothing, AuthRefusal::SecretMissing),
            (Presented::Basic("wrong"), AuthRefusal::WrongSecret),
        ];
        for (presented, why) in refusals {
            assert_eq!(check(Some(web.clone()), presented).unwrap_err(), why);
        }
        let (post, secret) =
            registered(ClientKind::Confidential, Some(AuthMethod::ClientSecretPost));
        assert!(check(Some(post.clone()), Presented::Post(&secret)).is_ok());
        assert_eq!(
            check(Some(post), Presented::Basic(&secret)).unwrap_err(),
            AuthRefusal::WrongMethod
        );
    }

    #[test]
    fn a_machine_client_authenticates_either_way_as_before() {
        let (machine, secret) = registered(ClientKind::Machine, None);
        assert!(check(Some(machine.clone()), Presented::Basic(&secret)).is_ok());
        assert!(check(Some(machine.clone()), Presented::Post(&secret)).is_ok());
        assert_eq!(
            check(Some(machine.clone()), Presented::Nothing).unwrap_err(),
            AuthRefusal::SecretMissing
        );
        assert_eq!(
            check(Some(machine), Presented::Post("wrong")).unwrap_err(),
            AuthRefusal::WrongSecret
        );
        assert_eq!(
            check(None, Presented::Basic(&secret)).unwrap_err(),
            AuthRefusal::Unknown
        );
    }

    #[test]
    fn an_empty_stored_hash_matches_no_secret() {
        assert!(!secret_matches("", ""));
        assert!(!secret_matches("", "anything"));
    }
}

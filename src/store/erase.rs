//! The statements of an account's erasure (`admin::erase`), run in its
//! transaction: every row that holds the user's personal data, in every
//! table but `users` (made a tombstone by `users::erase`), `sessions` and
//! `user_revocations` (kept, so the revocation feed still lists what the
//! erasure ended; the sessions lose their address and user agent).

use uuid::Uuid;

use super::{AsDb, StoreError, on_db};

/// The tables whose rows of the user are deleted outright, each keyed by
/// `user_id`: factors, passkeys and their ceremonies, roles, consents,
/// account tokens, codes and requests of authorizations, and its mail,
/// queued or kept after sending.
const DELETED: &[&str] = &[
    "DELETE FROM totp_factors WHERE user_id = $1",
    "DELETE FROM recovery_codes WHERE user_id = $1",
    "DELETE FROM mfa_challenges WHERE user_id = $1",
    "DELETE FROM passkeys WHERE user_id = $1",
    "DELETE FROM webauthn_ceremonies WHERE user_id = $1",
    "DELETE FROM user_roles WHERE user_id = $1",
    "DELETE FROM consents WHERE user_id = $1",
    "DELETE FROM account_tokens WHERE user_id = $1",
    "DELETE FROM authorization_codes WHERE user_id = $1",
    "DELETE FROM authorization_requests WHERE user_id = $1",
    "DELETE FROM mail_outbox WHERE user_id = $1",
    "UPDATE sessions SET ip = NULL, user_agent = NULL WHERE user_id = $1",
];

/// Deletes the user's personal rows (see [`DELETED`]).
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn personal_rows(db: &mut impl AsDb, user: Uuid) -> Result<(), StoreError> {
    for &sql in DELETED {
        on_db!(db, |c| sqlx::query(sql)
            .bind(user)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(())
}

/// Moves the audit events of `user` to `pseudonym`, their address and user
/// agent erased, and every actor naming the user (`user:<id>`, `admin:<id>`)
/// to the pseudonym too: the trail stays linkable within itself, and to
/// nobody. Returns how many events of the user moved.
#[tracing::instrument(skip_all, fields(user = %user))]
pub async fn pseudonymize_audit(
    db: &mut impl AsDb,
    user: Uuid,
    pseudonym: Uuid,
) -> Result<u64, StoreError> {
    const EVENTS: &str = "UPDATE audit_events SET user_id = $2, ip = NULL, user_agent = NULL \
         WHERE user_id = $1";
    const ACTOR: &str = "UPDATE audit_events SET actor = $2 WHERE actor = $1";
    let moved = on_db!(db, |c| sqlx::query(EVENTS)
        .bind(user)
        .bind(pseudonym)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    for kind in ["user", "admin"] {
        let (from, to) = (format!("{kind}:{user}"), format!("{kind}:{pseudonym}"));
        on_db!(db, |c| sqlx::query(ACTOR)
            .bind(&from)
            .bind(&to)
            .execute(c)
            .await
            .map(|_| ()))?;
    }
    Ok(moved)
}

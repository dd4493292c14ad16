//! Audit events: the kinds authd records about sign-ins and sessions, who did
//! each (its actor) and the OAuth client it concerns, the request details
//! kept with them, and reading a user's own events back.
//! Each event is written in the transaction of the change it describes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::store::audit::AuditRecord;
use crate::store::{self, AsDb, StoreError};

/// Who made a request, as recorded with sessions and audit events.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl RequestMeta {
    /// The client's address as an `IpAddr` (it is recorded as text).
    pub fn ip_addr(&self) -> Option<std::net::IpAddr> {
        self.ip.as_deref().and_then(|ip| ip.parse().ok())
    }
}

/// Kinds of audit events; the strings are stored and are part of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Registered,
    LoginSucceeded,
    LoginFailed,
    RefreshReuseDetected,
    Logout,
    SessionRevoked,
    /// A login went past `refresh.max_sessions_per_user`: the oldest live
    /// session ended (the event names it).
    SessionEvicted,
    PasswordChanged,
    /// A message could not be delivered and was given up (`crate::mail`).
    MailGivenUp,
    /// A verification link was sent (at registration or on request).
    EmailVerificationSent,
    /// The address was proven by its link.
    EmailVerified,
    /// A password-reset link and code were sent.
    PasswordResetRequested,
    /// The password was reset with a link or a code; every session ended.
    PasswordReset,
    /// A wrong code was tried (reset or login code); the detail says which.
    CodeFailed,
    /// An email change was asked for; the confirmation went to the new address.
    EmailChangeRequested,
    /// An email change was confirmed; the detail holds no address.
    EmailChanged,
    /// Someone tried to register an address that has an account
    /// (enumeration-safe registration); its owner was told.
    RegistrationAttempted,
    /// A login code was sent by email.
    OtpSent,
    /// An authorization code was presented again after it was redeemed: the
    /// client family made from it was ended (the event names it).
    AuthorizationCodeReused,
    /// The user revoked an app's grant: its families ended, its consent
    /// forgotten (the event names the client).
    GrantRevoked,
    /// The user allowed an app on the consent page (the event names the
    /// client; the detail, the scopes asked for).
    ConsentGranted,
    /// A second factor was enrolled (the detail says which).
    FactorAdded,
    /// A second factor was removed (the detail says which).
    FactorRemoved,
    /// The recovery codes were replaced by a new set.
    RecoveryCodesRegenerated,
    /// A recovery code was used at sign-in.
    RecoveryCodeUsed,
    /// An admin ended every session of the user (`POST
    /// /admin/users/{id}/sessions/revoke`); the actor is the admin.
    SessionsRevokedByAdmin,
    /// The account was disabled (every session ended); the actor says who.
    UserDisabled,
    /// The account was enabled again; the actor says who.
    UserEnabled,
    /// The user's roles changed; the detail says how (`+admin -support`).
    RolesChanged,
    /// The user's app_metadata was replaced; the detail is its size only.
    AppMetadataChanged,
    /// A client was registered (no user; the event names the client, the
    /// detail its kind); the actor says who.
    ClientCreated,
    /// A client's settings changed (the detail names the settings, never
    /// values); the actor says who.
    ClientUpdated,
    /// A client was deleted; the actor says who.
    ClientDeleted,
    /// A client's secret was replaced (the old one stopped at once; no
    /// secret in the event); the actor says who.
    ClientSecretRotated,
    /// An admin created the account (`POST /admin/users`); the detail says
    /// whether an invitation was sent.
    UserCreated,
    /// An admin changed the account's address or its verification (`PATCH
    /// /admin/users/{id}`); the detail names the fields, never an address.
    UserUpdated,
    /// An admin erased the account's personal data (`DELETE
    /// /admin/users/{id}`). Its user id is the pseudonym the account's
    /// earlier events were moved to.
    UserDeleted,
    /// An admin cleared the account's login lockout and code tries.
    LockoutCleared,
    /// An event delivery (a webhook, a back-channel logout) was given up
    /// (`crate::events::worker`); the detail names it, never its payload.
    WebhookGivenUp,
    /// A webhook endpoint was registered (no user; the detail names the
    /// endpoint's id and its URL's host, never its secret); the actor says
    /// who.
    WebhookCreated,
    /// A webhook endpoint was deleted (detail as `WebhookCreated`); the
    /// actor says who.
    WebhookDeleted,
    /// A webhook endpoint's secret was replaced (detail as `WebhookCreated`,
    /// no secret); the actor says who.
    WebhookSecretRotated,
    /// A webhook endpoint was disabled: no event is queued for it, and its
    /// pending deliveries are given up (detail as `WebhookCreated`); the
    /// actor says who.
    WebhookDisabled,
    /// A webhook endpoint was enabled again (detail as `WebhookCreated`);
    /// the actor says who.
    WebhookEnabled,
}

impl AuditKind {
    /// Whether the user of the event did it themselves, having proven who
    /// they are (a session, the password, an emailed link or code): such an
    /// event's actor is the user. Attempts anyone who knows an address could
    /// make (a failed login or code, a reset or code asked for, a
    /// registration of a taken address) and authd's own reactions (an evicted
    /// session, reuse detected, mail given up) have no actor; an operator's
    /// acts (disabling, roles, app_metadata) name theirs with `with_actor`.
    pub fn acted_by_user(self) -> bool {
        match self {
            Self::Registered
            | Self::LoginSucceeded
            | Self::Logout
            | Self::SessionRevoked
            | Self::PasswordChanged
            | Self::EmailVerificationSent
            | Self::EmailVerified
            | Self::PasswordReset
            | Self::EmailChangeRequested
            | Self::EmailChanged
            | Self::GrantRevoked
            | Self::ConsentGranted
            | Self::FactorAdded
            | Self::FactorRemoved
            | Self::RecoveryCodesRegenerated
            | Self::RecoveryCodeUsed => true,
            Self::LoginFailed
            | Self::CodeFailed
            | Self::RegistrationAttempted
            | Self::PasswordResetRequested
            | Self::OtpSent
            | Self::RefreshReuseDetected
            | Self::SessionEvicted
            | Self::AuthorizationCodeReused
            | Self::SessionsRevokedByAdmin
            | Self::MailGivenUp
            | Self::WebhookGivenUp
            | Self::WebhookCreated
            | Self::WebhookDeleted
            | Self::WebhookSecretRotated
            | Self::WebhookDisabled
            | Self::WebhookEnabled
            | Self::UserDisabled
            | Self::UserEnabled
            | Self::RolesChanged
            | Self::AppMetadataChanged
            | Self::ClientCreated
            | Self::ClientUpdated
            | Self::ClientDeleted
            | Self::ClientSecretRotated
            | Self::UserCreated
            | Self::UserUpdated
            | Self::UserDeleted
            | Self::LockoutCleared => false,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::RefreshReuseDetected => "refresh_reuse_detected",
            Self::Logout => "logout",
            Self::SessionRevoked => "session_revoked",
            Self::SessionEvicted => "session_evicted",
            Self::PasswordChanged => "password_changed",
            Self::MailGivenUp => "mail_given_up",
            Self::EmailVerificationSent => "email_verification_sent",
            Self::EmailVerified => "email_verified",
            Self::PasswordResetRequested => "password_reset_requested",
            Self::PasswordReset => "password_reset",
            Self::CodeFailed => "code_failed",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::RegistrationAttempted => "registration_attempted",
            Self::OtpSent => "otp_sent",
            Self::AuthorizationCodeReused => "authorization_code_reused",
            Self::GrantRevoked => "grant_revoked",
            Self::ConsentGranted => "consent_granted",
            Self::FactorAdded => "factor_added",
            Self::FactorRemoved => "factor_removed",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "recovery_code_used",
            Self::SessionsRevokedByAdmin => "sessions_revoked_by_admin",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::RolesChanged => "roles_changed",
            Self::AppMetadataChanged => "app_metadata_changed",
            Self::ClientCreated => "client_created",
            Self::ClientUpdated => "client_updated",
            Self::ClientDeleted => "client_deleted",
            Self::ClientSecretRotated => "client_secret_rotated",
            Self::UserCreated => "user_created",
            Self::UserUpdated => "user_updated",
            Self::UserDeleted => "user_deleted",
            Self::LockoutCleared => "lockout_cleared",
            Self::WebhookGivenUp => "webhook_given_up",
            Self::WebhookCreated => "webhook_created",
            Self::WebhookDeleted => "webhook_deleted",
            Self::WebhookSecretRotated => "webhook_secret_rotated",
            Self::WebhookDisabled => "webhook_disabled",
            Self::WebhookEnabled => "webhook_enabled",
        }
    }
}

/// Who did what an event records, stored as text (`user:<uuid>`) so that
/// kinds of actor can be added (an admin API's `admin:<id>`) without a
/// migration; readers get the text as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// The user themselves.
    User(Uuid),
    /// An operator, by the tool they used: `operator:cli` for the `authd`
    /// command line (`authd users remove-factors`).
    Operator(&'static str),
    /// A caller of the admin API: `admin:<client_id>` for a registered
    /// client (ids start with `client_`, so a user admin's `admin:<uuid>`,
    /// when roles come, cannot be mistaken for one).
    Admin(String),
}

impl Actor {
    /// The operator at the command line.
    pub const CLI: Self = Self::Operator("cli");

    /// The stored form: `user:<uuid>`, `operator:<tool>`, `admin:<id>`.
    pub fn to_text(&self) -> String {
        match self {
            Self::User(id) => format!("user:{id}"),
            Self::Operator(tool) => format!("operator:{tool}"),
            Self::Admin(id) => format!("admin:{id}"),
        }
    }
}

/// An audit event. Never holds a token or a password.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub user_id: Option<Uuid>,
    pub kind: AuditKind,
    pub session_id: Option<Uuid>,
    /// Who did it; by default the user, for the kinds they do themselves
    /// ([`AuditKind::acted_by_user`]).
    pub actor: Option<Actor>,
    /// The OAuth client the event concerns ("user X consented to client Y").
    pub client_id: Option<String>,
    pub meta: RequestMeta,
    pub detail: Option<String>,
    pub at: DateTime<Utc>,
}

impl AuditEvent {
    pub fn new(
        kind: AuditKind,
        user: Option<Uuid>,
        session: Option<Uuid>,
        meta: &RequestMeta,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            user_id: user,
            kind,
            session_id: session,
            actor: user.filter(|_| kind.acted_by_user()).map(Actor::User),
            client_id: None,
            meta: meta.clone(),
            detail: None,
            at,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Names who did it, instead of the default.
    pub fn with_actor(mut self, actor: Actor) -> Self {
        self.actor = Some(actor);
        self
    }

    /// Names the OAuth client the event concerns.
    pub fn with_client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }
}

/// Records `event` on `db`, normally the transaction of the change it
/// describes, and queues it for the webhook endpoints subscribed to its type
/// when it is one (`events::queue::on_audit`): an event is delivered if and
/// only if its change committed.
pub async fn record(db: &mut impl AsDb, event: &AuditEvent) -> Result<(), StoreError> {
    store::audit::insert(db, event).await?;
    crate::events::queue::on_audit(db, event).await
}

/// The user's own newest `limit` events, newest first.
pub async fn list(
    store: &store::Store,
    user: Uuid,
    limit: i64,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut conn = store.conn().await?;
    store::audit::list_of_user(&mut conn, user, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_callers_address_is_read_back_from_the_request_meta() {
        let meta = RequestMeta {
            ip: Some("2001:db8::1".into()),
            user_agent: None,
        };
        assert_eq!(meta.ip_addr(), "2001:db8::1".parse().ok());
        assert_eq!(RequestMeta::default().ip_addr(), None);
    }

    #[test]
    fn the_actor_is_the_user_only_where_the_user_acted() {
        let user = Uuid::new_v4();
        let meta = RequestMeta::default();
        let at = Utc::now();
        let done = AuditEvent::new(AuditKind::PasswordChanged, Some(user), None, &meta, at);
        assert_eq!(done.actor, Some(Actor::User(user)));
        assert_eq!(
            done.actor.map(|a| a.to_text()),
            Some(format!("user:{user}"))
        );
        let tried = AuditEvent::new(AuditKind::LoginFailed, Some(user), None, &meta, at);
        assert_eq!(tried.actor, None);
        let anonymous = AuditEvent::new(AuditKind::LoginSucceeded, None, None, &meta, at);
        assert_eq!(anonymous.actor, None);
        assert_eq!(done.client_id, None);
    }
}

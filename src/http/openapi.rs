//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the request and response types.

use utoipa::OpenApi;
use utoipa::openapi::schema::{ArrayItems, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::Server;
use utoipa::openapi::{Components, RefOr};

use super::{admin, auth, discovery, oauth, operations, revocations};
use crate::config::{PasswordSettings, Settings};

/// Every documented operation. A handler in the route table must be listed
/// here too (see the module comment of `http`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "authd",
        description = "Password login, short-lived JWT access tokens and rotating refresh tokens. \
            Errors are `{\"error\": \"<code>\", \"error_description\": \"...\"}` with a stable code."
    ),
    paths(
        auth::register::register,
        auth::login::login,
        auth::refresh::refresh,
        auth::logout::logout,
        auth::me::me,
        auth::password::change_password,
        auth::email_verify::verify_email,
        auth::email_verify_resend::resend_verification,
        auth::email_change::change_email,
        auth::email_change_confirm::confirm_email_change,
        auth::otp_start::otp_start,
        auth::otp_verify::otp_verify,
        auth::password_forgot::forgot_password,
        auth::password_reset::reset_password,
        auth::mfa_verify::mfa_verify,
        auth::mfa::status,
        auth::mfa::start_totp,
        auth::mfa::remove_totp,
        auth::mfa::confirm_totp,
        auth::mfa::regenerate_recovery_codes,
        auth::mfa_enroll::start,
        auth::mfa_enroll::confirm,
        auth::mfa_passkey::mfa_passkey,
        auth::passkeys::register_start,
        auth::passkeys::register_finish,
        auth::passkeys::list,
        auth::passkeys::rename,
        auth::passkeys::remove,
        auth::passkey_sign_in::start,
        auth::passkey_sign_in::finish,
        auth::audit::list_audit,
        auth::sessions::list_sessions,
        auth::sessions::revoke_session,
        auth::grants::list_grants,
        auth::grants::revoke_grant,
        revocations::revocations,
        admin::users::list_users,
        admin::user::get_user,
        admin::user_sessions::list_user_sessions,
        admin::user_audit::list_user_audit,
        admin::user_sessions_revoke::revoke_user_sessions,
        admin::user_status::disable_user,
        admin::user_status::enable_user,
        admin::clients::list_clients,
        admin::clients::create_client,
        admin::client::get_client,
        admin::client::update_client,
        admin::client::delete_client,
        admin::client_secret::rotate_client_secret,
        admin::user_create::create_user,
        admin::user_update::update_user,
        admin::user_delete::delete_user,
        admin::user_roles::set_user_roles,
        admin::user_app_metadata::set_user_app_metadata,
        admin::user_lockout::clear_user_lockout,
        admin::user_password_reset::send_user_password_reset,
        admin::user_factors::remove_user_factors,
        admin::webhooks::list_webhooks,
        admin::webhooks::create_webhook,
        admin::webhook::delete_webhook,
        admin::webhook_disable::disable_webhook,
        admin::webhook_enable::enable_webhook,
        admin::webhook_secret_rotate::rotate_webhook_secret,
        oauth::authorize::get,
        oauth::authorize::post,
        oauth::token::token,
        oauth::par::par,
        oauth::revoke::revoke,
        oauth::introspect::introspect,
        oauth::userinfo::get,
        oauth::userinfo::post,
        discovery::jwks,
        discovery::openid_configuration,
        discovery::oauth_authorization_server,
        discovery::openapi_json,
        operations::healthz,
        operations::metrics,
        operations::readyz,
    ),
    tags(
        (name = "auth", description = "Accounts, login, refresh tokens and sessions"),
        (name = "passkeys", description = "Passkeys (WebAuthn): registration, a second factor, passwordless sign-in"),
        (name = "oauth", description = "OAuth 2.0 endpoints and the revocation feed, for OAuth clients and registered machine clients"),
        (name = "admin", description = "The admin API: users, clients and webhook endpoints, for registered clients holding authd:admin:* permissions (HTTP Basic) and users holding an admin role"),
        (name = "discovery", description = "Keys and metadata for verifiers and clients"),
        (name = "operations", description = "Health checks and metrics"),
    )
)]
struct ApiDoc;

/// The document for this deployment: `info.version` is the crate version,
/// the one server is the configured issuer, and the refresh cookie has its
/// configured name (with its `__Host-` prefix) and path.
pub fn document(settings: &Settings) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    // utoipa copies Cargo's (empty) license field; an empty name says nothing.
    doc.info.license = None;
    doc.servers = Some(vec![Server::new(settings.issuer())]);
    let components = doc.components.get_or_insert_with(Default::default);
    let mut bearer = HttpBuilder::new()
        .scheme(HttpAuthScheme::Bearer)
        .bearer_format("JWT")
        .build();
    bearer.description = Some("An access token from login or refresh (RFC 9068)".to_owned());
    components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
    let mut client_basic = HttpBuilder::new().scheme(HttpAuthScheme::Basic).build();
    client_basic.description = Some(
        "HTTP Basic with a registered client's id and secret (`authd clients create`), each \
         form-encoded first (RFC 6749 section 2.3.1). On `/oauth/*` a client may send `client_id` \
         and `client_secret` as form fields instead; both ways at once is a 400."
            .to_owned(),
    );
    components.add_security_scheme("client_basic", SecurityScheme::Http(client_basic));
    components.add_security_scheme(
        "refresh_cookie",
        SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
            settings.refresh.cookie().name,
            format!(
                "The refresh token: HttpOnly, Secure, SameSite=Strict, host-only, Path={}; \
                 sent by browsers. Its name is `refresh.cookie_name`, prefixed with `__Host-` \
                 unless `refresh.cookie_path` is `/auth`",
                settings.refresh.cookie().path
            ),
        ))),
    );
    bound_passwords(components, &settings.password);
    pattern_roles(components);
    doc
}

/// Writes the rule of a role's name (`domain::Role`) into the role lists of
/// the request schemas, so that a name the document allows is never refused.
fn pattern_roles(components: &mut Components) {
    for schema in ["AdminNewUser", "AdminUserRoles"] {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
            continue;
        };
        let Some(RefOr::T(Schema::Array(list))) = object.properties.get_mut("roles") else {
            continue;
        };
        if let ArrayItems::RefOrSchema(item) = &mut list.items
            && let RefOr::T(Schema::Object(name)) = item.as_mut()
        {
            name.pattern = Some(ROLE_PATTERN.into());
            name.min_length = Some(1);
            name.max_length = Some(crate::domain::Role::MAX_LEN);
        }
    }
}

/// `domain::Role::parse` as a regular expression.
const ROLE_PATTERN: &str = "^[a-z0-9_:.-]+$";

/// Writes the configured password bounds into the request schemas, so that a
/// request valid by the document is never refused for its length, and one
/// outside them always is: both count characters, as `domain::Password` does.
fn bound_passwords(components: &mut Components, p: &PasswordSettings) {
    let upper = format!("At most {} characters.", p.max_length);
    let new = format!(
        "{} to {} characters, and hard to guess (`weak_password` otherwise).",
        p.min_length, p.max_length
    );
    for (schema, field, min, description) in [
        ("Credentials", "password", None, &upper),
        ("NewAccount", "password", Some(p.min_length), &new),
        ("AdminNewUser", "password", Some(p.min_length), &new),
        ("PasswordChange", "current_password", None, &upper),
        ("PasswordChange", "new_password", Some(p.min_length), &new),
        ("EmailChange", "current_password", None, &upper),
        (
            "PasswordResetByLink",
            "new_password",
            Some(p.min_length),
            &new,
        ),
        (
            "PasswordResetByCode",
            "new_password",
            Some(p.min_length),
            &new,
        ),
    ] {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
            continue;
        };
        let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(field) else {
            continue;
        };
        property.min_length = min;
        property.max_length = Some(p.max_length);
        property.description = Some(description.clone());
    }
}

/// [`document`] as JSON, built once at start-up and served as is.
pub fn document_json(settings: &Settings) -> Result<String, serde_json::Error> {
    document(settings).to_json()
}

//! `POST /admin/users`: an account created by an admin.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller;
use crate::admin::create::{self, NewAccount};
use crate::clients::Permission;
use crate::domain::{Email, Password};
use crate::http::ApiError;
use crate::http::error::ErrorBody;
use crate::http::extractors::{Caller, Json};
use crate::http::state::AppState;
use crate::store::users::User;

/// A new account, as an admin gives it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminNewUser {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    /// Whether the address counts as proven already (default false).
    #[serde(default)]
    email_verified: bool,
    /// A password, checked as at registration. Without one, nobody can sign
    /// in until a password is chosen with a reset link (`send_invitation`).
    #[schema(value_type = Option<String>, format = Password)]
    password: Option<SecretString>,
    /// Without a password: email the address an invitation, a link to choose
    /// one that works 72 hours and once (default false).
    #[serde(default)]
    send_invitation: bool,
    /// Roles to give. A role that `admin.roles` maps to an admin permission
    /// needs a caller holding that permission.
    #[serde(default)]
    roles: Vec<String>,
    /// A JSON object of at most 4 KiB, copied into tokens under
    /// `tokens.app_metadata_claim`.
    #[schema(value_type = Option<Object>)]
    app_metadata: Option<serde_json::Value>,
}

/// Creates an account.
///
/// With a password (checked as at registration), or without one: then
/// `send_invitation` emails a link to choose it (a password-reset link that
/// works 72 hours, once; using it proves the address), counted against the
/// address's reset-link budget (`email.per_recipient_limit`,
/// `email.per_recipient_total_limit`): past it the account is created and
/// no invitation is sent, which the audit event's detail says. Audited as
/// `user_created` with the caller as the actor. Needs
/// `authd:admin:users:write`, and for a role that `admin.roles` maps to an
/// admin permission, that permission too.
#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    request_body = AdminNewUser,
    responses(
        (status = 201, description = "The new user", body = User,
            headers(("Location" = String, description = "`/admin/users/{id}`"))),
        (status = 400, description = "`invalid_request`: a malformed body, email, role name or app_metadata, a password too short or too long, or an invitation asked for with a password; `weak_password`", body = ErrorBody),
        (status = 401, description = "`invalid_client`: no or wrong client credentials (HTTP Basic); `invalid_token`: a Bearer token that is not a live session's; `insufficient_user_authentication`: a user holding an admin role whose session was not signed in with a second factor within `mfa.step_up_max_age_secs`", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"authd\"`, or `Bearer` for a Bearer token"))),
        (status = 403, description = "`insufficient_scope`: the caller lacks `authd:admin:users:write`, or a permission a role given maps to", body = ErrorBody),
        (status = 409, description = "`email_taken`: an account has the address", body = ErrorBody),
        (status = 413, description = "`payload_too_large`: the body is over `server.max_body_bytes`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: over `limits.admin_per_client`", body = ErrorBody,
            headers(("Retry-After" = String, description = "Seconds to wait"))),
        (status = "5XX", description = "`temporarily_unavailable` (503, with `Retry-After`) or `server_error` (500)", body = ErrorBody),
    ),
    security(("client_basic" = []), ("bearer" = []))
)]
#[tracing::instrument(skip_all)]
pub async fn create_user(
    state: web::Data<AppState>,
    req: HttpRequest,
    from: Caller,
    Json(input): Json<AdminNewUser>,
) -> Result<HttpResponse, ApiError> {
    let admin = caller(&state, &req, Permission::AdminUsersWrite).await?;
    let svc = &state.services;
    let email = Email::parse(&input.email)?;
    let p = &svc.settings.password;
    let password = match input.password {
        Some(given) => Some(Password::parse_new(given, p.min_length, p.max_length)?),
        None => None,
    };
    let new = NewAccount {
        email,
        email_verified: input.email_verified,
        password,
        send_invitation: input.send_invitation,
        roles: input.roles,
        app_metadata: input.app_metadata.map(|v| v.to_string()),
    };
    let user = create::create(svc, &admin, &new, &from.meta).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/admin/users/{}", user.id)))
        .json(user))
}

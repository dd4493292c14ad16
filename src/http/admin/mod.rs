//! The admin API (`/admin/...`): one endpoint a file, each authorizing its
//! caller for the permission it needs ([`caller`]), calling one `admin`
//! service, and shaping the answer. Who may call, and every rule, is the
//! `admin` service's.

pub mod client;
pub mod client_secret;
pub mod clients;
pub mod user;
pub mod user_app_metadata;
pub mod user_audit;
pub mod user_create;
pub mod user_delete;
pub mod user_factors;
pub mod user_lockout;
pub mod user_password_reset;
pub mod user_roles;
pub mod user_sessions;
pub mod user_sessions_revoke;
pub mod user_status;
pub mod user_update;
pub mod users;
pub mod webhook;
pub mod webhook_disable;
pub mod webhook_enable;
pub mod webhook_secret_rotate;
pub mod webhooks;

pub use client::{delete_client, get_client, update_client};
pub use client_secret::rotate_client_secret;
pub use clients::{create_client, list_clients};
pub use user::get_user;
pub use user_app_metadata::set_user_app_metadata;
pub use user_audit::list_user_audit;
pub use user_create::create_user;
pub use user_delete::delete_user;
pub use user_factors::remove_user_factors;
pub use user_lockout::clear_user_lockout;
pub use user_password_reset::send_user_password_reset;
pub use user_roles::set_user_roles;
pub use user_sessions::list_user_sessions;
pub use user_sessions_revoke::revoke_user_sessions;
pub use user_status::{disable_user, enable_user};
pub use user_update::update_user;
pub use users::list_users;
pub use webhook::delete_webhook;
pub use webhook_disable::disable_webhook;
pub use webhook_enable::enable_webhook;
pub use webhook_secret_rotate::rotate_webhook_secret;
pub use webhooks::{create_webhook, list_webhooks};

use actix_web::HttpRequest;
use actix_web::http::header;

use super::ApiError;
use super::client_auth::{ClientCredentials, basic_credentials};
use super::extractors::AuthenticatedUser;
use super::state::AppState;
use crate::admin::{self, Admin};
use crate::clients::Permission;

/// The caller of an admin endpoint, authorized for `needed`: a registered
/// client by HTTP Basic (its id and secret, as at introspection and the
/// revocation feed), or a user by a Bearer token of a live session (refused
/// until users can hold admin roles). No credentials: 401 `invalid_client`.
pub async fn caller(
    state: &AppState,
    req: &HttpRequest,
    needed: Permission,
) -> Result<Admin, ApiError> {
    let svc = &state.services;
    let is_bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"));
    if is_bearer {
        let user = AuthenticatedUser::of(state, req).await?;
        return Ok(admin::authorize_user(svc, user.sub, user.sid, needed).await?);
    }
    let credentials = match basic_credentials(req)? {
        Some((id, secret)) => ClientCredentials::Secret {
            id,
            secret,
            basic: true,
        },
        None => ClientCredentials::None,
    };
    Ok(admin::authorize_client(svc, credentials, needed).await?)
}

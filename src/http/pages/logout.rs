//! RP-initiated logout's pages: `GET|POST /oauth/logout` (the end-session
//! endpoint an app sends the browser to), `POST /logout/confirm` (the
//! confirmation page's form) and `GET /logout/done` (authd's "signed out"
//! page). The rules (hint, client, redirect, what ends) are
//! `oauth::end_session`'s; here the parameters are read, the browser
//! session's cookie is passed in and cleared once it ends, and the answer is
//! a redirect to the app's registered URI, a page, or the error page.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};

use super::form::PageForm;
use super::{Page, PageError, secure};
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::end_session::{self, Checked, LogoutError, LogoutRequest, Next};
use crate::sessions::browser::COOKIE;

/// Where the browser goes when no app asked to be returned to.
const DONE: &str = "/logout/done";

/// `GET /oauth/logout`: the parameters in the query.
pub async fn get(state: web::Data<AppState>, req: HttpRequest, caller: Caller) -> HttpResponse {
    let fields = match query_fields(&req) {
        Ok(fields) => fields,
        Err(e) => return e.render(&state),
    };
    start(
        &state,
        &req,
        &caller,
        logout_request(|k| fields.get(k).cloned()),
    )
    .await
}

/// `POST /oauth/logout`: the parameters in a form body.
pub async fn post(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    form: Result<PageForm, PageError>,
) -> HttpResponse {
    let form = match form {
        Ok(form) => form,
        Err(e) => return e.render(&state),
    };
    start(
        &state,
        &req,
        &caller,
        logout_request(|k| form.get(k).map(str::to_owned)),
    )
    .await
}

/// `POST /logout/confirm`: the user confirmed; the CSRF token is checked
/// against the browser session before it ends.
pub async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    form: Result<PageForm, PageError>,
) -> HttpResponse {
    let form = match form {
        Ok(form) => form,
        Err(e) => return e.render(&state),
    };
    let request = logout_request(|k| form.get(k).map(str::to_owned));
    let cookie = req.cookie(COOKIE);
    match end_session::confirm(
        &state.services,
        request,
        cookie.as_ref().map(Cookie::value),
        form.get("csrf"),
        &caller.meta,
    )
    .await
    {
        Ok(checked) => signed_out(&state, &checked),
        Err(e) => refused(e).render(&state),
    }
}

/// `GET /logout/done`: authd's "signed out" page.
pub async fn done(state: web::Data<AppState>) -> HttpResponse {
    Page::new(
        "done.html",
        minijinja::context! {
            heading => "Signed out",
            message => "You are signed out.",
        },
    )
    .render(&state)
}

async fn start(
    state: &AppState,
    req: &HttpRequest,
    caller: &Caller,
    request: LogoutRequest,
) -> HttpResponse {
    let cookie = req.cookie(COOKIE);
    let next = end_session::request(
        &state.services,
        request,
        cookie.as_ref().map(Cookie::value),
        &caller.meta,
    )
    .await;
    match next {
        Ok(Next::SignedOut(checked)) => signed_out(state, &checked),
        Ok(Next::Confirm { checked, csrf }) => {
            let vars = minijinja::context! {
                csrf => csrf,
                client_id => checked.client_id.as_deref().unwrap_or_default(),
                client_name => checked.client_name.as_deref().unwrap_or_default(),
                post_logout_redirect_uri =>
                    checked.post_logout_redirect_uri.as_deref().unwrap_or_default(),
                state => checked.state.as_deref().unwrap_or_default(),
            };
            let mut page = Page::new("logout_confirm.html", vars);
            if let Some(origin) = checked.redirect().as_deref().and_then(origin_of) {
                page = page.allow_form_action(origin);
            }
            page.respond(state, HttpResponse::build(StatusCode::OK))
        }
        Err(e) => refused(e).render(state),
    }
}

/// 303 to the app's registered URI (with `state`) or to the "signed out"
/// page, clearing the browser session's cookie.
fn signed_out(state: &AppState, checked: &Checked) -> HttpResponse {
    let location = checked.redirect().unwrap_or_else(|| DONE.to_owned());
    let form_action: Vec<String> = origin_of(&location).into_iter().collect();
    let mut builder = HttpResponseBuilder::new(StatusCode::SEE_OTHER);
    let mut removal = Cookie::build(COOKIE, "")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .finish();
    removal.make_removal();
    secure(&mut builder, state, &form_action)
        .cookie(removal)
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// A refusal as a page: the parameters' refusals are `invalid_request`.
fn refused(e: LogoutError) -> PageError {
    match e {
        LogoutError::Csrf(c) => PageError::Csrf(c),
        LogoutError::Service(s) => s.into(),
        other => PageError::InvalidForm(other.to_string()),
    }
}

fn logout_request(field: impl Fn(&str) -> Option<String>) -> LogoutRequest {
    LogoutRequest {
        id_token_hint: field("id_token_hint"),
        client_id: field("client_id"),
        post_logout_redirect_uri: field("post_logout_redirect_uri"),
        state: field("state"),
    }
}

/// The query's parameters, each at most once.
fn query_fields(req: &HttpRequest) -> Result<HashMap<String, String>, PageError> {
    let mut fields = HashMap::new();
    for (name, value) in form_urlencoded::parse(req.query_string().as_bytes()) {
        if fields
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(PageError::InvalidForm(format!(
                "the parameter {name} is given twice"
            )));
        }
    }
    Ok(fields)
}

/// `scheme://host[:port]` of an absolute http(s) URI; `None` for a path.
fn origin_of(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if scheme != "https" && scheme != "http" {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(format!("{scheme}://{}", &rest[..end]))
}

#[cfg(test)]
mod tests {
    use super::origin_of;

    #[test]
    fn the_origin_of_a_redirect() {
        assert_eq!(
            origin_of("https://app.example:8443/bye?x=1").as_deref(),
            Some("https://app.example:8443")
        );
        assert_eq!(origin_of("/logout/done"), None);
        assert_eq!(origin_of("myapp://bye"), None);
    }
}

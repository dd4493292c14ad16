//! The hosted consent page of an authorization (`/consent?request=<id>`):
//! the client's name and the scopes it asks for in words, and two buttons
//! (`decision` = `allow` | `deny`). Its POST records the consent and sends
//! the browser to the client with a code, or with `access_denied`. The page
//! and its answer are for the browser session that signed in for the request
//! only (`oauth::flow`); the form's CSRF token is bound to the request id.

use actix_web::{HttpRequest, HttpResponse, web};

use super::form::PageForm;
use super::login::{query_param, request_id};
use super::{Page, PageError, flow_answer, session_cookie};
use crate::http::state::AppState;
use crate::oauth::flow::{self, Next, Refusal};

/// The form name its CSRF token is bound to (with the request id).
const FORM: &str = "consent";

fn refused(e: Refusal) -> PageError {
    match e {
        Refusal::Service(e) => e.into(),
        other => PageError::Authorization(other.to_string()),
    }
}

/// `GET /consent?request=<id>`.
pub async fn form(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let cookie = session_cookie(&req);
    let shown = async {
        let id = request_id(query_param(&req, "request").as_deref())?;
        flow::consent_view(&state.services, id, cookie.as_deref())
            .await
            .map_err(refused)
    }
    .await;
    let view = match shown {
        Ok(view) => view,
        Err(e) => return e.render(&state),
    };
    let request = view.request.to_string();
    let vars = minijinja::context! {
        request => &request,
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &request),
        client_name => &view.client_name,
        scopes => &view.scopes,
    };
    let mut page = Page::new("consent.html", vars);
    // The POST is answered with a 303 to the client.
    if let Some(origin) = view.redirect_origin {
        page = page.allow_form_action(origin);
    }
    page.render(&state)
}

/// `POST /consent`: `request`, `csrf`, `decision`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    let checked = async {
        let fields = fields?;
        let id = request_id(fields.get("request"))?;
        crate::csrf::check(
            &svc.refresh,
            FORM,
            Some(&id.to_string()),
            fields.get("csrf"),
        )?;
        let allow = match fields.get("decision") {
            Some("allow") => true,
            Some("deny") => false,
            _ => {
                return Err(PageError::InvalidForm(
                    "decision must be allow or deny".into(),
                ));
            }
        };
        Ok::<_, PageError>((id, allow))
    }
    .await;
    let (id, allow) = match checked {
        Ok(c) => c,
        Err(e) => return e.render(&state),
    };
    let cookie = session_cookie(&req);
    let outcome = flow::answer_consent(svc, id, cookie.as_deref(), allow)
        .await
        .map(Next::Client);
    flow_answer(&state, outcome)
}

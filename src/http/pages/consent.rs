//! The hosted consent page of an authorization (`/consent?request=<id>`):
//! the client's name and the scopes it asks for in words, and two buttons
//! (`decision` = `allow` | `deny`). Its POST records the consent (audited as
//! `consent_granted`, `oauth::flow::answer_consent`) and sends the browser to
//! the client with a code, or with `access_denied`. The page
//! and its answer are for the browser session that signed in for the request
//! only (`oauth::flow`); the form's CSRF token is bound to the request id.

use actix_web::{HttpRequest, HttpResponse, web};

use super::form::PageForm;
use super::request::{query_param, refused, request_id};
use super::{Page, PageError, flow_answer, session_cookie};
use crate::http::ApiError;
use crate::http::extractors::Caller;
use crate::http::state::AppState;
use crate::oauth::flow::{self, Next};

/// The form name its CSRF token is bound to (with the request id).
const FORM: &str = "consent";

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
    let origin = view.client_origin.clone();
    let vars = minijinja::context! {
        request => &request,
        csrf_token => crate::csrf::issue(&state.services.refresh, FORM, &request),
        client_name => &view.client_name,
        scopes => &view.scopes,
    };
    Page::new("consent.html", vars)
        .lead_to_client(origin.as_deref())
        .render(&state)
}

/// `POST /consent`: `request`, `csrf`, `decision`.
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Result<Caller, ApiError>,
    fields: Result<PageForm, PageError>,
) -> HttpResponse {
    let svc = &state.services;
    let checked = async {
        let caller = caller?;
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
        Ok::<_, PageError>((caller, id, allow))
    }
    .await;
    let (caller, id, allow) = match checked {
        Ok(c) => c,
        Err(e) => return e.render(&state),
    };
    let cookie = session_cookie(&req);
    let outcome = flow::answer_consent(svc, id, cookie.as_deref(), allow, &caller.meta)
        .await
        .map(Next::Client);
    flow_answer(&state, outcome)
}

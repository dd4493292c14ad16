//! What a page's form POST brings: its fields (`application/x-www-form-
//! urlencoded`, at most 16 KiB, each field once), and the browser's CSRF
//! binding, the `__Host-` cookie a standalone page sets when it shows a form
//! (`binding_cookie`). The check itself is `crate::csrf`'s.

use std::collections::HashMap;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use super::PageError;

/// The name of the binding cookie of standalone pages.
pub const BINDING_COOKIE: &str = "__Host-authd-page";

/// The largest form read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// A form's fields, by name.
pub struct PageForm(HashMap<String, String>);

impl PageForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Takes a field out, so a secret does not stay in the map.
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name)
    }
}

impl FromRequest for PageForm {
    type Error = PageError;
    type Future = LocalBoxFuture<'static, Result<Self, PageError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let urlencoded = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|_| PageError::InvalidForm("the form could not be read".into()))?;
            if !urlencoded {
                return Err(PageError::InvalidForm(
                    "a form is sent as application/x-www-form-urlencoded".into(),
                ));
            }
            let body = crate::http::body::read_body(&req, payload, MAX_FORM_BYTES)
                .await
                .map_err(PageError::Api)?;
            let mut fields = HashMap::new();
            for (name, value) in form_urlencoded::parse(&body) {
                if fields
                    .insert(name.clone().into_owned(), value.into_owned())
                    .is_some()
                {
                    return Err(PageError::InvalidForm(format!(
                        "the field {name} is given twice"
                    )));
                }
            }
            Ok(Self(fields))
        })
    }
}

/// The binding the browser holds, if any.
pub fn binding(req: &HttpRequest) -> Option<String> {
    req.cookie(BINDING_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

/// The browser's binding, or a new one with the cookie that gives it:
/// `Secure; HttpOnly; SameSite=Lax; Path=/`, for the browser's session.
pub fn binding_or_new(req: &HttpRequest) -> Result<(String, Option<Cookie<'static>>), PageError> {
    if let Some(existing) = binding(req) {
        return Ok((existing, None));
    }
    let value = crate::csrf::new_binding().ok_or(PageError::Internal)?;
    let cookie = Cookie::build(BINDING_COOKIE, value.clone())
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .finish();
    Ok((value, Some(cookie)))
}

//! How a page refuses: an HTML error page with a status and a stable error
//! code (the API's codes where a service refused, plus the pages' own), with
//! the pages' security headers. Never JSON, and never a 500 for bad input.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;

use super::Page;
use crate::csrf::CsrfRefused;
use crate::http::ApiError;
use crate::http::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// 403 `invalid_csrf_token`: the form's CSRF token is missing, or was not
    /// made for this form and this browser.
    #[error("{0}")]
    Csrf(#[from] CsrfRefused),
    /// 400 `invalid_link`: the page was opened without the parts of an
    /// emailed link (an unknown `action`, no `token`).
    #[error("this link is incomplete or unknown; open the whole link from the email")]
    InvalidLink,
    /// 400 `invalid_request`: a form that is not a form (not
    /// `application/x-www-form-urlencoded`, too large, a field twice).
    #[error("{0}")]
    InvalidForm(String),
    /// 400 `invalid_request`: an authorization request that cannot be
    /// answered by a redirect to the client (an unknown client, a redirect
    /// URI it did not register, a request expired or answered already).
    #[error("{0}")]
    Authorization(String),
    /// 404 `not_found`.
    #[error("there is no such page")]
    NotFound,
    /// 405 `method_not_allowed`.
    #[error("this page does not take that method")]
    MethodNotAllowed,
    /// A service's refusal: its status and code, as the API answers them.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// 500 `server_error`: a page that failed to render (logged).
    #[error("something went wrong on our side")]
    Internal,
}

impl PageError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Csrf(_) => StatusCode::FORBIDDEN,
            Self::InvalidLink | Self::InvalidForm(_) | Self::Authorization(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Api(e) => actix_web::ResponseError::status_code(e),
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code the page shows.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Csrf(_) => "invalid_csrf_token",
            Self::InvalidLink => "invalid_link",
            Self::InvalidForm(_) | Self::Authorization(_) => "invalid_request",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Api(e) => e.code(),
            Self::Internal => "server_error",
        }
    }

    /// What the page says; a CSRF refusal does not say which check failed.
    fn message(&self) -> String {
        match self {
            Self::Csrf(_) => {
                "This form has expired or was not opened here. Open the page again and resend it."
                    .into()
            }
            Self::Api(ApiError::Internal(_)) | Self::Internal => {
                "Something went wrong on our side. Try again later.".into()
            }
            other => {
                let mut text = other.to_string();
                if let Some(first) = text.get(..1) {
                    text.replace_range(..1, &first.to_uppercase());
                }
                text
            }
        }
    }

    fn heading(&self) -> &'static str {
        match self {
            Self::Csrf(_) => "This form cannot be sent",
            Self::InvalidLink => "This link cannot be used",
            Self::Authorization(_) => "This sign-in cannot go on",
            Self::Api(ApiError::InvalidAccountToken) => "This link cannot be used",
            Self::Api(ApiError::TooManyRequests { .. }) => "Too many attempts",
            Self::NotFound => "Page not found",
            Self::Internal | Self::Api(ApiError::Internal(_) | ApiError::Unavailable { .. }) => {
                "Something went wrong"
            }
            _ => "This request cannot be completed",
        }
    }

    /// The error page (with `Retry-After` where the API sends one).
    pub fn render(&self, state: &AppState) -> HttpResponse {
        if let Self::Api(ApiError::Internal(e)) = self {
            tracing::error!(error = ?e, "a page failed");
        }
        let mut builder = HttpResponse::build(self.status());
        if let Self::Api(ApiError::TooManyRequests {
            retry_after_secs: secs,
        }) = self
        {
            builder.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Self::Api(ApiError::Unavailable { retry_after_secs }) = self {
            builder.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
        }
        let vars = minijinja::context! {
            heading => self.heading(),
            message => self.message(),
            code => self.code(),
            back => "",
        };
        let page = Page::new("error.html", vars).status(self.status());
        match state.pages.render(page.name, page.vars.clone()) {
            Ok(html) => super::secure(&mut builder, state, &[])
                .content_type("text/html; charset=utf-8")
                .body(html),
            // An operator's error page that fails (checked at start-up, so
            // only with values that differ from the samples): plain text.
            Err(e) => {
                tracing::error!(error = %e, "the error page failed to render");
                super::secure(&mut builder, state, &[])
                    .content_type("text/plain; charset=utf-8")
                    .body(format!("{} ({})", self.message(), self.code()))
            }
        }
    }
}

impl From<crate::error::ServiceError> for PageError {
    fn from(e: crate::error::ServiceError) -> Self {
        Self::Api(e.into())
    }
}

impl From<crate::domain::InputError> for PageError {
    fn from(e: crate::domain::InputError) -> Self {
        Self::Api(e.into())
    }
}

/// For actix's extractor bounds only: page handlers take their extractors as
/// `Result`s and render the error page themselves ([`PageError::render`]).
impl actix_web::ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }
}

//! What the tests of the security page share: a browser (its cookies) that
//! signs in on the page's own sign-in and enrols TOTP from the page, and
//! readers of the page's HTML.

use totp_rs::TOTP;

use crate::helpers::{PASSWORD, Reply, TestApp};
use crate::mfa::totp_of;

pub(super) const BINDING: &str = "__Host-authd-page";
pub(super) const SESSION: &str = "__Host-authd_session";
pub(super) const HOME: &str = "/account/security";
pub(super) const SIGN_IN: &str = "/account/security/sign-in";

/// A browser: the cookies it keeps (the CSRF binding, the browser session).
pub(super) struct Browser<'a> {
    pub(super) app: &'a TestApp,
    pub(super) binding: Option<String>,
    pub(super) session: Option<String>,
}

impl<'a> Browser<'a> {
    pub(super) fn new(app: &'a TestApp) -> Self {
        Self {
            app,
            binding: None,
            session: None,
        }
    }

    pub(super) fn cookies(&self) -> String {
        let mut parts = Vec::new();
        if let Some(b) = &self.binding {
            parts.push(format!("{BINDING}={b}"));
        }
        if let Some(s) = &self.session {
            parts.push(format!("{SESSION}={s}"));
        }
        parts.join("; ")
    }

    pub(super) fn keep(&mut self, reply: &Reply) {
        for set in reply.set_cookies() {
            let value = set.split(';').next().unwrap_or_default();
            if let Some(v) = value.strip_prefix(&format!("{BINDING}=")) {
                self.binding = Some(v.to_owned());
            }
            if let Some(v) = value.strip_prefix(&format!("{SESSION}=")) {
                self.session = (!v.is_empty()).then(|| v.to_owned());
            }
        }
    }

    pub(super) async fn get(&mut self, path: &str) -> Reply {
        let request = self
            .app
            .client
            .get(self.app.url(path))
            .header("cookie", self.cookies());
        let reply = self.app.send(request).await;
        self.keep(&reply);
        reply
    }

    pub(super) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .app
            .client
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", self.cookies())
            .body(body);
        let reply = self.app.send(request).await;
        self.keep(&reply);
        reply
    }

    /// The password form posted: a 303 to the page, or the code form.
    pub(super) async fn password(&mut self, email: &str) -> Reply {
        let form = self.get(SIGN_IN).await;
        assert_eq!(form.status, 200, "{}", form.text);
        let csrf = csrf_of(&form.text, SIGN_IN);
        self.post(
            SIGN_IN,
            &[("csrf", &csrf), ("email", email), ("password", PASSWORD)],
        )
        .await
    }

    /// Signs in with the password alone (a user without a factor).
    pub(super) async fn sign_in(&mut self, email: &str) {
        let reply = self.password(email).await;
        assert_signed_in(&reply);
        assert!(self.session.is_some());
    }

    /// The code form's POST after the password.
    pub(super) async fn second_step(&mut self, code_form: &Reply, code: &str) -> Reply {
        assert!([200, 401].contains(&code_form.status), "{}", code_form.text);
        let path = "/account/security/sign-in/mfa";
        let csrf = csrf_of(&code_form.text, path);
        let challenge = hidden(&code_form.text, "challenge");
        self.post(
            path,
            &[("csrf", &csrf), ("challenge", &challenge), ("code", code)],
        )
        .await
    }

    /// Signs in with the password and the TOTP code of now.
    pub(super) async fn sign_in_with_code(&mut self, email: &str, totp: &TOTP) {
        let form = self.password(email).await;
        assert!(
            form.set_cookies().iter().all(|c| !c.starts_with(SESSION)),
            "no session before the code"
        );
        let reply = self.second_step(&form, &code_now(self.app, totp)).await;
        assert_signed_in(&reply);
        self.app.advance(30);
    }

    /// The security page (200).
    pub(super) async fn home(&mut self) -> Reply {
        let page = self.get(HOME).await;
        assert_eq!(page.status, 200, "{}", page.text);
        page
    }

    /// POSTs the security page's form whose action is `path`, its CSRF token
    /// read from `page`, with `fields`.
    pub(super) async fn submit(
        &mut self,
        page: &Reply,
        path: &str,
        fields: &[(&str, &str)],
    ) -> Reply {
        let csrf = csrf_of(&page.text, path);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(path, &all).await
    }

    /// Enrols TOTP from the page: the secret read from the enrolment page,
    /// its first code; the recovery codes page. The clock then moves a step.
    pub(super) async fn enrol(&mut self) -> (TOTP, Vec<String>) {
        let home = self.home().await;
        let started = self.submit(&home, "/account/security/totp", &[]).await;
        assert_eq!(started.status, 200, "{}", started.text);
        let secret = between(&started.text, r#"id="secret">"#, "<");
        assert!(
            started
                .text
                .contains(r#"id="qr" src="data:image&#x2f;svg+xml;base64,"#)
                || started
                    .text
                    .contains(r#"id="qr" src="data:image/svg+xml;base64,"#),
            "{}",
            started.text
        );
        let totp = totp_of(&secret);
        let confirmed = self
            .submit(
                &started,
                "/account/security/totp/confirm",
                &[("code", &code_now(self.app, &totp))],
            )
            .await;
        assert_eq!(confirmed.status, 200, "{}", confirmed.text);
        let codes = recovery_codes(&confirmed.text);
        assert_eq!(codes.len(), 10, "{}", confirmed.text);
        self.app.advance(30);
        (totp, codes)
    }
}

pub(super) fn code_now(app: &TestApp, totp: &TOTP) -> String {
    totp.generate(u64::try_from(app.now().timestamp()).unwrap())
}

pub(super) fn between(html: &str, start: &str, end: &str) -> String {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("{start}: {html}"))
        + start.len();
    html[at..].split(end).next().unwrap().to_owned()
}

/// The `value` of the hidden input `name`.
pub(super) fn hidden(html: &str, name: &str) -> String {
    between(html, &format!("name=\"{name}\" value=\""), "\"")
}

/// The CSRF token of the form posting to `action`.
pub(super) fn csrf_of(html: &str, action: &str) -> String {
    let marker = format!("action=\"{}\"", action.replace('/', "&#x2f;"));
    let plain = format!("action=\"{action}\"");
    let at = html
        .find(&plain)
        .or_else(|| html.find(&marker))
        .unwrap_or_else(|| panic!("no form to {action}: {html}"));
    hidden(&html[at..], "csrf")
}

pub(super) fn recovery_codes(html: &str) -> Vec<String> {
    let list = between(html, r#"id="codes">"#, "</ul>");
    list.split("<code>")
        .skip(1)
        .map(|c| c.split("</code>").next().unwrap().to_owned())
        .collect()
}

pub(super) fn assert_signed_in(reply: &Reply) {
    assert_eq!(reply.status, 303, "{}", reply.text);
    assert_eq!(reply.header("location"), Some(HOME));
    let set = reply
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION}=")))
        .expect("the browser session's cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set.contains(attribute), "{attribute}: {set}");
    }
}

/// The sign-in form in answer to a change (401), saying `why`.
pub(super) fn assert_sign_in_asked(reply: &Reply, why: &str) {
    assert_eq!(reply.status, 401, "{}", reply.text);
    assert!(
        reply.text.contains(r#"action="/account/security/sign-in""#)
            || reply
                .text
                .contains("action=\"&#x2f;account&#x2f;security&#x2f;sign-in\""),
        "{}",
        reply.text
    );
    assert!(reply.text.contains(why), "{}", reply.text);
}

pub(super) fn assert_error_page(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert!(
        reply.text.contains(&format!("<code>{code}</code>")),
        "{}",
        reply.text
    );
}

/// The factor status the API reports for `email`'s user.
pub(super) async fn totp_on(app: &TestApp, email: &str) -> (bool, bool) {
    let status = authd::factors::status(app.services(), app.user_id(email).await)
        .await
        .unwrap();
    (status.totp, status.totp_pending)
}

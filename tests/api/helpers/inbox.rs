//! The mail a test app delivered: with no SMTP configured (the test default)
//! every message is an `.eml` file under the app's `data_dir/mail`, as a
//! newcomer's `cargo run` writes them. A test reads them back, parsed, and
//! follows their links and codes as a user would.

use std::time::{Duration, Instant};

use super::TestApp;
use super::mime::Parsed;

/// One delivered message.
pub struct Delivered {
    pub to: String,
    pub subject: String,
    pub text: String,
    /// No test reads the HTML part of an `.eml` yet (`mail.rs` checks it on
    /// a message the SMTP server received, a `mime::Parsed`); it stays beside
    /// `text` for the test that will.
    #[allow(dead_code)]
    pub html: String,
}

impl Delivered {
    /// The link's `action` query parameter (the message kind).
    pub fn action(&self) -> Option<String> {
        self.query("action")
    }

    /// The token of the message's link (`...&token=<token>`).
    pub fn link_token(&self) -> String {
        self.query("token")
            .expect("the message has a link with a token")
    }

    /// The whole link of the message, the first URL with a `token`.
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains("token="))
            .expect("the message has a link")
            .to_owned()
    }

    /// A code of `digits` digits standing as a word of its own in the text.
    pub fn code(&self, digits: usize) -> String {
        self.text
            .split(|c: char| !c.is_ascii_alphanumeric())
            .find(|w| w.len() == digits && w.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or_else(|| panic!("no {digits}-digit code in:\n{}", self.text))
            .to_owned()
    }

    fn query(&self, name: &str) -> Option<String> {
        let link = self
            .text
            .split_whitespace()
            .find(|w| w.starts_with("http") && w.contains('?'))?;
        let (_, query) = link.split_once('?')?;
        form_urlencoded_pairs(query)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

fn form_urlencoded_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 query")
}

impl TestApp {
    /// Every message this app has written to `data_dir/mail`, oldest first.
    pub fn mailbox(&self) -> Vec<Delivered> {
        let dir = self.services().settings.data_path("mail");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut paths: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        // `<created>-<uuid v7>.eml`: the name orders by time.
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let parsed = Parsed::parse(&std::fs::read_to_string(p).expect("readable .eml"));
                Delivered {
                    to: parsed.header("to").unwrap_or_default(),
                    subject: parsed.header("subject").unwrap_or_default(),
                    text: parsed.text,
                    html: parsed.html,
                }
            })
            .collect()
    }

    /// Waits (up to 20 s) until no work after an answer runs
    /// (`crate::background`) and no message waits in the outbox: whatever the
    /// requests so far would send has been delivered, so a test can also say
    /// what was not sent.
    pub async fn settled(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let running = self.services().background.in_flight();
            let mut conn = self.store().conn().await.expect("a connection");
            let (waiting, _) = authd::store::outbox::pending(&mut conn, self.now())
                .await
                .expect("the outbox's pending count");
            drop(conn);
            if running == 0 && waiting == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "mail never settled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The messages delivered to `to`, oldest first.
    pub fn mail_to(&self, to: &str) -> Vec<Delivered> {
        self.mailbox()
            .into_iter()
            .filter(|m| m.to.contains(to))
            .collect()
    }

    /// Waits (up to 20 s) until `to` has received at least `n` messages, and
    /// returns them all; the sender delivers after the request's commit.
    pub async fn wait_for_mail_to(&self, to: &str, n: usize) -> Vec<Delivered> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.mail_to(to);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{to} received {} message(s), expected {n}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The newest message delivered to `to` whose link action is `action`
    /// (`password_reset`, `verify_email`, ...), waiting up to 20 s for it.
    pub async fn wait_for_action(&self, to: &str, action: &str) -> Delivered {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(m) = self
                .mail_to(to)
                .into_iter()
                .rev()
                .find(|m| m.action().as_deref() == Some(action))
            {
                return m;
            }
            assert!(
                Instant::now() < deadline,
                "no {action} message reached {to}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

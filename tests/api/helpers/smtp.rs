//! A real SMTP server for the mail tests: `tests/smtp/capture.py` (Debian's
//! `python3-aiosmtpd`), STARTTLS required (or implicit TLS, or no TLS at all:
//! [`ServerTls`]) with a certificate from a CA made for the test (`openssl`),
//! AUTH required, each received message and AUTH attempt kept in a
//! directory. Without python3-aiosmtpd or openssl the tests that need it
//! pass without running and say so on stderr, unless `AUTHD_REQUIRE_SMTP=1`
//! (CI), which makes them fail.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use authd::config::{Settings, SmtpTls};

const PYTHON: &str = "/usr/bin/python3";
pub const USER: &str = "authd-test";
pub const PASSWORD: &str = "smtp-password-0123";

/// Whether the server can run here. Without it: a note on stderr and
/// `false`, or a panic when `AUTHD_REQUIRE_SMTP=1`.
pub fn smtp_available() -> bool {
    let python = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let openssl = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if python && openssl {
        return true;
    }
    let missing = match (python, openssl) {
        (false, false) => "python3-aiosmtpd and openssl",
        (false, true) => "python3-aiosmtpd",
        _ => "openssl",
    };
    if std::env::var("AUTHD_REQUIRE_SMTP").is_ok_and(|v| v == "1") {
        panic!("AUTHD_REQUIRE_SMTP=1 but {missing} missing: the SMTP server cannot start");
    }
    static NOTICE: std::sync::Once = std::sync::Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: {missing} missing: the SMTP tests are SKIPPED (they pass without \
             running). Install Debian's python3-aiosmtpd and openssl to run them.\n"
        );
    });
    false
}

/// How the capturing server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerTls {
    /// STARTTLS offered, and required before AUTH and mail (port 587 style).
    Starttls,
    /// TLS from the first byte (port 465 style).
    Implicit,
    /// No TLS: STARTTLS not offered, AUTH and mail taken in plaintext.
    None,
}

impl ServerTls {
    /// capture.py's `--tls` value.
    fn arg(self) -> &'static str {
        match self {
            Self::Starttls => "starttls",
            Self::Implicit => "implicit",
            Self::None => "none",
        }
    }

    /// The client setting that speaks the same.
    pub fn client(self) -> SmtpTls {
        match self {
            Self::Starttls => SmtpTls::Starttls,
            Self::Implicit => SmtpTls::Implicit,
            Self::None => SmtpTls::None,
        }
    }
}

/// The capturing server: its port, its CA, the messages it received.
pub struct SmtpServer {
    pub port: u16,
    pub ca: PathBuf,
    pub out: PathBuf,
    pub tls: ServerTls,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl SmtpServer {
    /// A STARTTLS server with its certificates and a free port, not yet
    /// listening (`run` starts it): SMTP down until then.
    pub fn prepare() -> Self {
        Self::prepare_with(ServerTls::Starttls)
    }

    /// The same, speaking `tls`.
    pub fn prepare_with(tls: ServerTls) -> Self {
        let dir = tempfile::tempdir().unwrap();
        make_certificates(dir.path());
        let out = dir.path().join("received");
        std::fs::create_dir(&out).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self {
            port,
            ca: dir.path().join("ca.pem"),
            out,
            tls,
            dir,
            child: None,
        }
    }

    /// A STARTTLS server already listening.
    pub fn start() -> Self {
        Self::start_with(ServerTls::Starttls)
    }

    /// A server speaking `tls`, already listening.
    pub fn start_with(tls: ServerTls) -> Self {
        let mut server = Self::prepare_with(tls);
        server.run();
        server
    }

    /// Starts listening on `port`; waits until it does.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/capture.py");
        let d = self.dir.path();
        let mut child = Command::new(PYTHON)
            .arg(script)
            .args(["--out".as_ref(), self.out.as_os_str()])
            .args(["--cert".as_ref(), d.join("server.pem").as_os_str()])
            .args(["--key".as_ref(), d.join("server.key").as_os_str()])
            .args(["--port", &self.port.to_string()])
            .args(["--user", USER, "--password", PASSWORD])
            .args(["--tls", self.tls.arg()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the SMTP server starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("ready"), "the SMTP server said {line:?}");
        self.child = Some(child);
    }

    /// Stops the server (SMTP down).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// authd's settings for this server: the TLS it speaks, its CA, its user.
    pub fn configure(&self, settings: &mut Settings) {
        let smtp = &mut settings.email.smtp;
        smtp.host = "127.0.0.1".into();
        smtp.port = self.port;
        smtp.tls = self.tls.client();
        smtp.ca_file = Some(self.ca.clone());
        smtp.username = Some(USER.into());
        smtp.password = Some(PASSWORD.to_owned().into());
        smtp.timeout_secs = 5;
        settings.email.lease_secs = 20;
        settings.email.poll_interval_ms = 20;
    }

    /// The same settings as environment variables, for the binary; the
    /// password through a `_FILE` in `dir`.
    pub fn env(&self, dir: &Path) -> Vec<(String, String)> {
        let password = dir.join("smtp-password");
        std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();
        [
            ("AUTHD__EMAIL__SMTP__HOST", "127.0.0.1".to_owned()),
            ("AUTHD__EMAIL__SMTP__PORT", self.port.to_string()),
            ("AUTHD__EMAIL__SMTP__TLS", self.tls.arg().to_owned()),
            ("AUTHD__EMAIL__SMTP__CA_FILE", self.ca.display().to_string()),
            ("AUTHD__EMAIL__SMTP__USERNAME", USER.to_owned()),
            (
                "AUTHD__EMAIL__SMTP__PASSWORD_FILE",
                password.display().to_string(),
            ),
            ("AUTHD__EMAIL__SMTP__TIMEOUT_SECS", "5".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The messages received so far, oldest first.
    pub fn received(&self) -> Vec<Received> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|eml| {
                let meta = std::fs::read_to_string(eml.with_extension("json")).unwrap();
                Received {
                    message: super::mime::Parsed::parse(&std::fs::read_to_string(&eml).unwrap()),
                    meta: serde_json::from_str(&meta).unwrap(),
                }
            })
            .collect()
    }

    /// Every AUTH attempt so far, right or wrong: whether it came over TLS.
    pub fn auth_attempts(&self) -> Vec<AuthAttempt> {
        match std::fs::read_to_string(self.out.join("auth.jsonl")) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => panic!("auth.jsonl: {e}"),
        }
    }

    /// Waits (up to 30 s) until at least `n` messages were received.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages received",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One received message: the message, and how it came (`mail_from`,
/// `rcpt_tos`, `tls`, `auth`).
pub struct Received {
    pub message: super::mime::Parsed,
    pub meta: serde_json::Value,
}

/// An AUTH command the server answered.
#[derive(Debug, serde::Deserialize)]
pub struct AuthAttempt {
    pub tls: bool,
    pub ok: bool,
}

/// A CA (`ca.pem`) and a certificate it signed for 127.0.0.1 and localhost
/// (`server.pem`, `server.key`), valid for two days.
fn make_certificates(dir: &Path) {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl runs");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=authd test CA",
    ]);
    openssl(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
    ]);
    openssl(&csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
}

//! Verifiers authd does not own, for what authd sends to other servers:
//! `tests/stock/verify_webhook.py` (the Standard Webhooks reference library)
//! and `tests/stock/verify_logout_token.py` (pyoidc, a relying-party
//! library), run with the python of `scripts/stock-venv.sh`'s virtualenv,
//! named by `AUTHD_STOCK_PYTHON`. Without it the checks are skipped with a
//! note on stderr, unless `AUTHD_REQUIRE_STOCK=1` (CI), which makes them fail.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

/// What a stock verifier said of `input`: `Some(Ok(output))` when it
/// accepted it, `Some(Err(its error))` when it refused it, `None` when no
/// verifier is installed here (see the module's doc).
pub fn stock_verify(script: &str, input: &Value) -> Option<Result<Value, String>> {
    let Some(python) = std::env::var_os("AUTHD_STOCK_PYTHON") else {
        if std::env::var("AUTHD_REQUIRE_STOCK").is_ok_and(|v| v == "1") {
            panic!(
                "AUTHD_REQUIRE_STOCK=1 but AUTHD_STOCK_PYTHON is unset: run scripts/stock-venv.sh"
            );
        }
        static NOTICE: std::sync::Once = std::sync::Once::new();
        NOTICE.call_once(|| {
            let _ = writeln!(
                std::io::stderr(),
                "\nnote: AUTHD_STOCK_PYTHON unset: the checks by stock verifiers (webhook \
                 signatures, logout tokens) are SKIPPED. \
                 export AUTHD_STOCK_PYTHON=$(scripts/stock-venv.sh) to run them.\n"
            );
        });
        return None;
    };
    let path = format!("{}/tests/stock/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new(python)
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the stock verifier {path}: {e}"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        let text = String::from_utf8_lossy(&out.stdout);
        Some(Ok(serde_json::from_str(text.trim()).unwrap_or_else(|e| {
            panic!("the stock verifier {script} printed no JSON ({e}): {text}")
        })))
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or_default().to_owned();
        Some(Err(last))
    }
}

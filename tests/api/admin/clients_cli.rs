//! The command line and the admin API see the same clients: a client made
//! by the API lists in `authd clients list` (the binary, against the test's
//! database), and the command line's rotation and deletion are what the API
//! reads next.

use super::clients::{CLIENTS, assert_refused, client_events, create, made, send, token_status};
use serde_json::json;

use super::admin_get;
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(the_command_line_and_the_api_see_the_same_clients);

/// `authd clients ...` as a binary on the test's database.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_authd"))
        .args(args)
        .env("AUTHD__DATA_DIR", dir.path())
        .env("AUTHD__DATABASE__URL", app.database_url())
        .env_remove("AUTHD_CONFIG")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn the_command_line_and_the_api_see_the_same_clients(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.create_client("console", CLIENTS).await;
    let orders = made(
        &create(
            &app,
            &admin,
            json!({"name": "orders api", "scopes": "orders:read"}),
        )
        .await,
    );
    let (ok, listed, err) = cli(&app, &["clients", "list"]);
    assert!(ok, "{err}");
    let line = listed
        .lines()
        .find(|l| l.starts_with(&orders.0))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        line.contains("orders api") && line.contains("orders:read"),
        "{line}"
    );
    assert!(!listed.contains(&orders.1));

    // The command line rotates: the API's secret stops, the printed one works;
    // audited as the operator.
    let (ok, out, err) = cli(&app, &["clients", "rotate-secret", &orders.0]);
    assert!(ok, "{err}");
    let secret = out
        .lines()
        .find_map(|l| l.strip_prefix("client_secret = "))
        .unwrap_or_else(|| panic!("{out}"))
        .to_owned();
    assert_eq!(token_status(&app, &orders).await, 401);
    assert_eq!(token_status(&app, &(orders.0.clone(), secret)).await, 200);
    let events = client_events(&app, &orders.0).await;
    assert_eq!(events[0].kind, "client_secret_rotated");
    assert_eq!(events[0].actor.as_deref(), Some("operator:cli"));

    // The command line holds every permission; the API's caller does not.
    let (ok, _, err) = cli(
        &app,
        &[
            "clients",
            "update",
            &orders.0,
            "--scopes",
            "authd:introspect",
        ],
    );
    assert!(ok, "{err}");
    let path = format!("/admin/clients/{}", orders.0);
    let reply = send(&app, "DELETE", &path, &admin, None).await;
    assert_refused(&reply, 403, "insufficient_scope", "now beyond the admin");
    let (ok, _, err) = cli(&app, &["clients", "delete", &orders.0]);
    assert!(ok, "{err}");
    let kinds: Vec<String> = client_events(&app, &orders.0)
        .await
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds[..2], ["client_deleted", "client_updated"]);
    assert_refused(
        &admin_get(&app, &path, &admin).await,
        404,
        "not_found",
        "gone",
    );
}

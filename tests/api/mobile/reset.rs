//! The mobile client resets a forgotten password with the emailed code (an
//! app cannot count on opening the link), then logs in with the new one.

use super::{assert_success, setup, summary, text};
use crate::helpers::Backend;

crate::on_both_stores!(
    a_forgotten_password_is_reset_with_the_emailed_code_and_the_new_one_signs_in
);

async fn a_forgotten_password_is_reset_with_the_emailed_code_and_the_new_one_signs_in(
    backend: Backend,
) {
    let (app, proxy, client, email, _dir) = setup(backend).await;
    client.login(&email).await;
    let old_refresh = client.stored_refresh();
    let forgot = client.run(&["forgot", "--email", &email]).await;
    assert_success(&forgot);
    let code = app
        .wait_for_action(&email, "password_reset")
        .await
        .code(app.services().settings.accounts.reset_code_digits as usize);
    let new_password = "a new passphrase for the phone";
    let reset = client
        .run_with(
            &["reset", "--email", &email, "--code", &code],
            &[("AUTHD_NEW_PASSWORD", new_password)],
        )
        .await;
    assert_success(&reset);
    assert!(
        !client.state.exists(),
        "the ended session's tokens are deleted"
    );
    assert_eq!(app.refresh_body(&old_refresh).await.status, 401);
    let login = client
        .run_with(
            &["login", "--email", &email],
            &[("AUTHD_PASSWORD", new_password)],
        )
        .await;
    assert_success(&login);
    assert_success(&client.run(&["call"]).await);
    assert_eq!(
        summary(&proxy.take()),
        [
            "POST /auth/login 200",
            "POST /auth/password/forgot 202",
            "POST /auth/password/reset 204",
            "POST /auth/login 200",
            "GET /auth/me 200",
        ]
    );
    for out in [&reset, &login] {
        let (stdout, stderr) = text(out);
        for secret in [new_password, code.as_str()] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "a secret is printed:\n{stdout}\n{stderr}"
            );
        }
    }
}

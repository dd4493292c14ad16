//! Build script: tells the integration suite whether a PostgreSQL server was
//! given, so the Postgres tests are reported as ignored instead of passing
//! without running.
//!
//! `TEST_DATABASE_URL` set (and not empty) enables `cfg(authd_postgres_tests)`;
//! `AUTHD_REQUIRE_POSTGRES=1` (CI) enables `cfg(authd_require_postgres)`, and
//! the suite refuses to compile with the second and not the first.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    println!("cargo::rerun-if-env-changed=AUTHD_REQUIRE_POSTGRES");
    println!("cargo::rustc-check-cfg=cfg(authd_postgres_tests)");
    println!("cargo::rustc-check-cfg=cfg(authd_require_postgres)");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=authd_postgres_tests");
    }
    if std::env::var_os("AUTHD_REQUIRE_POSTGRES").is_some_and(|v| v == "1") {
        println!("cargo::rustc-cfg=authd_require_postgres");
    }
}

//! `GET /admin/users`: keyset pages (a walk lists every user exactly once,
//! in order, ties on the creation time broken by id; `has_more` and
//! `next_cursor` say when it ends), the exact total on request, the bounds
//! (a limit over the max is refused, never clamped; a bad cursor is refused),
//! and each filter.

use std::collections::HashSet;

use chrono::Duration;
use uuid::Uuid;

use super::{READ, admin_get, seed_user};
use crate::helpers::{Backend, TestApp, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    a_walk_over_pages_lists_every_user_once_in_order,
    a_limit_out_of_bounds_a_bad_cursor_or_an_unknown_parameter_is_refused,
    each_filter_keeps_the_users_it_names_and_the_total_counts_them,
);

/// Every page of `query` (which must end with `?` or `&`), as user ids, and
/// the total of the first page.
async fn walk(
    app: &TestApp,
    client: &(String, String),
    query: &str,
) -> (Vec<Vec<String>>, Option<i64>) {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{query}cursor={c}"),
            None => query.trim_end_matches(['?', '&']).to_owned(),
        };
        let reply = admin_get(app, &path, client).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        if pages.is_empty() {
            total = reply.body["total"].as_i64();
        }
        let ids: Vec<String> = reply.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect();
        let has_more = reply.body["has_more"].as_bool().unwrap();
        let next = reply.body["next_cursor"].as_str().map(str::to_owned);
        assert_eq!(has_more, next.is_some(), "{}", reply.text);
        pages.push(ids);
        if !has_more {
            assert!(reply.body["next_cursor"].is_null(), "{}", reply.text);
            return (pages, total);
        }
        cursor = next;
        assert!(pages.len() < 100, "the walk ends");
    }
}

async fn a_walk_over_pages_lists_every_user_once_in_order(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = app.now() - Duration::days(1);
    // 23 users; some share their creation time, so the id breaks the tie.
    let mut expected = Vec::new();
    for i in 0..23 {
        let at = base + Duration::seconds(i / 3);
        let id = seed_user(&app, &format!("u{i:02}@example.com"), at).await;
        expected.push((at, id));
    }
    expected.sort();
    let expected: Vec<String> = expected.iter().map(|(_, id)| id.to_string()).collect();
    let client = app.create_client("reader", READ).await;

    let (pages, total) = walk(&app, &client, "/admin/users?limit=5&count=exact&").await;
    assert_eq!(total, Some(23));
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3], "full pages until the last");
    let listed: Vec<String> = pages.concat();
    assert_eq!(listed, expected, "every user once, by (created_at, id)");

    // Exactly a page's worth: has_more is false on it, no empty page follows.
    let (pages, total) = walk(&app, &client, "/admin/users?limit=23&").await;
    assert_eq!((pages.len(), total), (1, None), "no total unless asked");
    // Users created during a walk come after the pages read.
    let first = admin_get(&app, "/admin/users?limit=20", &client).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let late = seed_user(&app, "late@example.com", app.now()).await;
    let rest = admin_get(
        &app,
        &format!("/admin/users?limit=20&cursor={cursor}"),
        &client,
    )
    .await;
    let rest: Vec<&str> = rest.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 4);
    assert_eq!(rest.last(), Some(&late.to_string().as_str()));
    // The default page is 50.
    let all = admin_get(&app, "/admin/users", &client).await;
    assert_eq!(all.body["users"].as_array().unwrap().len(), 24);
    assert_eq!(all.body["has_more"], false);
}

async fn a_limit_out_of_bounds_a_bad_cursor_or_an_unknown_parameter_is_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..3 {
        seed_user(&app, &format!("u{i}@example.com"), app.now()).await;
    }
    let client = app.create_client("reader", READ).await;
    let id = Uuid::new_v4().simple();
    for query in [
        "limit=201".to_owned(),
        "limit=1000".to_owned(),
        "limit=0".to_owned(),
        "limit=-1".to_owned(),
        "limit=ten".to_owned(),
        "cursor=garbage".to_owned(),
        format!("cursor=-5.{id}"),
        "cursor=1.zz".to_owned(),
        "count=estimate".to_owned(),
        "verified=maybe".to_owned(),
        "created_after=yesterday".to_owned(),
        "offset=10".to_owned(),
        format!("email_prefix={}", "a".repeat(255)),
    ] {
        let reply = admin_get(&app, &format!("/admin/users?{query}"), &client).await;
        assert_eq!(
            (reply.status, reply.error()),
            (400, "invalid_request"),
            "{query}: {}",
            reply.text
        );
        assert!(reply.body.get("users").is_none(), "{query}");
    }
    let reply = admin_get(&app, "/admin/users?limit=200", &client).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn each_filter_keeps_the_users_it_names_and_the_total_counts_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let base = app.now() - Duration::days(10);
    let old = seed_user(&app, "alice@old.example", base).await;
    let verified = seed_user(&app, "alice@verified.example", base + Duration::days(1)).await;
    let with_totp = seed_user(&app, "bob@totp.example", base + Duration::days(2)).await;
    let pending = seed_user(&app, "bob@pending.example", base + Duration::days(3)).await;
    let wild = seed_user(&app, "a_b%c@wild.example", base + Duration::days(4)).await;
    let _carol = seed_user(&app, "carol@example.com", base + Duration::days(5)).await;
    let now = app.now();
    let mut tx = app.store().begin().await.unwrap();
    authd::store::users::set_email_verified(&mut tx, verified, "alice@verified.example", now)
        .await
        .unwrap();
    for (user, confirm) in [(with_totp, true), (pending, false)] {
        let factor = authd::store::factors::TotpFactor {
            id: Uuid::new_v4(),
            user_id: user,
            sealed_key_id: 1,
            sealed_nonce: vec![0; 12],
            sealed_secret: vec![0; 32],
            created_at: now,
            confirmed_at: None,
            last_used_step: 0,
        };
        assert!(
            authd::store::factors::insert_pending_totp(&mut tx, &factor)
                .await
                .unwrap()
        );
        if confirm {
            assert!(
                authd::store::factors::spend_totp_step(&mut tx, factor.id, 1, true, now)
                    .await
                    .unwrap()
            );
        }
    }
    authd::store::users::set_disabled_at(&mut tx, pending, Some(now), now)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let client = app.create_client("reader", READ).await;
    let day =
        |d: i64| (base + Duration::days(d)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let ids = |list: &[Uuid]| list.iter().map(Uuid::to_string).collect::<HashSet<_>>();
    let cases = [
        ("email_prefix=alice", ids(&[old, verified])),
        ("email_prefix=ALICE%40V", ids(&[verified])),
        ("email_prefix=a_", ids(&[wild])),
        ("email_prefix=a_b%25", ids(&[wild])),
        ("email_prefix=zed", ids(&[])),
        ("verified=true", ids(&[verified])),
        ("has_second_factor=true", ids(&[with_totp])),
        ("has_second_factor=false&email_prefix=bob", ids(&[pending])),
        ("disabled=true", ids(&[pending])),
        ("disabled=false&email_prefix=bob", ids(&[with_totp])),
        ("disabled=false&email_prefix=alice", ids(&[old, verified])),
        (
            &*format!("created_after={}&created_before={}", day(1), day(3)),
            ids(&[verified, with_totp]),
        ),
        (
            &*format!("verified=false&created_before={}", day(2)),
            ids(&[old]),
        ),
    ];
    for (query, want) in cases {
        let (pages, total) = walk(
            &app,
            &client,
            &format!("/admin/users?limit=1&count=exact&{query}&"),
        )
        .await;
        let got: HashSet<String> = pages.concat().into_iter().collect();
        assert_eq!(got, want, "{query}");
        assert_eq!(total, Some(want.len() as i64), "{query}");
    }
}

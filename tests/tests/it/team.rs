//! `/api/v1/tenant`, members and invitations, and role enforcement.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::{PASSWORD, session_from};

#[tokio::test]
async fn owners_rename_the_tenant_and_viewers_cannot_change_anything() {
    let app = TestApp::spawn().await;
    let owner = app.register("own@shop.ru", "Old name").await;
    let viewer = app.add_member(&owner, "view@shop.ru", "viewer").await;
    let member = app.add_member(&owner, "mem@shop.ru", "member").await;

    let t = app.get("/api/v1/tenant", &viewer.access).await;
    assert_eq!(t.status, StatusCode::OK);
    assert_eq!(t.body["name"], "Old name");

    let renamed = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({"name": "New name"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:#?}");
    assert_eq!(renamed.body["name"], "New name");

    // Every write a viewer might try is refused, and nothing changes.
    let writes = [
        (
            Method::PATCH,
            "/api/v1/tenant".to_string(),
            Some(json!({"name": "Hijacked"})),
        ),
        (
            Method::POST,
            "/api/v1/tenant/invitations".to_string(),
            Some(json!({"email": "x@y.co", "role": "viewer"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/tenant/members/{}", member.user_id),
            None,
        ),
    ];
    for (method, path, body) in writes {
        let a = app
            .call(method.clone(), &path, Some(&viewer.access), body)
            .await;
        a.problem(403, "forbidden");
    }
    // Members can work with data but not manage the team or the account.
    app.call(
        Method::PATCH,
        "/api/v1/tenant",
        Some(&member.access),
        Some(json!({"name": "M"})),
    )
    .await
    .problem(403, "forbidden");
    let t = app.get("/api/v1/tenant", &owner.access).await;
    assert_eq!(t.body["name"], "New name");
    let members = app.get("/api/v1/tenant/members", &owner.access).await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 3);

    app.call(
        Method::PATCH,
        "/api/v1/tenant",
        Some(&owner.access),
        Some(json!({"name": ""})),
    )
    .await
    .problem(422, "invalid_name");
}

#[tokio::test]
async fn invitations_are_single_use_and_create_or_join_accounts() {
    let app = TestApp::spawn().await;
    let owner = app.register("boss@shop.ru", "Shop A").await;
    let inv = app
        .post(
            "/api/v1/tenant/invitations",
            Some(&owner.access),
            json!({"email": "New@Shop.ru", "role": "member"}),
        )
        .await;
    assert_eq!(inv.status, StatusCode::CREATED, "{inv:#?}");
    assert_eq!(inv.body["email"], "new@shop.ru");
    assert_eq!(inv.body["role"], "member");
    let token = inv.body["token"].as_str().unwrap().to_string();

    let accepted = app
        .post(
            "/api/v1/auth/accept-invitation",
            None,
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:#?}");
    assert_eq!(accepted.body["role"], "member");
    assert_eq!(accepted.body["tenant"]["id"], owner.tenant_id.as_str());

    let reused = app
        .post(
            "/api/v1/auth/accept-invitation",
            None,
            json!({"token": token, "password": PASSWORD}),
        )
        .await;
    reused.problem(404, "not_found");

    // Someone who already has an account joins a second tenant signed in as themselves.
    let other = app.register("boss@other.ru", "Shop B").await;
    let inv2 = app
        .post(
            "/api/v1/tenant/invitations",
            Some(&other.access),
            json!({"email": "new@shop.ru", "role": "viewer"}),
        )
        .await;
    app.post(
        "/api/v1/auth/accept-invitation",
        None,
        json!({"token": inv2.body["token"], "password": PASSWORD}),
    )
    .await
    .problem(401, "sign_in_required");
    let new_user = session_from(&accepted.body);
    let joined = app
        .post(
            "/api/v1/auth/accept-invitation",
            Some(&new_user.access),
            json!({"token": inv2.body["token"]}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:#?}");
    assert_eq!(joined.body["tenant"]["id"], other.tenant_id.as_str());
    assert_eq!(joined.body["user"]["id"], accepted.body["user"]["id"]);

    // Login picks the oldest membership unless a tenant is named.
    let plain = app.login("new@shop.ru", PASSWORD).await;
    assert_eq!(plain.body["tenant"]["id"], owner.tenant_id.as_str());
    let chosen = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "new@shop.ru", "password": PASSWORD, "tenant_id": other.tenant_id}),
        )
        .await;
    assert_eq!(chosen.body["tenant"]["id"], other.tenant_id.as_str());
    assert_eq!(chosen.body["role"], "viewer");

    app.post(
        "/api/v1/tenant/invitations",
        Some(&owner.access),
        json!({"email": "x@y.co", "role": "owner"}),
    )
    .await
    .problem(422, "invalid_field");
    app.post(
        "/api/v1/tenant/invitations",
        Some(&owner.access),
        json!({"email": "x@y.co", "role": "superuser"}),
    )
    .await
    .problem(422, "invalid_field");
    app.post(
        "/api/v1/auth/accept-invitation",
        None,
        json!({"token": "stinv_bogus", "password": PASSWORD}),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn admins_invite_but_only_owners_make_admins() {
    let app = TestApp::spawn().await;
    let owner = app.register("o@shop.ru", "Shop").await;
    let admin = app.add_member(&owner, "a@shop.ru", "admin").await;
    app.post(
        "/api/v1/tenant/invitations",
        Some(&admin.access),
        json!({"email": "b@shop.ru", "role": "admin"}),
    )
    .await
    .problem(403, "forbidden");
    let ok = app
        .post(
            "/api/v1/tenant/invitations",
            Some(&admin.access),
            json!({"email": "b@shop.ru", "role": "viewer"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    // An admin cannot remove an owner.
    app.call(
        Method::DELETE,
        &format!("/api/v1/tenant/members/{}", owner.user_id),
        Some(&admin.access),
        None,
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn removing_a_member_ends_their_access_at_once() {
    let app = TestApp::spawn().await;
    let owner = app.register("o@shop.ru", "Shop").await;
    let member = app.add_member(&owner, "m@shop.ru", "member").await;
    assert_eq!(
        app.get("/api/v1/me", &member.access).await.status,
        StatusCode::OK
    );

    let del = app
        .call(
            Method::DELETE,
            &format!("/api/v1/tenant/members/{}", member.user_id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(del.status, StatusCode::OK, "{del:#?}");
    assert_eq!(
        del.body,
        json!({"revoked_invitations": 0, "revoked_api_keys": 0})
    );
    // Their still-unexpired access token and their refresh token no longer work.
    app.get("/api/v1/me", &member.access)
        .await
        .problem(401, "unauthorized");
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": member.refresh}),
    )
    .await
    .problem(401, "invalid_refresh_token");

    // The last owner cannot leave; unknown and malformed ids are 404.
    app.call(
        Method::DELETE,
        &format!("/api/v1/tenant/members/{}", owner.user_id),
        Some(&owner.access),
        None,
    )
    .await
    .problem(409, "last_owner");
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_string()] {
        app.call(
            Method::DELETE,
            &format!("/api/v1/tenant/members/{id}"),
            Some(&owner.access),
            None,
        )
        .await
        .problem(404, "not_found");
    }
}

#[tokio::test]
async fn members_list_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let owner = app.register("o@shop.ru", "Shop").await;
    for i in 0..4 {
        app.add_member(&owner, &format!("m{i}@shop.ru"), "viewer")
            .await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tenant/members?limit=2&cursor={c}"),
            None => "/api/v1/tenant/members?limit=2".to_string(),
        };
        let page = app.get(&path, &owner.access).await;
        assert_eq!(page.status, StatusCode::OK, "{page:#?}");
        for item in page.body["items"].as_array().unwrap() {
            seen.push(item["email"].as_str().unwrap().to_string());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            "o@shop.ru",
            "m0@shop.ru",
            "m1@shop.ru",
            "m2@shop.ru",
            "m3@shop.ru"
        ]
    );
    app.get("/api/v1/tenant/members?limit=0", &owner.access)
        .await
        .problem(422, "invalid_limit");
    app.get("/api/v1/tenant/members?limit=5000", &owner.access)
        .await
        .problem(422, "invalid_limit");
    app.get("/api/v1/tenant/members?cursor=garbage", &owner.access)
        .await
        .problem(422, "invalid_cursor");
}

#[tokio::test]
async fn the_sync_interval_is_a_tenant_setting_within_bounds() {
    let app = TestApp::spawn().await;
    let owner = app.register("int@shop.ru", "Shop").await;
    let tenant = app.get("/api/v1/tenant", &owner.access).await.body;
    assert_eq!(
        tenant["sync_interval_minutes"],
        Value::Null,
        "as often as the plan allows"
    );
    assert_eq!(
        tenant["effective_sync_interval_minutes"], 30,
        "the pro trial's interval"
    );
    // Asking for more often than the plan allows is kept as a wish, floored by the plan.
    let faster = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({"sync_interval_minutes": 10})),
        )
        .await;
    assert_eq!(faster.body["sync_interval_minutes"], 10);
    assert_eq!(faster.body["effective_sync_interval_minutes"], 30);
    let set = app
        .call(
            Method::PATCH,
            "/api/v1/tenant",
            Some(&owner.access),
            Some(json!({"sync_interval_minutes": 30})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{set:#?}");
    assert_eq!(set.body["sync_interval_minutes"], 30);
    assert_eq!(set.body["effective_sync_interval_minutes"], 30);
    assert_eq!(set.body["name"], "Shop", "fields not sent are left alone");
    for bad in [4, 1441] {
        let a = app
            .call(
                Method::PATCH,
                "/api/v1/tenant",
                Some(&owner.access),
                Some(json!({"sync_interval_minutes": bad})),
            )
            .await;
        assert_eq!(
            a.problem(422, "invalid_sync_interval")["field"],
            "sync_interval_minutes"
        );
    }
    assert_eq!(
        app.get("/api/v1/tenant", &owner.access).await.body["sync_interval_minutes"],
        30
    );
}

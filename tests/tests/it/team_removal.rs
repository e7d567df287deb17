//! Issue 11, items 4 and 5b: a removed admin keeps no way back in (pending invitations and
//! API keys they created are revoked with them; managers list and revoke invitations), and
//! two owners removing each other at once cannot leave a tenant without an owner.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use stock_tracker_tests::http::PASSWORD;
use stock_tracker_tests::{Session, TestApp};

async fn create_key(app: &TestApp, by: &Session, name: &str) -> String {
    let key = app
        .post(
            "/api/v1/api-keys",
            Some(&by.access),
            json!({"name": name, "scope": "read_write"}),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:#?}");
    key.body["secret"].as_str().unwrap().to_string()
}

async fn accept(app: &TestApp, token: &Value) -> reqwest::StatusCode {
    app.post(
        "/api/v1/auth/accept-invitation",
        None,
        json!({"token": token, "password": PASSWORD}),
    )
    .await
    .status
}

async fn remove(app: &TestApp, by: &Session, user_id: &str) -> stock_tracker_tests::http::Answer {
    app.call(
        Method::DELETE,
        &format!("/api/v1/tenant/members/{user_id}"),
        Some(&by.access),
        None,
    )
    .await
}

/// Every pending invitation of the tenant, following the cursor, `limit` per page.
async fn pending(app: &TestApp, by: &Session, limit: u32) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/tenant/invitations?limit={limit}&cursor={c}"),
            None => format!("/api/v1/tenant/invitations?limit={limit}"),
        };
        let page = app.get(&path, &by.access).await;
        assert_eq!(page.status, StatusCode::OK, "{page:#?}");
        out.extend(page.body["items"].as_array().unwrap().iter().cloned());
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

#[tokio::test]
async fn a_removed_admins_invitations_and_api_keys_stop_working_at_once() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@shop.ru", "Shop").await;
    let admin = app.add_member(&owner, "admin@shop.ru", "admin").await;

    // The admin prepares a way back in: an invitation for an address of theirs and a key.
    let backdoor = app.invite(&admin, "spare@mail.ru", "viewer").await;
    let admin_key = create_key(&app, &admin, "Admin's ERP").await;
    assert_eq!(app.get("/api/v1/tenant", &admin_key).await.status, 200);
    // What the owner made is not the admin's and stays.
    let owners_invitation = app.invite(&owner, "colleague@shop.ru", "member").await;
    let owner_key = create_key(&app, &owner, "Owner's ERP").await;

    let removed = remove(&app, &owner, &admin.user_id).await;
    assert_eq!(removed.status, StatusCode::OK, "{removed:#?}");
    assert_eq!(
        removed.body,
        json!({"revoked_invitations": 1, "revoked_api_keys": 1})
    );

    // The way back in is closed: the token is refused and the key is 401 at once.
    assert_eq!(
        accept(&app, &backdoor["token"]).await,
        StatusCode::NOT_FOUND
    );
    app.get("/api/v1/tenant", &admin_key)
        .await
        .problem(401, "unauthorized");
    app.get("/api/v1/tenant", &admin.access)
        .await
        .problem(401, "unauthorized");
    let listed = pending(&app, &owner, 50).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], owners_invitation["id"]);
    let keys = app.get("/api/v1/api-keys", &owner.access).await.body;
    assert_eq!(keys.as_array().unwrap().len(), 1, "{keys}");
    assert_eq!(keys[0]["name"], "Owner's ERP");
    assert_eq!(app.get("/api/v1/tenant", &owner_key).await.status, 200);
    assert_eq!(
        accept(&app, &owners_invitation["token"]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn managers_list_pending_invitations_without_tokens_and_revoke_them() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@shop.ru", "Shop").await;
    let admin = app.add_member(&owner, "admin@shop.ru", "admin").await;
    let viewer = app.add_member(&owner, "viewer@shop.ru", "viewer").await;
    let member = app.add_member(&owner, "member@shop.ru", "member").await;
    let key = create_key(&app, &owner, "ERP").await;

    let a = app.invite(&owner, "a@shop.ru", "viewer").await;
    let b = app.invite(&admin, "b@shop.ru", "member").await;
    let c = app.invite(&owner, "c@shop.ru", "viewer").await;
    let expired = app.invite(&owner, "expired@shop.ru", "viewer").await;
    sqlx::query("update invitations set expires_at = now() - interval '1 second' where id = $1")
        .bind(uuid::Uuid::parse_str(expired["id"].as_str().unwrap()).unwrap())
        .execute(&app.db.owner)
        .await
        .unwrap();

    // Only pending ones (the members' accepted invitations and the expired one are not),
    // oldest first across pages, and never the token or its hash.
    let listed = pending(&app, &admin, 2).await;
    let ids: Vec<&Value> = listed.iter().map(|i| &i["id"]).collect();
    assert_eq!(ids, [&a["id"], &b["id"], &c["id"]]);
    let item = listed[1].as_object().unwrap();
    let mut fields: Vec<&str> = item.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "email",
            "expires_at",
            "id",
            "invited_by",
            "role"
        ]
    );
    assert_eq!(item["email"], "b@shop.ru");
    assert_eq!(item["role"], "member");
    assert_eq!(item["invited_by"], admin.user_id.as_str());
    for i in &listed {
        let text = i.to_string();
        for token in [&a["token"], &b["token"], &c["token"]] {
            assert!(!text.contains(token.as_str().unwrap()), "{text}");
        }
    }

    // Viewers, members and API keys may not see or revoke them.
    for caller in [&viewer.access, &member.access, &key] {
        app.get("/api/v1/tenant/invitations", caller)
            .await
            .problem(403, "forbidden");
        app.call(
            Method::DELETE,
            &format!("/api/v1/tenant/invitations/{}", a["id"].as_str().unwrap()),
            Some(caller),
            None,
        )
        .await
        .problem(403, "forbidden");
    }

    // Revoking: 204, then the token is refused and the invitation is no longer listed.
    let path = format!("/api/v1/tenant/invitations/{}", b["id"].as_str().unwrap());
    let revoked = app
        .call(Method::DELETE, &path, Some(&admin.access), None)
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{revoked:#?}");
    assert_eq!(accept(&app, &b["token"]).await, StatusCode::NOT_FOUND);
    let ids: Vec<Value> = pending(&app, &owner, 50)
        .await
        .into_iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, [a["id"].clone(), c["id"].clone()]);
    // Nothing pending under that id any more, nor under an accepted, expired, unknown or
    // malformed one: 404.
    let accepted_id: String = sqlx::query_scalar(
        "select id::text from invitations where email = 'viewer@shop.ru' and accepted_at is not null",
    )
    .fetch_one(&app.db.owner)
    .await
    .unwrap();
    for id in [
        b["id"].as_str().unwrap().to_string(),
        accepted_id,
        expired["id"].as_str().unwrap().to_string(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-uuid".to_string(),
    ] {
        app.call(
            Method::DELETE,
            &format!("/api/v1/tenant/invitations/{id}"),
            Some(&owner.access),
            None,
        )
        .await
        .problem(404, "not_found");
    }
    assert_eq!(accept(&app, &a["token"]).await, StatusCode::OK);
    app.get("/api/v1/tenant/invitations?limit=0", &owner.access)
        .await
        .problem(422, "invalid_limit");
    app.get("/api/v1/tenant/invitations?cursor=garbage", &owner.access)
        .await
        .problem(422, "invalid_cursor");
}

/// The attack as a race: the admin fires invitations and keys while being removed. Each is
/// either refused or committed before the removal, which then revokes it: none survives.
#[tokio::test]
async fn an_admin_creating_invitations_and_keys_while_removed_leaves_none_working() {
    let app = TestApp::spawn().await;
    let owner = app.register("owner@shop.ru", "Shop").await;
    for round in 0..6 {
        let admin = app
            .add_member(&owner, &format!("admin{round}@shop.ru"), "admin")
            .await;
        let creates = (0..6).map(|i| {
            let (app, admin) = (&app, &admin);
            async move {
                if i % 2 == 0 {
                    app.post(
                        "/api/v1/tenant/invitations",
                        Some(&admin.access),
                        json!({"email": format!("spare{round}-{i}@mail.ru"), "role": "viewer"}),
                    )
                    .await
                } else {
                    app.post(
                        "/api/v1/api-keys",
                        Some(&admin.access),
                        json!({"name": format!("key {round}-{i}"), "scope": "read"}),
                    )
                    .await
                }
            }
        });
        let (removed, created) = tokio::join!(
            remove(&app, &owner, &admin.user_id),
            futures::future::join_all(creates)
        );
        assert_eq!(removed.status, StatusCode::OK, "{removed:#?}");
        for answer in &created {
            assert!(
                [201, 401].contains(&answer.status.as_u16()),
                "created before the removal, or refused: {answer:#?}"
            );
            if let Some(token) = answer.body.get("token") {
                assert_eq!(
                    accept(&app, token).await,
                    StatusCode::NOT_FOUND,
                    "round {round}"
                );
            }
            if let Some(secret) = answer.body["secret"].as_str() {
                app.get("/api/v1/tenant", secret)
                    .await
                    .problem(401, "unauthorized");
            }
        }
        let by_admin = |items: &[Value], field: &str| {
            items
                .iter()
                .filter(|i| i[field] == admin.user_id.as_str())
                .count()
        };
        assert_eq!(by_admin(&pending(&app, &owner, 200).await, "invited_by"), 0);
        let keys = app.get("/api/v1/api-keys", &owner.access).await.body;
        assert_eq!(by_admin(keys.as_array().unwrap(), "created_by"), 0);
    }
}

async fn owner_count(app: &TestApp, tenant: &str) -> i64 {
    sqlx::query_scalar(
        "select count(*) from memberships where tenant_id = $1::uuid and role = 'owner'",
    )
    .bind(tenant)
    .fetch_one(&app.db.owner)
    .await
    .unwrap()
}

/// Two owners remove each other at the same moment, round after round: one removal wins,
/// the other is refused, and the tenant always keeps an owner.
#[tokio::test]
async fn owners_removing_each_other_at_once_always_leave_an_owner() {
    let app = TestApp::spawn().await;
    let mut first = app.register("owner@shop.ru", "Shop").await;
    for round in 0..20 {
        let second = app
            .add_member(&first, &format!("owner{round}@shop.ru"), "admin")
            .await;
        sqlx::query("update memberships set role = 'owner' where user_id = $1::uuid")
            .bind(&second.user_id)
            .execute(&app.db.owner)
            .await
            .unwrap();
        assert_eq!(owner_count(&app, &first.tenant_id).await, 2);

        let (a, b) = tokio::join!(
            remove(&app, &first, &second.user_id),
            remove(&app, &second, &first.user_id)
        );
        let owners = owner_count(&app, &first.tenant_id).await;
        assert_eq!(owners, 1, "round {round}: {a:#?} {b:#?}");
        let wins = [&a, &b]
            .iter()
            .filter(|x| x.status == StatusCode::OK)
            .count();
        assert_eq!(wins, 1, "round {round}: {a:#?} {b:#?}");
        for lost in [&a, &b].into_iter().filter(|x| x.status != StatusCode::OK) {
            assert!(
                [401, 409].contains(&lost.status.as_u16()),
                "the loser is no longer a member, or was refused as the last owner: {lost:#?}"
            );
        }
        if b.status == StatusCode::OK {
            first = second;
        }
    }
}

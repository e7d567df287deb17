//! `/api/v1/auth/*` and `/api/v1/me`: sign-up, sign-in, sessions and token checks.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest;
use stock_tracker_tests::TestApp;
use stock_tracker_tests::http::{PASSWORD, TEST_JWT_SECRET, session_from};

#[tokio::test]
async fn register_creates_a_tenant_owned_by_the_new_user() {
    let app = TestApp::spawn().await;
    let a = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": " Owner@Shop.RU ", "password": PASSWORD, "company_name": " ООО Ромашка "}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:#?}");
    assert_eq!(a.body["token_type"], "Bearer");
    assert_eq!(a.body["role"], "owner");
    assert_eq!(a.body["user"]["email"], "owner@shop.ru");
    assert_eq!(a.body["tenant"]["name"], "ООО Ромашка");
    assert!(a.body["expires_in"].as_u64().unwrap() <= 15 * 60);
    assert!(!a.text.contains(PASSWORD), "the password is never echoed");

    let s = session_from(&a.body);
    let me = app.get("/api/v1/me", &s.access).await;
    assert_eq!(me.status, StatusCode::OK, "{me:#?}");
    assert_eq!(me.body["user"]["id"], s.user_id.as_str());
    assert_eq!(me.body["tenant"]["id"], s.tenant_id.as_str());
    assert_eq!(me.body["role"], "owner");

    // The password is stored as an Argon2id hash with at least OWASP's parameters.
    let hash: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&app.db.owner)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[tokio::test]
async fn register_rejects_bad_input_with_problems_naming_the_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({"password": PASSWORD, "company_name": "X"}),
            422,
            "missing_field",
            "email",
        ),
        (
            json!({"email": "a@b.co", "company_name": "X"}),
            422,
            "missing_field",
            "password",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD, "company_name": "X"}),
            422,
            "invalid_email",
            "email",
        ),
        (
            json!({"email": "a@b.co", "password": "short", "company_name": "X"}),
            422,
            "password_too_short",
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": "x".repeat(129), "company_name": "X"}),
            422,
            "password_too_long",
            "password",
        ),
        (
            json!({"email": "a@b.co", "password": PASSWORD, "company_name": "  "}),
            422,
            "invalid_name",
            "company_name",
        ),
        (
            json!({"email": 42, "password": PASSWORD, "company_name": "X"}),
            422,
            "invalid_field",
            "email",
        ),
    ];
    for (body, status, code, field) in cases {
        let a = app.post("/api/v1/auth/register", None, body.clone()).await;
        let p = a.problem(status, code);
        assert_eq!(p["field"], field, "{body}");
    }
    // Exactly 8 and exactly 128 characters are fine: the bounds are inclusive.
    for (i, pw) in ["12345678".to_string(), "y".repeat(128)].iter().enumerate() {
        let a = app
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": format!("edge{i}@b.co"), "password": pw, "company_name": "X"}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{a:#?}");
    }

    let malformed = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/register"))
                .header("content-type", "application/json")
                .body("{\"email\": \"a@b.co\", "),
        )
        .await;
    malformed.problem(400, "malformed_json");

    let not_json = app
        .send(
            app.client
                .post(app.url("/api/v1/auth/register"))
                .body("email=a@b.co"),
        )
        .await;
    not_json.problem(415, "unsupported_media_type");

    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db.owner)
        .await
        .unwrap();
    assert_eq!(users, 2, "only the two valid registrations created users");
}

#[tokio::test]
async fn duplicate_email_is_a_conflict_whatever_its_case() {
    let app = TestApp::spawn().await;
    app.register("dup@shop.ru", "First").await;
    let a = app
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "DUP@shop.ru", "password": PASSWORD, "company_name": "Second"}),
        )
        .await;
    assert_eq!(a.problem(409, "email_taken")["field"], "email");
    let tenants: i64 = sqlx::query_scalar("select count(*) from tenants")
        .fetch_one(&app.db.owner)
        .await
        .unwrap();
    assert_eq!(tenants, 1, "the failed registration left no tenant behind");
}

#[tokio::test]
async fn login_answers_unknown_email_and_wrong_password_alike() {
    let app = TestApp::spawn().await;
    let s = app.register("login@shop.ru", "Shop").await;

    let ok = app.login("LOGIN@shop.ru", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:#?}");
    assert_eq!(ok.body["tenant"]["id"], s.tenant_id.as_str());

    let wrong = app.login("login@shop.ru", "wrong password").await;
    let unknown = app.login("nobody@shop.ru", PASSWORD).await;
    let a = wrong.problem(401, "invalid_credentials");
    let b = unknown.problem(401, "invalid_credentials");
    assert_eq!(a["detail"], b["detail"]);
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let s = app.register("rot@shop.ru", "Shop").await;

    let first = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{first:#?}");
    let s2 = session_from(&first.body);
    assert_ne!(s2.refresh, s.refresh, "refresh tokens rotate on every use");
    assert_eq!(
        app.get("/api/v1/me", &s2.access).await.status,
        StatusCode::OK
    );

    // Presenting the first token again means it leaked: the family ends.
    let reuse = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    reuse.problem(401, "refresh_token_reused");
    let after = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": s2.refresh}),
        )
        .await;
    after.problem(401, "invalid_refresh_token");

    // Another login's session is untouched.
    let other = session_from(&app.login("rot@shop.ru", PASSWORD).await.body);
    let again = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": other.refresh}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{again:#?}");

    for garbage in ["", "strt_x_y", "not-a-token", &s.refresh.replace('a', "b")] {
        let a = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": garbage}),
            )
            .await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{garbage}: {a:#?}");
    }
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = TestApp::spawn().await;
    let s = app.register("out@shop.ru", "Shop").await;
    let a = app
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let r = app
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    r.problem(401, "invalid_refresh_token");
    // Logging out twice is harmless.
    let again = app
        .post(
            "/api/v1/auth/logout",
            None,
            json!({"refresh_token": s.refresh}),
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

fn mint(claims: Value, secret: &str, alg: Algorithm) -> String {
    encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn every_kind_of_bad_access_token_is_401() {
    let app = TestApp::spawn().await;
    let s = app.register("tok@shop.ru", "Shop").await;
    let now = chrono::Utc::now().timestamp();
    let good = json!({
        "sub": s.user_id, "tid": s.tenant_id, "typ": "access",
        "iss": "http://stock-tracker.test", "aud": "stock-tracker-api",
        "iat": now, "exp": now + 600, "jti": uuid::Uuid::new_v4(),
    });
    let with = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    // Our own minting with the right secret works, so each failure below is the one change.
    let control = mint(good.clone(), TEST_JWT_SECRET, Algorithm::HS256);
    assert_eq!(app.get("/api/v1/me", &control).await.status, StatusCode::OK);

    let header_b64 = |h: &str| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(h)
    };
    let payload = header_b64(&good.to_string());
    let alg_none = format!(
        "{}.{}.",
        header_b64(r#"{"alg":"none","typ":"JWT"}"#),
        payload
    );

    let mut no_sub = good.clone();
    no_sub.as_object_mut().unwrap().remove("sub");

    let bad = [
        (
            "expired",
            mint(
                with("exp", json!(now - 120)),
                TEST_JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        (
            "forged",
            mint(
                good.clone(),
                "another-secret-that-is-long-enough-000000",
                Algorithm::HS256,
            ),
        ),
        ("alg none", alg_none),
        (
            "other algorithm",
            mint(good.clone(), TEST_JWT_SECRET, Algorithm::HS512),
        ),
        (
            "wrong audience",
            mint(
                with("aud", json!("someone-else")),
                TEST_JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        (
            "wrong issuer",
            mint(
                with("iss", json!("https://evil.example")),
                TEST_JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        (
            "refresh type",
            mint(
                with("typ", json!("refresh")),
                TEST_JWT_SECRET,
                Algorithm::HS256,
            ),
        ),
        (
            "no subject",
            mint(no_sub, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        ("refresh token as access", s.refresh.clone()),
        ("garbage", "abc.def.ghi".to_string()),
    ];
    for (what, token) in bad {
        let a = app.get("/api/v1/me", &token).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{what}: {a:#?}");
        a.problem(401, "unauthorized");
    }
    let none = app.call(Method::GET, "/api/v1/me", None, None).await;
    none.problem(401, "unauthorized");
}

#[tokio::test]
async fn repeated_failed_logins_slow_down_but_never_lock_out() {
    let app = TestApp::builder()
        .env("LOGIN_FREE_FAILURES", "3")
        .spawn()
        .await;
    app.register("slow@shop.ru", "Shop").await;
    for _ in 0..3 {
        app.login("slow@shop.ru", "wrong password")
            .await
            .problem(401, "invalid_credentials");
    }
    // The fourth failure is still answered, and starts a wait.
    app.login("slow@shop.ru", "wrong password")
        .await
        .problem(401, "invalid_credentials");
    let throttled = app.login("slow@shop.ru", PASSWORD).await;
    throttled.problem(429, "login_throttled");
    let retry: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=2).contains(&retry),
        "first wait is about a second, got {retry}"
    );

    // Another account from another address is unaffected: the slowdown is per account.
    app.register("other@shop.ru", "Other").await;
    assert_eq!(
        app.login("other@shop.ru", PASSWORD).await.status,
        StatusCode::OK
    );

    // After the wait, the right password works: slowed down, never locked.
    tokio::time::sleep(std::time::Duration::from_millis(retry * 1000 + 100)).await;
    let ok = app.login("slow@shop.ru", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:#?}");
    // Success resets the account's counter.
    app.login("slow@shop.ru", "wrong password")
        .await
        .problem(401, "invalid_credentials");
    assert_eq!(
        app.login("slow@shop.ru", PASSWORD).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn auth_routes_are_rate_limited_per_address() {
    let app = TestApp::builder()
        .env("AUTH_RATE_LIMIT_BURST", "3")
        .env("AUTH_RATE_LIMIT_PERIOD_MS", "60000")
        .spawn()
        .await;
    let body = json!({"email": "x@y.co", "password": "whatever1"});
    for _ in 0..3 {
        let a = app.post("/api/v1/auth/login", None, body.clone()).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
    let limited = app.post("/api/v1/auth/login", None, body).await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    // Routes outside /auth are not limited by it.
    assert_eq!(
        app.call(Method::GET, "/health/live", None, None)
            .await
            .status,
        StatusCode::OK
    );
}

/// Issue 11, item 1: an attacker who invites an existing account's email into their own
/// tenant cannot use the invitation to guess that account's password, and the victim only
/// joins by accepting while signed in as themselves.
#[tokio::test]
async fn invitations_cannot_be_used_to_guess_an_existing_accounts_password() {
    let app = TestApp::builder()
        .env("LOGIN_FREE_FAILURES", "3")
        .spawn()
        .await;
    let victim = app.register("victim@shop.ru", "Victim's shop").await;
    let attacker = app.register("attacker@evil.ru", "Evil").await;
    let inv = app.invite(&attacker, "victim@shop.ru", "viewer").await;
    let accept = |password: &'static str| {
        app.post(
            "/api/v1/auth/accept-invitation",
            None,
            json!({"token": inv["token"], "password": password}),
        )
    };
    for guess in ["password1", "qwerty123", "letmein99", "12345678"] {
        accept(guess).await.problem(401, "sign_in_required");
    }
    // The right password tells the attacker nothing either, and joins no one.
    accept(PASSWORD).await.problem(401, "sign_in_required");
    let members = app.get("/api/v1/tenant/members", &attacker.access).await;
    assert_eq!(
        members.body["items"].as_array().unwrap().len(),
        1,
        "{members:#?}"
    );

    // Signed in as someone else, the invitation is refused too.
    app.post(
        "/api/v1/auth/accept-invitation",
        Some(&attacker.access),
        json!({"token": inv["token"]}),
    )
    .await
    .problem(403, "invitation_email_mismatch");

    // The victim, signed in as themselves, can accept (the invitation is still unused).
    let joined = app
        .post(
            "/api/v1/auth/accept-invitation",
            Some(&victim.access),
            json!({"token": inv["token"]}),
        )
        .await;
    assert_eq!(joined.status, StatusCode::OK, "{joined:#?}");
    assert_eq!(joined.body["tenant"]["id"], attacker.tenant_id.as_str());
    assert_eq!(joined.body["role"], "viewer");

    // A new account's invitation needs a password.
    let fresh = app.invite(&attacker, "new@shop.ru", "viewer").await;
    let missing = app
        .post(
            "/api/v1/auth/accept-invitation",
            None,
            json!({"token": fresh["token"]}),
        )
        .await;
    assert_eq!(missing.problem(422, "missing_field")["field"], "password");
}

/// Issue 11, item 8: refreshing keeps a session alive only up to the sign-in's absolute
/// lifetime, however often it is refreshed.
#[tokio::test]
async fn refreshing_never_extends_a_session_past_its_absolute_lifetime() {
    let app = TestApp::builder()
        .env("REFRESH_FAMILY_MAX_AGE_SECS", "3")
        .spawn()
        .await;
    let mut session = app.register("long@shop.ru", "Shop").await;
    let started = std::time::Instant::now();
    for _ in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        let renewed = app
            .post(
                "/api/v1/auth/refresh",
                None,
                json!({"refresh_token": session.refresh}),
            )
            .await;
        assert_eq!(renewed.status, StatusCode::OK, "{renewed:#?}");
        let left = renewed.body["refresh_expires_in"].as_u64().unwrap();
        assert!(
            left <= 3,
            "the successor ends with the sign-in, got {left} s"
        );
        session = session_from(&renewed.body);
    }
    tokio::time::sleep(std::time::Duration::from_secs(3).saturating_sub(started.elapsed())).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.post(
        "/api/v1/auth/refresh",
        None,
        json!({"refresh_token": session.refresh}),
    )
    .await
    .problem(401, "invalid_refresh_token");
}

/// Issue 11, item 3: parallel guesses cannot all slip past the slowdown. Each attempt is
/// reserved before its password is checked, so of forty guesses fired at once only the
/// free ones and the one that starts the wait are verified; the rest wait.
#[tokio::test]
async fn parallel_password_guesses_cannot_race_the_login_slowdown() {
    let app = TestApp::builder()
        .env("LOGIN_FREE_FAILURES", "3")
        .spawn()
        .await;
    app.register("raced@shop.ru", "Shop").await;
    let guesses = (0..40).map(|i| {
        let app = &app;
        async move {
            app.login("raced@shop.ru", &format!("wrong guess {i}"))
                .await
                .status
        }
    });
    let answers = futures::future::join_all(guesses).await;
    let verified = answers
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = answers
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(verified + throttled, 40, "{answers:?}");
    // 3 free guesses and the one that starts the 1 s wait; a loaded machine may spread the
    // burst over a wait or two (2 s, 4 s…), never over all forty.
    assert!(verified <= 8, "the slowdown held: {answers:?}");
}

/// Issue 11, item 3: the account's owner signs in from a device they signed in on before,
/// while someone else's guessing holds the account's slowdown.
#[tokio::test]
async fn the_owner_signs_in_from_a_known_device_while_someone_guesses() {
    let app = TestApp::builder()
        .env("LOGIN_FREE_FAILURES", "2")
        .spawn()
        .await;
    app.register("owner@shop.ru", "Shop").await;
    let earlier = app.login("owner@shop.ru", PASSWORD).await;
    assert_eq!(earlier.status, StatusCode::OK, "{earlier:#?}");
    let device = earlier.body["device_token"].as_str().unwrap().to_string();

    // Someone has been guessing for a while: the account waits a minute (set in Redis as the
    // throttle would after many failures, so that the rest does not race a short wait).
    let account: String = sha2::Sha256::digest(b"owner@shop.ru")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let key = format!("{}login:acct:{account}", app.redis_prefix);
    let mut redis = redis::Client::open(stock_tracker_tests::db::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::pipe()
        .set(&key, 40)
        .cmd("SET")
        .arg(format!("{key}:block"))
        .arg(1)
        .arg("PX")
        .arg(60_000)
        .query_async(&mut redis)
        .await
        .unwrap();
    app.login("owner@shop.ru", PASSWORD)
        .await
        .problem(429, "login_throttled");
    // A forged device token is no device token.
    app.post(
        "/api/v1/auth/login",
        None,
        json!({"email": "owner@shop.ru", "password": PASSWORD, "device_token": format!("{device}x")}),
    )
    .await
    .problem(429, "login_throttled");

    // The owner's device is not slowed down.
    let owner = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "owner@shop.ru", "password": PASSWORD, "device_token": device}),
        )
        .await;
    assert_eq!(owner.status, StatusCode::OK, "{owner:#?}");
    assert!(owner.body["device_token"].is_string());

    // A device token works for its own email only.
    app.register("other@shop.ru", "Other").await;
    let borrowed = app
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "owner@shop.ru", "password": PASSWORD,
                   "device_token": app.login("other@shop.ru", PASSWORD).await.body["device_token"]}),
        )
        .await;
    borrowed.problem(429, "login_throttled");
}

/// Issue 11, item 3: an IPv6 client is rate limited per /64, not per address.
#[tokio::test]
async fn auth_rate_limit_counts_an_ipv6_client_per_64() {
    let app = TestApp::builder()
        .env("AUTH_RATE_LIMIT_BURST", "3")
        .env("AUTH_RATE_LIMIT_PERIOD_MS", "60000")
        .env("TRUSTED_PROXIES", "127.0.0.1")
        .spawn()
        .await;
    let from = |client: &str| {
        app.send(
            app.client
                .post(app.url("/api/v1/auth/login"))
                .header("x-forwarded-for", client)
                .json(&json!({"email": "x@y.co", "password": "whatever1"})),
        )
    };
    for n in 1..=3 {
        let a = from(&format!("2001:db8:1:2::{n}")).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{a:#?}");
    }
    // Another address of the same /64 is the same client.
    from("2001:db8:1:2:ffff::9")
        .await
        .problem(429, "rate_limited");
    // Another /64 is another client.
    assert_eq!(
        from("2001:db8:1:3::1").await.status,
        StatusCode::UNAUTHORIZED
    );
}

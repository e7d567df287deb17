//! A WB token is a key to the seller's business: it must never appear in plaintext in the
//! database, in job payloads, in logs or in any answer; our service secret towards WB
//! (`X-Client-Secret`) goes to WB on every seller-data request and nowhere else. One test
//! per file, because it installs the process-wide log subscriber it reads.

use std::io::Write;
use std::sync::{Arc, Mutex};
use stock_tracker_tests::http::TEST_WB_CLIENT_SECRET;
use stock_tracker_tests::world::{SandboxWorld, connect_token, small_sandbox, sync_and_wait};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn the_token_appears_nowhere_but_its_ciphertext_and_the_secret_only_goes_to_wb() {
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .init();

    let world = SandboxWorld::start(small_sandbox()).await;
    let app = &world.app;
    let s = app.register("secret@shop.ru", "Secret shop").await;
    let token = world.token(31337);
    // Its signature part alone is just as sensitive as the whole.
    let signature = token.rsplit('.').next().unwrap().to_string();
    let saved = connect_token(app, &s, &token).await;
    assert_eq!(saved.status.as_u16(), 200);
    let run = sync_and_wait(app, &s).await;
    assert_eq!(run["status"], "succeeded");

    // Answers.
    for path in [
        "/api/v1/wb/credentials",
        "/api/v1/sync/runs",
        "/api/v1/sync/status",
        "/api/v1/me",
    ] {
        let a = app.get(path, &s.access).await;
        assert!(!a.text.contains(&signature), "{path} leaks the token");
        assert!(
            !a.text.contains(TEST_WB_CLIENT_SECRET),
            "{path} leaks the secret"
        );
    }
    assert!(!saved.text.contains(&signature));

    // Every column of every table, ours and the job queue's, as text and as bytes.
    let tables: Vec<String> = sqlx::query_scalar(
        "select format('%I.%I', schemaname, tablename) from pg_tables
          where schemaname in ('public', 'apalis')",
    )
    .fetch_all(&app.db.owner)
    .await
    .unwrap();
    assert!(tables.iter().any(|t| t == "apalis.jobs"));
    for table in tables {
        let sql = format!(
            "select count(*) from {table} t
              where strpos(t::text, $1) > 0
                 or strpos(encode(convert_to(t::text, 'UTF8'), 'escape'), $1) > 0"
        );
        for (what, needle) in [
            ("token", signature.as_str()),
            ("secret", TEST_WB_CLIENT_SECRET),
        ] {
            let hits: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
                .bind(needle)
                .fetch_one(&app.db.owner)
                .await
                .unwrap();
            assert_eq!(hits, 0, "{table} holds the {what} in plaintext");
        }
    }
    let jobs = stock_tracker_shared::jobs::queue::payloads(
        &app.db.owner,
        stock_tracker_shared::jobs::SYNC_QUEUE,
    )
    .await
    .unwrap();
    assert!(!jobs.is_empty());
    for job in jobs {
        let text = String::from_utf8_lossy(&job);
        assert!(!text.contains(&signature));
        assert!(!text.contains(TEST_WB_CLIENT_SECRET));
        assert!(
            text.contains("run_id") && text.contains("tenant_id"),
            "payloads carry ids: {text}"
        );
    }

    // Logs, at TRACE, from the api, the worker and every library.
    let captured = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(captured.len() > 1000, "logs were captured");
    assert!(captured.contains("sync succeeded"));
    assert!(!captured.contains(&signature), "logs leak the token");
    assert!(
        !captured.contains(TEST_WB_CLIENT_SECRET),
        "logs leak the service secret"
    );

    // WB (the sandbox, which refuses any other secret) saw it on every seller-data request,
    // with a User-Agent naming us, and not on /ping.
    let seen = world.wb_requests().await;
    assert!(seen.len() >= 4, "{seen:#?}");
    for r in &seen {
        let ua = r["user_agent"].as_str().unwrap_or_default();
        assert!(ua.starts_with("stock-tracker/"), "{r}");
        if r["path"] == "/ping" {
            assert!(r["client_secret"].is_null(), "{r}");
        } else {
            assert_eq!(r["client_secret"], TEST_WB_CLIENT_SECRET, "{r}");
            assert!(r["status"].as_u64().unwrap() < 300, "{r}");
        }
    }
}

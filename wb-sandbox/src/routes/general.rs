use axum::response::Response;
use chrono::Utc;

use super::json_ok;
use crate::timefmt::moscow_rfc3339;

/// `GET /ping` on any host: reaching the handler means the token passed the guard.
pub async fn ping() -> Response {
    json_ok(&serde_json::json!({"TS": moscow_rfc3339(Utc::now()), "Status": "OK"}))
}

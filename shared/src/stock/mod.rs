//! Reading synced stock: products, sizes, warehouses, current stock and its history.
//! Every function runs in a tenant-scoped transaction; RLS confines it to that tenant.

pub mod history;
pub mod products;
pub mod stocks;
pub mod totals;
pub mod warehouses;

use crate::tenancy::Tx;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{Postgres, QueryBuilder};

/// When the tenant's last successful sync finished, as a column of a page's own statement
/// (`app_last_synced_at()`, migration `…000710`): evaluated once per statement. Every answer
/// carries this time, and asking for it separately would cost each uncached read another
/// round trip. The checked queries spell the same text (a literal cannot include a constant).
pub const SYNCED_AT: &str = "(select app_last_synced_at())";

/// `EXPLAIN (FORMAT JSON)` of a page statement as `push` builds it: the plan PostgreSQL
/// chooses, for the test that list reads walk an index and for the benchmark's report.
async fn explain(
    tx: &mut Tx,
    push: impl FnOnce(&mut QueryBuilder<Postgres>),
) -> sqlx::Result<serde_json::Value> {
    let mut q = QueryBuilder::new("explain (format json) ");
    push(&mut q);
    let (plan,): (serde_json::Value,) = q.build_query_as().fetch_one(&mut **tx).await?;
    Ok(plan)
}

/// [`SYNCED_AT`] on its own, for an answer whose statement does not carry it.
pub async fn synced_at(tx: &mut Tx) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar!("select app_last_synced_at()")
        .fetch_one(&mut **tx)
        .await
}

/// Text a seller searches for: trimmed, at most [`SearchText::MAX_LEN`] characters. Bounded
/// because every distinct search is a query plan's work and a cache entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SearchText(String);

impl SearchText {
    pub const MAX_LEN: usize = 100;

    /// The text to filter by; None for an empty search (which filters nothing).
    pub fn as_filter(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(self.0.as_str())
    }
}

impl TryFrom<String> for SearchText {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        let text = raw.trim();
        if text.chars().count() > Self::MAX_LEN {
            Err(format!("a search is at most {} characters", Self::MAX_LEN))
        } else {
            Ok(Self(text.to_string()))
        }
    }
}

impl From<SearchText> for String {
    fn from(s: SearchText) -> String {
        s.0
    }
}

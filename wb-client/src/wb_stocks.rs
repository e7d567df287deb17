//! Stock on WB's warehouses (FBW), two ways:
//! - `POST /api/analytics/v1/stocks-report/wb-warehouses`: offset-paged rows per size and
//!   warehouse, for personal and service tokens;
//! - the asynchronous `warehouse_remains` report (create, poll, download), which every token
//!   type may use and is the fallback for base tokens.

use crate::client::WbSession;
use crate::error::WbError;
use crate::limits::Method;
use crate::models::{DataEnvelope, Items, RemainsRow, TaskCreated, TaskStatus, WbStockRow};
use serde::de::DeserializeOwned;
use serde_json::json;

/// WB's maximum rows per stocks-report page.
pub const STOCKS_REPORT_PAGE_MAX: u64 = 250_000;

/// Grouping that yields one row per size (article + barcode + size), with the names WB can
/// add for free. `locale=ru` keeps WB's summary line names stable (see `models.rs`).
const REMAINS_QUERY: [(&str, &str); 9] = [
    ("locale", "ru"),
    ("groupByBrand", "true"),
    ("groupBySubject", "true"),
    ("groupBySa", "true"),
    ("groupByNm", "true"),
    ("groupByBarcode", "true"),
    ("groupBySize", "true"),
    ("filterPics", "0"),
    ("filterVolume", "0"),
];

impl WbSession {
    /// One page of the stock report; `limit` is clamped to 1..=250000.
    pub async fn wb_warehouse_stocks(
        &self,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<WbStockRow>, WbError> {
        self.report_page(Method::StocksReportWbWarehouses, offset, limit)
            .await
    }

    /// The whole stock report, page by page until a short page.
    pub async fn all_wb_warehouse_stocks(
        &self,
        page_size: u64,
    ) -> Result<Vec<WbStockRow>, WbError> {
        self.whole_report(Method::StocksReportWbWarehouses, page_size)
            .await
    }

    /// One page of an offset-paged stocks report (`{"limit", "offset"}` in,
    /// `data.items` out, 204 when there is nothing); `limit` is clamped to 1..=250000.
    pub(crate) async fn report_page<T: DeserializeOwned>(
        &self,
        method: Method,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<T>, WbError> {
        let limit = limit.clamp(1, STOCKS_REPORT_PAGE_MAX);
        let body = json!({ "limit": limit, "offset": offset });
        let answer = self
            .send(method, method.path_template(), &[], Some(&body))
            .await?;
        if answer.status == 204 {
            return Ok(Vec::new());
        }
        let page: DataEnvelope<Items<T>> = self.decode(method, &answer)?;
        Ok(page.data.items)
    }

    /// Every page of an offset-paged stocks report, until a short page.
    pub(crate) async fn whole_report<T: DeserializeOwned + PartialEq + Clone>(
        &self,
        method: Method,
        page_size: u64,
    ) -> Result<Vec<T>, WbError> {
        let page_size = page_size.clamp(1, STOCKS_REPORT_PAGE_MAX);
        let mut rows: Vec<T> = Vec::new();
        let mut previous_first: Option<T> = None;
        loop {
            let page: Vec<T> = self
                .report_page(method, rows.len() as u64, page_size)
                .await?;
            // If WB ignored the offset it would send the same page forever.
            if let (Some(previous), Some(first)) = (&previous_first, page.first())
                && previous == first
            {
                return Err(WbError::BadResponse(format!(
                    "{}: the same page came back for a later offset",
                    method.name()
                )));
            }
            previous_first = page.first().cloned();
            let short = (page.len() as u64) < page_size;
            rows.extend(page);
            if short {
                return Ok(rows);
            }
        }
    }

    /// Creates a warehouse_remains report, polls until it is ready, downloads it.
    ///
    /// Polls are spaced by `remains_poll_interval` (WB allows one status call per 5 s) and
    /// bounded by `remains_max_polls`; running out of polls is a [`WbError::Timeout`], a
    /// task WB cancelled or purged is a [`WbError::BadResponse`].
    pub async fn warehouse_remains_report(&self) -> Result<Vec<RemainsRow>, WbError> {
        let create = Method::WarehouseRemainsCreate;
        let answer = self
            .send(create, create.path_template(), &REMAINS_QUERY, None)
            .await?;
        let created: DataEnvelope<TaskCreated> = self.decode(create, &answer)?;
        let task_id = created.data.task_id;
        // The id goes into a path; anything but a UUID-like string is refused.
        let valid = !task_id.is_empty()
            && task_id.len() <= 64
            && task_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(WbError::BadResponse(format!(
                "{}: the task id is not an id",
                create.name()
            )));
        }

        let status = Method::WarehouseRemainsStatus;
        let status_path = format!("/api/v1/warehouse_remains/tasks/{task_id}/status");
        let config = self.config();
        let mut ready = false;
        for _ in 0..config.remains_max_polls {
            // A report is never ready the instant it is created.
            tokio::time::sleep(config.remains_poll_interval).await;
            let answer = self.send(status, &status_path, &[], None).await?;
            let state: DataEnvelope<TaskStatus> = self.decode(status, &answer)?;
            match state.data.status.as_str() {
                "done" => {
                    ready = true;
                    break;
                }
                "canceled" | "purged" => {
                    return Err(WbError::BadResponse(format!(
                        "{}: the report task was {}",
                        status.name(),
                        state.data.status
                    )));
                }
                // "new", "processing" or anything WB adds later: keep waiting.
                other => {
                    tracing::debug!(task_status = other, "warehouse_remains report not ready")
                }
            }
        }
        if !ready {
            tracing::warn!(
                polls = config.remains_max_polls,
                "warehouse_remains report was not ready in time"
            );
            return Err(WbError::Timeout);
        }

        let download = Method::WarehouseRemainsDownload;
        let download_path = format!("/api/v1/warehouse_remains/tasks/{task_id}/download");
        let answer = self.send(download, &download_path, &[], None).await?;
        self.decode_list(download, &answer)
    }
}

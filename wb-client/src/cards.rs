//! The product catalog: `POST content-api /content/v2/get/cards/list`, cursor-paged.

use crate::client::WbSession;
use crate::error::WbError;
use crate::limits::Method;
use crate::models::{Card, CardsCursor, CardsPage};
use serde_json::json;

/// WB's maximum page size.
pub const CARDS_PAGE_MAX: u32 = 100;

impl WbSession {
    /// One page of cards. Pass `None` for the first page and the previous page's cursor
    /// afterwards; `limit` is clamped to 1..=100.
    pub async fn cards_page(
        &self,
        cursor: Option<CardsCursor>,
        limit: u32,
    ) -> Result<CardsPage, WbError> {
        let limit = limit.clamp(1, CARDS_PAGE_MAX);
        let cursor = match cursor {
            None => json!({ "limit": limit }),
            Some(c) => json!({ "limit": limit, "updatedAt": c.updated_at, "nmID": c.nm_id }),
        };
        let body = json!({
            "settings": {
                "cursor": cursor,
                // -1: every card. The default, 0, long meant "only cards without photos".
                "filter": { "withPhoto": -1 },
            }
        });
        let method = Method::CardsList;
        let answer = self
            .send(method, method.path_template(), &[], Some(&body))
            .await?;
        self.decode(method, &answer)
    }

    /// Every card, paging as WB documents: copy the answer's cursor into the next request
    /// and stop once `cursor.total < limit`. Stops early at `max` cards if given.
    pub async fn all_cards(
        &self,
        page_limit: u32,
        max: Option<usize>,
    ) -> Result<Vec<Card>, WbError> {
        let limit = page_limit.clamp(1, CARDS_PAGE_MAX);
        let mut cards = Vec::new();
        let mut cursor: Option<CardsCursor> = None;
        loop {
            let page = self.cards_page(cursor.clone(), limit).await?;
            let returned = page.cards.len();
            cards.extend(page.cards);
            if let Some(max) = max
                && cards.len() >= max
            {
                cards.truncate(max);
                break;
            }
            if page.cursor.total < i64::from(limit) || returned == 0 {
                break;
            }
            // A cursor that does not move would page forever.
            if let Some(previous) = &cursor
                && previous.updated_at == page.cursor.updated_at
                && previous.nm_id == page.cursor.nm_id
            {
                return Err(WbError::BadResponse(format!(
                    "{}: the cursor did not advance",
                    Method::CardsList.name()
                )));
            }
            cursor = Some(page.cursor);
        }
        Ok(cards)
    }
}

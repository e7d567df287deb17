//! The product catalog: `POST content-api /content/v2/get/cards/list`, cursor-paged.
//!
//! Two ways to read it, both as WB's spec describes:
//! - the whole catalog, newest first ([`WbSession::all_cards`]);
//! - only the cards created or changed since an earlier listing
//!   ([`WbSession::cards_changed_since`]): sort ascending and start from the cursor saved
//!   at the end of that listing.

use crate::client::WbSession;
use crate::error::WbError;
use crate::limits::Method;
use crate::models::{Card, CardsCursor, CardsPage};
use serde_json::json;

/// WB's maximum page size.
pub const CARDS_PAGE_MAX: u32 = 100;

/// The order of a listing, by `updatedAt` (then `nmID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    NewestFirst,
    OldestFirst,
}

/// What a listing read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Listing {
    pub cards: Vec<Card>,
    /// Where a later listing of changes continues: the position of the newest card seen,
    /// as WB's cursor. `None` when the listing saw no card.
    pub resume: Option<CardsCursor>,
}

impl WbSession {
    /// One page of cards, newest first. Pass `None` for the first page and the previous
    /// page's cursor afterwards; `limit` is clamped to 1..=100.
    pub async fn cards_page(
        &self,
        cursor: Option<CardsCursor>,
        limit: u32,
    ) -> Result<CardsPage, WbError> {
        self.page(cursor.as_ref(), limit, Order::NewestFirst).await
    }

    async fn page(
        &self,
        cursor: Option<&CardsCursor>,
        limit: u32,
        order: Order,
    ) -> Result<CardsPage, WbError> {
        let limit = limit.clamp(1, CARDS_PAGE_MAX);
        let cursor = match cursor {
            None => json!({ "limit": limit }),
            Some(c) => json!({ "limit": limit, "updatedAt": c.updated_at, "nmID": c.nm_id }),
        };
        let body = json!({
            "settings": {
                "sort": { "ascending": order == Order::OldestFirst },
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

    /// Every card, newest first, paging as WB documents: copy the answer's cursor into the
    /// next request and stop once `cursor.total < limit`. Stops early at `max` cards if given.
    pub async fn all_cards(
        &self,
        page_limit: u32,
        max: Option<usize>,
    ) -> Result<Vec<Card>, WbError> {
        Ok(self.full_listing(page_limit, max).await?.cards)
    }

    /// [`WbSession::all_cards`] with the cursor a later [`WbSession::cards_changed_since`]
    /// starts from: the newest card, which comes first.
    pub async fn full_listing(
        &self,
        page_limit: u32,
        max: Option<usize>,
    ) -> Result<Listing, WbError> {
        let (cards, _) = self.list(None, page_limit, max, Order::NewestFirst).await?;
        let resume = cards.first().map(|c| CardsCursor {
            updated_at: c.updated_at.clone(),
            nm_id: c.nm_id,
            total: 0,
        });
        Ok(Listing { cards, resume })
    }

    /// The cards created or changed after `since` (a [`Listing::resume`] of an earlier
    /// listing), oldest change first. An unchanged catalog costs one request. `resume` is
    /// the cursor of the last page that had cards, or `since` when none had.
    pub async fn cards_changed_since(
        &self,
        since: &CardsCursor,
        page_limit: u32,
    ) -> Result<Listing, WbError> {
        let (cards, last) = self
            .list(Some(since.clone()), page_limit, None, Order::OldestFirst)
            .await?;
        Ok(Listing {
            cards,
            resume: Some(last.unwrap_or_else(|| since.clone())),
        })
    }

    /// Pages from `start` in `order`; returns the cards and the cursor of the last page
    /// that had any.
    async fn list(
        &self,
        start: Option<CardsCursor>,
        page_limit: u32,
        max: Option<usize>,
        order: Order,
    ) -> Result<(Vec<Card>, Option<CardsCursor>), WbError> {
        let limit = page_limit.clamp(1, CARDS_PAGE_MAX);
        let mut cards = Vec::new();
        let mut cursor = start;
        let mut last_with_cards = None;
        loop {
            let page = self.page(cursor.as_ref(), limit, order).await?;
            let returned = page.cards.len();
            cards.extend(page.cards);
            if returned > 0 {
                last_with_cards = Some(page.cursor.clone());
            }
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
        Ok((cards, last_with_cards))
    }
}

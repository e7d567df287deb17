//! `POST /content/v2/get/cards/list` with WB's (updatedAt, nmID) cursor.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, json_ok};
use crate::catalog::Product;
use crate::errors;
use crate::state::AppState;
use crate::timefmt::rfc3339_nano;

const MAX_LIMIT: i64 = 100;
const DEFAULT_LIMIT: i64 = 10;

#[derive(Debug, Default, Deserialize)]
struct ListRequest {
    #[serde(default)]
    settings: Settings,
}

#[derive(Debug, Default, Deserialize)]
struct Settings {
    #[serde(default)]
    sort: Sort,
    #[serde(default)]
    filter: Filter,
    #[serde(default)]
    cursor: Cursor,
}

#[derive(Debug, Default, Deserialize)]
struct Sort {
    /// WB's default is descending by updatedAt.
    #[serde(default)]
    ascending: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    with_photo: Option<i64>,
    text_search: Option<String>,
    #[serde(rename = "tagIDs")]
    tag_ids: Option<Vec<i64>>,
    #[serde(rename = "objectIDs")]
    object_ids: Option<Vec<i64>>,
    brands: Option<Vec<String>>,
    #[serde(rename = "imtID")]
    imt_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct Cursor {
    limit: Option<i64>,
    #[serde(rename = "updatedAt")]
    updated_at: Option<String>,
    #[serde(rename = "nmID")]
    nm_id: Option<i64>,
}

impl Filter {
    fn matches(&self, p: &Product) -> bool {
        let photo_ok = match self.with_photo.unwrap_or(-1) {
            1 => p.photos > 0,
            2 => p.photos == 0,
            // -1 and, since WB's change of 16 June, 0 mean "any card".
            _ => true,
        };
        let text_ok = self.text_search.as_deref().is_none_or(|q| {
            let q = q.trim();
            q.is_empty()
                || p.vendor_code.contains(q)
                || p.nm_id.to_string() == q
                || p.sizes.iter().any(|s| s.skus.iter().any(|b| b == q))
        });
        // Sandbox cards carry no tags, so any tag filter matches nothing.
        let tags_ok = self.tag_ids.as_ref().is_none_or(|t| t.is_empty());
        let objects_ok = self
            .object_ids
            .as_ref()
            .is_none_or(|ids| ids.is_empty() || ids.contains(&p.subject_id));
        let brands_ok = self
            .brands
            .as_ref()
            .is_none_or(|b| b.is_empty() || b.iter().any(|x| x == p.brand));
        let imt_ok = self.imt_id.is_none_or(|id| id == 0 || id == p.imt_id);
        photo_ok && text_ok && tags_ok && objects_ok && brands_ok && imt_ok
    }
}

fn card(p: &Product) -> Value {
    json!({
        "nmID": p.nm_id,
        "imtID": p.imt_id,
        "nmUUID": p.nm_uuid.to_string(),
        "subjectID": p.subject_id,
        "subjectName": p.subject_name,
        "vendorCode": p.vendor_code,
        "brand": p.brand,
        "title": p.title,
        "description": p.description,
        "needKiz": false,
        "kizMarked": false,
        "photos": p.photo_urls(),
        "wholesale": {"enabled": false, "quantum": 0},
        "dimensions": {
            "length": p.dimensions.length,
            "width": p.dimensions.width,
            "height": p.dimensions.height,
            "weightBrutto": p.dimensions.weight_brutto,
            "isValid": true,
        },
        "characteristics": [{"id": 14_177_449, "name": "Цвет", "value": [p.color]}],
        "sizes": p.sizes.iter().map(|s| json!({
            "chrtID": s.chrt_id,
            "techSize": s.tech_size,
            "wbSize": s.wb_size,
            "skus": s.skus,
        })).collect::<Vec<_>>(),
        "tags": [],
        "createdAt": rfc3339_nano(p.created_at),
        "updatedAt": rfc3339_nano(p.updated_at),
    })
}

pub async fn list_cards(
    State(app): State<AppState>,
    Extension(Caller(token)): Extension<Caller>,
    body: Bytes,
) -> Response {
    let req: ListRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ListRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(_) => {
                return errors::content(StatusCode::BAD_REQUEST, "Request body can not be decoded");
            }
        }
    };
    let settings = req.settings;
    let limit = settings.cursor.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return errors::content(
            StatusCode::BAD_REQUEST,
            &format!("Invalid cursor limit {limit}: must be between 1 and {MAX_LIMIT}"),
        );
    }
    let after: Option<DateTime<Utc>> = match settings.cursor.updated_at.as_deref() {
        None | Some("") => None,
        Some(raw) => match DateTime::parse_from_rfc3339(raw) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                return errors::content(
                    StatusCode::BAD_REQUEST,
                    &format!("Invalid cursor updatedAt {raw:?}"),
                );
            }
        },
    };
    let ascending = settings.sort.ascending;
    // A cursor without nmID includes every card with exactly that updatedAt.
    let cursor_key = after.map(|t| {
        let nm = settings
            .cursor
            .nm_id
            .unwrap_or(if ascending { i64::MIN } else { i64::MAX });
        (t, nm)
    });

    let cat = app.catalog(token.seller_id);
    let key = |i: u32| {
        let p = &cat.products[i as usize];
        (p.updated_at, p.nm_id)
    };
    let order = &cat.by_updated;
    let mut cards = Vec::with_capacity(limit as usize);
    let mut last: Option<&Product> = None;
    let mut take = |i: u32| {
        let p = &cat.products[i as usize];
        if settings.filter.matches(p) {
            cards.push(card(p));
            last = Some(p);
        }
        cards.len() as i64 >= limit
    };
    // Pages start strictly after the cursor card in the requested direction.
    if ascending {
        let start = cursor_key.map_or(0, |c| order.partition_point(|&i| key(i) <= c));
        for &i in &order[start..] {
            if take(i) {
                break;
            }
        }
    } else {
        let end = cursor_key.map_or(order.len(), |c| order.partition_point(|&i| key(i) < c));
        for &i in order[..end].iter().rev() {
            if take(i) {
                break;
            }
        }
    }
    let cursor = match last {
        Some(p) => json!({
            "updatedAt": rfc3339_nano(p.updated_at),
            "nmID": p.nm_id,
            "total": cards.len(),
        }),
        None => json!({
            "updatedAt": settings.cursor.updated_at,
            "nmID": settings.cursor.nm_id.unwrap_or(0),
            "total": 0,
        }),
    };
    json_ok(&json!({"cards": cards, "cursor": cursor}))
}

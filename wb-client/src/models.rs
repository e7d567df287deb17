//! The parts of WB's answers the product uses, named the Rust way and renamed to WB's field
//! names for serde. Optional or rarely-filled fields default instead of failing the whole
//! page: WB omits empty fields freely, and one odd card must not stop a sync.
//!
//! Reading is tolerant the way WB's changes need: fields we do not use are ignored (no
//! `deny_unknown_fields` anywhere here; WB added `documents` and `gtin` to cards in
//! September and October 2026), while a field we need that is missing or arrives with another
//! type fails the whole answer, and [`parse`] names it by its path (`cards[3].sizes[0].chrtID`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Why a 2xx body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Well-formed JSON without a field we need, or with one of another type. `field` is the
    /// path from the body's root, made of our own field names and array indices.
    Field { field: String, problem: String },
    /// Not JSON, cut off, or trailing garbage.
    Syntax(String),
}

/// The longest field path an error carries: a path is for people to read.
const FIELD_PATH_MAX: usize = 120;

/// Parses a WB answer body, naming the offending field when the JSON is well formed but
/// does not fit `T`.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.classify() != serde_json::error::Category::Data {
            return ParseError::Syntax(inner.to_string());
        }
        // serde says "missing field `x`" about the object that lacks it: name the field
        // itself, as a reader of the path expects.
        let text = inner.to_string();
        let message = text.split(" at line ").next().unwrap_or(&text);
        let (field, problem) = match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            Some(name) if path == "." => (name.to_string(), "is missing".to_string()),
            Some(name) => (format!("{path}.{name}"), "is missing".to_string()),
            None => (path, message.to_string()),
        };
        ParseError::Field {
            field: field_path(&field),
            problem,
        }
    })?;
    de.end().map_err(|e| ParseError::Syntax(e.to_string()))?;
    Ok(value)
}

/// Keeps a path to the characters our field names and indices use, and short: it ends up in
/// a run's message that sellers read.
fn field_path(path: &str) -> String {
    path.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
        .take(FIELD_PATH_MAX)
        .collect()
}

/// One product card (`/content/v2/get/cards/list`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    #[serde(rename = "nmID")]
    pub nm_id: i64,
    #[serde(rename = "imtID", default)]
    pub imt_id: i64,
    #[serde(rename = "vendorCode", default)]
    pub vendor_code: String,
    #[serde(default)]
    pub brand: String,
    #[serde(default)]
    pub title: String,
    #[serde(rename = "subjectName", default)]
    pub subject_name: String,
    #[serde(default)]
    pub sizes: Vec<CardSize>,
    #[serde(rename = "updatedAt", default)]
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardSize {
    #[serde(rename = "chrtID")]
    pub chrt_id: i64,
    #[serde(rename = "techSize", default)]
    pub tech_size: String,
    #[serde(rename = "wbSize", default)]
    pub wb_size: String,
    /// Barcodes.
    #[serde(default)]
    pub skus: Vec<String>,
}

/// The cursor WB returns with a page of cards. `updated_at` is kept exactly as WB wrote it,
/// because the next request must send it back unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardsCursor {
    #[serde(rename = "updatedAt", default)]
    pub updated_at: String,
    #[serde(rename = "nmID", default)]
    pub nm_id: i64,
    /// How many cards this page returned.
    #[serde(default)]
    pub total: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CardsPage {
    #[serde(default)]
    pub cards: Vec<Card>,
    pub cursor: CardsCursor,
}

/// One size of one product on one WB warehouse (`stocks-report/wb-warehouses`). Since
/// 2026-08-15 WB reports its Russian warehouses as one `warehouse_id = -999999`, so the
/// warehouse is descriptive, not a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WbStockRow {
    #[serde(rename = "nmId")]
    pub nm_id: i64,
    #[serde(rename = "chrtId")]
    pub chrt_id: i64,
    #[serde(rename = "warehouseId")]
    pub warehouse_id: i64,
    #[serde(rename = "warehouseName", default)]
    pub warehouse_name: String,
    #[serde(rename = "regionName", default)]
    pub region_name: String,
    pub quantity: i64,
    #[serde(rename = "inWayToClient", default)]
    pub in_way_to_client: i64,
    #[serde(rename = "inWayFromClient", default)]
    pub in_way_from_client: i64,
}

/// WB's id for its aggregated Russian warehouses in the stock report.
pub const AGGREGATE_WB_WAREHOUSE_ID: i64 = -999_999;

/// One row of the warehouse_remains report: one size of one product (when grouped by
/// article, barcode and size, as [`crate::WbSession::warehouse_remains_report`] asks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemainsRow {
    #[serde(default)]
    pub brand: String,
    #[serde(rename = "subjectName", default)]
    pub subject_name: String,
    #[serde(rename = "vendorCode", default)]
    pub vendor_code: String,
    #[serde(rename = "nmId")]
    pub nm_id: i64,
    #[serde(default)]
    pub barcode: String,
    #[serde(rename = "techSize", default)]
    pub tech_size: String,
    #[serde(default)]
    pub volume: Option<f64>,
    /// Real warehouses and WB's summary lines mixed, only non-zero quantities; see
    /// [`RemainsRow::stock_warehouses`] and the summary accessors.
    #[serde(default)]
    pub warehouses: Vec<RemainsWarehouse>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemainsWarehouse {
    #[serde(rename = "warehouseName")]
    pub warehouse_name: String,
    #[serde(default)]
    pub quantity: i64,
}

/// Summary lines WB mixes into `warehouses` (with `locale=ru`, which the client always asks
/// for so these names are stable).
pub const REMAINS_IN_WAY_TO_CLIENT: &str = "В пути до получателей";
pub const REMAINS_IN_WAY_FROM_CLIENT: &str = "В пути возвраты на склад WB";
pub const REMAINS_TOTAL: &str = "Всего находится на складах";

impl RemainsRow {
    fn named(&self, name: &str) -> i64 {
        self.warehouses
            .iter()
            .filter(|w| w.warehouse_name == name)
            .map(|w| w.quantity)
            .sum()
    }

    pub fn in_way_to_client(&self) -> i64 {
        self.named(REMAINS_IN_WAY_TO_CLIENT)
    }

    pub fn in_way_from_client(&self) -> i64 {
        self.named(REMAINS_IN_WAY_FROM_CLIENT)
    }

    /// WB's own total over warehouses, when it sent one.
    pub fn total_on_warehouses(&self) -> Option<i64> {
        self.warehouses
            .iter()
            .any(|w| w.warehouse_name == REMAINS_TOTAL)
            .then(|| self.named(REMAINS_TOTAL))
    }

    /// The lines that are warehouses (real ones or WB's "Склад WB РФ" aggregates).
    pub fn stock_warehouses(&self) -> impl Iterator<Item = &RemainsWarehouse> {
        self.warehouses.iter().filter(|w| {
            !matches!(
                w.warehouse_name.as_str(),
                REMAINS_IN_WAY_TO_CLIENT | REMAINS_IN_WAY_FROM_CLIENT | REMAINS_TOTAL
            )
        })
    }
}

/// A seller's own (FBS/DBS) warehouse (`GET /api/v3/warehouses`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerWarehouse {
    pub id: i64,
    #[serde(default)]
    pub name: String,
    /// The WB office the warehouse is attached to.
    #[serde(rename = "officeId", default)]
    pub office_id: Option<i64>,
    /// 1 small, 2 oversized (SGT), 3 large (KGT+).
    #[serde(rename = "cargoType", default)]
    pub cargo_type: Option<i32>,
    /// 1 FBS, 2 DBS, 3 DBW, 5 click & collect, 6 express DBS.
    #[serde(rename = "deliveryType", default)]
    pub delivery_type: Option<i32>,
    #[serde(rename = "isDeleting", default)]
    pub is_deleting: bool,
    #[serde(rename = "isProcessing", default)]
    pub is_processing: bool,
}

/// Stock of one size on a seller warehouse (`POST /api/v3/stocks/{warehouseId}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SellerStock {
    #[serde(rename = "chrtId")]
    pub chrt_id: i64,
    pub amount: i64,
}

// Envelopes: only the client needs these.

#[derive(Deserialize)]
pub(crate) struct DataEnvelope<T> {
    pub data: T,
}

#[derive(Deserialize)]
pub(crate) struct Items<T> {
    pub items: Vec<T>,
}

#[derive(Deserialize)]
pub(crate) struct TaskCreated {
    #[serde(rename = "taskId")]
    pub task_id: String,
}

#[derive(Deserialize)]
pub(crate) struct TaskStatus {
    pub status: String,
}

#[derive(Deserialize)]
pub(crate) struct SellerStocksAnswer {
    #[serde(default)]
    pub stocks: Vec<SellerStock>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Bodies WB's spec files give as examples (`tests/wb-api/examples`, copied from the
    /// shared WB API folder).
    macro_rules! example {
        ($name:literal) => {
            include_str!(concat!("../tests/wb-api/examples/", $name))
        };
    }

    fn example_with(body: &str, change: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut value: Value = serde_json::from_str(body).unwrap();
        change(&mut value);
        serde_json::to_vec(&value).unwrap()
    }

    /// The example card as WB sends it since October 2026: `documents` (2026-09-08) and
    /// `gtin` (2026-10-02) added, plus fields nobody has announced yet.
    fn card_of_2026_10(value: &mut Value) {
        let card = &mut value["cards"][0];
        card["documents"] = json!({"certificates": [{"number": "РОСС RU.0001", "till": "2027-01-01"}],
                                   "declarations": []});
        card["gtin"] = json!("04601234567890");
        card["sizes"][0]["gtin"] = json!(["04601234567890"]);
        card["sizes"][0]["somethingNew"] = json!({"nested": [1, 2, 3]});
        value["cursor"]["direction"] = json!("desc");
        value["futureTopLevel"] = json!(null);
    }

    #[test]
    fn real_examples_parse() {
        let page: CardsPage = parse(example!("content-cards-list.200.json").as_bytes()).unwrap();
        assert_eq!(page.cards.len(), 1);
        assert_eq!(page.cards[0].nm_id, 12345678);
        assert!(!page.cards[0].sizes.is_empty());

        let stocks: DataEnvelope<Items<WbStockRow>> = parse(
            example!("stocks-report-wb-warehouses.200.composed-from-schema-examples.json")
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(stocks.data.items[0].warehouse_id, AGGREGATE_WB_WAREHOUSE_ID);

        let created: DataEnvelope<TaskCreated> =
            parse(example!("warehouse_remains-create.200.json").as_bytes()).unwrap();
        assert_eq!(created.data.task_id, "219eaecf-e532-4bd8-9f15-8036ec1b042d");
        let status: DataEnvelope<TaskStatus> =
            parse(example!("warehouse_remains-status.200.json").as_bytes()).unwrap();
        assert_eq!(status.data.status, "done");
        let remains: Vec<RemainsRow> =
            parse(example!("warehouse_remains-download.200.json").as_bytes()).unwrap();
        assert_eq!(remains[0].nm_id, 183804172);

        let warehouses: Vec<SellerWarehouse> = parse(
            example!("marketplace-warehouses.200.composed-from-schema-examples.json").as_bytes(),
        )
        .unwrap();
        assert_eq!(warehouses[0].id, 1);
        let stocks: SellerStocksAnswer = parse(
            example!("marketplace-stocks-post.200.composed-from-schema-examples.json").as_bytes(),
        )
        .unwrap();
        assert_eq!(stocks.stocks[0].amount, 10);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let original: CardsPage =
            parse(example!("content-cards-list.200.json").as_bytes()).unwrap();
        let body = example_with(example!("content-cards-list.200.json"), card_of_2026_10);
        let newer: CardsPage = parse(&body).unwrap();
        assert_eq!(newer, original, "the new fields change nothing we read");

        let body = example_with(
            example!("stocks-report-wb-warehouses.200.composed-from-schema-examples.json"),
            |v| {
                v["data"]["items"][0]["gtin"] = json!("04601234567890");
                v["data"]["total"] = json!(1);
            },
        );
        let rows: DataEnvelope<Items<WbStockRow>> = parse(&body).unwrap();
        assert_eq!(rows.data.items[0].quantity, 43);
    }

    fn field_error<T: DeserializeOwned>(body: &[u8]) -> (String, String) {
        match parse::<T>(body) {
            Err(ParseError::Field { field, problem }) => (field, problem),
            Err(other) => panic!("expected a field error, got {other:?}"),
            Ok(_) => panic!("expected a field error, the body parsed"),
        }
    }

    /// Four cards, the fourth without a size id: the path counts from the body's root.
    fn four_cards(change: impl FnOnce(&mut Value)) -> Vec<u8> {
        example_with(example!("content-cards-list.200.json"), |v| {
            let card = v["cards"][0].clone();
            v["cards"] = json!([card.clone(), card.clone(), card.clone(), card]);
            change(v);
        })
    }

    #[test]
    fn a_missing_field_we_need_is_named_by_its_path() {
        let body = four_cards(|v| {
            v["cards"][3]["sizes"][0]
                .as_object_mut()
                .unwrap()
                .remove("chrtID");
        });
        let (field, problem) = field_error::<CardsPage>(&body);
        assert_eq!(field, "cards[3].sizes[0].chrtID");
        assert_eq!(problem, "is missing");

        let body = four_cards(|v| {
            v.as_object_mut().unwrap().remove("cursor");
        });
        assert_eq!(field_error::<CardsPage>(&body).0, "cursor");

        let body = example_with(
            example!("stocks-report-wb-warehouses.200.composed-from-schema-examples.json"),
            |v| {
                v["data"]["items"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("quantity");
            },
        );
        assert_eq!(
            field_error::<DataEnvelope<Items<WbStockRow>>>(&body).0,
            "data.items[0].quantity"
        );
    }

    #[test]
    fn a_field_of_a_new_type_is_named_by_its_path() {
        // WB switching ids to strings (as it did for task ids) must stop the sync, not turn
        // into zeros.
        let body = four_cards(|v| v["cards"][2]["sizes"][0]["chrtID"] = json!("316399238"));
        let (field, problem) = field_error::<CardsPage>(&body);
        assert_eq!(field, "cards[2].sizes[0].chrtID");
        assert!(problem.starts_with("invalid type: string"), "{problem}");
        assert!(!problem.contains(" at line "), "{problem}");

        // A field we read but do not require (defaults when absent) still may not change
        // type: an array of barcodes turned into one string.
        let body = four_cards(|v| v["cards"][1]["sizes"][0]["skus"] = json!("987456321654"));
        assert_eq!(field_error::<CardsPage>(&body).0, "cards[1].sizes[0].skus");

        let body = example_with(
            example!("marketplace-stocks-post.200.composed-from-schema-examples.json"),
            |v| v["stocks"][0]["amount"] = json!(10.5),
        );
        assert_eq!(
            field_error::<SellerStocksAnswer>(&body).0,
            "stocks[0].amount"
        );
    }

    #[test]
    fn broken_json_is_a_syntax_error_without_a_field() {
        for body in [
            &b"{\"cards\": [{\"nmID\": 1,"[..],
            b"<html>502</html>",
            br#"{"cards": [], "cursor": {}} trailing"#,
        ] {
            assert!(
                matches!(parse::<CardsPage>(body), Err(ParseError::Syntax(_))),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn field_paths_keep_only_path_characters() {
        assert_eq!(
            field_path("cards[3].sizes[0].chrtID"),
            "cards[3].sizes[0].chrtID"
        );
        assert_eq!(field_path("a b<script>`"), "abscript");
        assert_eq!(field_path(&"x".repeat(500)).len(), FIELD_PATH_MAX);
    }

    // Trimmed copies of the bodies in /work/shared/wb-api/examples.

    #[test]
    fn cards_page_example() {
        let body = r#"{"cards":[{"nmID":12345678,"imtID":123654789,"subjectID":7771,
            "subjectName":"AKF системы","vendorCode":"wb7f6mumjr1","brand":"Тест",
            "title":"Тест-система","photos":[],"dimensions":{"length":55},
            "sizes":[{"chrtID":316399238,"techSize":"0","skus":["987456321654"]}],
            "createdAt":"2023-12-06T11:17:00.96577Z","updatedAt":"2023-12-06T11:17:00.96577Z"}],
            "cursor":{"updatedAt":"2023-12-06T11:17:00.96577Z","nmID":123654123,"total":1}}"#;
        let page: CardsPage = serde_json::from_str(body).unwrap();
        let card = &page.cards[0];
        assert_eq!((card.nm_id, card.imt_id), (12345678, 123654789));
        assert_eq!(card.sizes[0].chrt_id, 316399238);
        assert_eq!(card.sizes[0].wb_size, "");
        assert_eq!(card.sizes[0].skus, ["987456321654"]);
        assert_eq!(page.cursor.updated_at, "2023-12-06T11:17:00.96577Z");
        assert_eq!((page.cursor.nm_id, page.cursor.total), (123654123, 1));
    }

    #[test]
    fn stock_report_example() {
        let body = r#"{"data":{"items":[{"nmId":47254354,"chrtId":91663228,
            "warehouseId":-999999,"warehouseName":"Склад WB","regionName":"Склад WB",
            "quantity":43,"inWayToClient":14,"inWayFromClient":11}]}}"#;
        let rows: DataEnvelope<Items<WbStockRow>> = serde_json::from_str(body).unwrap();
        let row = &rows.data.items[0];
        assert_eq!(row.warehouse_id, AGGREGATE_WB_WAREHOUSE_ID);
        assert_eq!(
            (row.quantity, row.in_way_to_client, row.in_way_from_client),
            (43, 14, 11)
        );
    }

    #[test]
    fn remains_example_separates_summary_lines() {
        let body = r#"[{"brand":"Wonderful","subjectName":"Фотоальбомы",
            "vendorCode":"41058/прозрачный","nmId":183804172,"barcode":"2037031652319",
            "techSize":"0","volume":1.33,"warehouses":[
              {"warehouseName":"В пути до получателей","quantity":14},
              {"warehouseName":"В пути возвраты на склад WB","quantity":4},
              {"warehouseName":"Всего находится на складах","quantity":267},
              {"warehouseName":"Склад WB РФ","quantity":134},
              {"warehouseName":"Склад WB СГТ РФ","quantity":10},
              {"warehouseName":"Минск","quantity":123}]}]"#;
        let rows: Vec<RemainsRow> = serde_json::from_str(body).unwrap();
        let row = &rows[0];
        assert_eq!(row.in_way_to_client(), 14);
        assert_eq!(row.in_way_from_client(), 4);
        assert_eq!(row.total_on_warehouses(), Some(267));
        let names: Vec<_> = row
            .stock_warehouses()
            .map(|w| w.warehouse_name.as_str())
            .collect();
        assert_eq!(names, ["Склад WB РФ", "Склад WB СГТ РФ", "Минск"]);
    }

    #[test]
    fn marketplace_examples() {
        let body = r#"[{"name":"ул. Троицкая","officeId":15,"id":1,"cargoType":1,
            "deliveryType":1,"isDeleting":false,"isProcessing":true}]"#;
        let rows: Vec<SellerWarehouse> = serde_json::from_str(body).unwrap();
        assert_eq!((rows[0].id, rows[0].office_id), (1, Some(15)));
        assert!(rows[0].is_processing);
        let answer: SellerStocksAnswer =
            serde_json::from_str(r#"{"stocks":[{"chrtId":12345678,"amount":10}]}"#).unwrap();
        assert_eq!(
            answer.stocks,
            [SellerStock {
                chrt_id: 12345678,
                amount: 10
            }]
        );
    }
}

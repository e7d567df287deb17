//! Our table of methods, token types and limit rows (`limits.rs`) checked against WB's own
//! spec files: every method exists with the verb we use, its `x-token-types` are the ones
//! we claim, and every limit row (personal, service, base with secret, base) is the one in
//! its `description_limit` table, or a documented stricter reading.
//!
//! The files are WB's snapshot copied into the repository (`wb-client/tests/wb-api/spec-2026-08-18`,
//! or `WB_SPEC_DIR`). They are read line by line: WB writes them in one regular layout
//! (two-space YAML, a Markdown table per method), which is all this test needs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use stock_tracker_wb::{Host, Limit, LimitRow, Method};

const METHODS: [(Method, &str); 10] = [
    (Method::Ping(Host::Content), "get"),
    (Method::CardsList, "post"),
    (Method::StocksReportWbWarehouses, "post"),
    (Method::WarehouseRemainsCreate, "get"),
    (Method::WarehouseRemainsStatus, "get"),
    (Method::WarehouseRemainsDownload, "get"),
    (Method::SellerWarehouses, "get"),
    (Method::SellerStocks, "post"),
    (Method::SupplierOrders, "get"),
    (Method::SupplierSales, "get"),
];

/// Rows of WB's limit tables, in our names.
const ROWS: [LimitRow; 4] = [
    LimitRow::Personal,
    LimitRow::Service,
    LimitRow::BaseWithSecret,
    LimitRow::Base,
];

/// Where our table is deliberately stricter than the spec, and why.
fn stricter_on_purpose(method: Method, row: LimitRow) -> Option<&'static str> {
    match (method, row) {
        (Method::SellerWarehouses | Method::SellerStocks, LimitRow::Base) => Some(
            "the portal's Marketplace example gives base tokens 150/min, burst 10; the \
             method's own table gives one row for all types",
        ),
        _ => None,
    }
}

fn spec_dir() -> PathBuf {
    let dir = std::env::var_os("WB_SPEC_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wb-api/spec-2026-08-18"),
        PathBuf::from,
    );
    assert!(
        dir.join("02-items.yaml").is_file(),
        "WB's spec files are not at {} (set WB_SPEC_DIR)",
        dir.display()
    );
    dir
}

#[derive(Debug, Default)]
struct Operation {
    token_types: Option<Vec<String>>,
    /// Table row name (`personal`, ..., or `all` for a table without a type column).
    limits: BTreeMap<String, Limit>,
    description: String,
}

/// `(path, verb)` → operation, over every spec file.
fn operations() -> BTreeMap<(String, String), Operation> {
    let mut out = BTreeMap::new();
    let mut files: Vec<_> = std::fs::read_dir(spec_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut path: Option<String> = None;
        let mut current: Option<(String, String)> = None;
        let mut in_types = false;
        for line in text.lines() {
            let indent = line.len() - line.trim_start().len();
            let trimmed = line.trim();
            if indent == 0 && !trimmed.is_empty() {
                path = None;
                current = None;
            }
            if indent == 2 && trimmed.starts_with('/') && trimmed.ends_with(':') {
                path = Some(trimmed.trim_end_matches(':').to_string());
                current = None;
                continue;
            }
            if indent == 4
                && let Some(p) = &path
            {
                let verb = trimmed.trim_end_matches(':');
                current = ["get", "post", "put", "patch", "delete"]
                    .contains(&verb)
                    .then(|| (p.clone(), verb.to_string()));
                if let Some(key) = &current {
                    out.insert(key.clone(), Operation::default());
                }
                in_types = false;
                continue;
            }
            let Some(key) = &current else { continue };
            let op = out.get_mut(key).unwrap();
            if indent == 6 {
                in_types = trimmed == "x-token-types:";
                if in_types {
                    op.token_types = Some(Vec::new());
                }
                continue;
            }
            if in_types && let Some(item) = trimmed.strip_prefix("- ") {
                op.token_types.as_mut().unwrap().push(item.to_string());
                continue;
            }
            op.description.push_str(trimmed);
            op.description.push('\n');
            if let Some((row, limit)) = table_row(trimmed) {
                op.limits.insert(row, limit);
            }
        }
    }
    out
}

/// `| Тип | Период | Лимит | Интервал | Всплеск |` rows, or the four-column form.
fn table_row(line: &str) -> Option<(String, Limit)> {
    let cells: Vec<&str> = line
        .strip_prefix('|')?
        .strip_suffix('|')?
        .split('|')
        .map(str::trim)
        .collect();
    let (row, rest) = match cells.len() {
        5 => (
            match cells[0] {
                "Персональный" => "personal",
                "Сервисный" => "service",
                "Базовый с секретом" => "base-with-secret",
                "Базовый" => "base",
                "Тестовый" => "test",
                _ => return None,
            },
            &cells[1..],
        ),
        4 => ("all", &cells[..]),
        _ => return None,
    };
    let per = period(rest[0])?;
    Some((
        row.to_string(),
        Limit::new(per, count(rest[1])?, count(rest[3])?),
    ))
}

fn period(cell: &str) -> Option<Duration> {
    let (n, unit) = cell.split_once(' ')?;
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "мс" => Duration::from_millis(n),
        "сек" => Duration::from_secs(n),
        "мин" => Duration::from_secs(60 * n),
        "ч" => Duration::from_secs(3600 * n),
        _ => return None,
    })
}

fn count(cell: &str) -> Option<u32> {
    cell.split_whitespace().next()?.parse().ok()
}

#[test]
fn every_method_in_our_table_is_in_the_spec_with_our_token_types_and_limits() {
    let ops = operations();
    assert!(ops.len() > 100, "the spec files were read: {}", ops.len());
    for (method, verb) in METHODS {
        let key = (method.path_template().to_string(), verb.to_string());
        let op = ops
            .get(&key)
            .unwrap_or_else(|| panic!("{} {} is not in WB's spec", verb, key.0));

        let ours: Option<Vec<&str>> = method
            .token_types()
            .map(|rows| rows.iter().map(|r| r.name()).collect());
        let theirs: Option<Vec<&str>> = op
            .token_types
            .as_ref()
            .map(|t| t.iter().map(String::as_str).collect());
        assert_eq!(ours, theirs, "x-token-types of {}", method.name());

        if let Method::Ping(_) = method {
            // "Максимум 3 запроса за 30 секунд", per host.
            assert!(
                op.description.contains("Максимум 3 запроса за 30"),
                "{}",
                op.description
            );
            for row in ROWS {
                let l = method.limit_for(row);
                assert_eq!((l.per, l.requests), (Duration::from_secs(30), 3));
            }
            continue;
        }
        assert!(
            !op.limits.is_empty(),
            "{} has a limit table in the spec",
            method.name()
        );
        for row in ROWS {
            let spec = op
                .limits
                .get(row.name())
                .or_else(|| op.limits.get("all"))
                .unwrap_or_else(|| panic!("{} has no {} row", method.name(), row.name()));
            let ours = method.limit_for(row);
            if ours == *spec {
                continue;
            }
            let why = stricter_on_purpose(method, row).unwrap_or_else(|| {
                panic!(
                    "{} {}: ours {ours:?}, WB's {spec:?}",
                    method.name(),
                    row.name()
                )
            });
            let rate = |l: &Limit| f64::from(l.requests) / l.per.as_secs_f64();
            assert!(
                rate(&ours) <= rate(spec) && ours.burst <= spec.burst,
                "{} {}: the exception ({why}) must be stricter: ours {ours:?}, WB's {spec:?}",
                method.name(),
                row.name()
            );
        }
    }
}

#[test]
fn the_reader_sees_the_tables_it_checks() {
    let ops = operations();
    let orders = &ops[&("/api/v1/supplier/orders".to_string(), "get".to_string())];
    assert_eq!(
        orders.limits["base"],
        Limit::new(Duration::from_secs(3 * 3600), 1, 1)
    );
    assert_eq!(
        orders.limits["base-with-secret"],
        Limit::new(Duration::from_secs(60), 1, 10)
    );
    let report = &ops[&(
        "/api/analytics/v1/stocks-report/wb-warehouses".to_string(),
        "post".to_string(),
    )];
    assert_eq!(
        report.token_types.as_deref(),
        Some(
            &[
                "personal".to_string(),
                "service".into(),
                "base-with-secret".into()
            ][..]
        )
    );
}

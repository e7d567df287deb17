use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::SellerWarehouse;
use crate::SandboxConfig;
use crate::prng::{SplitMix64, hash, stream};
use crate::timefmt::from_micros;
use crate::words::{
    BRANDS, COLORS, DESCRIPTION_CLOSERS, DESCRIPTION_OPENERS, OFFICE_IDS, SELLER_ADDRESSES,
    SUBJECTS,
};

// Stream tags keep independent aspects of the data from shifting together.
const IDS: u64 = 1;
const PRODUCT: u64 = 2;
const BRANDS_OF_SELLER: u64 = 3;
const WAREHOUSES: u64 = 4;

/// Cards are last updated around this time (2026-07-01T00:00:00Z), spread over later minutes.
const UPDATED_BASE_US: i64 = 1_782_864_000_000_000;

/// A product card as the sandbox models it; `routes::content` renders it in WB's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub nm_id: i64,
    pub imt_id: i64,
    pub nm_uuid: Uuid,
    pub subject_id: i64,
    pub subject_name: &'static str,
    /// Parent category (`category` in statistics reports).
    pub category: &'static str,
    pub vendor_code: String,
    pub brand: &'static str,
    pub title: String,
    pub description: String,
    pub color: &'static str,
    /// Number of photos; 0 makes the card match `withPhoto: 2` / `filterPics=-1`.
    pub photos: u32,
    pub dimensions: Dimensions,
    /// Price before discounts, roubles.
    pub price: u32,
    pub discount_percent: u32,
    pub sizes: Vec<Size>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Size {
    pub chrt_id: i64,
    pub tech_size: String,
    pub wb_size: String,
    /// Barcodes; the sandbox gives every size exactly one, a 13-digit EAN starting with "20"
    /// as WB-issued barcodes do.
    pub skus: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dimensions {
    pub length: u32,
    pub width: u32,
    pub height: u32,
    pub weight_brutto: f64,
}

impl Dimensions {
    /// Litres, two decimals, as `volume` in the remains report.
    pub fn volume_litres(&self) -> f64 {
        let cm3 = f64::from(self.length) * f64::from(self.width) * f64::from(self.height);
        (cm3 / 10.0).round() / 100.0
    }
}

impl Product {
    pub fn barcode(&self, size: usize) -> &str {
        &self.sizes[size].skus[0]
    }

    pub fn photo_urls(&self) -> Vec<serde_json::Value> {
        let vol = self.nm_id / 100_000;
        let part = self.nm_id / 1000;
        let basket = 1 + (self.nm_id % 30);
        (1..=self.photos)
            .map(|i| {
                let url = |kind: &str| {
                    format!(
                        "https://basket-{basket:02}.wbbasket.ru/vol{vol}/part{part}/{}/images/{kind}/{i}.webp",
                        self.nm_id
                    )
                };
                serde_json::json!({
                    "big": url("big"),
                    "c246x328": url("c246x328"),
                    "c516x688": url("c516x688"),
                    "square": url("square"),
                    "tm": url("tm"),
                })
            })
            .collect()
    }
}

fn ean13(body12: u64) -> String {
    let digits = format!("{body12:012}");
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

/// Per-seller id ranges: offsets into 8–9 digit space, stepped so ids are unique and
/// increasing within a seller and unrelated across sellers.
struct IdBases {
    nm: i64,
    chrt: i64,
    imt: i64,
    barcode: u64,
}

impl IdBases {
    fn of(seller_id: i64) -> Self {
        let mut r = stream(seller_id, IDS, 0);
        Self {
            nm: 10_000_000 + r.below(880_000_000) as i64,
            chrt: 10_000_000 + r.below(800_000_000) as i64,
            imt: 100_000_000 + r.below(700_000_000) as i64,
            barcode: r.below(9_000_000_000),
        }
    }
}

fn seller_brands(seller_id: i64) -> Vec<&'static str> {
    let mut r = stream(seller_id, BRANDS_OF_SELLER, 0);
    let count = r.range(2, 4) as usize;
    let start = r.below(BRANDS.len() as u64) as usize;
    (0..count)
        .map(|i| BRANDS[(start + i * 5) % BRANDS.len()])
        .collect()
}

pub(super) fn generate(seller_id: i64, cfg: &SandboxConfig) -> Vec<Product> {
    let ids = IdBases::of(seller_id);
    let brands = seller_brands(seller_id);
    let sizes_per_product = cfg.sizes_per_product as usize;
    // About three cards share each updatedAt so the (updatedAt, nmID) cursor tie-break matters.
    let batches = (u64::from(cfg.products) / 3).max(1);
    let mut nm = ids.nm;
    let mut chrt = ids.chrt;
    let mut imt = ids.imt;
    let mut products = Vec::with_capacity(cfg.products as usize);
    for i in 0..u64::from(cfg.products) {
        let mut r = stream(seller_id, PRODUCT, i);
        nm += 1 + r.below(5) as i64;
        // Every seventh card is merged with the previous one (shares imtID), as sellers do
        // with colour variants.
        if i % 7 != 3 || i == 0 {
            imt += 1 + r.below(3) as i64;
        }
        let subject = r.pick(SUBJECTS);
        let brand = *r.pick(&brands);
        let color = *r.pick(COLORS);
        let q1 = r.below(subject.qualifiers.len() as u64) as usize;
        let q2 = (q1 + 1 + r.below(subject.qualifiers.len() as u64 - 1) as usize)
            % subject.qualifiers.len();
        let title = if r.chance(50) {
            format!("{} {}", subject.noun, subject.qualifiers[q1])
        } else {
            format!(
                "{} {} {}",
                subject.noun, subject.qualifiers[q1], subject.qualifiers[q2]
            )
        };
        let description = format!(
            "{} {}, цвет {}. {}",
            r.pick(DESCRIPTION_OPENERS),
            title,
            color,
            r.pick(DESCRIPTION_CLOSERS)
        );
        let batch = r.below(batches) as i64;
        let updated_us = UPDATED_BASE_US + batch * 61_000_000 + r.below(1_000_000) as i64;
        let created_us = updated_us - r.below(700 * 86_400) as i64 * 1_000_000;
        let sizes = sizes_for(subject, sizes_per_product, &mut r)
            .into_iter()
            .enumerate()
            .map(|(s, (tech_size, wb_size))| {
                chrt += 1 + r.below(3) as i64;
                let k = i * sizes_per_product as u64 + s as u64;
                let body = 200_000_000_000 + (ids.barcode + k) % 10_000_000_000;
                Size {
                    chrt_id: chrt,
                    tech_size,
                    wb_size,
                    skus: vec![ean13(body)],
                }
            })
            .collect();
        let dimensions = Dimensions {
            length: r.range(10, 60) as u32,
            width: r.range(5, 40) as u32,
            height: r.range(2, 30) as u32,
            weight_brutto: r.range(100, 5000) as f64 / 1000.0,
        };
        products.push(Product {
            nm_id: nm,
            imt_id: imt,
            nm_uuid: nm_uuid(created_us, &mut r),
            subject_id: subject.id,
            subject_name: subject.name,
            category: subject.parent,
            vendor_code: format!("{}-{}/{}", subject.code, 10_000 + i, color),
            brand,
            title,
            description,
            color,
            photos: if r.chance(12) {
                0
            } else {
                r.range(1, 5) as u32
            },
            dimensions,
            price: r.range(30, 900) as u32 * 10,
            discount_percent: r.range(10, 70) as u32,
            sizes,
            created_at: from_micros(created_us),
            updated_at: from_micros(updated_us),
        });
    }
    products
}

/// A window of the subject's size scale; one-size goods get WB's "0", and scales shorter
/// than requested continue with plain numbers so techSizes stay distinct within a card.
fn sizes_for(
    subject: &crate::words::Subject,
    count: usize,
    r: &mut SplitMix64,
) -> Vec<(String, String)> {
    let scale = subject.sizes;
    if count == 1 && !subject.apparel {
        return vec![("0".into(), String::new())];
    }
    let usable = if scale.len() == 1 && scale[0].0 == "0" {
        &[][..]
    } else {
        scale
    };
    let start = if usable.len() > count {
        r.below((usable.len() - count + 1) as u64) as usize
    } else {
        0
    };
    (0..count)
        .map(|j| match usable.get(start + j) {
            Some((tech, wb)) => (tech.to_string(), wb.to_string()),
            None => ((j + 1).to_string(), String::new()),
        })
        .collect()
}

/// v7-shaped like WB's `nmUUID`, but derived from the seed instead of the clock.
fn nm_uuid(created_us: i64, r: &mut SplitMix64) -> Uuid {
    let random = r.next_u64().to_be_bytes();
    let random2 = r.next_u64().to_be_bytes();
    let mut bytes = [0u8; 10];
    bytes[..8].copy_from_slice(&random);
    bytes[8..].copy_from_slice(&random2[..2]);
    uuid::Builder::from_unix_timestamp_millis((created_us / 1000).max(0) as u64, &bytes).into_uuid()
}

pub(super) fn seller_warehouses(seller_id: i64, cfg: &SandboxConfig) -> Vec<SellerWarehouse> {
    let mut r = stream(seller_id, WAREHOUSES, 0);
    let mut id = 1_000_000 + r.below(8_000_000) as i64;
    (0..cfg.seller_warehouses as usize)
        .map(|h| {
            id += 1 + r.below(50) as i64;
            let address = SELLER_ADDRESSES[h % SELLER_ADDRESSES.len()];
            let name = if h < SELLER_ADDRESSES.len() {
                address.to_string()
            } else {
                format!("{address} №{}", h / SELLER_ADDRESSES.len() + 1)
            };
            SellerWarehouse {
                name,
                office_id: OFFICE_IDS[(h + hash(&[seller_id as u64]) as usize) % OFFICE_IDS.len()],
                id,
                cargo_type: 1,
                // The first warehouse ships via WB (FBS); further ones deliver themselves (DBS).
                delivery_type: if h == 0 { 1 } else { 2 },
                is_deleting: false,
                is_processing: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ean13_check_digit() {
        // 4006381333931 is the textbook EAN-13 example.
        assert_eq!(ean13(400_638_133_393), "4006381333931");
    }

    #[test]
    fn plausible_ids() {
        let cfg = SandboxConfig {
            products: 300,
            sizes_per_product: 4,
            ..SandboxConfig::default()
        };
        let products = generate(99, &cfg);
        let mut chrts = std::collections::HashSet::new();
        let mut barcodes = std::collections::HashSet::new();
        for p in &products {
            assert!(
                (10_000_000..1_000_000_000).contains(&p.nm_id),
                "{}",
                p.nm_id
            );
            assert!((100_000_000..1_000_000_000).contains(&p.imt_id));
            assert_eq!(p.sizes.len(), 4);
            let tech: std::collections::HashSet<_> = p.sizes.iter().map(|s| &s.tech_size).collect();
            assert_eq!(tech.len(), 4, "techSizes distinct in {:?}", p.sizes);
            for s in &p.sizes {
                assert!((10_000_000..1_000_000_000).contains(&s.chrt_id));
                assert!(chrts.insert(s.chrt_id));
                assert_eq!(s.skus[0].len(), 13);
                assert!(s.skus[0].starts_with("20"));
                assert!(barcodes.insert(s.skus[0].clone()));
            }
            assert!(p.created_at <= p.updated_at);
        }
        let nms: std::collections::HashSet<_> = products.iter().map(|p| p.nm_id).collect();
        assert_eq!(nms.len(), products.len());
        assert!(products.iter().any(|p| p.photos == 0));
    }
}

//! A large tenant written straight into its tables as the owner, the way a first sync leaves
//! them, and never analysed: what the read paths must cope with before PostgreSQL has
//! statistics for the new rows (autovacuum is off on the project's machines, and a first sync
//! is read from at once on any machine).

use sqlx::PgPool;
use stock_tracker_shared::stock::totals;
use stock_tracker_shared::tenancy::{self, Scope};
use uuid::Uuid;

/// The shape of a seller: `products` × `sizes` sizes × `warehouses` WB warehouses, one stock
/// row for every size on every warehouse, and `history` changes per stock row.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub products: i64,
    pub sizes: i64,
    pub warehouses: i64,
    pub history: i64,
}

impl Shape {
    pub fn stock_rows(&self) -> i64 {
        self.products * self.sizes * self.warehouses
    }
}

/// Fills the tenant's catalog, stock and history, and keeps autovacuum off those tables so
/// that nothing analyses them behind the test's back. Product `nm_id`s are 1..=products,
/// `chrt_id` = nm_id * 100 + size, tech sizes `S1`..`Sn`, vendor codes `VC-<nm_id>`.
pub async fn load_unanalysed(owner: &PgPool, tenant: Uuid, shape: Shape) {
    // stock_history is partitioned: the setting belongs on each partition (a partitioned
    // table has no storage of its own).
    let history_partitions: Vec<String> = sqlx::query_scalar(
        "select inhrelid::regclass::text from pg_inherits
          where inhparent = 'stock_history'::regclass",
    )
    .fetch_all(owner)
    .await
    .unwrap();
    let tables = ["products", "sizes", "warehouses", "stocks"]
        .into_iter()
        .map(str::to_string)
        .chain(history_partitions);
    for table in tables {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "alter table {table} set (autovacuum_enabled = false)"
        )))
        .execute(owner)
        .await
        .unwrap();
    }
    let statements = [
        "insert into products (tenant_id, nm_id, vendor_code, brand, title, subject_name)
         select $1, n, 'VC-' || n, 'Brand ' || (n % 50), 'Product ' || n, 'Subject ' || (n % 20)
           from generate_series(1, $2::bigint) n",
        "insert into sizes (tenant_id, chrt_id, nm_id, tech_size, wb_size, barcodes)
         select $1, n * 100 + z, n, 'S' || z, 'S' || z, array['BC' || (n * 100 + z)]
           from generate_series(1, $2::bigint) n, generate_series(1, $3::bigint) z",
        "insert into warehouses (tenant_id, kind, warehouse_id, name)
         select $1, 'wb', w, 'Warehouse ' || w from generate_series(1, $4::bigint) w",
        "insert into stocks (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity)
         select $1, 'wb', w, n * 100 + z, n, (n * 7 + z * 3 + w) % 40
           from generate_series(1, $2::bigint) n, generate_series(1, $3::bigint) z,
                generate_series(1, $4::bigint) w",
        "insert into stock_history (tenant_id, kind, warehouse_id, chrt_id, nm_id, quantity,
                                    previous, recorded_at, sync_run_id)
         select $1, 'wb', w, n * 100 + z, n, h, nullif(h - 1, 0),
                now() - make_interval(hours => ($5 - h)::int), gen_random_uuid()
           from generate_series(1, $2::bigint) n, generate_series(1, $3::bigint) z,
                generate_series(1, $4::bigint) w, generate_series(1, $5::bigint) h",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(tenant)
            .bind(shape.products)
            .bind(shape.sizes)
            .bind(shape.warehouses)
            .bind(shape.history)
            .execute(owner)
            .await
            .unwrap();
    }
    // The totals a sync keeps for the list endpoints, computed as the sync does, on the
    // same never-analysed tables.
    let started = std::time::Instant::now();
    let mut tx = tenancy::begin(owner, Scope::tenant(tenant.into()))
        .await
        .unwrap();
    totals::refresh(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    println!(
        "totals of {} stock rows refreshed in {} ms",
        shape.stock_rows(),
        started.elapsed().as_millis()
    );
}

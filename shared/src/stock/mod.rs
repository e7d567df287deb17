//! Reading synced stock: products, sizes, warehouses, current stock and its history.
//! Every function runs in a tenant-scoped transaction; RLS confines it to that tenant.

pub mod history;
pub mod products;
pub mod stocks;
pub mod warehouses;

//! Syncing a tenant's Wildberries data: fetch everything first, then write it in one
//! transaction, so a failure at any point leaves the previous data intact.

pub mod failure;
pub mod fetch;
pub mod pause;
pub mod planner;
pub mod run;
pub mod runs;
pub mod schedule;
pub mod snapshot;
pub mod state;
pub mod store;

pub use failure::Failure;
pub use run::{Outcome, Syncer};
pub use snapshot::WarehouseKind;
pub use state::Policy;

//! The batch: which files to read and where each result goes, decided before any work starts.

pub mod discover;
pub mod plan;
pub mod shard;

pub use discover::{discover, Discovered, DiscoveryError, Listing};
pub use plan::{plan, Job, Plan, PlanError, PlanOptions};

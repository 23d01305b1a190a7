//! The batch: which files to read and where each result goes, decided before any work starts.

pub mod discover;
pub mod plan;
pub mod report_target;

pub use discover::{discover, Discovered, DiscoveryError, Listing};
pub use plan::{plan, Job, Plan, PlanError, PlanOptions};
pub use report_target::{report_target, ReportTarget};

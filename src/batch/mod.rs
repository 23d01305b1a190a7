//! The batch: which files to read and where each result goes, decided before any work starts.

pub mod discover;
pub mod naming;
pub mod plan;
pub mod report_target;
pub mod shard;

pub use discover::{
    discover, discover_selected, read_path_list, read_path_list_within, Discovered, DiscoveryError,
    GlobFilter, Listing, Selection, SelectionError,
};
pub use naming::{NameTemplate, NameTemplateError};
pub use plan::{plan, Job, Plan, PlanError, PlanOptions};
pub use report_target::{report_target, ReportTarget};

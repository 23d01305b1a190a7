//! Worker-count sweeps: run the same job at several worker counts and engines, then analyse
//! the timings with Amdahl's law. The math ([`amdahl`], [`analysis`]) is pure functions over
//! timing records; [`runner`] is the only part that runs anything.

pub mod amdahl;
pub mod analysis;
pub mod machine;
pub mod runner;
pub mod spec;

pub use analysis::{
    analyse, Baseline, EngineSummary, PointRow, PointSamples, RunSample, SweepAnalysis,
};
pub use machine::Machine;
pub use runner::{run_sweep, SweepPlan, SweepRecord};
pub use spec::{parse_engines, parse_worker_list, EngineList, WorkerList};

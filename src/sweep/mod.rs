//! Sweeps: run the same job at several worker counts, allowed cores and engines, then analyse
//! the timings. The maths ([`amdahl`], [`usl`], [`bootstrap`], [`analysis`]) is pure functions
//! over timing records; [`runner`] and [`probe`] are the only parts that touch the machine,
//! and the runner's round loop reaches the machine only through its [`runner::Executor`] seam
//! (tests put simulated machines behind it).

pub mod amdahl;
pub mod analysis;
pub mod bootstrap;
pub mod machine;
pub mod probe;
pub mod rng;
pub mod runner;
#[cfg(test)]
mod simulate;
pub mod spec;
pub mod usl;

pub use analysis::{
    analyse, Baseline, EngineSummary, PointRow, PointSamples, RunSample, SweepAnalysis,
};
pub use machine::Machine;
pub use runner::{reanalyse, run_sweep, SweepError, SweepPlan, SweepRecord};
pub use spec::{parse_engines, parse_worker_list, EngineList, WorkerList};

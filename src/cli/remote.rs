//! `run` over object storage: the staging of remote inputs and outputs for planning, and the
//! rewrite of the plan to remote names (see `graypipe::storage`). Without the `object-store`
//! feature a remote name is refused with one line.

use std::path::{Path, PathBuf};

use graypipe::batch::Plan;

/// The inputs and output a run plans with, and what stands behind them.
pub struct Prepared {
    /// Inputs to plan with (remote ones as staging folders).
    pub inputs: Vec<PathBuf>,
    /// Output folder to plan with.
    pub output: PathBuf,
    #[cfg(feature = "object-store")]
    staging: Option<graypipe::storage::Staging>,
}

/// Whether `p` names object storage.
pub fn is_remote(p: &Path) -> bool {
    let s = p.to_string_lossy();
    ["s3://", "gs://", "az://"]
        .iter()
        .any(|scheme| s.starts_with(scheme))
}

/// Stages the remote inputs and output (listing them); local ones pass through.
pub fn prepare(inputs: &[PathBuf], output: &Path, skip_existing: bool) -> Result<Prepared, String> {
    let any = is_remote(output) || inputs.iter().any(|p| is_remote(p));
    if !any {
        return Ok(Prepared {
            inputs: inputs.to_vec(),
            output: output.to_path_buf(),
            #[cfg(feature = "object-store")]
            staging: None,
        });
    }
    #[cfg(feature = "object-store")]
    {
        let staging = graypipe::storage::Staging::prepare(inputs, output, skip_existing)?;
        Ok(Prepared {
            inputs: staging.inputs.clone(),
            output: staging.output.clone(),
            staging: Some(staging),
        })
    }
    #[cfg(not(feature = "object-store"))]
    {
        let _ = skip_existing;
        Err("object storage (s3://, gs://, az://) needs graypipe built with the `object-store` feature".into())
    }
}

impl Prepared {
    /// A planned path as the run names it: the remote name of a staged one.
    pub fn remote_name(&self, path: &Path) -> PathBuf {
        #[cfg(feature = "object-store")]
        if let Some(s) = &self.staging {
            return s.remote_name(path);
        }
        path.to_path_buf()
    }

    /// The plan with staging paths replaced by the remote names, and remote inputs that
    /// could not be listed added as listing errors (the batch goes on with the rest).
    #[cfg_attr(not(feature = "object-store"), allow(unused_mut))]
    pub fn to_remote(&self, mut plan: Plan) -> Plan {
        #[cfg(feature = "object-store")]
        if let Some(s) = &self.staging {
            use graypipe::batch::DiscoveryError;
            for j in plan.jobs.iter_mut().chain(plan.skipped.iter_mut()) {
                j.input = s.remote_name(&j.input);
                j.output = s.remote_name(&j.output);
            }
            for e in plan
                .discovery_errors
                .iter_mut()
                .chain(plan.warnings.iter_mut())
            {
                e.path = s.remote_name(&e.path);
            }
            plan.discovery_errors
                .extend(s.errors.iter().map(|(path, reason)| DiscoveryError {
                    path: path.clone(),
                    reason: reason.clone(),
                }));
        }
        plan
    }
}

/// Writes a report to object storage: one PUT.
pub fn put_report(url: &Path, json: &[u8]) -> Result<(), String> {
    #[cfg(feature = "object-store")]
    {
        graypipe::storage::write(url.as_os_str(), json).map(|_| ())
    }
    #[cfg(not(feature = "object-store"))]
    {
        let _ = (url, json);
        Err("object storage needs graypipe built with the `object-store` feature".into())
    }
}

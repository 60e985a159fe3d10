//! `guildbridge doctor`: checks a deployment's configuration, or the running local stack's,
//! and says in plain words what is wrong and how to fix it. Exits non-zero when something
//! is. A deployment is read from the same variables its functions get (`TABLE_NAME`, the
//! queue URLs, `SECRETS_ARN`, ...), with the two URLs Discord must call.

#[cfg(feature = "aws")]
mod aws;
mod discord;
mod local;

pub use discord::REDIRECT_PATHS;

use std::path::Path;

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok { check: String, detail: String },
    Problem { check: String, what: String, fix: String },
    Skipped { check: String, why: String },
}

impl Finding {
    pub fn ok(check: impl Into<String>, detail: impl Into<String>) -> Self {
        Finding::Ok { check: check.into(), detail: detail.into() }
    }

    pub fn problem(check: impl Into<String>, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Finding::Problem { check: check.into(), what: what.into(), fix: fix.into() }
    }

    pub fn skipped(check: impl Into<String>, why: impl Into<String>) -> Self {
        Finding::Skipped { check: check.into(), why: why.into() }
    }

    fn is_problem(&self) -> bool {
        matches!(self, Finding::Problem { .. })
    }
}

/// Where the deployment's Discord-facing addresses are (the stack's outputs).
#[derive(Debug, Clone, Default)]
pub struct Deployment {
    /// The `InteractionsEndpointUrl` output: what Discord must call.
    pub interactions_url: Option<String>,
    /// The web function's base URL (`TenantApiUrl` without `v1/`, or `WebPublicUrl`).
    pub web_url: Option<String>,
}

/// Runs every check and prints what each found; `true` when nothing is wrong.
pub async fn run(data_dir: &Path, deployment: Option<Deployment>) -> anyhow::Result<bool> {
    let (what, findings) = match deployment {
        Some(deployment) => deployed(deployment).await?,
        None => ("the local stack".to_owned(), local::check(data_dir).await),
    };
    println!("guildbridge doctor: {what}");
    print(&findings);
    Ok(!findings.iter().any(Finding::is_problem))
}

#[cfg(feature = "aws")]
async fn deployed(deployment: Deployment) -> anyhow::Result<(String, Vec<Finding>)> {
    Ok(aws::check(deployment).await)
}

#[cfg(not(feature = "aws"))]
async fn deployed(_deployment: Deployment) -> anyhow::Result<(String, Vec<Finding>)> {
    anyhow::bail!(crate::NO_AWS)
}

fn print(findings: &[Finding]) {
    let width = findings
        .iter()
        .map(|f| match f {
            Finding::Ok { check, .. } | Finding::Problem { check, .. } | Finding::Skipped { check, .. } => check.len(),
        })
        .max()
        .unwrap_or(0);
    for finding in findings {
        match finding {
            Finding::Ok { check, detail } => println!("  ok       {check:width$}  {detail}"),
            Finding::Skipped { check, why } => println!("  skipped  {check:width$}  {why}"),
            Finding::Problem { check, what, fix } => {
                println!("  PROBLEM  {check:width$}  {what}");
                println!("           {:width$}  fix: {fix}", "");
            }
        }
    }
    let problems = findings.iter().filter(|f| f.is_problem()).count();
    match problems {
        0 => println!("Everything checked is as Guildbridge expects."),
        1 => println!("1 problem."),
        n => println!("{n} problems."),
    }
}

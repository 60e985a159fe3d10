//! A build without request validation (the `validate` feature off): a sandbox asked to
//! validate refuses to start rather than pretend to.

use std::path::Path;

use serde_json::Value;

#[derive(Debug)]
pub struct BodyValidators;

impl BodyValidators {
    pub fn load(path: &Path, _routes: &[(&str, &str)]) -> anyhow::Result<Self> {
        anyhow::bail!(
            "this sandbox was built without request validation (its `validate` feature), so it cannot check requests against {}",
            path.display()
        )
    }

    pub fn problems(&self, _method: &str, _template: &str, _body: &Value) -> Vec<String> {
        Vec::new()
    }
}

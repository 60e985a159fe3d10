//! Request bodies checked against Discord's official OpenAPI document, as Discord would
//! refuse a body that breaks it. The document is read from a path given at start.

use std::{collections::HashMap, path::Path};

use jsonschema::{Draft, Validator};
use serde_json::Value;

/// Validators for the request bodies of the operations the sandbox serves, by
/// `METHOD /template` (the template as the document writes it).
pub struct BodyValidators {
    by_route: HashMap<String, Validator>,
}

impl std::fmt::Debug for BodyValidators {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.by_route.keys()).finish()
    }
}

fn pointer_escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1").replace('{', "%7B").replace('}', "%7D")
}

impl BodyValidators {
    pub fn load(path: &Path, routes: &[(&str, &str)]) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let document: Value = serde_json::from_str(&text)?;
        let mut by_route = HashMap::new();
        for (method, template) in routes {
            let operation = &document["paths"][*template][method.to_lowercase()];
            if operation.is_null() {
                anyhow::bail!("the OpenAPI document has no {method} {template}");
            }
            let media = &operation["requestBody"]["content"];
            let Some(content_type) = ["application/json", "application/x-www-form-urlencoded"]
                .into_iter()
                .find(|media_type| !media[*media_type]["schema"].is_null())
            else {
                continue;
            };
            // The whole document is the root, so its `#/components/...` references resolve;
            // the top-level `$ref` selects this operation's body schema.
            let mut schema = document.clone();
            schema["$ref"] = Value::String(format!(
                "#/paths/{}/{}/requestBody/content/{}/schema",
                pointer_escape(template),
                method.to_lowercase(),
                pointer_escape(content_type)
            ));
            let validator = jsonschema::options()
                .with_draft(Draft::Draft202012)
                .build(&schema)
                .map_err(|e| anyhow::anyhow!("{method} {template}: {e}"))?;
            by_route.insert(format!("{method} {template}"), validator);
        }
        Ok(Self { by_route })
    }

    /// The problems with a body, empty when it matches (or the route has no body schema).
    pub fn problems(&self, method: &str, template: &str, body: &Value) -> Vec<String> {
        let Some(validator) = self.by_route.get(&format!("{method} {template}")) else { return Vec::new() };
        validator.iter_errors(body).map(|error| format!("{}: {error}", error.instance_path())).collect()
    }
}

//! CloudWatch's embedded metric format as a function prints it: the documents in its log
//! lines, checked against the one list of metrics (`guildbridge_domain::metrics`).

// Test support: a document CloudWatch could not read fails the test, loudly.
#![allow(clippy::panic)]

use std::collections::BTreeMap;

use guildbridge_core::domain::metrics::{self, Metric};
use serde_json::Value;

/// One metric value from one document: its name, its dimensions with their values, and the
/// function the document names.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
    pub function: String,
    pub value: Value,
}

/// Every metric value in `lines`. Panics, naming the line, on a document that is not as
/// CloudWatch reads it: a metric not in the list, dimensions other than its labels, a
/// missing value, or a namespace other than `namespace`.
pub fn emitted(lines: &[String], namespace: &str) -> Vec<Emitted> {
    let mut found = Vec::new();
    for line in lines {
        let Ok(document) = serde_json::from_str::<Value>(line) else { continue };
        let Some(aws) = document.get("_aws") else { continue };
        assert!(aws["Timestamp"].is_u64(), "no timestamp: {line}");
        let directives = aws["CloudWatchMetrics"].as_array().unwrap_or_else(|| panic!("no directives: {line}"));
        for directive in directives {
            assert_eq!(directive["Namespace"], namespace, "{line}");
            let sets = directive["Dimensions"].as_array().unwrap_or_else(|| panic!("no dimensions: {line}"));
            assert_eq!(sets.len(), 1, "one dimension set per document: {line}");
            let keys: Vec<&str> = sets[0].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            for entry in directive["Metrics"].as_array().into_iter().flatten() {
                let name = entry["Name"].as_str().unwrap_or_default();
                let metric = metrics::find(name).unwrap_or_else(|| panic!("{name} is not in the list: {line}"));
                assert_eq!(keys, metric.labels, "{name}'s dimensions: {line}");
                let unit = entry["Unit"].as_str();
                assert_eq!(unit, Some(unit_name(metric)), "{name}'s unit: {line}");
                let value = document.get(name).cloned().unwrap_or_else(|| panic!("no value for {name}: {line}"));
                let dimensions = keys
                    .iter()
                    .map(|key| (key.to_string(), document[*key].as_str().unwrap_or_default().to_owned()))
                    .collect();
                let function = document["function"].as_str().unwrap_or_default().to_owned();
                found.push(Emitted { name: name.to_owned(), dimensions, function, value });
            }
        }
    }
    found
}

fn unit_name(metric: &Metric) -> &'static str {
    match metric.unit {
        metrics::MetricUnit::Count => "Count",
        metrics::MetricUnit::Milliseconds => "Milliseconds",
    }
}

/// Asserts that `function` emitted `metric` with these dimension values (all of its labels).
pub fn assert_emitted(found: &[Emitted], function: &str, metric: &Metric, dimensions: &[(&str, &str)]) {
    let wanted: BTreeMap<String, String> = dimensions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    assert!(
        found.iter().any(|e| e.function == function && e.name == metric.name && e.dimensions == wanted),
        "{function} did not emit {} {wanted:?}; it emitted: {:#?}",
        metric.name,
        found.iter().filter(|e| e.function == function).map(|e| (&e.name, &e.dimensions)).collect::<Vec<_>>()
    );
}

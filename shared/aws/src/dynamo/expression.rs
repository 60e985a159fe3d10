//! How items, keys and conditions become DynamoDB's attribute maps and expressions (with
//! their `#name` and `:value` placeholders).

use guildbridge_domain::error::Cause;
use std::collections::HashMap;

use serde_dynamo::aws_sdk_dynamodb_1 as convert;
use serde_json::Value;

use guildbridge_store::{
    items::{Condition, Item, ItemError, Key},
    schema::attr,
};

pub(super) type Attributes = HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

pub(super) fn to_attributes(item: &Item) -> Result<Attributes, ItemError> {
    convert::to_item(item).map_err(|e| ItemError::Corrupt(Cause::new(e)))
}

pub(super) fn from_attributes(attributes: Attributes) -> Result<Item, ItemError> {
    convert::from_item(attributes).map_err(|e| ItemError::Corrupt(Cause::new(e)))
}

pub(super) fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([
        (attr::PK.to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(key.pk.clone())),
        (attr::SK.to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(key.sk.clone())),
    ])
}

/// An expression with its placeholder maps.
#[derive(Default)]
pub(super) struct Expression {
    names: HashMap<String, String>,
    values: Attributes,
}

impl Expression {
    pub(super) fn name(&mut self, name: &str) -> String {
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    pub(super) fn value(&mut self, value: &Value) -> Result<String, ItemError> {
        let placeholder = format!(":v{}", self.values.len());
        let value = convert::to_attribute_value(value).map_err(|e| ItemError::Corrupt(Cause::new(e)))?;
        self.values.insert(placeholder.clone(), value);
        Ok(placeholder)
    }

    pub(super) fn condition(&mut self, condition: &Condition) -> Result<String, ItemError> {
        Ok(match condition {
            Condition::NotExists => format!("attribute_not_exists({})", self.name(attr::PK)),
            Condition::Exists => format!("attribute_exists({})", self.name(attr::PK)),
            Condition::Equals(name, value) => format!("{} = {}", self.name(name), self.value(value)?),
            Condition::NotEquals(name, value) => {
                let name = self.name(name);
                format!("(attribute_not_exists({name}) OR {name} <> {})", self.value(value)?)
            }
            Condition::LessThan(name, value) => format!("{} < {}", self.name(name), self.value(value)?),
            Condition::And(a, b) => format!("({} AND {})", self.condition(a)?, self.condition(b)?),
            Condition::Or(a, b) => format!("({} OR {})", self.condition(a)?, self.condition(b)?),
        })
    }

    pub(super) fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    pub(super) fn values(&self) -> Option<Attributes> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

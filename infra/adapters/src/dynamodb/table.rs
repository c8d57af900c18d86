//! The single table's layout, kept in this one place: the store reads and
//! writes these attribute names, [`create_table`] builds the table from them,
//! and a test can compare [`describe`] with the SAM template.

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use seatkeeper_core::ports::{Index, StoreError};

use super::errors::{build_error, sdk_error};

/// Partition key of the table (S).
pub const PK: &str = "pk";
/// Sort key of the table (S).
pub const SK: &str = "sk";
/// The item's optimistic-locking version (N).
pub const VERSION: &str = "version";
/// The entity as JSON (S), opaque to the store.
pub const BODY: &str = "body";
/// Partition and sort key of [`Index::Due`] (S); absent on items not in it.
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
/// Partition and sort key of [`Index::Partner`] (S); absent on items not in it.
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
/// Epoch seconds (N) after which DynamoDB's TTL may delete the item.
pub const EXPIRES_AT: &str = "expires_at";

pub const DUE_INDEX: &str = "due-index";
pub const PARTNER_INDEX: &str = "partner-index";

/// The table is billed per request: no capacity to plan or to exceed.
pub const BILLING_MODE: &str = "PAY_PER_REQUEST";
/// Index queries return whole items, so every index projects everything.
pub const PROJECTION: &str = "ALL";

/// One global secondary index: its name and key attributes (both S).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexSpec {
    pub index: Index,
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
}

/// The whole table definition, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSpec {
    pub pk: &'static str,
    pub sk: &'static str,
    pub indexes: [IndexSpec; 2],
    pub ttl_attribute: &'static str,
    pub billing_mode: &'static str,
    pub projection: &'static str,
}

impl TableSpec {
    /// Every attribute used as a key of the table or an index: the
    /// `AttributeDefinitions` of the table, all of type S.
    pub fn key_attributes(&self) -> Vec<&'static str> {
        let mut names = vec![self.pk, self.sk];
        for index in &self.indexes {
            names.extend([index.pk, index.sk]);
        }
        names
    }
}

pub const DUE: IndexSpec = IndexSpec {
    index: Index::Due,
    name: DUE_INDEX,
    pk: GSI1_PK,
    sk: GSI1_SK,
};

pub const PARTNER: IndexSpec = IndexSpec {
    index: Index::Partner,
    name: PARTNER_INDEX,
    pk: GSI2_PK,
    sk: GSI2_SK,
};

pub const TABLE: TableSpec = TableSpec {
    pk: PK,
    sk: SK,
    indexes: [DUE, PARTNER],
    ttl_attribute: EXPIRES_AT,
    billing_mode: BILLING_MODE,
    projection: PROJECTION,
};

/// The table definition that [`create_table`] creates.
pub fn describe() -> TableSpec {
    TABLE
}

/// The definition of one of the core's indexes.
pub const fn index_spec(index: Index) -> IndexSpec {
    match index {
        Index::Due => DUE,
        Index::Partner => PARTNER,
    }
}

/// Creates the table `table_name` as [`describe`] says, waits until it is
/// active, and turns on TTL. Fails if the table already exists. Meant for
/// tests and local set-ups; on AWS the SAM template owns the table.
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    let spec = describe();
    let mut request = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::from(spec.billing_mode))
        .set_key_schema(Some(key_schema(spec.pk, spec.sk)?));
    for name in spec.key_attributes() {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)?,
        );
    }
    for index in &spec.indexes {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .set_key_schema(Some(key_schema(index.pk, index.sk)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(spec.projection))
                        .build(),
                )
                .build()
                .map_err(build_error)?,
        );
    }
    request
        .send()
        .await
        .map_err(|e| sdk_error("CreateTable", e))?;

    // TTL can only be turned on once the table is active; DynamoDB Local
    // creates tables active, AWS takes a few seconds.
    client
        .wait_until_table_exists()
        .table_name(table_name)
        .wait(std::time::Duration::from_secs(300))
        .await
        .map_err(|e| {
            StoreError::Unavailable(format!(
                "table {table_name} did not become active: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(&e)
            ))
        })?;

    client
        .update_time_to_live()
        .table_name(table_name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(spec.ttl_attribute)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
    Ok(())
}

fn key_schema(pk: &str, sk: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    [(pk, KeyType::Hash), (sk, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(build_error)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_specs_match_the_core_indexes() {
        for index in [Index::Due, Index::Partner] {
            assert_eq!(index_spec(index).index, index);
        }
        assert_eq!(
            describe().key_attributes(),
            ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"]
        );
    }

    #[test]
    fn spec_strings_are_known_sdk_values() {
        let spec = describe();
        assert_eq!(
            BillingMode::from(spec.billing_mode),
            BillingMode::PayPerRequest
        );
        assert_eq!(ProjectionType::from(spec.projection), ProjectionType::All);
    }
}

//! [`ItemStore`] on DynamoDB.
//!
//! Reads of the table are strongly consistent (index reads cannot be).
//! Every write goes through `TransactWriteItems`, so one code path carries
//! the conditions and the error mapping. Nothing here scans.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use seatkeeper_core::ports::{
    check_transaction, Condition, Index, IndexKey, Item, ItemStore, Key, Page, Query, StoreError,
    Write, MAX_BATCH_GET_KEYS,
};

use super::errors::{build_error, sdk_error, transaction_error};
use super::table::{self, IndexSpec};

type Attributes = HashMap<String, AttributeValue>;

/// The page size bounds of [`Query::limit`], as the SQLite store has them.
const MAX_PAGE: u32 = 1000;
/// How often `get_many` asks again for keys DynamoDB left unprocessed
/// before it reports [`StoreError::Throttled`].
const BATCH_GET_ATTEMPTS: u32 = 8;
const BATCH_GET_FIRST_BACKOFF: Duration = Duration::from_millis(25);
const BATCH_GET_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// An [`ItemStore`] in one DynamoDB table laid out as [`table::describe`]
/// says. Cloning is cheap: the SDK client is shared.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on the existing table `table`.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// One write as a transaction item; `None` for a check that checks nothing.
    fn transact_item(&self, write: &Write) -> Result<Option<TransactWriteItem>, StoreError> {
        let item = match write {
            Write::Put { item, condition } => {
                let cond = ConditionExpression::of(*condition);
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(encode_item(item)))
                    .set_condition_expression(cond.as_ref().map(|c| c.expression.to_string()))
                    .set_expression_attribute_names(cond.as_ref().map(ConditionExpression::names))
                    .set_expression_attribute_values(cond.as_ref().and_then(|c| c.values.clone()))
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().put(put).build()
            }
            Write::Delete { key, condition } => {
                let cond = ConditionExpression::of(*condition);
                let delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .set_condition_expression(cond.as_ref().map(|c| c.expression.to_string()))
                    .set_expression_attribute_names(cond.as_ref().map(ConditionExpression::names))
                    .set_expression_attribute_values(cond.as_ref().and_then(|c| c.values.clone()))
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            }
            Write::Check { key, condition } => {
                // DynamoDB wants a condition on every check; one that always
                // holds changes nothing, so it is left out.
                let Some(cond) = ConditionExpression::of(*condition) else {
                    return Ok(None);
                };
                let check = ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attributes(key)))
                    .condition_expression(cond.expression)
                    .set_expression_attribute_names(Some(cond.names()))
                    .set_expression_attribute_values(cond.values)
                    .build()
                    .map_err(build_error)?;
                TransactWriteItem::builder().condition_check(check).build()
            }
        };
        Ok(Some(item))
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", e))?;
        output.item().map(decode_item).transpose()
    }

    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Item>, StoreError> {
        if keys.len() > MAX_BATCH_GET_KEYS {
            return Err(StoreError::TooManyItems(keys.len()));
        }
        // DynamoDB rejects a batch that names a key twice; it comes back once.
        let mut unique: Vec<&Key> = keys.iter().collect();
        unique.sort();
        unique.dedup();
        let mut pending: Vec<Attributes> = unique.into_iter().map(key_attributes).collect();
        let mut items = Vec::with_capacity(pending.len());
        let mut backoff = BATCH_GET_FIRST_BACKOFF;
        for attempt in 1..=BATCH_GET_ATTEMPTS {
            if pending.is_empty() {
                return Ok(items);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            if let Some(found) = output.responses().and_then(|r| r.get(&self.table)) {
                for attributes in found {
                    items.push(decode_item(attributes)?);
                }
            }
            if let Some(rest) = output.unprocessed_keys().and_then(|u| u.get(&self.table)) {
                pending = rest.keys().to_vec();
            }
            // Unprocessed keys mean DynamoDB is short of capacity: give it time.
            if !pending.is_empty() && attempt < BATCH_GET_ATTEMPTS {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BATCH_GET_MAX_BACKOFF);
            }
        }
        if pending.is_empty() {
            Ok(items)
        } else {
            Err(StoreError::Throttled)
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, StoreError> {
        let spec = query.index.map(table::index_spec);
        let (pk_name, sk_name) = key_names(spec);
        let limit = query.limit.clamp(1, MAX_PAGE);
        let start = query
            .cursor
            .as_deref()
            .map(|cursor| decode_cursor(cursor, query, spec))
            .transpose()?;

        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(spec.map(|s| s.name.to_string()))
            .expression_attribute_names("#pk", pk_name)
            .expression_attribute_values(":pk", AttributeValue::S(query.pk.clone()))
            // One more than a page tells whether another page follows, so
            // that `next` is None on the last page, as on SQLite.
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .scan_index_forward(!query.descending)
            // Indexes cannot be read consistently; DynamoDB rejects the flag.
            .consistent_read(spec.is_none());
        // The range's lower end: the prefix or `sk_min`, whichever is later.
        let low = match &query.sk_min {
            Some(min) if *min > query.sk_prefix => min.clone(),
            _ => query.sk_prefix.clone(),
        };
        if query.sk_max.as_ref().is_some_and(|max| *max < low) {
            // An empty range; DynamoDB would reject BETWEEN with bounds reversed.
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        // DynamoDB takes one condition on the sort key: a prefix, an upper
        // bound, or both as a range (then re-checked for the prefix below).
        let prefix = AttributeValue::S(low.clone());
        request = match (low.is_empty(), &query.sk_max) {
            (true, None) => request.key_condition_expression("#pk = :pk"),
            (false, None) if query.sk_min.is_some() => request
                .key_condition_expression("#pk = :pk AND #sk >= :prefix")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", prefix),
            (false, None) => request
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", prefix),
            (true, Some(max)) => request
                .key_condition_expression("#pk = :pk AND #sk <= :max")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":max", AttributeValue::S(max.clone())),
            (false, Some(max)) => request
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :prefix AND :max")
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":prefix", prefix)
                .expression_attribute_values(":max", AttributeValue::S(max.clone())),
        };
        let output = request.send().await.map_err(|e| sdk_error("Query", e))?;

        let mut items = output
            .items()
            .iter()
            .map(decode_item)
            .collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items
                .last()
                .map(|last| cursor_after(last, spec))
                .transpose()?
        } else {
            // DynamoDB stopped early (its 1 MB page limit): go on from there.
            output
                .last_evaluated_key()
                .map(|key| encode_cursor(key, spec))
                .transpose()?
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        check_transaction(&writes)?;
        let mut items = Vec::with_capacity(writes.len());
        for write in &writes {
            if let Some(item) = self.transact_item(write)? {
                items.push(item);
            }
        }
        if items.is_empty() {
            return Ok(());
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(transaction_error)?;
        Ok(())
    }
}

/// A write condition as DynamoDB expression parts.
struct ConditionExpression {
    expression: &'static str,
    name: (&'static str, &'static str),
    values: Option<Attributes>,
}

impl ConditionExpression {
    fn of(condition: Condition) -> Option<Self> {
        match condition {
            Condition::None => None,
            Condition::Absent => Some(Self {
                expression: "attribute_not_exists(#pk)",
                name: ("#pk", table::PK),
                values: None,
            }),
            // A missing item has no version, so this also requires it to exist.
            Condition::Version(version) => Some(Self {
                expression: "#version = :version",
                name: ("#version", table::VERSION),
                values: Some(HashMap::from([(
                    ":version".to_string(),
                    AttributeValue::N(version.to_string()),
                )])),
            }),
        }
    }

    fn names(&self) -> HashMap<String, String> {
        HashMap::from([(self.name.0.to_string(), self.name.1.to_string())])
    }
}

/// The partition and sort key attribute names of the table or an index.
fn key_names(spec: Option<IndexSpec>) -> (&'static str, &'static str) {
    spec.map_or((table::PK, table::SK), |s| (s.pk, s.sk))
}

fn key_attributes(key: &Key) -> Attributes {
    HashMap::from([
        (table::PK.to_string(), AttributeValue::S(key.pk.clone())),
        (table::SK.to_string(), AttributeValue::S(key.sk.clone())),
    ])
}

fn encode_item(item: &Item) -> Attributes {
    let mut attributes = key_attributes(&item.key);
    attributes.insert(
        table::VERSION.to_string(),
        AttributeValue::N(item.version.to_string()),
    );
    attributes.insert(
        table::BODY.to_string(),
        AttributeValue::S(item.body.clone()),
    );
    // Index attributes only when set: an item without them stays out of the
    // (sparse) index.
    for (spec, index_key) in [(table::DUE, &item.due), (table::PARTNER, &item.partner)] {
        if let Some(index_key) = index_key {
            attributes.insert(spec.pk.to_string(), AttributeValue::S(index_key.pk.clone()));
            attributes.insert(spec.sk.to_string(), AttributeValue::S(index_key.sk.clone()));
        }
    }
    if let Some(expires_at) = item.expires_at {
        attributes.insert(
            table::EXPIRES_AT.to_string(),
            AttributeValue::N(expires_at.to_string()),
        );
    }
    attributes
}

fn decode_item(attributes: &Attributes) -> Result<Item, StoreError> {
    let index_key = |spec: IndexSpec| -> Result<Option<IndexKey>, StoreError> {
        match (
            optional_string(attributes, spec.pk)?,
            optional_string(attributes, spec.sk)?,
        ) {
            (Some(pk), Some(sk)) => Ok(Some(IndexKey { pk, sk })),
            (None, None) => Ok(None),
            _ => Err(StoreError::Corrupt(format!(
                "an item has half the key of {}",
                spec.name
            ))),
        }
    };
    Ok(Item {
        key: Key {
            pk: string(attributes, table::PK)?,
            sk: string(attributes, table::SK)?,
        },
        version: number(attributes, table::VERSION)?.ok_or_else(|| missing(table::VERSION))?,
        body: string(attributes, table::BODY)?,
        due: index_key(table::DUE)?,
        partner: index_key(table::PARTNER)?,
        expires_at: number(attributes, table::EXPIRES_AT)?,
    })
}

fn missing(name: &str) -> StoreError {
    StoreError::Corrupt(format!("an item has no `{name}` attribute"))
}

fn string(attributes: &Attributes, name: &str) -> Result<String, StoreError> {
    optional_string(attributes, name)?.ok_or_else(|| missing(name))
}

fn optional_string(attributes: &Attributes, name: &str) -> Result<Option<String>, StoreError> {
    match attributes.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(StoreError::Corrupt(format!(
            "the `{name}` attribute is not a string"
        ))),
    }
}

fn number<T: std::str::FromStr>(
    attributes: &Attributes,
    name: &str,
) -> Result<Option<T>, StoreError> {
    match attributes.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|_| {
            StoreError::Corrupt(format!(
                "the `{name}` attribute is not a whole number: {value}"
            ))
        }),
        Some(_) => Err(StoreError::Corrupt(format!(
            "the `{name}` attribute is not a number"
        ))),
    }
}

/// The attribute names of a `LastEvaluatedKey`: the table's key, plus the
/// index's key for an index query.
fn cursor_names(spec: Option<IndexSpec>) -> Vec<&'static str> {
    let mut names = vec![table::PK, table::SK];
    if let Some(spec) = spec {
        names.extend([spec.pk, spec.sk]);
    }
    names
}

/// The cursor that resumes after `item`: the `LastEvaluatedKey` DynamoDB
/// would give for it.
fn cursor_after(item: &Item, spec: Option<IndexSpec>) -> Result<String, StoreError> {
    let mut key = key_attributes(&item.key);
    if let Some(spec) = spec {
        let index_key = match spec.index {
            Index::Due => item.due.as_ref(),
            Index::Partner => item.partner.as_ref(),
        }
        .ok_or_else(|| {
            StoreError::Corrupt(format!("{} returned an item without its key", spec.name))
        })?;
        key.insert(spec.pk.to_string(), AttributeValue::S(index_key.pk.clone()));
        key.insert(spec.sk.to_string(), AttributeValue::S(index_key.sk.clone()));
    }
    encode_cursor(&key, spec)
}

/// A `LastEvaluatedKey` as an opaque cursor: hex of a JSON object of its
/// string attributes (hex keeps it URL-safe with no extra crate).
fn encode_cursor(key: &Attributes, spec: Option<IndexSpec>) -> Result<String, StoreError> {
    let mut fields = BTreeMap::new();
    for name in cursor_names(spec) {
        fields.insert(name, string(key, name)?);
    }
    let json = serde_json::to_string(&fields)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode a cursor: {e}")))?;
    Ok(json.bytes().map(|b| format!("{b:02x}")).collect())
}

/// The `ExclusiveStartKey` for `query`, checked to belong to it: a cursor
/// from another query would make DynamoDB fail with a validation error.
fn decode_cursor(
    cursor: &str,
    query: &Query,
    spec: Option<IndexSpec>,
) -> Result<Attributes, StoreError> {
    let bytes = hex_decode(cursor).ok_or(StoreError::InvalidCursor)?;
    let fields: BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidCursor)?;
    let names = cursor_names(spec);
    if fields.len() != names.len() || !names.iter().all(|n| fields.contains_key(*n)) {
        return Err(StoreError::InvalidCursor);
    }
    let (pk_name, sk_name) = key_names(spec);
    let in_query = fields.get(pk_name) == Some(&query.pk)
        && fields
            .get(sk_name)
            .is_some_and(|sk| sk.starts_with(&query.sk_prefix));
    if !in_query {
        return Err(StoreError::InvalidCursor);
    }
    Ok(fields
        .into_iter()
        .map(|(name, value)| (name, AttributeValue::S(value)))
        .collect())
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let pairs = text.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return None;
    }
    pairs
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> Item {
        Item {
            key: Key::new("C#1", "SUB#2"),
            version: u64::MAX,
            body: r#"{"a":"ü"}"#.into(),
            due: Some(IndexKey {
                pk: "DUE#2025-01-01#3".into(),
                sk: "C#1".into(),
            }),
            partner: None,
            expires_at: Some(-5),
        }
    }

    #[test]
    fn items_round_trip() {
        let item = item();
        let attributes = encode_item(&item);
        assert!(!attributes.contains_key(table::GSI2_PK));
        assert_eq!(decode_item(&attributes), Ok(item));
    }

    #[test]
    fn broken_items_are_corrupt() {
        let mut no_version = encode_item(&item());
        no_version.remove(table::VERSION);
        let mut half_index = encode_item(&item());
        half_index.remove(table::GSI1_SK);
        let mut bad_number = encode_item(&item());
        bad_number.insert(table::VERSION.into(), AttributeValue::N("1.5".into()));
        let mut wrong_type = encode_item(&item());
        wrong_type.insert(table::BODY.into(), AttributeValue::N("1".into()));
        for attributes in [no_version, half_index, bad_number, wrong_type] {
            assert!(matches!(
                decode_item(&attributes),
                Err(StoreError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn cursors_round_trip_and_belong_to_their_query() {
        let item = item();
        let due = Some(table::DUE);
        let query = Query {
            sk_prefix: "C#".into(),
            sk_min: None,
            sk_max: None,
            ..Query::index(Index::Due, "DUE#2025-01-01#3")
        };
        let cursor = cursor_after(&item, due).unwrap();
        let start = decode_cursor(&cursor, &query, due).unwrap();
        assert_eq!(start.len(), 4);
        assert_eq!(start.get("gsi1sk"), Some(&AttributeValue::S("C#1".into())));

        // Not a cursor for the table, another partition or another prefix.
        let table_query = Query::table("C#1", "");
        assert_eq!(
            decode_cursor(&cursor, &table_query, None),
            Err(StoreError::InvalidCursor)
        );
        let other_pk = Query::index(Index::Due, "DUE#2025-01-02#3");
        assert_eq!(
            decode_cursor(&cursor, &other_pk, due),
            Err(StoreError::InvalidCursor)
        );
        let other_prefix = Query {
            sk_prefix: "P#".into(),
            sk_min: None,
            sk_max: None,
            ..query.clone()
        };
        assert_eq!(
            decode_cursor(&cursor, &other_prefix, due),
            Err(StoreError::InvalidCursor)
        );

        let table_cursor = cursor_after(&item, None).unwrap();
        assert_eq!(
            decode_cursor(&table_cursor, &table_query, None)
                .unwrap()
                .len(),
            2
        );

        for garbage in ["", "zz", "abc", "5b5d", "7b7d", "ünï"] {
            assert_eq!(
                decode_cursor(garbage, &table_query, None),
                Err(StoreError::InvalidCursor),
                "{garbage}"
            );
        }
    }

    #[test]
    fn conditions_become_expressions() {
        assert!(ConditionExpression::of(Condition::None).is_none());
        let absent = ConditionExpression::of(Condition::Absent).unwrap();
        assert_eq!(absent.expression, "attribute_not_exists(#pk)");
        assert!(absent.values.is_none());
        let version = ConditionExpression::of(Condition::Version(7)).unwrap();
        assert_eq!(
            version.values.unwrap().get(":version"),
            Some(&AttributeValue::N("7".into()))
        );
    }
}

//! The store port's contract: what every `ItemStore` adapter must do.
//!
//! Each test uses keys of its own (see [`unique`]), so that the suite also
//! holds on a store shared between tests.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use seatkeeper_core::ports::{
    Condition, Index, IndexKey, Item, ItemStore, Key, Page, Query, StoreError, Write,
    MAX_BATCH_GET_KEYS, MAX_TRANSACTION_ITEMS,
};

use seatkeeper_test_support::stores::Fixture;

/// A partition key no other test (or earlier run) uses.
fn unique(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("T#{name}#{}-{nanos}-{n}", std::process::id())
}

fn item(pk: &str, sk: &str, version: u64, body: &str) -> Item {
    Item {
        key: Key::new(pk, sk),
        version,
        body: body.to_string(),
        due: None,
        partner: None,
        expires_at: None,
    }
}

fn put(item: Item, condition: Condition) -> Write {
    Write::Put { item, condition }
}

/// Writes `items` unconditionally, one transaction each.
async fn seed(store: &dyn ItemStore, items: &[Item]) {
    for item in items {
        store
            .transact(vec![put(item.clone(), Condition::None)])
            .await
            .expect("seed an item");
    }
}

async fn stored(store: &dyn ItemStore, key: &Key) -> Option<Item> {
    store.get(key).await.expect("get")
}

/// Every page of `query`, following cursors; fails on a runaway loop.
async fn all_pages(store: &dyn ItemStore, mut query: Query) -> Vec<Page> {
    let mut pages = Vec::new();
    loop {
        let page = store.query(&query).await.expect("query");
        assert!(
            page.items.len() <= query.limit as usize,
            "a page holds at most `limit` items"
        );
        let next = page.next.clone();
        pages.push(page);
        assert!(pages.len() <= 1000, "pagination does not end");
        match next {
            Some(cursor) => query.cursor = Some(cursor),
            None => return pages,
        }
    }
}

async fn query_all(store: &dyn ItemStore, query: Query) -> Vec<Item> {
    all_pages(store, query)
        .await
        .into_iter()
        .flat_map(|page| page.items)
        .collect()
}

fn sort_keys(items: &[Item]) -> Vec<&str> {
    items.iter().map(|item| item.key.sk.as_str()).collect()
}

async fn put_get_round_trips_every_field(f: Fixture) {
    let pk = unique("roundtrip");
    let full = Item {
        key: Key::new(&pk, "SUB#0001"),
        version: 7,
        body: r#"{"name":"Zoë \"quoted\" – 東京","seats":12,"nested":{"a":[1,2,3]}}"#.to_string(),
        due: Some(IndexKey {
            pk: format!("DUE#2025-03-01#{pk}"),
            sk: "2025-03-01T00:00:00Z#SUB#0001".to_string(),
        }),
        partner: Some(IndexKey {
            pk: format!("P#{pk}"),
            sk: "COMPANY#Acme".to_string(),
        }),
        expires_at: Some(1_767_225_600),
    };
    let bare = item(&pk, "SUB#0002", 1, "{}");
    f.store
        .transact(vec![
            put(full.clone(), Condition::Absent),
            put(bare.clone(), Condition::Absent),
        ])
        .await
        .expect("put two items");

    assert_eq!(stored(&*f.store, &full.key).await, Some(full.clone()));
    assert_eq!(stored(&*f.store, &bare.key).await, Some(bare.clone()));
    assert_eq!(stored(&*f.store, &Key::new(&pk, "SUB#0003")).await, None);

    // A put replaces the whole item, dropping fields it no longer has.
    let replaced = Item {
        version: 8,
        body: r#"{"seats":13}"#.to_string(),
        due: None,
        partner: None,
        expires_at: None,
        ..full.clone()
    };
    f.store
        .transact(vec![put(replaced.clone(), Condition::Version(7))])
        .await
        .expect("replace the item");
    assert_eq!(stored(&*f.store, &full.key).await, Some(replaced));
    let due = full.due.expect("due was set");
    let in_due_index = query_all(&*f.store, Query::index(Index::Due, due.pk)).await;
    assert_eq!(in_due_index, Vec::<Item>::new());
}

async fn absent_condition_refuses_an_existing_item(f: Fixture) {
    let pk = unique("absent");
    let first = item(&pk, "A", 1, r#"{"v":"first"}"#);
    f.store
        .transact(vec![put(first.clone(), Condition::Absent)])
        .await
        .expect("the first put of a new key");

    let second = item(&pk, "A", 1, r#"{"v":"second"}"#);
    assert_eq!(
        f.store.transact(vec![put(second, Condition::Absent)]).await,
        Err(StoreError::Conflict)
    );
    assert_eq!(stored(&*f.store, &first.key).await, Some(first));
}

async fn version_condition_accepts_the_current_version_and_refuses_a_stale_one(f: Fixture) {
    let pk = unique("version");
    let v1 = item(&pk, "A", 1, r#"{"v":1}"#);
    seed(&*f.store, std::slice::from_ref(&v1)).await;

    let v2 = item(&pk, "A", 2, r#"{"v":2}"#);
    f.store
        .transact(vec![put(v2.clone(), Condition::Version(1))])
        .await
        .expect("the write on the current version");
    assert_eq!(stored(&*f.store, &v1.key).await, Some(v2.clone()));

    // A writer that still holds version 1 loses.
    let stale = item(&pk, "A", 2, r#"{"v":"stale"}"#);
    assert_eq!(
        f.store
            .transact(vec![put(stale, Condition::Version(1))])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(stored(&*f.store, &v1.key).await, Some(v2));

    // A version condition needs the item to exist.
    let missing = item(&pk, "B", 2, "{}");
    assert_eq!(
        f.store
            .transact(vec![put(missing.clone(), Condition::Version(1))])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(stored(&*f.store, &missing.key).await, None);
}

async fn a_failed_condition_rolls_back_the_whole_transaction(f: Fixture) {
    let pk = unique("rollback");
    let existing = item(&pk, "EXISTING", 1, r#"{"v":1}"#);
    let counter = item(&pk, "COUNTER", 5, r#"{"n":5}"#);
    seed(&*f.store, &[existing.clone(), counter.clone()]).await;
    let new = item(&pk, "NEW", 1, r#"{"v":"new"}"#);

    // The failing write first, in the middle and last.
    for position in 0..3 {
        let mut writes = vec![
            put(new.clone(), Condition::Absent),
            put(item(&pk, "COUNTER", 6, r#"{"n":6}"#), Condition::Version(5)),
            Write::Delete {
                key: Key::new(&pk, "OTHER"),
                condition: Condition::None,
            },
        ];
        writes.insert(
            position,
            put(
                item(&pk, "EXISTING", 1, r#"{"v":"clobbered"}"#),
                Condition::Absent,
            ),
        );
        assert_eq!(
            f.store.transact(writes).await,
            Err(StoreError::Conflict),
            "failing write at {position}"
        );
        assert_eq!(stored(&*f.store, &new.key).await, None);
        assert_eq!(stored(&*f.store, &counter.key).await, Some(counter.clone()));
        assert_eq!(
            stored(&*f.store, &existing.key).await,
            Some(existing.clone())
        );
    }
}

async fn check_writes_nothing_and_can_fail_the_transaction(f: Fixture) {
    let pk = unique("check");
    let guard = item(&pk, "GUARD", 3, r#"{"open":true}"#);
    seed(&*f.store, std::slice::from_ref(&guard)).await;

    // A passing check lets the other writes through and leaves its item be.
    let first = item(&pk, "CHILD#1", 1, "{}");
    f.store
        .transact(vec![
            Write::Check {
                key: guard.key.clone(),
                condition: Condition::Version(3),
            },
            Write::Check {
                key: Key::new(&pk, "NOBODY"),
                condition: Condition::Absent,
            },
            put(first.clone(), Condition::Absent),
        ])
        .await
        .expect("a transaction whose checks hold");
    assert_eq!(stored(&*f.store, &first.key).await, Some(first));
    assert_eq!(stored(&*f.store, &guard.key).await, Some(guard.clone()));
    assert_eq!(stored(&*f.store, &Key::new(&pk, "NOBODY")).await, None);

    // A failing check stops the transaction.
    let second = item(&pk, "CHILD#2", 1, "{}");
    for failing in [Condition::Version(2), Condition::Absent] {
        assert_eq!(
            f.store
                .transact(vec![
                    put(second.clone(), Condition::Absent),
                    Write::Check {
                        key: guard.key.clone(),
                        condition: failing,
                    },
                ])
                .await,
            Err(StoreError::Conflict),
            "check {failing:?}"
        );
    }
    assert_eq!(
        f.store
            .transact(vec![
                put(second.clone(), Condition::Absent),
                Write::Check {
                    key: Key::new(&pk, "NOBODY"),
                    condition: Condition::Version(1),
                },
            ])
            .await,
        Err(StoreError::Conflict)
    );
    assert_eq!(stored(&*f.store, &second.key).await, None);
    assert_eq!(stored(&*f.store, &guard.key).await, Some(guard));
}

async fn delete_honours_its_condition(f: Fixture) {
    let pk = unique("delete");
    let doomed = item(&pk, "A", 4, r#"{"v":4}"#);
    let other = item(&pk, "B", 1, "{}");
    seed(&*f.store, &[doomed.clone(), other.clone()]).await;

    for stale in [Condition::Version(3), Condition::Absent] {
        assert_eq!(
            f.store
                .transact(vec![Write::Delete {
                    key: doomed.key.clone(),
                    condition: stale,
                }])
                .await,
            Err(StoreError::Conflict),
            "delete with {stale:?}"
        );
        assert_eq!(stored(&*f.store, &doomed.key).await, Some(doomed.clone()));
    }

    f.store
        .transact(vec![Write::Delete {
            key: doomed.key.clone(),
            condition: Condition::Version(4),
        }])
        .await
        .expect("delete on the current version");
    assert_eq!(stored(&*f.store, &doomed.key).await, None);
    assert_eq!(stored(&*f.store, &other.key).await, Some(other));

    // Deleting what is not there: fine without a condition, a conflict with
    // a version.
    f.store
        .transact(vec![Write::Delete {
            key: doomed.key.clone(),
            condition: Condition::None,
        }])
        .await
        .expect("an unconditional delete of a missing item");
    assert_eq!(
        f.store
            .transact(vec![Write::Delete {
                key: doomed.key.clone(),
                condition: Condition::Version(4),
            }])
            .await,
        Err(StoreError::Conflict)
    );
}

async fn a_transaction_holds_at_most_100_writes(f: Fixture) {
    let pk = unique("toomany");
    let items: Vec<Item> = (0..=MAX_TRANSACTION_ITEMS)
        .map(|i| item(&pk, &format!("I#{i:03}"), 1, &format!(r#"{{"i":{i}}}"#)))
        .collect();
    let keys: Vec<Key> = items[..MAX_BATCH_GET_KEYS]
        .iter()
        .map(|item| item.key.clone())
        .collect();

    let too_many: Vec<Write> = items
        .iter()
        .map(|item| put(item.clone(), Condition::None))
        .collect();
    assert_eq!(
        f.store.transact(too_many).await,
        Err(StoreError::TooManyItems(MAX_TRANSACTION_ITEMS + 1))
    );
    assert_eq!(f.store.get_many(&keys).await, Ok(Vec::new()));

    let exactly_the_limit: Vec<Write> = items[..MAX_TRANSACTION_ITEMS]
        .iter()
        .map(|item| put(item.clone(), Condition::Absent))
        .collect();
    f.store
        .transact(exactly_the_limit)
        .await
        .expect("a transaction of exactly 100 writes");
    let mut got = f.store.get_many(&keys).await.expect("get_many");
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, items[..MAX_TRANSACTION_ITEMS].to_vec());
}

async fn a_transaction_names_each_key_once(f: Fixture) {
    let pk = unique("duplicate");
    let key = Key::new(&pk, "A");
    let writes = vec![
        put(item(&pk, "B", 1, "{}"), Condition::Absent),
        put(item(&pk, "A", 1, "{}"), Condition::Absent),
        Write::Check {
            key: key.clone(),
            condition: Condition::Absent,
        },
    ];
    assert_eq!(
        f.store.transact(writes).await,
        Err(StoreError::DuplicateKey(key.clone()))
    );
    assert_eq!(stored(&*f.store, &key).await, None);
    assert_eq!(stored(&*f.store, &Key::new(&pk, "B")).await, None);

    // The empty transaction is allowed and does nothing.
    assert_eq!(f.store.transact(Vec::new()).await, Ok(()));
}

async fn query_by_prefix_returns_matching_sort_keys_in_order(f: Fixture) {
    let pk = unique("prefix");
    let other_pk = unique("prefix-other");
    // Out of order, with near misses on both sides of the prefix and the
    // characters SQL's LIKE would treat as wildcards.
    let sks = [
        "ORDER#010",
        "PROFILE",
        "ORDER#001",
        "ORDE",
        "ORDER$",
        "ORDER#002",
        "ORDERX",
        "ORDER",
        "ORDER#002#LINE#1",
        "A%B",
        "A_B",
        "AxB",
        "A%",
    ];
    let items: Vec<Item> = sks.iter().map(|sk| item(&pk, sk, 1, "{}")).collect();
    seed(&*f.store, &items).await;
    seed(&*f.store, &[item(&other_pk, "ORDER#000", 1, "{}")]).await;

    let orders = query_all(&*f.store, Query::table(&pk, "ORDER#")).await;
    assert_eq!(
        sort_keys(&orders),
        ["ORDER#001", "ORDER#002", "ORDER#002#LINE#1", "ORDER#010"]
    );
    assert!(orders.iter().all(|item| item.key.pk == pk));
    assert_eq!(orders[0], items[2], "a query returns whole items");

    let percent = query_all(&*f.store, Query::table(&pk, "A%")).await;
    assert_eq!(sort_keys(&percent), ["A%", "A%B"]);
    let underscore = query_all(&*f.store, Query::table(&pk, "A_")).await;
    assert_eq!(sort_keys(&underscore), ["A_B"]);

    let everything = query_all(&*f.store, Query::table(&pk, "")).await;
    let mut expected: Vec<&str> = sks.to_vec();
    expected.sort_unstable();
    assert_eq!(sort_keys(&everything), expected);

    let nothing = f
        .store
        .query(&Query::table(&pk, "ZZZ"))
        .await
        .expect("query");
    assert_eq!(
        nothing,
        Page {
            items: Vec::new(),
            next: None
        }
    );
    let no_partition = query_all(&*f.store, Query::table(unique("empty"), "")).await;
    assert_eq!(no_partition, Vec::<Item>::new());
}

async fn pagination_visits_every_item_exactly_once(f: Fixture) {
    let pk = unique("pages");
    let expected: Vec<String> = (0..25).map(|i| format!("ITEM#{i:03}")).collect();
    let items: Vec<Item> = expected
        .iter()
        .map(|sk| item(&pk, sk, 1, &format!(r#"{{"sk":"{sk}"}}"#)))
        .collect();
    seed(&*f.store, &items).await;
    seed(&*f.store, &[item(&pk, "OTHER", 1, "{}")]).await;

    for limit in [1, 2, 7, 24, 25, 26, 1000] {
        let query = Query {
            limit,
            ..Query::table(&pk, "ITEM#")
        };
        let pages = all_pages(&*f.store, query).await;
        let got: Vec<Item> = pages.iter().flat_map(|p| p.items.clone()).collect();
        assert_eq!(got, items, "limit {limit}");
        // Every page but a possibly empty last one is full.
        let full_pages = 25usize.div_ceil(limit as usize);
        assert!(
            pages.len() == full_pages || pages.len() == full_pages + 1,
            "limit {limit}: {} pages",
            pages.len()
        );
        for page in &pages[..full_pages - 1] {
            assert_eq!(page.items.len(), limit as usize, "limit {limit}");
        }
        // Newest first: the same items, last to first, over the same pages.
        let query = Query {
            limit,
            descending: true,
            ..Query::table(&pk, "ITEM#")
        };
        let backwards: Vec<Item> = all_pages(&*f.store, query)
            .await
            .iter()
            .flat_map(|p| p.items.clone())
            .collect();
        let mut reversed = items.clone();
        reversed.reverse();
        assert_eq!(backwards, reversed, "descending, limit {limit}");
    }

    for garbage in ["not a cursor", "%%%", "00ff00ff", "eyJwayI6IDF9"] {
        let query = Query {
            limit: 5,
            cursor: Some(garbage.to_string()),
            ..Query::table(&pk, "ITEM#")
        };
        assert_eq!(
            f.store.query(&query).await,
            Err(StoreError::InvalidCursor),
            "cursor {garbage:?}"
        );
    }
}

async fn queries_on_the_due_index(f: Fixture) {
    let shard = unique("due");
    let due_pk = format!("DUE#2025-03-01#{shard}");
    let other_due_pk = format!("DUE#2025-03-02#{shard}");
    let due = |pk: &str, sk: &str| {
        Some(IndexKey {
            pk: pk.to_string(),
            sk: sk.to_string(),
        })
    };
    // Items of several partitions, two pairs with equal index sort keys.
    let mut items = Vec::new();
    for (company, sub, index_sk) in [
        ("C#2", "SUB#1", "RENEWAL#C#2"),
        ("C#1", "SUB#1", "EXPIRY#C#1"),
        ("C#3", "SUB#9", "EXPIRY#C#1"),
        ("C#1", "SUB#2", "RENEWAL#C#1"),
        ("C#4", "SUB#1", "EXPIRY#C#4"),
        ("C#5", "SUB#1", "RENEWAL#C#2"),
    ] {
        items.push(Item {
            due: due(&due_pk, index_sk),
            ..item(&format!("{shard}#{company}"), sub, 1, "{}")
        });
    }
    let elsewhere = Item {
        due: due(&other_due_pk, "EXPIRY#C#1"),
        ..item(&format!("{shard}#C#6"), "SUB#1", 1, "{}")
    };
    let not_due = item(&format!("{shard}#C#7"), "SUB#1", 1, "{}");
    seed(&*f.store, &items).await;
    seed(&*f.store, &[elsewhere.clone(), not_due]).await;

    for limit in [1, 2, 4, 1000] {
        let query = Query {
            limit,
            ..Query::index(Index::Due, &due_pk)
        };
        let got = query_all(&*f.store, query).await;
        assert_index_page(&got, &items, |item| item.due.as_ref(), limit);
    }

    let expiries = query_all(
        &*f.store,
        Query {
            sk_prefix: "EXPIRY#".to_string(),
            sk_min: None,
            sk_max: None,
            limit: 1,
            ..Query::index(Index::Due, &due_pk)
        },
    )
    .await;
    let expected: Vec<Item> = items
        .iter()
        .filter(|item| {
            item.due
                .as_ref()
                .is_some_and(|d| d.sk.starts_with("EXPIRY#"))
        })
        .cloned()
        .collect();
    assert_index_page(&expiries, &expected, |item| item.due.as_ref(), 1);

    let next_day = query_all(&*f.store, Query::index(Index::Due, &other_due_pk)).await;
    assert_eq!(next_day, vec![elsewhere]);
    // The Partner index does not hold Due keys.
    let wrong_index = query_all(&*f.store, Query::index(Index::Partner, &due_pk)).await;
    assert_eq!(wrong_index, Vec::<Item>::new());

    let garbage = Query {
        cursor: Some("garbage".to_string()),
        ..Query::index(Index::Due, &due_pk)
    };
    assert_eq!(
        f.store.query(&garbage).await,
        Err(StoreError::InvalidCursor)
    );
}

async fn queries_on_the_partner_index(f: Fixture) {
    let partner = unique("partner");
    let partner_pk = format!("P#{partner}");
    let company = |id: &str, name: &str, partner_pk: &str| Item {
        partner: Some(IndexKey {
            pk: partner_pk.to_string(),
            sk: format!("COMPANY#{name}"),
        }),
        ..item(
            &format!("{partner}#C#{id}"),
            "PROFILE",
            1,
            &format!(r#"{{"name":"{name}"}}"#),
        )
    };
    let items = vec![
        company("3", "Cobalt", &partner_pk),
        company("1", "Acme", &partner_pk),
        company("2", "Brick", &partner_pk),
        company("4", "Acme", &partner_pk),
    ];
    let other_partner = company("5", "Acme", &format!("P#{partner}-other"));
    seed(&*f.store, &items).await;
    seed(&*f.store, &[other_partner]).await;

    for limit in [1, 3, 1000] {
        let query = Query {
            limit,
            ..Query::index(Index::Partner, &partner_pk)
        };
        let got = query_all(&*f.store, query).await;
        assert_index_page(&got, &items, |item| item.partner.as_ref(), limit);
    }

    let acme = query_all(
        &*f.store,
        Query {
            sk_prefix: "COMPANY#A".to_string(),
            sk_min: None,
            sk_max: None,
            ..Query::index(Index::Partner, &partner_pk)
        },
    )
    .await;
    let pks: BTreeSet<&str> = acme.iter().map(|item| item.key.pk.as_str()).collect();
    assert_eq!(
        pks,
        BTreeSet::from([
            format!("{partner}#C#1").as_str(),
            format!("{partner}#C#4").as_str()
        ])
    );
}

/// `got` holds exactly `expected`, once each, in ascending index sort key
/// order (the order among equal index sort keys is the store's).
fn assert_index_page(
    got: &[Item],
    expected: &[Item],
    index_key: impl Fn(&Item) -> Option<&IndexKey>,
    limit: u32,
) {
    let index_sks: Vec<&str> = got
        .iter()
        .map(|item| index_key(item).map_or("", |k| k.sk.as_str()))
        .collect();
    assert!(
        index_sks.windows(2).all(|w| w[0] <= w[1]),
        "limit {limit}: not in index order: {index_sks:?}"
    );
    let mut got = got.to_vec();
    let mut expected = expected.to_vec();
    got.sort_by(|a, b| a.key.cmp(&b.key));
    expected.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(got, expected, "limit {limit}");
}

async fn get_many_returns_the_items_that_exist(f: Fixture) {
    let pk = unique("many");
    let items: Vec<Item> = (0..5)
        .map(|i| item(&pk, &format!("I#{i}"), i + 1, &format!(r#"{{"i":{i}}}"#)))
        .collect();
    seed(&*f.store, &items).await;

    let keys = vec![
        Key::new(&pk, "I#3"),
        Key::new(&pk, "MISSING"),
        Key::new(&pk, "I#0"),
        Key::new(unique("many-other"), "I#1"),
        Key::new(&pk, "I#4"),
    ];
    let mut got = f.store.get_many(&keys).await.expect("get_many");
    got.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(
        got,
        vec![items[0].clone(), items[3].clone(), items[4].clone()]
    );

    assert_eq!(f.store.get_many(&[]).await, Ok(Vec::new()));
    let nothing = [Key::new(&pk, "NOPE"), Key::new(&pk, "NADA")];
    assert_eq!(f.store.get_many(&nothing).await, Ok(Vec::new()));

    let too_many: Vec<Key> = (0..=MAX_BATCH_GET_KEYS)
        .map(|i| Key::new(&pk, format!("K#{i}")))
        .collect();
    assert_eq!(
        f.store.get_many(&too_many).await,
        Err(StoreError::TooManyItems(MAX_BATCH_GET_KEYS + 1))
    );
}

async fn concurrent_writers_on_one_version_have_exactly_one_winner(f: Fixture) {
    const WRITERS: usize = 32;
    let pk = unique("race");
    let key = Key::new(&pk, "COUNTER");
    seed(&*f.store, &[item(&pk, "COUNTER", 1, r#"{"winner":null}"#)]).await;

    let start = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let tasks: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&f.store);
            let start = Arc::clone(&start);
            let pk = pk.clone();
            tokio::spawn(async move {
                let bumped = item(&pk, "COUNTER", 2, &format!(r#"{{"winner":{writer}}}"#));
                start.wait().await;
                let result = store
                    .transact(vec![put(bumped, Condition::Version(1))])
                    .await;
                (writer, result)
            })
        })
        .collect();

    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (writer, result) = task.await.expect("writer task");
        match result {
            Ok(()) => winners.push(writer),
            Err(StoreError::Conflict) => conflicts += 1,
            Err(other) => panic!("writer {writer}: unexpected {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(conflicts, WRITERS - 1);
    let winner = winners[0];
    assert_eq!(
        stored(&*f.store, &key).await,
        Some(item(
            &pk,
            "COUNTER",
            2,
            &format!(r#"{{"winner":{winner}}}"#)
        ))
    );
}

/// A range read on the due index: everything due up to an instant, and no
/// more, with or without a prefix, across pages.
async fn range_reads_stop_at_the_upper_bound(f: Fixture) {
    let pk = format!("DUE#2026-12-01#{}", unique("range"));
    let instants = [
        "2026-11-30T11:00:00Z",
        "2026-12-01T00:00:00Z",
        "2026-12-01T08:00:00Z",
        "2026-12-01T23:00:00Z",
    ];
    let items: Vec<Item> = instants
        .iter()
        .enumerate()
        .map(|(i, at)| Item {
            due: Some(IndexKey {
                pk: pk.clone(),
                sk: format!("{at}|C#{i}"),
            }),
            ..item(&format!("{pk}#C#{i}"), "M#x", 1, "{}")
        })
        .collect();
    seed(&*f.store, &items).await;
    for limit in [1, 1000] {
        let due_by_eight = Query {
            sk_max: Some("2026-12-01T08:00:00Z|~".to_string()),
            limit,
            ..Query::index(Index::Due, &pk)
        };
        let got = query_all(&*f.store, due_by_eight).await;
        let keys: Vec<_> = got
            .iter()
            .filter_map(|i| i.due.as_ref())
            .map(|d| d.sk.as_str())
            .collect();
        assert_eq!(
            keys,
            vec![
                "2026-11-30T11:00:00Z|C#0",
                "2026-12-01T00:00:00Z|C#1",
                "2026-12-01T08:00:00Z|C#2"
            ],
            "limit {limit}"
        );
    }
    let with_prefix = Query {
        sk_prefix: "2026-12-01".to_string(),
        sk_max: Some("2026-12-01T08:00:00Z|~".to_string()),
        ..Query::index(Index::Due, &pk)
    };
    assert_eq!(query_all(&*f.store, with_prefix).await.len(), 2);
    let since_midnight = Query {
        sk_min: Some("2026-12-01T00:00:00Z|~".to_string()),
        sk_max: Some("2026-12-01T23:59:59Z|~".to_string()),
        limit: 1,
        ..Query::index(Index::Due, &pk)
    };
    let keys: Vec<_> = query_all(&*f.store, since_midnight)
        .await
        .into_iter()
        .filter_map(|i| i.due)
        .map(|d| d.sk)
        .collect();
    assert_eq!(
        keys,
        vec!["2026-12-01T08:00:00Z|C#2", "2026-12-01T23:00:00Z|C#3"],
        "an exclusive start by a key that sorts after the instant"
    );
    let reversed = Query {
        sk_prefix: "2026-12-02".to_string(),
        sk_max: Some("2026-12-01".to_string()),
        ..Query::index(Index::Due, &pk)
    };
    assert!(query_all(&*f.store, reversed).await.is_empty());
}

on_both_stores!(
    put_get_round_trips_every_field,
    absent_condition_refuses_an_existing_item,
    version_condition_accepts_the_current_version_and_refuses_a_stale_one,
    a_failed_condition_rolls_back_the_whole_transaction,
    check_writes_nothing_and_can_fail_the_transaction,
    delete_honours_its_condition,
    a_transaction_holds_at_most_100_writes,
    a_transaction_names_each_key_once,
    query_by_prefix_returns_matching_sort_keys_in_order,
    pagination_visits_every_item_exactly_once,
    queries_on_the_due_index,
    queries_on_the_partner_index,
    range_reads_stop_at_the_upper_bound,
    get_many_returns_the_items_that_exist,
    concurrent_writers_on_one_version_have_exactly_one_winner,
);

//! The contract suite: the same tests, run once on SQLite and once on
//! DynamoDB Local. Each module lists its tests in `on_both_stores!`.

/// Generates, for each named `async fn test(fixture: Fixture)` of the calling
/// module, one `#[tokio::test]` per store adapter.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(seatkeeper_test_support::stores::sqlite().await).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(seatkeeper_test_support::stores::dynamodb().await).await
                }
            )*
        }
    };
}

mod admin;
mod counts;
mod expiry;
mod imports;
mod lifecycle;
mod select_all;
mod services;
mod store;
mod stored_layout;

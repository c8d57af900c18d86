//! What Seatkeeper's tests and benches share, so that none of them keeps a
//! copy: the fixtures they build, mailers to assert on, the emulators
//! (DynamoDB Local, moto) with the SDK's configuration for them, and (feature
//! `stores`) a fresh store per test on SQLite or DynamoDB Local, and a store
//! wrapper that fails transactions on cue (`faults`).
//!
//! A dev-dependency only: the root package's tests and benches, and
//! seatkeeper-adapters' unit tests.

pub mod aws;
pub mod counting;
pub mod emulator;
pub mod faults;
pub mod fixtures;
pub mod mail;
#[cfg(feature = "stores")]
pub mod stores;

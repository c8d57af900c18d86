//! The AWS adapters against moto's server: one server per test process,
//! started on first use by infra/scripts/moto.sh (installed into .venv/).

#[path = "../support/emulator.rs"]
mod emulator;
mod imports;
mod moto;
mod ses;

// The contract suite's DynamoDB Local fixture, shared rather than copied.
mod expiry;
#[allow(dead_code)]
#[path = "../contract/harness.rs"]
mod harness;

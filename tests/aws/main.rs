//! The AWS adapters against moto's server: one server per test process,
//! started on first use by infra/scripts/moto.sh (installed into .venv/).
//! The store is DynamoDB Local, as in the contract suite.

mod expiry;
mod imports;
mod moto;
mod ses;

//! The AWS adapters against moto's server: one server per test process,
//! started on first use by infra/scripts/moto.sh (installed into .venv/).

mod moto;
mod ses;

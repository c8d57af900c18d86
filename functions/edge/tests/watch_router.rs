//! Holds the workspace's `cargo lambda watch` metadata (root Cargo.toml) to
//! the code, as `cargo lambda watch` reads it, through `cargo metadata`:
//!
//! - its router sends every route of `ROUTES` to the function that serves
//!   it, and no other route anywhere (not the console's: it signs in only
//!   through Cognito, so locally it is the local server's, at `/`);
//! - it builds the functions with their `watch` feature, which every function
//!   package has and which turns on the edge's;
//! - every workspace member is a default member, so `cargo run --bin NAME`
//!   at the root finds each function.

use std::collections::BTreeSet;
use std::process::Command;

use seatkeeper_edge::routes::{RouteSpec, ROUTES};
use serde_json::{json, Value};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn metadata() -> Value {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(ROOT)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

/// `cargo metadata` prints `[workspace.metadata]` under `metadata`.
fn watch(metadata: &Value) -> &Value {
    &metadata["metadata"]["lambda"]["watch"]
}

/// `(METHOD, path, function)` for every entry of a cargo-lambda router: a
/// path maps to one function (every method) or to `{method, function}`s.
fn router_routes(router: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (path, target) in router.as_object().into_iter().flatten() {
        match target {
            Value::String(function) => {
                routes.insert(("*".into(), path.clone(), function.clone()));
            }
            Value::Array(entries) => {
                for entry in entries {
                    let field = |name: &str| entry[name].as_str().unwrap_or("?").to_string();
                    routes.insert((field("method"), path.clone(), field("function")));
                }
            }
            other => {
                routes.insert(("?".into(), path.clone(), other.to_string()));
            }
        }
    }
    routes
}

/// What differs between the router and the routes.
fn router_differences(router: &Value, routes: &[RouteSpec]) -> Vec<String> {
    let wanted: BTreeSet<(String, String, String)> = routes
        .iter()
        .map(|r| (r.method.into(), r.path.into(), r.function.into()))
        .collect();
    let have = router_routes(router);
    let missing = wanted
        .difference(&have)
        .map(|(m, p, f)| format!("{m} {p} is not routed to {f}"));
    let extra = have
        .difference(&wanted)
        .map(|(m, p, f)| format!("{m} {p} → {f} is not a route of ROUTES"));
    missing.chain(extra).collect()
}

fn assert_none(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "the watch metadata in Cargo.toml and the code disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_router_sends_every_route_to_its_function() {
    assert_none(router_differences(&watch(&metadata())["router"], ROUTES));
}

#[test]
fn a_route_missing_or_misrouted_is_named() {
    let metadata = metadata();
    let mut router = watch(&metadata)["router"].clone();
    let members = router["/v1/companies/{c}/members"].as_array_mut().unwrap();
    members.retain(|entry| entry["method"] != "POST");
    router["/v1/access"] = json!("allocate");
    let problems = router_differences(&router, ROUTES);
    assert!(
        problems.contains(&"POST /v1/companies/{c}/members is not routed to allocate".into()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"GET /v1/access is not routed to read-api".into()),
        "{problems:?}"
    );
    assert!(
        problems.contains(&"* /v1/access → allocate is not a route of ROUTES".into()),
        "{problems:?}"
    );
}

#[test]
fn every_function_runs_with_its_watch_feature() {
    let metadata = metadata();
    assert_eq!(watch(&metadata)["features"], json!(["watch"]));
    let functions_dir = std::path::Path::new(ROOT)
        .join("functions")
        .canonicalize()
        .unwrap();
    let mut problems = Vec::new();
    let mut functions = 0;
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let name = package["name"].as_str().unwrap_or_default();
        let manifest = std::path::Path::new(package["manifest_path"].as_str().unwrap_or_default());
        if !manifest.starts_with(&functions_dir) || name == "seatkeeper-edge" {
            continue;
        }
        functions += 1;
        let watch = &package["features"]["watch"];
        if !watch
            .as_array()
            .is_some_and(|f| f.contains(&json!("seatkeeper-edge/watch")))
        {
            problems.push(format!(
                "{name}'s `watch` feature is {watch}, without seatkeeper-edge/watch"
            ));
        }
    }
    assert_eq!(functions, 8, "eight function packages under functions/");
    assert_none(problems);
}

#[test]
fn every_member_is_a_default_member() {
    let metadata = metadata();
    let set = |key: &str| -> BTreeSet<String> {
        metadata[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        set("workspace_default_members"),
        set("workspace_members"),
        "`cargo run --bin NAME` at the root only finds default members' binaries"
    );
}

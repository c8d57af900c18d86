//! Holds docs/openapi.yaml to the routes the functions really serve
//! (`seatkeeper_edge::routes::ROUTES`): the same (method, path) pairs, each
//! operation naming its route (`operationId`) and serving function
//! (`x-seatkeeper-function`), every POST taking `Idempotency-Key`, and every
//! path parameter declared.

use std::collections::BTreeSet;

use seatkeeper_edge::routes::{RouteSpec, ROUTES};
use serde_norway::Value;

const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.yaml");

/// The keys of an OpenAPI path item that are operations.
const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn spec() -> Value {
    let text = std::fs::read_to_string(SPEC_PATH)
        .unwrap_or_else(|e| panic!("cannot read {SPEC_PATH}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{SPEC_PATH} is not YAML: {e}"))
}

/// One operation of the spec.
struct Operation<'a> {
    method: String,
    path: String,
    path_item: &'a Value,
    op: &'a Value,
}

impl Operation<'_> {
    fn key(&self) -> (String, String) {
        (self.method.clone(), self.path.clone())
    }

    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn operations(spec: &Value) -> Vec<Operation<'_>> {
    let paths = spec
        .get("paths")
        .and_then(Value::as_mapping)
        .expect("the spec has `paths`");
    let mut ops = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("paths are strings");
        let Some(item) = item.as_mapping() else {
            continue;
        };
        for (method, op) in item {
            let Some(method) = method.as_str().filter(|m| METHODS.contains(m)) else {
                continue;
            };
            ops.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.to_string(),
                path_item: paths.get(path).expect("just iterated"),
                op,
            });
        }
    }
    ops
}

/// Follows a local `$ref` (`#/components/...`), as many times as it takes.
fn resolve<'a>(spec: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return value;
        };
        let pointer = reference
            .strip_prefix("#/")
            .unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
        value = pointer.split('/').fold(spec, |node, part| {
            let part = part.replace("~1", "/").replace("~0", "~");
            node.get(part.as_str())
                .unwrap_or_else(|| panic!("$ref {reference} does not resolve"))
        });
    }
    panic!("$ref chain too long at {value:?}")
}

/// The parameters of an operation: the path item's, then the operation's.
fn parameters<'a>(spec: &'a Value, op: &Operation<'a>) -> Vec<&'a Value> {
    [op.path_item, op.op]
        .into_iter()
        .filter_map(|v| v.get("parameters").and_then(Value::as_sequence))
        .flatten()
        .map(|p| resolve(spec, p))
        .collect()
}

fn has_parameter(params: &[&Value], location: &str, name: &str) -> bool {
    params.iter().any(|p| {
        p.get("in").and_then(Value::as_str) == Some(location)
            && p.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

/// `CreateCompany` → `create_company`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// What differs between the spec's operations and the routes, one line each.
fn route_differences(spec: &Value, routes: &[RouteSpec]) -> Vec<String> {
    let in_spec: BTreeSet<(String, String)> = operations(spec).iter().map(Operation::key).collect();
    let in_code: BTreeSet<(String, String)> = routes
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let mut problems = Vec::new();
    for (method, path) in in_code.difference(&in_spec) {
        problems.push(format!(
            "{method} {path} is served (routes.rs ROUTES) but missing from docs/openapi.yaml"
        ));
    }
    for (method, path) in in_spec.difference(&in_code) {
        problems.push(format!(
            "{method} {path} is in docs/openapi.yaml but missing from routes.rs ROUTES"
        ));
    }
    problems
}

/// Where an operation's `x-seatkeeper-function` or `operationId` disagree
/// with its route.
fn naming_differences(spec: &Value, routes: &[RouteSpec]) -> Vec<String> {
    let mut problems = Vec::new();
    for op in operations(spec) {
        let Some(route) = routes
            .iter()
            .find(|r| r.method == op.method && r.path == op.path)
        else {
            continue; // reported by route_differences
        };
        let function = op.op.get("x-seatkeeper-function").and_then(Value::as_str);
        if function != Some(route.function) {
            problems.push(format!(
                "{}: x-seatkeeper-function is {function:?}, but routes.rs serves it with {:?}",
                op.name(),
                route.function
            ));
        }
        let expected = snake_case(&format!("{:?}", route.route));
        let operation_id = op.op.get("operationId").and_then(Value::as_str);
        if operation_id != Some(expected.as_str()) {
            problems.push(format!(
                "{}: operationId is {operation_id:?}, expected {expected:?} (RouteName::{:?})",
                op.name(),
                route.route
            ));
        }
    }
    problems
}

fn assert_none(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "docs/openapi.yaml and functions/edge/src/routes.rs disagree:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn spec_has_exactly_the_served_routes() {
    assert_none(route_differences(&spec(), ROUTES));
}

#[test]
fn each_operation_names_its_route_and_function() {
    assert_none(naming_differences(&spec(), ROUTES));
}

#[test]
fn every_post_declares_the_idempotency_key_header() {
    let spec = spec();
    let problems: Vec<String> = operations(&spec)
        .iter()
        .filter(|op| op.method == "POST")
        .filter(|op| !has_parameter(&parameters(&spec, op), "header", "Idempotency-Key"))
        .map(|op| format!("{} does not declare the Idempotency-Key header", op.name()))
        .collect();
    assert_none(problems);
}

#[test]
fn every_path_parameter_is_declared() {
    let spec = spec();
    let mut problems = Vec::new();
    for op in operations(&spec) {
        let params = parameters(&spec, &op);
        for segment in op.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                if !has_parameter(&params, "path", name) {
                    problems.push(format!(
                        "{}: path parameter {{{name}}} is not declared",
                        op.name()
                    ));
                }
            }
        }
    }
    assert_none(problems);
}

/// The checks above must fail when either side loses a route.
#[test]
fn a_route_missing_on_either_side_is_named() {
    let full = spec();
    let dropped = &ROUTES[0];
    let fewer_routes: Vec<RouteSpec> = ROUTES[1..].to_vec();
    let problems = route_differences(&full, &fewer_routes);
    let expected = format!(
        "{} {} is in docs/openapi.yaml but missing from routes.rs ROUTES",
        dropped.method, dropped.path
    );
    assert!(problems.contains(&expected), "{problems:?}");

    let mut thinner = full.clone();
    let paths = thinner
        .get_mut("paths")
        .and_then(Value::as_mapping_mut)
        .expect("paths");
    let item = paths
        .get_mut(dropped.path)
        .and_then(Value::as_mapping_mut)
        .expect("the dropped route's path is in the spec");
    item.remove(dropped.method.to_ascii_lowercase().as_str());
    let problems = route_differences(&thinner, ROUTES);
    let expected = format!(
        "{} {} is served (routes.rs ROUTES) but missing from docs/openapi.yaml",
        dropped.method, dropped.path
    );
    assert!(problems.contains(&expected), "{problems:?}");
}

#[test]
fn snake_case_names() {
    assert_eq!(snake_case("CreateCompany"), "create_company");
    assert_eq!(snake_case("Access"), "access");
}

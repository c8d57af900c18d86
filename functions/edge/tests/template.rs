//! Holds template.yaml (the SAM stack) to the code it deploys:
//!
//! - every route of `seatkeeper_edge::routes::ROUTES` is an `HttpApi` event,
//!   on the API, of the function that serves it, and so is every route of
//!   `CONSOLE_ROUTES` of the console, and the template wires no other route;
//!   the console's routes, and only they, skip the JWT authorizer;
//! - every package under functions/ (but edge, the shared library) is a
//!   function of the template, built by cargo-lambda from its own directory
//!   as its own binary, and the template has no other function;
//! - the DynamoDB table is the one `seatkeeper_adapters::dynamodb::table::describe()`
//!   defines: keys, attribute types, indexes, projection, TTL attribute and
//!   billing, with point-in-time recovery and encryption on;
//! - the imports bucket's name, which the functions repeat rather than refer
//!   to (a reference would be a circular dependency), is the same everywhere;
//! - rights: no DynamoDB, S3 or SES action on `*`, no wildcard action, only
//!   indexes that exist, `s3:PutObject` on `imports/*` for exactly the function
//!   that serves `POST …/imports` (it presigns the upload) and the console
//!   (its upload form stores the file), `s3:GetObject` on `imports/*` for the
//!   function the upload triggers and those that preview;
//! - every function has an error alarm, every queue a depth alarm, and every
//!   asynchronously invoked function an on-failure destination.
//!
//! The template uses CloudFormation's short tags (`!Ref`, `!Sub`, `!GetAtt`);
//! they are read into their long form (`Ref`, `Fn::Sub`, `Fn::GetAtt`) first.

use std::collections::BTreeSet;
use std::path::Path;

use seatkeeper_adapters::dynamodb::table::{describe, TableSpec};
use seatkeeper_edge::routes::{takes_long, RouteSpec, CONSOLE, CONSOLE_ROUTES, ROUTES};
use seatkeeper_edge::{FINISH_MARGIN, WORK_BUDGET};
use serde_norway::{Mapping, Value};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
const TEMPLATE: &str = "template.yaml";
/// The crate under functions/ that is a library, not a function.
const SHARED_CRATE: &str = "edge";
const BUILD_METHOD: &str = "rust-cargolambda";

// ------------------------------------------------------------------ reading

/// template.yaml, or the file `SEATKEEPER_TEMPLATE` names (to try the
/// checks on an altered copy).
fn template() -> Value {
    let path = std::env::var_os("SEATKEEPER_TEMPLATE")
        .map_or_else(|| Path::new(ROOT).join(TEMPLATE), Into::into);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let raw: Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{TEMPLATE} is not YAML: {e}"));
    long_form(raw)
}

/// `!Ref X` → `{Ref: X}`, `!GetAtt A.B` → `{Fn::GetAtt: [A, B]}`, `!Sub s` →
/// `{Fn::Sub: s}`, and so on, all the way down.
fn long_form(value: Value) -> Value {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = match name {
                "Ref" | "Condition" => name.to_string(),
                _ => format!("Fn::{name}"),
            };
            let inner = match (key.as_str(), long_form(tagged.value)) {
                ("Fn::GetAtt", Value::String(dotted)) => {
                    let (resource, attribute) = dotted.split_once('.').unwrap_or((&dotted, ""));
                    Value::Sequence(vec![resource.into(), attribute.into()])
                }
                (_, inner) => inner,
            };
            let mut mapping = Mapping::new();
            mapping.insert(key.into(), inner);
            Value::Mapping(mapping)
        }
        Value::Sequence(items) => Value::Sequence(items.into_iter().map(long_form).collect()),
        Value::Mapping(mapping) => Value::Mapping(
            mapping
                .into_iter()
                .map(|(k, v)| (k, long_form(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A scalar as its text; anything else as one line of JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => serde_json::to_string(other).unwrap_or_else(|e| format!("{other:?} ({e})")),
    }
}

/// A value that may be one item or a list of them, as a list.
fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        None => Vec::new(),
        Some(Value::Sequence(items)) => items.iter().collect(),
        Some(one) => vec![one],
    }
}

fn resources(template: &Value) -> Vec<(String, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .expect("the template has Resources")
        .iter()
        .map(|(id, resource)| (id.as_str().unwrap_or_default().to_string(), resource))
        .collect()
}

fn of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
        .collect()
}

fn is_ref_to(value: Option<&Value>, logical_id: &str) -> bool {
    value.and_then(|v| v.get("Ref")).and_then(Value::as_str) == Some(logical_id)
}

/// A SAM function as the checks see it.
struct Function<'a> {
    logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the package and binary name.
    binary: Option<String>,
    resource: &'a Value,
}

impl<'a> Function<'a> {
    fn name(&self) -> String {
        self.binary
            .clone()
            .unwrap_or_else(|| format!("({})", self.logical_id))
    }

    fn properties(&self) -> Option<&'a Value> {
        self.resource.get("Properties")
    }

    /// (event name, type, properties) of each event.
    fn events(&self) -> Vec<(String, String, &'a Value)> {
        self.properties()
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
            .map(|events| {
                events
                    .iter()
                    .map(|(name, event)| {
                        (
                            text(name),
                            event
                                .get("Type")
                                .and_then(Value::as_str)
                                .unwrap_or_default()
                                .to_string(),
                            event.get("Properties").unwrap_or(&Value::Null),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An environment variable of its own, else of `Globals.Function`.
    fn env<'t>(&self, template: &'t Value, name: &str) -> Option<&'t Value>
    where
        'a: 't,
    {
        let of =
            |function: Option<&'t Value>| function?.get("Environment")?.get("Variables")?.get(name);
        of(self.properties())
            .or_else(|| of(template.get("Globals").and_then(|g| g.get("Function"))))
    }

    /// The Allow statements of its policies: inline ones, and the template's
    /// own managed policies it attaches by `!Ref`.
    fn statements(&self, template: &'a Value) -> Vec<&'a Value> {
        let managed = of_type(template, "AWS::IAM::ManagedPolicy");
        one_or_many(self.properties().and_then(|p| p.get("Policies")))
            .into_iter()
            .flat_map(|policy| {
                let document = managed
                    .iter()
                    .find(|(id, _)| is_ref_to(Some(policy), id))
                    .and_then(|(_, resource)| resource.get("Properties")?.get("PolicyDocument"))
                    .unwrap_or(policy);
                one_or_many(document.get("Statement"))
            })
            .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
            .collect()
    }

    /// The resources an action is allowed on.
    fn resources_for(&self, template: &'a Value, action: &str) -> Vec<&'a Value> {
        self.statements(template)
            .into_iter()
            .filter(|s| {
                one_or_many(s.get("Action"))
                    .iter()
                    .any(|a| a.as_str() == Some(action))
            })
            .flat_map(|s| one_or_many(s.get("Resource")))
            .collect()
    }
}

fn functions(template: &Value) -> Vec<Function<'_>> {
    of_type(template, "AWS::Serverless::Function")
        .into_iter()
        .map(|(logical_id, resource)| Function {
            binary: resource
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .map(str::to_string),
            logical_id,
            resource,
        })
        .collect()
}

/// `request-upgrade` → `RequestUpgradeFunction`.
fn logical_id_of(package: &str) -> String {
    let mut id: String = package
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    id.push_str("Function");
    id
}

/// A package under functions/: its directory, `[package] name` and
/// `[[bin]]` names, read from its Cargo.toml.
struct Package {
    dir: String,
    name: Option<String>,
    bins: Vec<String>,
}

fn read_package(dir: &Path) -> Package {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let (mut section, mut name, mut bins) = (String::new(), None, Vec::new());
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        let Some(value) = line
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
        else {
            continue;
        };
        match section.as_str() {
            "[package]" => name = Some(value),
            "[[bin]]" => bins.push(value),
            _ => {}
        }
    }
    Package {
        dir: dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string(),
        name,
        bins,
    }
}

/// Every function package under functions/.
fn packages() -> Vec<Package> {
    let dir = Path::new(ROOT).join("functions");
    let mut packages: Vec<Package> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("Cargo.toml").is_file())
        .filter(|path| !path.ends_with(SHARED_CRATE))
        .map(|path| read_package(&path))
        .collect();
    packages.sort_by(|a, b| a.dir.cmp(&b.dir));
    packages
}

// ------------------------------------------------------------------ checks

/// What differs between the template's HttpApi events and the routes.
fn route_differences(template: &Value, routes: &[RouteSpec]) -> Vec<String> {
    let apis: Vec<String> = of_type(template, "AWS::Serverless::HttpApi")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut problems = Vec::new();
    if apis.len() != 1 {
        problems.push(format!(
            "{TEMPLATE} should have exactly one AWS::Serverless::HttpApi, has {apis:?}"
        ));
    }
    let mut wired = BTreeSet::new();
    for function in functions(template) {
        for (event, kind, props) in function.events() {
            if kind != "HttpApi" {
                continue;
            }
            if !apis.iter().any(|api| is_ref_to(props.get("ApiId"), api)) {
                problems.push(format!(
                    "{}: HttpApi event {event} has no ApiId: !Ref to the stack's HttpApi",
                    function.name()
                ));
            }
            let method = props
                .get("Method")
                .map(text)
                .unwrap_or_default()
                .to_ascii_uppercase();
            let path = props.get("Path").map(text).unwrap_or_default();
            let unauthorized = props
                .get("Auth")
                .and_then(|a| a.get("Authorizer"))
                .map(text)
                .is_some_and(|a| a == "NONE");
            if unauthorized != (function.name() == CONSOLE) {
                problems.push(format!(
                    "{method} {path} on {}: only the console's routes, and all of them, have Auth: {{Authorizer: NONE}}",
                    function.name()
                ));
            }
            wired.insert((method, path, function.name()));
        }
    }
    let served: BTreeSet<(String, String, String)> = routes
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.path.to_string(),
                r.function.to_string(),
            )
        })
        .chain(
            CONSOLE_ROUTES
                .iter()
                .map(|(method, path)| (method.to_string(), path.to_string(), CONSOLE.to_string())),
        )
        .collect();
    for (method, path, function) in served.difference(&wired) {
        problems.push(format!(
            "{method} {path} is served by {function} (routes.rs ROUTES) but {TEMPLATE} has no HttpApi event for it on {function}"
        ));
    }
    for (method, path, function) in wired.difference(&served) {
        problems.push(format!(
            "{method} {path} is an HttpApi event of {function} in {TEMPLATE} but routes.rs ROUTES does not route it to {function}"
        ));
    }
    problems
}

/// What differs between the template's functions and the function packages.
fn function_differences(template: &Value, packages: &[Package]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut in_template = BTreeSet::new();
    for function in functions(template) {
        let Some(binary) = function.binary.clone() else {
            problems.push(format!(
                "{}: no Metadata.BuildProperties.Binary",
                function.logical_id
            ));
            continue;
        };
        let method = function
            .resource
            .get("Metadata")
            .and_then(|m| m.get("BuildMethod"))
            .and_then(Value::as_str);
        if method != Some(BUILD_METHOD) {
            problems.push(format!(
                "{binary}: Metadata.BuildMethod is {method:?}, not {BUILD_METHOD}"
            ));
        }
        let code_uri = function
            .properties()
            .and_then(|p| p.get("CodeUri"))
            .map(text);
        let expected_uri = format!("functions/{binary}");
        if code_uri.as_deref() != Some(expected_uri.as_str()) {
            problems.push(format!(
                "{binary}: CodeUri is {code_uri:?}, not {expected_uri:?} (cargo-lambda builds the package in its own directory)"
            ));
        }
        if function.logical_id != logical_id_of(&binary) {
            problems.push(format!(
                "{binary}: logical id {} should be {}",
                function.logical_id,
                logical_id_of(&binary)
            ));
        }
        in_template.insert(binary);
    }
    let mut in_code = BTreeSet::new();
    for package in packages {
        let dir = &package.dir;
        if package.name.as_deref() != Some(dir) {
            problems.push(format!(
                "functions/{dir}: package name {:?} differs from its directory",
                package.name
            ));
        }
        if !package.bins.contains(dir) {
            problems.push(format!(
                "functions/{dir}: no [[bin]] named {dir} (package = binary = SAM function)"
            ));
        }
        in_code.insert(dir.clone());
    }
    for missing in in_code.difference(&in_template) {
        problems.push(format!(
            "functions/{missing} is a function package but {TEMPLATE} has no function with Binary: {missing}"
        ));
    }
    for extra in in_template.difference(&in_code) {
        problems.push(format!(
            "{TEMPLATE} has a function with Binary: {extra} but there is no package functions/{extra}"
        ));
    }
    problems
}

fn key_schema(value: Option<&Value>) -> Vec<(String, String)> {
    one_or_many(value)
        .into_iter()
        .map(|k| {
            (
                k.get("AttributeName").map(text).unwrap_or_default(),
                k.get("KeyType").map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn hash_range(pk: &str, sk: &str) -> Vec<(String, String)> {
    vec![
        (pk.to_string(), "HASH".to_string()),
        (sk.to_string(), "RANGE".to_string()),
    ]
}

/// What differs between the template's table and the adapter's.
fn table_differences(template: &Value, spec: &TableSpec) -> Vec<String> {
    let tables = of_type(template, "AWS::DynamoDB::Table");
    let [(id, table)] = tables.as_slice() else {
        return vec![format!(
            "{TEMPLATE} should have exactly one AWS::DynamoDB::Table, has {}",
            tables.len()
        )];
    };
    let props = table.get("Properties").unwrap_or(&Value::Null);
    let mut problems = Vec::new();
    let mut differ = |what: &str, template: String, code: String| {
        if template != code {
            problems.push(format!(
                "table {id}: {what} is {template} in {TEMPLATE} but {code} in table.rs"
            ));
        }
    };
    differ(
        "KeySchema",
        format!("{:?}", key_schema(props.get("KeySchema"))),
        format!("{:?}", hash_range(spec.pk, spec.sk)),
    );
    let attributes: BTreeSet<(String, String)> = one_or_many(props.get("AttributeDefinitions"))
        .into_iter()
        .map(|a| {
            (
                a.get("AttributeName").map(text).unwrap_or_default(),
                a.get("AttributeType").map(text).unwrap_or_default(),
            )
        })
        .collect();
    let key_attributes: BTreeSet<(String, String)> = spec
        .key_attributes()
        .into_iter()
        .map(|name| (name.to_string(), "S".to_string()))
        .collect();
    differ(
        "AttributeDefinitions",
        format!("{attributes:?}"),
        format!("{key_attributes:?}"),
    );
    let indexes: BTreeSet<String> = one_or_many(props.get("GlobalSecondaryIndexes"))
        .into_iter()
        .map(|index| {
            format!(
                "{} {:?} {}",
                index.get("IndexName").map(text).unwrap_or_default(),
                key_schema(index.get("KeySchema")),
                index
                    .get("Projection")
                    .and_then(|p| p.get("ProjectionType"))
                    .map(text)
                    .unwrap_or_default()
            )
        })
        .collect();
    let spec_indexes: BTreeSet<String> = spec
        .indexes
        .iter()
        .map(|index| {
            format!(
                "{} {:?} {}",
                index.name,
                hash_range(index.pk, index.sk),
                spec.projection
            )
        })
        .collect();
    differ(
        "GlobalSecondaryIndexes",
        format!("{indexes:?}"),
        format!("{spec_indexes:?}"),
    );
    differ(
        "BillingMode",
        props.get("BillingMode").map(text).unwrap_or_default(),
        spec.billing_mode.to_string(),
    );
    let ttl = props.get("TimeToLiveSpecification");
    differ(
        "the TTL attribute",
        ttl.and_then(|t| t.get("AttributeName"))
            .map(text)
            .unwrap_or_default(),
        spec.ttl_attribute.to_string(),
    );
    let enabled = |path: [&str; 2]| {
        props
            .get(path[0])
            .and_then(|v| v.get(path[1]))
            .and_then(Value::as_bool)
            == Some(true)
    };
    for (what, path) in [
        ("TTL", ["TimeToLiveSpecification", "Enabled"]),
        (
            "point-in-time recovery",
            [
                "PointInTimeRecoverySpecification",
                "PointInTimeRecoveryEnabled",
            ],
        ),
        ("encryption", ["SSESpecification", "SSEEnabled"]),
    ] {
        if !enabled(path) {
            problems.push(format!(
                "table {id}: {what} is not enabled ({})",
                path.join(".")
            ));
        }
    }
    problems
}

fn assert_none(what: &str, problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{TEMPLATE} and {what} disagree:\n  {}",
        problems.join("\n  ")
    );
}

/// The imports bucket's `BucketName` as `(format, variables)` of its `Fn::Sub`.
fn bucket_name(template: &Value) -> (String, Value) {
    let buckets = of_type(template, "AWS::S3::Bucket");
    let [(id, bucket)] = buckets.as_slice() else {
        panic!(
            "{TEMPLATE} should have exactly one bucket (imports), has {}",
            buckets.len()
        );
    };
    let name = bucket
        .get("Properties")
        .and_then(|p| p.get("BucketName"))
        .and_then(|n| n.get("Fn::Sub"))
        .unwrap_or_else(|| panic!("bucket {id} should have BucketName: !Sub [format, variables]"));
    match one_or_many(Some(name)).as_slice() {
        [format, variables] if format.is_string() => (text(format), (*variables).clone()),
        _ => panic!("bucket {id}: BucketName should be !Sub [format, variables], is {name:?}"),
    }
}

fn sub(format: String, variables: &Value) -> Value {
    let mut mapping = Mapping::new();
    mapping.insert(
        "Fn::Sub".into(),
        Value::Sequence(vec![format.into(), variables.clone()]),
    );
    Value::Mapping(mapping)
}

// ------------------------------------------------------------------- tests

#[test]
fn every_route_is_an_event_of_the_function_that_serves_it() {
    assert_none("routes.rs ROUTES", route_differences(&template(), ROUTES));
}

#[test]
fn every_function_package_is_a_function_of_the_template() {
    assert_none(
        "the packages under functions/",
        function_differences(&template(), &packages()),
    );
}

#[test]
fn the_table_is_the_adapters_table() {
    assert_none(
        "infra/adapters/src/dynamodb/table.rs",
        table_differences(&template(), &describe()),
    );
}

/// Where a function's `IMPORTS_BUCKET` is not the bucket's name, or no
/// function has one at all (then there is nothing to compare, and the
/// check would pass vacuously).
fn bucket_name_problems(template: &Value) -> Vec<String> {
    let (format, variables) = bucket_name(template);
    let expected = sub(format, &variables);
    let mut problems = Vec::new();
    let mut named = 0;
    for function in functions(template) {
        if let Some(value) = function.env(template, "IMPORTS_BUCKET") {
            named += 1;
            if *value != expected {
                problems.push(format!(
                    "{}: IMPORTS_BUCKET is {}, the bucket's name is {}",
                    function.name(),
                    text(value),
                    text(&expected)
                ));
            }
        }
    }
    if named == 0 {
        problems.push("no function has IMPORTS_BUCKET".to_string());
    }
    problems
}

#[test]
fn the_imports_bucket_is_named_alike_everywhere() {
    assert_none("the imports bucket", bucket_name_problems(&template()));
}

/// The statements of every IAM policy the template grants: the
/// functions' (inline or attached managed) and any AWS::IAM::Role's, with where
/// they are.
fn every_statement(template: &Value) -> Vec<(String, &Value)> {
    let mut all = Vec::new();
    for function in functions(template) {
        for statement in function.statements(template) {
            all.push((function.name(), statement));
        }
    }
    for (id, role) in of_type(template, "AWS::IAM::Role") {
        let policies = role.get("Properties").and_then(|p| p.get("Policies"));
        for policy in one_or_many(policies) {
            for statement in one_or_many(
                policy
                    .get("PolicyDocument")
                    .and_then(|d| d.get("Statement")),
            ) {
                all.push((id.clone(), statement));
            }
        }
    }
    all
}

/// The only DynamoDB resources a statement may name: the table (by
/// `!GetAtt <Table>.Arn`) and its known indexes (by
/// `!Sub ${<Table>.Arn}/index/<name>`).
fn table_resources(template: &Value) -> Vec<Value> {
    let mut allowed = Vec::new();
    for (id, _) in of_type(template, "AWS::DynamoDB::Table") {
        let mut get_att = Mapping::new();
        get_att.insert(
            "Fn::GetAtt".into(),
            Value::Sequence(vec![id.as_str().into(), "Arn".into()]),
        );
        allowed.push(Value::Mapping(get_att));
        for index in describe().indexes {
            let mut sub = Mapping::new();
            sub.insert(
                "Fn::Sub".into(),
                format!("${{{id}.Arn}}/index/{}", index.name).into(),
            );
            allowed.push(Value::Mapping(sub));
        }
    }
    allowed
}

/// Data and mail rights that are wider than the resources they serve.
fn least_privilege_problems(template: &Value) -> Vec<String> {
    let tables = table_resources(template);
    let mut problems = Vec::new();
    for (owner, statement) in every_statement(template) {
        let actions: Vec<String> = one_or_many(statement.get("Action"))
            .into_iter()
            .map(text)
            .collect();
        let service = |prefix: &str| actions.iter().any(|a| a.starts_with(prefix));
        if !["dynamodb:", "s3:", "ses:"].iter().any(|p| service(p)) {
            continue;
        }
        for action in actions.iter().filter(|a| a.contains('*')) {
            problems.push(format!("{owner}: wildcard action {action}"));
        }
        for resource in one_or_many(statement.get("Resource")) {
            let shown = text(resource);
            if shown == "*" || shown.ends_with(":*") || shown.ends_with(":::*") {
                problems.push(format!("{owner}: {actions:?} on {shown}"));
            }
            if service("dynamodb:") && !tables.contains(resource) {
                problems.push(format!(
                    "{owner}: {actions:?} on {shown}, which is neither the table nor one of its indexes (table.rs)"
                ));
            }
            if service("ses:")
                && !(shown.contains(":identity/") || shown.contains(":configuration-set/"))
            {
                problems.push(format!(
                    "{owner}: {actions:?} on {shown}, which is not an SES identity or configuration set"
                ));
            }
            if service("s3:") && !shown.contains("/imports/*") {
                problems.push(format!(
                    "{owner}: {actions:?} on {shown}, beyond the bucket's imports/ prefix"
                ));
            }
        }
    }
    problems
}

#[test]
fn data_and_mail_rights_name_their_resources() {
    assert_none("least privilege", least_privilege_problems(&template()));
}

/// Only the function that presigns uploads may put them, and the function
/// the upload triggers may read them.
fn s3_rights_problems(template: &Value) -> Vec<String> {
    let (format, variables) = bucket_name(template);
    let uploads = sub(
        format!("arn:${{AWS::Partition}}:s3:::{format}/imports/*"),
        &variables,
    );
    // The console's upload form stores and previews the file itself.
    let presigners: BTreeSet<&str> = ROUTES
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/imports"))
        .map(|r| r.function)
        .chain([CONSOLE])
        .collect();
    let previewers: BTreeSet<&str> = ROUTES
        .iter()
        .filter(|r| r.path.ends_with("/preview"))
        .map(|r| r.function)
        .chain([CONSOLE])
        .collect();
    let mut problems = Vec::new();
    for function in functions(template) {
        let name = function.name();
        let put = function.resources_for(template, "s3:PutObject");
        if presigners.contains(name.as_str()) {
            if put != [&uploads] {
                problems.push(format!(
                    "{name} presigns uploads (routes.rs) so needs s3:PutObject on exactly {}, has {put:?}",
                    text(&uploads)
                ));
            }
            if function.env(template, "IMPORTS_BUCKET").is_none() {
                problems.push(format!("{name} presigns uploads but has no IMPORTS_BUCKET"));
            }
        } else if !put.is_empty() {
            problems.push(format!(
                "{name} does not presign uploads but may s3:PutObject"
            ));
        }
        // The function an upload triggers reads it, and so does the one
        // that previews it again with another column.
        let triggered = function.events().iter().any(|(_, kind, _)| kind == "S3");
        let reads = triggered || previewers.contains(name.as_str());
        let get = function.resources_for(template, "s3:GetObject");
        if reads && get != [&uploads] {
            problems.push(format!(
                "{name} reads uploads so needs s3:GetObject on exactly {}, has {get:?}",
                text(&uploads)
            ));
        }
        if !reads && !get.is_empty() {
            problems.push(format!("{name} does not read uploads but may s3:GetObject"));
        }
    }
    problems
}

#[test]
fn only_the_presigning_function_may_put_uploads() {
    assert_none("the functions' S3 rights", s3_rights_problems(&template()));
}

fn failure_handling_problems(template: &Value) -> Vec<String> {
    let alarms = of_type(template, "AWS::CloudWatch::Alarm");
    let alarmed = |metric: &str, dimension: &str, logical_id: &str| {
        alarms.iter().any(|(_, alarm)| {
            let props = alarm.get("Properties").unwrap_or(&Value::Null);
            props.get("MetricName").and_then(Value::as_str) == Some(metric)
                && one_or_many(props.get("Dimensions")).iter().any(|d| {
                    d.get("Name").and_then(Value::as_str) == Some(dimension)
                        && (is_ref_to(d.get("Value"), logical_id)
                            || d.get("Value")
                                .and_then(|v| v.get("Fn::GetAtt"))
                                .and_then(|g| g.get(0))
                                .and_then(Value::as_str)
                                == Some(logical_id))
                })
        })
    };
    let scheduled: BTreeSet<String> = of_type(template, "AWS::Scheduler::Schedule")
        .iter()
        .filter_map(|(_, s)| {
            s.get("Properties")?
                .get("Target")?
                .get("Arn")?
                .get("Fn::GetAtt")?
                .get(0)?
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let mut problems = Vec::new();
    for function in functions(template) {
        let name = function.name();
        if !alarmed("Errors", "FunctionName", &function.logical_id) {
            problems.push(format!("{name} has no alarm on its Errors"));
        }
        let asynchronous = scheduled.contains(&function.logical_id)
            || function.events().iter().any(|(_, kind, _)| kind == "S3");
        let on_failure = function
            .properties()
            .and_then(|p| p.get("EventInvokeConfig"))
            .and_then(|c| c.get("DestinationConfig"))
            .and_then(|d| d.get("OnFailure"));
        if asynchronous && on_failure.is_none() {
            problems.push(format!(
                "{name} is invoked asynchronously but has no EventInvokeConfig OnFailure destination"
            ));
        }
    }
    for (id, _) in of_type(template, "AWS::SQS::Queue") {
        if !alarmed("ApproximateNumberOfMessagesVisible", "QueueName", &id) {
            problems.push(format!("queue {id} has no depth alarm"));
        }
    }
    for (id, schedule) in of_type(template, "AWS::Scheduler::Schedule") {
        let props = schedule.get("Properties").unwrap_or(&Value::Null);
        let target = props.get("Target").unwrap_or(&Value::Null);
        for (what, present) in [
            (
                "ScheduleExpressionTimezone",
                props.get("ScheduleExpressionTimezone").is_some(),
            ),
            ("Target.RetryPolicy", target.get("RetryPolicy").is_some()),
            (
                "Target.DeadLetterConfig",
                target.get("DeadLetterConfig").is_some(),
            ),
        ] {
            if !present {
                problems.push(format!("schedule {id} has no {what}"));
            }
        }
    }
    if scheduled.is_empty() {
        problems.push("no schedule runs a function".to_string());
    }
    problems
}

#[test]
fn failures_are_kept_and_alarmed() {
    assert_none("failure handling", failure_handling_problems(&template()));
}

/// API Gateway's HTTP API gives up on an integration after 30 s.
const API_GATEWAY_TIMEOUT_SECONDS: u64 = 30;

/// A function's `Timeout`, or the template's global one.
fn timeout_of(template: &Value, function: &Function<'_>) -> Option<u64> {
    function
        .properties()
        .and_then(|p| p.get("Timeout"))
        .or_else(|| {
            template
                .get("Globals")
                .and_then(|g| g.get("Function"))
                .and_then(|f| f.get("Timeout"))
        })
        .and_then(Value::as_u64)
}

/// Where a function's timeout and the code's budgets disagree: a function
/// serving long work must outlast the work budget and the margin kept to
/// answer, and no HTTP function may outlast API Gateway.
fn timeout_problems(template: &Value) -> Vec<String> {
    let needed = (WORK_BUDGET + FINISH_MARGIN).as_secs();
    let mut problems = Vec::new();
    for function in functions(template) {
        let name = function.name();
        let routes: Vec<&RouteSpec> = ROUTES.iter().filter(|r| r.function == name).collect();
        if routes.is_empty() {
            continue;
        }
        let Some(timeout) = timeout_of(template, &function) else {
            problems.push(format!("{name} has no Timeout"));
            continue;
        };
        if timeout > API_GATEWAY_TIMEOUT_SECONDS {
            problems.push(format!(
                "{name}: Timeout {timeout} s outlasts API Gateway's {API_GATEWAY_TIMEOUT_SECONDS} s"
            ));
        }
        if routes.iter().any(|r| takes_long(r.route)) && timeout < needed {
            problems.push(format!(
                "{name} serves long work (WORK_BUDGET + FINISH_MARGIN = {needed} s) but its Timeout is {timeout} s"
            ));
        }
    }
    problems
}

#[test]
fn timeouts_outlast_the_codes_budgets() {
    assert_none("the code's budgets", timeout_problems(&template()));
}

// ------------------------------------------------------------- self-tests

fn remove_resource(template: &mut Value, logical_id: &str) {
    template
        .get_mut("Resources")
        .and_then(Value::as_mapping_mut)
        .expect("Resources")
        .remove(logical_id)
        .unwrap_or_else(|| panic!("{logical_id} is in the template"));
}

/// The checks above must fail when either side loses a route or a function.
#[test]
fn a_route_or_function_missing_on_either_side_is_named() {
    let full = template();
    let dropped = &ROUTES[0];

    // A route the template wires but the code no longer serves.
    let problems = route_differences(&full, &ROUTES[1..]);
    let expected = format!(
        "{} {} is an HttpApi event of {} in {TEMPLATE} but routes.rs ROUTES does not route it to {}",
        dropped.method, dropped.path, dropped.function, dropped.function
    );
    assert!(problems.contains(&expected), "{problems:?}");

    // A route the code serves but the template lost.
    let mut thinner = full.clone();
    let logical_id = logical_id_of(dropped.function);
    let events = thinner
        .get_mut("Resources")
        .and_then(|r| r.get_mut(logical_id.as_str()))
        .and_then(|f| f.get_mut("Properties"))
        .and_then(|p| p.get_mut("Events"))
        .and_then(Value::as_mapping_mut)
        .expect("the dropped route's function has events");
    let event = events
        .iter()
        .find(|(_, e)| {
            e.get("Properties")
                .and_then(|p| p.get("Path"))
                .and_then(Value::as_str)
                == Some(dropped.path)
        })
        .map(|(name, _)| name.clone())
        .expect("the dropped route is an event");
    events.remove(&event);
    let problems = route_differences(&thinner, ROUTES);
    let expected = format!(
        "{} {} is served by {} (routes.rs ROUTES) but {TEMPLATE} has no HttpApi event for it on {}",
        dropped.method, dropped.path, dropped.function, dropped.function
    );
    assert!(problems.contains(&expected), "{problems:?}");

    // A package the template lost, and a function with no package.
    let packages = packages();
    let package = packages.first().expect("a function package");
    let mut thinner = full.clone();
    remove_resource(&mut thinner, &logical_id_of(&package.dir));
    let problems = function_differences(&thinner, &packages);
    let expected = format!(
        "functions/{} is a function package but {TEMPLATE} has no function with Binary: {}",
        package.dir, package.dir
    );
    assert!(problems.contains(&expected), "{problems:?}");
    let problems = function_differences(&full, &packages[1..]);
    let expected = format!(
        "{TEMPLATE} has a function with Binary: {} but there is no package functions/{}",
        package.dir, package.dir
    );
    assert!(problems.contains(&expected), "{problems:?}");
}

#[test]
fn a_table_that_drifts_is_named() {
    let mut spec = describe();
    spec.ttl_attribute = "gone_at";
    let problems = table_differences(&template(), &spec);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("the TTL attribute is expires_at") && p.contains("gone_at")),
        "{problems:?}"
    );
    spec = describe();
    spec.indexes[1].name = "renamed-index";
    let problems = table_differences(&template(), &spec);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("GlobalSecondaryIndexes")),
        "{problems:?}"
    );
}

#[test]
fn short_tags_read_as_long_form() {
    let value = long_form(
        serde_norway::from_str("a: !Ref X\nb: !GetAtt T.Arn\nc: !Sub [s, {v: !Ref Y}]").unwrap(),
    );
    let expected: Value = serde_norway::from_str(
        "a: {Ref: X}\nb: {'Fn::GetAtt': [T, Arn]}\nc: {'Fn::Sub': [s, {v: {Ref: Y}}]}",
    )
    .unwrap();
    assert_eq!(value, expected);
    assert_eq!(
        logical_id_of("daily-expiry-check"),
        "DailyExpiryCheckFunction"
    );
}

/// The properties of a resource, to change in a self-test.
fn properties_mut<'a>(template: &'a mut Value, logical_id: &str) -> &'a mut Mapping {
    template
        .get_mut("Resources")
        .and_then(|r| r.get_mut(logical_id))
        .and_then(|f| f.get_mut("Properties"))
        .and_then(Value::as_mapping_mut)
        .unwrap_or_else(|| panic!("{logical_id} has properties"))
}

/// A statement granted to a function, as its first inline policy's last.
fn grant(template: &mut Value, logical_id: &str, statement: &str) {
    let statement: Value = serde_norway::from_str(statement).expect("a statement");
    let policies = properties_mut(template, logical_id)
        .get_mut("Policies")
        .and_then(Value::as_sequence_mut)
        .expect("policies");
    let inline = policies
        .iter_mut()
        .find_map(|p| p.get_mut("Statement").and_then(Value::as_sequence_mut))
        .expect("an inline policy");
    inline.push(statement);
}

/// Each check above names what a mutated template gets wrong: a wildcard
/// or an unknown table, a function that may put uploads it does not
/// presign, a function without an alarm, no IMPORTS_BUCKET anywhere.
#[test]
fn each_check_names_a_template_made_wrong() {
    let full = template();
    let read_api = logical_id_of("read-api");

    let mut wide = full.clone();
    grant(
        &mut wide,
        &read_api,
        "{Effect: Allow, Action: 'dynamodb:*', Resource: '*'}",
    );
    let problems = least_privilege_problems(&wide);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("wildcard action dynamodb:*")),
        "{problems:?}"
    );
    assert!(problems.iter().any(|p| p.contains("on *")), "{problems:?}");

    let mut putting = full.clone();
    grant(
        &mut putting,
        &read_api,
        "{Effect: Allow, Action: 's3:PutObject', Resource: {'Fn::Sub': 'arn:aws:s3:::b/imports/*'}}",
    );
    let problems = s3_rights_problems(&putting);
    assert!(
        problems
            .iter()
            .any(|p| p == "read-api does not presign uploads but may s3:PutObject"),
        "{problems:?}"
    );

    let mut hasty = full.clone();
    let allocate = logical_id_of("allocate");
    properties_mut(&mut hasty, &allocate).insert("Timeout".into(), 10.into());
    let problems = timeout_problems(&hasty);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("allocate serves long work")),
        "{problems:?}"
    );

    let mut unwatched = full.clone();
    remove_resource(&mut unwatched, "ReadApiErrorsAlarm");
    let problems = failure_handling_problems(&unwatched);
    assert!(
        problems.contains(&"read-api has no alarm on its Errors".to_string()),
        "{problems:?}"
    );

    let mut unnamed = full.clone();
    let resources = unnamed
        .get_mut("Resources")
        .and_then(Value::as_mapping_mut)
        .expect("Resources");
    for (_, resource) in resources.iter_mut() {
        if let Some(variables) = resource
            .get_mut("Properties")
            .and_then(|p| p.get_mut("Environment"))
            .and_then(|e| e.get_mut("Variables"))
            .and_then(Value::as_mapping_mut)
        {
            variables.remove("IMPORTS_BUCKET");
        }
    }
    if let Some(globals) = unnamed
        .get_mut("Globals")
        .and_then(|g| g.get_mut("Function"))
        .and_then(|f| f.get_mut("Environment"))
        .and_then(|e| e.get_mut("Variables"))
        .and_then(Value::as_mapping_mut)
    {
        globals.remove("IMPORTS_BUCKET");
    }
    assert_eq!(
        bucket_name_problems(&unnamed),
        ["no function has IMPORTS_BUCKET"]
    );
}

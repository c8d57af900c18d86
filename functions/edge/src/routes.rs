//! Every HTTP route of the API and the function that serves it, in one
//! table. The functions dispatch on it, the local server routes with it, and
//! tests hold the OpenAPI file and the SAM template to it.

use http::Method;
use seatkeeper_core::caller::Action;

/// The Lambda functions that serve HTTP, by package, binary and SAM name.
pub const REQUEST_UPGRADE: &str = "request-upgrade";
pub const ASSIGN_ORDER: &str = "assign-order";
pub const ALLOCATE: &str = "allocate";
pub const IMPORT_RENEWALS: &str = "import-renewals";
pub const READ_API: &str = "read-api";
pub const ADMIN_API: &str = "admin-api";
/// The console's web pages (functions/console): not the API.
pub const CONSOLE: &str = "console";

/// The HTTP API routes that reach the console (method, path): its pages
/// everywhere but `/v1`, whose more specific routes API Gateway picks
/// first. The console routes within them itself and keeps its own session,
/// so these have no JWT authorizer (the template test holds both).
pub const CONSOLE_ROUTES: &[(&str, &str)] =
    &[("GET", "/"), ("GET", "/{proxy+}"), ("POST", "/{proxy+}")];

/// One route: method, path template (OpenAPI style), serving function, and
/// what the caller does there (`None`: anyone signed in), so that a role
/// that may not is refused (403) before its body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub function: &'static str,
    pub route: RouteName,
    pub action: Option<Action>,
}

/// The routes, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteName {
    CreateCompany,
    GetCompany,
    ListPartnerCompanies,
    AddMember,
    ListMembers,
    Quote,
    RequestOrder,
    ListOrders,
    GetOrder,
    AssignOrder,
    CancelOrder,
    Allocate,
    CreateImport,
    GetImport,
    ConfirmImport,
    Access,
    QuoteOrder,
    ReleaseLicence,
    TransferLicence,
    RemoveMember,
    UpdateCompany,
    PutLicenceType,
    UpdateMember,
    PutPartner,
    GetPartner,
    ListQueue,
    ListAudit,
    PreviewImport,
    GetAllocation,
    ResumeAllocation,
}

macro_rules! routes {
    ($(($method:literal, $path:literal, $function:expr, $name:ident, $action:expr)),* $(,)?) => {
        pub const ROUTES: &[RouteSpec] = &[
            $(RouteSpec { method: $method, path: $path, function: $function, route: RouteName::$name, action: $action },)*
        ];
    };
}

routes![
    (
        "POST",
        "/v1/companies",
        ADMIN_API,
        CreateCompany,
        Some(Action::CreateCompany)
    ),
    (
        "GET",
        "/v1/companies/{c}",
        READ_API,
        GetCompany,
        Some(Action::ReadCompany)
    ),
    (
        "GET",
        "/v1/partners/{p}/companies",
        READ_API,
        ListPartnerCompanies,
        Some(Action::CreateCompany)
    ),
    (
        "POST",
        "/v1/companies/{c}/members",
        ALLOCATE,
        AddMember,
        Some(Action::ManageSeats)
    ),
    (
        "GET",
        "/v1/companies/{c}/members",
        READ_API,
        ListMembers,
        Some(Action::ManageSeats)
    ),
    (
        "GET",
        "/v1/companies/{c}/quote",
        REQUEST_UPGRADE,
        Quote,
        Some(Action::RequestOrder)
    ),
    (
        "POST",
        "/v1/companies/{c}/orders",
        REQUEST_UPGRADE,
        RequestOrder,
        Some(Action::RequestOrder)
    ),
    (
        "GET",
        "/v1/companies/{c}/orders",
        READ_API,
        ListOrders,
        Some(Action::ReadCompany)
    ),
    (
        "GET",
        "/v1/companies/{c}/orders/{o}",
        READ_API,
        GetOrder,
        Some(Action::ReadCompany)
    ),
    (
        "POST",
        "/v1/companies/{c}/orders/{o}/assign",
        ASSIGN_ORDER,
        AssignOrder,
        Some(Action::AssignOrder)
    ),
    (
        "POST",
        "/v1/companies/{c}/orders/{o}/cancel",
        ASSIGN_ORDER,
        CancelOrder,
        Some(Action::CancelOrder)
    ),
    (
        "POST",
        "/v1/companies/{c}/allocations",
        ALLOCATE,
        Allocate,
        Some(Action::ManageSeats)
    ),
    (
        "POST",
        "/v1/companies/{c}/imports",
        ALLOCATE,
        CreateImport,
        Some(Action::ManageSeats)
    ),
    (
        "GET",
        "/v1/companies/{c}/imports/{i}",
        READ_API,
        GetImport,
        Some(Action::ManageSeats)
    ),
    (
        "POST",
        "/v1/companies/{c}/imports/{i}/confirm",
        ALLOCATE,
        ConfirmImport,
        Some(Action::ManageSeats)
    ),
    ("GET", "/v1/access", READ_API, Access, None),
    (
        "POST",
        "/v1/companies/{c}/quotes",
        REQUEST_UPGRADE,
        QuoteOrder,
        Some(Action::RequestOrder)
    ),
    (
        "DELETE",
        "/v1/companies/{c}/members/{email}/licence",
        ALLOCATE,
        ReleaseLicence,
        Some(Action::ManageSeats)
    ),
    (
        "POST",
        "/v1/companies/{c}/members/{email}/licence/transfer",
        ALLOCATE,
        TransferLicence,
        Some(Action::ManageSeats)
    ),
    (
        "DELETE",
        "/v1/companies/{c}/members/{email}",
        ALLOCATE,
        RemoveMember,
        Some(Action::ManageSeats)
    ),
    (
        "PATCH",
        "/v1/companies/{c}",
        ADMIN_API,
        UpdateCompany,
        Some(Action::AdministerCompany)
    ),
    (
        "PUT",
        "/v1/companies/{c}/licence-types/{t}",
        ADMIN_API,
        PutLicenceType,
        Some(Action::AdministerCompany)
    ),
    (
        "PATCH",
        "/v1/companies/{c}/members/{email}",
        ALLOCATE,
        UpdateMember,
        Some(Action::ManageSeats)
    ),
    (
        "PUT",
        "/v1/partners/{p}",
        ADMIN_API,
        PutPartner,
        Some(Action::ManagePartners)
    ),
    (
        "GET",
        "/v1/partners/{p}",
        READ_API,
        GetPartner,
        Some(Action::ReadPartner)
    ),
    (
        "GET",
        "/v1/orders",
        READ_API,
        ListQueue,
        Some(Action::ReadQueue)
    ),
    (
        "GET",
        "/v1/companies/{c}/audit",
        READ_API,
        ListAudit,
        Some(Action::ReadCompany)
    ),
    (
        "POST",
        "/v1/companies/{c}/imports/{i}/preview",
        ALLOCATE,
        PreviewImport,
        Some(Action::ManageSeats)
    ),
    (
        "GET",
        "/v1/companies/{c}/allocations/{a}",
        READ_API,
        GetAllocation,
        Some(Action::ManageSeats)
    ),
    (
        "POST",
        "/v1/companies/{c}/allocations/{a}/resume",
        ALLOCATE,
        ResumeAllocation,
        Some(Action::ManageSeats)
    ),
];

/// A request matched to a route, with its path parameters in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub spec: RouteSpec,
    pub params: Vec<String>,
}

impl Matched {
    /// The `n`th path parameter (`{c}` is 0, `{o}` is 1).
    pub fn param(&self, n: usize) -> &str {
        self.params.get(n).map(String::as_str).unwrap_or_default()
    }
}

/// What a path and method match: a route, a path served with other methods
/// (405), or nothing (404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Found(Matched),
    MethodNotAllowed,
    NotFound,
}

fn match_path(template: &str, path: &str) -> Option<Vec<String>> {
    let mut template_parts = template.trim_matches('/').split('/');
    let mut path_parts = path
        .trim_end_matches('/')
        .trim_start_matches('/')
        .split('/');
    let mut params = Vec::new();
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(t), Some(p)) if t.starts_with('{') && !p.is_empty() => params.push(p.to_string()),
            (Some(t), Some(p)) if t == p => {}
            _ => return None,
        }
    }
}

/// Finds the route for a method and path.
pub fn lookup(method: &Method, path: &str) -> Lookup {
    let mut path_matched = false;
    for spec in ROUTES {
        if let Some(params) = match_path(spec.path, path) {
            if spec.method == method.as_str() {
                return Lookup::Found(Matched {
                    spec: *spec,
                    params,
                });
            }
            path_matched = true;
        }
    }
    if path_matched {
        Lookup::MethodNotAllowed
    } else {
        Lookup::NotFound
    }
}

/// Routes whose work may outlast one request: they stop at the call's
/// deadline and answer 202, and their function's timeout must leave room
/// for the whole budget (the template test holds it to that).
pub fn takes_long(route: RouteName) -> bool {
    matches!(
        route,
        RouteName::Allocate | RouteName::ConfirmImport | RouteName::ResumeAllocation
    )
}

/// Routes that act on a job named in their path and resume it when sent
/// again: running one twice does its work once, so a key whose change was
/// applied but whose request died is run again rather than refused.
pub fn resumes_its_job(route: RouteName) -> bool {
    matches!(
        route,
        RouteName::ConfirmImport | RouteName::ResumeAllocation
    )
}

/// The names of the functions that serve HTTP routes.
pub fn http_functions() -> Vec<&'static str> {
    let mut names: Vec<_> = ROUTES.iter().map(|r| r.function).collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        let found = lookup(&Method::POST, "/v1/companies/acme/orders/o1/assign");
        let Lookup::Found(m) = found else {
            panic!("{found:?}")
        };
        assert_eq!(
            (m.spec.route, m.param(0), m.param(1)),
            (RouteName::AssignOrder, "acme", "o1")
        );
        assert_eq!(
            lookup(&Method::DELETE, "/v1/companies/acme"),
            Lookup::MethodNotAllowed
        );
        assert_eq!(lookup(&Method::GET, "/v1/nothing"), Lookup::NotFound);
        assert_eq!(
            lookup(&Method::GET, "/v1/companies//members"),
            Lookup::NotFound
        );
        let Lookup::Found(m) = lookup(&Method::GET, "/v1/access") else {
            panic!()
        };
        assert_eq!(m.spec.function, READ_API);
    }

    #[test]
    fn every_route_is_unique() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(!(a.method == b.method && a.path == b.path), "{a:?} twice");
            }
        }
    }
}

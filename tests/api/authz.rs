//! The authorisation matrix, over HTTP: every route in `ROUTES` × every role
//! × the caller's own tenant and a foreign one, against DESIGN.md "Roles and
//! tenancy". The role is checked first (403), then the tenant (404), so a
//! role that may never act gets 403 whichever company is in the path, and a
//! role that may act gets 404 for a company it may not see.
//!
//! Above all no foreign object is ever returned or changed: every answer to
//! a caller other than the account manager is searched for the foreign
//! tenant's ids and e-mails, and the foreign tenant (company, pools, members,
//! orders, read by the account manager) is compared before and after every
//! case. Only the account manager's own cases on it may change it.

use reqwest::{Method, StatusCode};
use seatkeeper_core::Role;
use seatkeeper_edge::routes::{RouteName, RouteSpec, ROUTES};
use serde_json::{json, Value};

use crate::helpers::{order_request, premium_from, Answer, TestApp};

const TODAY: &str = "2025-03-01";
const TERM_START: &str = "2025-01-01";
const OWN_PARTNER: &str = "p1";
const FOREIGN_PARTNER: &str = "p2";

/// The roles, in the order of the columns of [`MATRIX`].
const ROLES: [&str; 4] = ["learner", "manager", "account_manager", "partner_admin"];

/// Expected status for each role (columns as [`ROLES`]), as
/// `(own tenant, foreign tenant)`. Routes with no tenant in the path
/// (`POST /v1/companies`, `GET /v1/access`) answer the same for both.
#[rustfmt::skip]
const MATRIX: &[(RouteName, [(u16, u16); 4])] = &[
    //                       learner      manager      account_mgr  partner_admin
    (RouteName::CreateCompany,        [(403, 403), (403, 403), (201, 201), (201, 201)]),
    (RouteName::GetCompany,           [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::ListPartnerCompanies, [(403, 403), (403, 403), (200, 200), (200, 404)]),
    (RouteName::AddMember,            [(403, 403), (201, 404), (201, 201), (201, 404)]),
    (RouteName::ListMembers,          [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::Quote,                [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::RequestOrder,         [(403, 403), (201, 404), (201, 201), (201, 404)]),
    (RouteName::ListOrders,           [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::GetOrder,             [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::AssignOrder,          [(403, 403), (403, 403), (200, 200), (200, 404)]),
    (RouteName::CancelOrder,          [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::Allocate,             [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::CreateImport,         [(403, 403), (201, 404), (201, 201), (201, 404)]),
    (RouteName::GetImport,            [(403, 403), (200, 404), (200, 200), (200, 404)]),
    // Nothing was uploaded: a caller who may confirm gets that far (409).
    (RouteName::ConfirmImport,        [(403, 403), (409, 404), (409, 409), (409, 404)]),
    (RouteName::Access,               [(200, 200), (200, 200), (200, 200), (200, 200)]),
    (RouteName::QuoteOrder,           [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::ReleaseLicence,       [(403, 403), (200, 404), (200, 200), (200, 404)]),
    // Co-term seats are released, not transferred: allowed callers get that far (409).
    (RouteName::TransferLicence,      [(403, 403), (409, 404), (409, 409), (409, 404)]),
    (RouteName::RemoveMember,         [(403, 403), (204, 404), (204, 204), (204, 404)]),
    (RouteName::UpdateCompany,        [(403, 403), (403, 403), (200, 200), (200, 404)]),
    (RouteName::PutLicenceType,       [(403, 403), (403, 403), (201, 201), (201, 404)]),
    (RouteName::UpdateMember,         [(403, 403), (200, 404), (200, 200), (200, 404)]),
    // Partners are the vendor's records; each tenant's partner is recorded anew.
    (RouteName::PutPartner,           [(403, 403), (403, 403), (201, 201), (403, 403)]),
    (RouteName::GetPartner,           [(403, 403), (403, 403), (200, 200), (200, 404)]),
    // No tenant in the path: each caller's queue is its own scope.
    (RouteName::ListQueue,            [(403, 403), (403, 403), (200, 200), (200, 200)]),
    (RouteName::ListAudit,            [(403, 403), (200, 404), (200, 200), (200, 404)]),
    // Nothing was uploaded: a caller who may preview gets that far (409).
    (RouteName::PreviewImport,        [(403, 403), (409, 404), (409, 409), (409, 404)]),
    (RouteName::GetAllocation,        [(403, 403), (200, 404), (200, 200), (200, 404)]),
    (RouteName::ResumeAllocation,     [(403, 403), (200, 404), (200, 200), (200, 404)]),
];

/// The conflict an allowed caller meets on a route whose case answers 409.
fn conflict_code(route: RouteName) -> &'static str {
    match route {
        RouteName::TransferLicence => "wrong_licence_policy",
        RouteName::PreviewImport => "import_not_previewable",
        _ => "import_not_previewed",
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tenancy {
    Own,
    Foreign,
}

impl Tenancy {
    fn name(self) -> &'static str {
        match self {
            Tenancy::Own => "own",
            Tenancy::Foreign => "foreign",
        }
    }
}

/// One company and the objects the cases act on. Mutating cases take fresh
/// ones, so each allowed case succeeds whatever ran before it.
struct Tenant {
    id: String,
    partner: &'static str,
    domain: &'static str,
    /// A requested order the read cases look at.
    order: String,
    /// Requested orders, one per assign or cancel case.
    fresh_orders: Vec<String>,
    /// Unlicensed members, one per allocation case.
    fresh_members: Vec<String>,
    /// Learners holding a co-term seat, one per release, transfer or
    /// removal case.
    fresh_holders: Vec<String>,
    /// Every order id, to search answers for.
    all_orders: Vec<String>,
    /// An import awaiting its upload.
    import: String,
    /// A Select All, done (there was no one expired).
    allocation: String,
}

/// Two tenants and a token per role. The caller's own tenant is "own":
/// created by partner p1's admin, the learner and the manager are its
/// members. "foreign" belongs to partner p2.
struct World {
    app: TestApp,
    am: String,
    own: Tenant,
    foreign: Tenant,
    /// Tokens in the order of [`ROLES`].
    tokens: Vec<String>,
}

fn company_body(name: &str, domain: &str) -> Value {
    json!({
        "name": name,
        "account_manager_email": "am@vendor.io",
        "plan": premium_from(TERM_START),
        "licence_types": [{"type": "standard", "policy": "co_term", "annual_fee_minor": 12000, "currency": "GBP", "seats": 40}],
        "managers": [{"email": format!("lead@{domain}"), "name": "Lee Lead"}],
    })
}

fn order_body() -> Value {
    order_request("upgrade", 1)
}

fn expect_status(answer: &Answer, status: StatusCode, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
}

impl World {
    async fn build() -> Self {
        let app = TestApp::on(TODAY).await;
        let am = app.account_manager().await;
        let own = Self::tenant(&app, OWN_PARTNER, "own.io").await;
        let foreign = Self::tenant(&app, FOREIGN_PARTNER, "foreign.io").await;
        let mut tokens = Vec::new();
        for role in ROLES {
            let token = match role {
                "learner" => app.token("learner@own.io", role, Some(&own.id), None).await,
                "manager" => app.token("lead@own.io", role, Some(&own.id), None).await,
                "account_manager" => am.clone(),
                _ => {
                    app.token("admin@p1.io", role, None, Some(OWN_PARTNER))
                        .await
                }
            };
            tokens.push(token);
        }
        Self {
            app,
            am,
            own,
            foreign,
            tokens,
        }
    }

    /// A company of `partner`'s, set up by its partner admin and manager.
    async fn tenant(app: &TestApp, partner: &'static str, domain: &'static str) -> Tenant {
        let admin = app
            .token(
                &format!("admin@{partner}.io"),
                "partner_admin",
                None,
                Some(partner),
            )
            .await;
        let created = app
            .post("/v1/companies", &admin, company_body(domain, domain))
            .await;
        expect_status(&created, StatusCode::CREATED, "create a tenant");
        assert_eq!(created.body["partner_id"], partner, "{}", created.body);
        let id = created.body["id"].as_str().expect("an id").to_string();
        let lead = app
            .token(&format!("lead@{domain}"), "manager", Some(&id), None)
            .await;
        let members = format!("/v1/companies/{id}/members");
        let learner = json!({"email": format!("learner@{domain}"), "name": "Lynn Learner", "role": "learner", "licence_type": "standard"});
        expect_status(
            &app.post(&members, &lead, learner).await,
            StatusCode::CREATED,
            "add the licensed learner",
        );
        let add = |prefix: &'static str, n: usize, licence: Option<&'static str>| {
            let (app, members, lead) = (app, members.clone(), lead.clone());
            async move {
                let mut emails = Vec::new();
                for i in 0..n {
                    let email = format!("{prefix}{i}@{domain}");
                    let body = json!({"email": email, "name": prefix, "role": "learner", "licence_type": licence});
                    let added = app.post(&members, &lead, body).await;
                    expect_status(&added, StatusCode::CREATED, &format!("add {email}"));
                    emails.push(email);
                }
                emails
            }
        };
        // Unlicensed members, and holders of a co-term seat.
        let fresh_members = add("spare", ROLES.len(), None).await;
        let fresh_holders = add("holder", 3 * ROLES.len(), Some("standard")).await;
        let mut all_orders = Vec::new();
        // One to read, and one per role for each of assign and cancel, all
        // requested by the manager so that the manager may cancel them.
        for _ in 0..1 + 2 * ROLES.len() {
            let order = app
                .post(&format!("/v1/companies/{id}/orders"), &lead, order_body())
                .await;
            expect_status(&order, StatusCode::CREATED, "request an order");
            all_orders.push(
                order.body["order"]["id"]
                    .as_str()
                    .expect("an id")
                    .to_string(),
            );
        }
        let import = app
            .post(&format!("/v1/companies/{id}/imports"), &lead, json!({}))
            .await;
        expect_status(&import, StatusCode::CREATED, "request an import");
        let import = import.body["import_id"]
            .as_str()
            .expect("an import id")
            .to_string();
        all_orders.push(import.clone());
        let selected = app
            .post(
                &format!("/v1/companies/{id}/allocations"),
                &lead,
                json!({"licence_type": "standard", "all_expired": true}),
            )
            .await;
        expect_status(&selected, StatusCode::OK, "select all");
        let allocation = selected.body["allocation_id"]
            .as_str()
            .expect("an allocation id")
            .to_string();
        all_orders.push(allocation.clone());
        Tenant {
            import,
            allocation,
            id,
            partner,
            domain,
            order: all_orders[0].clone(),
            fresh_orders: all_orders[1..].to_vec(),
            fresh_members,
            fresh_holders,
            all_orders,
        }
    }

    fn tenant_mut(&mut self, tenancy: Tenancy) -> &mut Tenant {
        match tenancy {
            Tenancy::Own => &mut self.own,
            Tenancy::Foreign => &mut self.foreign,
        }
    }

    /// The foreign tenant as the account manager reads it.
    async fn foreign_snapshot(&self) -> Value {
        let id = &self.foreign.id;
        let mut snapshot = serde_json::Map::new();
        for (name, path) in [
            ("company", format!("/v1/companies/{id}")),
            ("members", format!("/v1/companies/{id}/members?limit=200")),
            ("orders", format!("/v1/companies/{id}/orders?limit=200")),
        ] {
            let answer = self.app.get(&path, &self.am).await;
            expect_status(&answer, StatusCode::OK, &format!("snapshot {path}"));
            assert!(answer.body["next_cursor"].is_null(), "{path}: one page");
            snapshot.insert(name.to_string(), answer.body);
        }
        Value::Object(snapshot)
    }

    /// A valid request for `spec` on `tenancy`'s company: path parameters
    /// are that tenant's, mutations take fresh objects.
    fn request(
        &mut self,
        spec: &RouteSpec,
        role: &str,
        tenancy: Tenancy,
    ) -> (Method, String, Option<Value>) {
        let tenant = self.tenant_mut(tenancy);
        let c = tenant.id.clone();
        let domain = tenant.domain;
        let tag = format!("{role}-{}", tenancy.name()).replace('_', "-");
        let (path, body) = match spec.route {
            RouteName::CreateCompany => (
                "/v1/companies".to_string(),
                Some(company_body(&format!("New {tag}"), &format!("{tag}.io"))),
            ),
            RouteName::GetCompany => (format!("/v1/companies/{c}"), None),
            RouteName::ListPartnerCompanies => {
                (format!("/v1/partners/{}/companies", tenant.partner), None)
            }
            RouteName::AddMember => (
                format!("/v1/companies/{c}/members"),
                Some(
                    json!({"email": format!("new-{tag}@{domain}"), "name": "New", "role": "learner"}),
                ),
            ),
            RouteName::ListMembers => (format!("/v1/companies/{c}/members"), None),
            RouteName::Quote => (
                format!("/v1/companies/{c}/quote?licence_type=standard&quantity=2"),
                None,
            ),
            RouteName::RequestOrder => (format!("/v1/companies/{c}/orders"), Some(order_body())),
            RouteName::ListOrders => (format!("/v1/companies/{c}/orders"), None),
            RouteName::GetOrder => (format!("/v1/companies/{c}/orders/{}", tenant.order), None),
            RouteName::AssignOrder => {
                let o = tenant.fresh_orders.pop().expect("a fresh order");
                (
                    format!("/v1/companies/{c}/orders/{o}/assign"),
                    Some(json!({})),
                )
            }
            RouteName::CancelOrder => {
                let o = tenant.fresh_orders.pop().expect("a fresh order");
                (
                    format!("/v1/companies/{c}/orders/{o}/cancel"),
                    Some(json!({})),
                )
            }
            RouteName::Allocate => {
                let email = tenant.fresh_members.pop().expect("a fresh member");
                (
                    format!("/v1/companies/{c}/allocations"),
                    Some(json!({"licence_type": "standard", "emails": [email]})),
                )
            }
            RouteName::CreateImport => (format!("/v1/companies/{c}/imports"), Some(json!({}))),
            RouteName::GetImport => (format!("/v1/companies/{c}/imports/{}", tenant.import), None),
            RouteName::ConfirmImport => (
                format!("/v1/companies/{c}/imports/{}/confirm", tenant.import),
                Some(json!({"licence_type": "standard"})),
            ),
            RouteName::Access => ("/v1/access".to_string(), None),
            RouteName::QuoteOrder => (
                format!("/v1/companies/{c}/quotes"),
                Some(json!({"licence_type": "standard", "quantity": 2})),
            ),
            RouteName::ReleaseLicence => {
                let email = tenant.fresh_holders.pop().expect("a fresh holder");
                (
                    format!("/v1/companies/{c}/members/{email}/licence?effective=now"),
                    None,
                )
            }
            RouteName::TransferLicence => {
                let email = tenant.fresh_holders.pop().expect("a fresh holder");
                (
                    format!("/v1/companies/{c}/members/{email}/licence/transfer"),
                    Some(json!({"to_email": format!("learner@{domain}")})),
                )
            }
            RouteName::RemoveMember => {
                let email = tenant.fresh_holders.pop().expect("a fresh holder");
                (format!("/v1/companies/{c}/members/{email}"), None)
            }
            RouteName::UpdateCompany => (
                format!("/v1/companies/{c}"),
                Some(json!({"min_seats_at_renewal": 16})),
            ),
            RouteName::PutLicenceType => (
                format!("/v1/companies/{c}/licence-types/extra-{tag}"),
                Some(json!({"policy": "co_term", "annual_fee_minor": 9900, "currency": "GBP"})),
            ),
            RouteName::UpdateMember => (
                format!("/v1/companies/{c}/members/learner@{domain}"),
                Some(json!({"name": "Lynn Learner"})),
            ),
            RouteName::PutPartner => (
                format!("/v1/partners/{}", tenant.partner),
                Some(json!({"name": "Partner", "contact_email": format!("desk@{tag}.io")})),
            ),
            RouteName::GetPartner => (format!("/v1/partners/{}", tenant.partner), None),
            RouteName::ListQueue => ("/v1/orders?state=requested".to_string(), None),
            RouteName::ListAudit => (format!("/v1/companies/{c}/audit"), None),
            RouteName::PreviewImport => (
                format!("/v1/companies/{c}/imports/{}/preview", tenant.import),
                Some(json!({"email_column": "Email"})),
            ),
            RouteName::GetAllocation => (
                format!("/v1/companies/{c}/allocations/{}", tenant.allocation),
                None,
            ),
            RouteName::ResumeAllocation => (
                format!("/v1/companies/{c}/allocations/{}/resume", tenant.allocation),
                Some(json!({})),
            ),
        };
        let method = Method::from_bytes(spec.method.as_bytes()).expect("a method");
        (method, path, body)
    }

    /// What no one but the account manager may ever be shown.
    fn foreign_markers(&self) -> Vec<String> {
        let mut markers = vec![
            self.foreign.id.clone(),
            format!("@{}", self.foreign.domain),
            format!("\"{}\"", self.foreign.partner),
        ];
        markers.extend(self.foreign.all_orders.iter().cloned());
        markers
    }
}

fn content_type(answer: &Answer) -> &str {
    answer
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// What is wrong with `answer`, if anything, given the status expected.
fn check_answer(answer: &Answer, expected: u16, conflict: &str) -> Option<String> {
    if answer.status.as_u16() != expected {
        return Some(format!(
            "expected {expected}, got {} {}",
            answer.status, answer.body
        ));
    }
    if answer.status == StatusCode::NO_CONTENT {
        return (!answer.body.is_null()).then(|| format!("a 204 with a body: {}", answer.body));
    }
    if answer.status.is_success() {
        return (content_type(answer) != "application/json")
            .then(|| format!("content-type {:?}", content_type(answer)));
    }
    let code = match expected {
        403 => "forbidden",
        404 => "not_found",
        409 => conflict,
        other => return Some(format!("no problem code known for {other}")),
    };
    if content_type(answer) != "application/problem+json" {
        return Some(format!("content-type {:?}", content_type(answer)));
    }
    if answer.code() != code || answer.body["status"] != expected {
        return Some(format!("expected a {code} problem, got {}", answer.body));
    }
    // A refusal (403, 404) carries the problem and nothing else: no data.
    if expected == 409 {
        return None;
    }
    let extra: Vec<&String> = answer
        .body
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !["type", "title", "status", "detail", "code"].contains(&k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    (!extra.is_empty()).then(|| format!("a refusal with data {extra:?}: {}", answer.body))
}

#[tokio::test]
async fn every_route_by_every_role_on_own_and_foreign_tenants() {
    // The table covers exactly the routes and the roles there are.
    for spec in ROUTES {
        assert_eq!(
            MATRIX.iter().filter(|(r, _)| *r == spec.route).count(),
            1,
            "{} {} needs one row in MATRIX",
            spec.method,
            spec.path
        );
    }
    assert_eq!(
        MATRIX.len(),
        ROUTES.len(),
        "MATRIX names a route not in ROUTES"
    );
    assert_eq!(
        Role::ALL
            .map(Role::as_str)
            .iter()
            .collect::<std::collections::BTreeSet<_>>(),
        ROLES.iter().collect(),
        "every role has a column"
    );

    let mut world = World::build().await;
    let markers = world.foreign_markers();
    let mut before = world.foreign_snapshot().await;
    let mut failures = Vec::new();
    let mut cases = 0;
    for spec in ROUTES {
        let (_, expected) = MATRIX
            .iter()
            .find(|(r, _)| *r == spec.route)
            .expect("a row");
        for (column, role) in ROLES.iter().enumerate() {
            for tenancy in [Tenancy::Own, Tenancy::Foreign] {
                cases += 1;
                let (own_status, foreign_status) = expected[column];
                let status = match tenancy {
                    Tenancy::Own => own_status,
                    Tenancy::Foreign => foreign_status,
                };
                let (method, path, body) = world.request(spec, role, tenancy);
                let case = format!(
                    "{} {} as {role} on the {} tenant ({method} {path})",
                    spec.method,
                    spec.path,
                    tenancy.name()
                );
                let token = world.tokens[column].clone();
                let answer = world
                    .app
                    .send(method, &path, Some(&token), body.as_ref(), None)
                    .await;
                if let Some(problem) = check_answer(&answer, status, conflict_code(spec.route)) {
                    failures.push(format!("{case}: {problem}"));
                }
                if *role != "account_manager" {
                    let text = answer.body.to_string();
                    for marker in &markers {
                        if text.contains(marker.as_str()) {
                            failures.push(format!("{case}: the answer shows {marker}: {text}"));
                        }
                    }
                }
                let after = world.foreign_snapshot().await;
                let may_change = *role == "account_manager" && tenancy == Tenancy::Foreign;
                if !may_change && after != before {
                    failures.push(format!(
                        "{case}: changed the foreign tenant\nbefore: {before}\nafter:  {after}"
                    ));
                }
                before = after;
            }
        }
    }
    assert_eq!(cases, ROUTES.len() * ROLES.len() * 2);
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The other tenant's order id under the caller's own company: not found,
/// even for the account manager, and nothing changes.
#[tokio::test]
async fn a_foreign_order_under_an_own_company_is_not_found() {
    let world = World::build().await;
    let before = world.foreign_snapshot().await;
    let (own, order) = (&world.own.id, &world.foreign.order);
    let mut failures = Vec::new();
    for (column, role) in ROLES.iter().enumerate().skip(1) {
        for (method, path) in [
            (Method::GET, format!("/v1/companies/{own}/orders/{order}")),
            (
                Method::POST,
                format!("/v1/companies/{own}/orders/{order}/assign"),
            ),
            (
                Method::POST,
                format!("/v1/companies/{own}/orders/{order}/cancel"),
            ),
        ] {
            let body = (method == Method::POST).then(|| json!({}));
            let answer = world
                .app
                .send(
                    method.clone(),
                    &path,
                    Some(&world.tokens[column]),
                    body.as_ref(),
                    None,
                )
                .await;
            // The manager may not assign at all: the role is checked first.
            let expected = if *role == "manager" && path.ends_with("/assign") {
                403
            } else {
                404
            };
            if let Some(problem) = check_answer(&answer, expected, "") {
                failures.push(format!("{method} {path} as {role}: {problem}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(world.foreign_snapshot().await, before);
}

/// Tokens that name no tenant act on none: a manager without a company, a
/// partner admin without a partner (even on a company with no partner).
#[tokio::test]
async fn claims_without_a_tenant_reach_no_company() {
    let world = World::build().await;
    let app = &world.app;
    let orphan = app
        .post(
            "/v1/companies",
            &world.am,
            company_body("Orphan", "orphan.io"),
        )
        .await;
    expect_status(&orphan, StatusCode::CREATED, "an account manager's company");
    assert!(orphan.body["partner_id"].is_null(), "{}", orphan.body);
    let orphan = orphan.body["id"].as_str().expect("an id").to_string();

    let manager = app.token("lead@own.io", "manager", None, None).await;
    let partner = app
        .token("admin@nowhere.io", "partner_admin", None, None)
        .await;
    let learner = app.token("learner@own.io", "learner", None, None).await;
    #[rustfmt::skip]
    let cases: Vec<(&str, &String, Method, String, u16)> = vec![
        ("manager", &manager, Method::GET, format!("/v1/companies/{}", world.own.id), 404),
        ("manager", &manager, Method::GET, format!("/v1/companies/{orphan}"), 404),
        ("partner_admin", &partner, Method::GET, format!("/v1/companies/{orphan}"), 404),
        ("partner_admin", &partner, Method::GET, format!("/v1/companies/{}", world.own.id), 404),
        ("partner_admin", &partner, Method::GET, format!("/v1/partners/{OWN_PARTNER}/companies"), 404),
        ("partner_admin", &partner, Method::POST, "/v1/companies".to_string(), 403),
        ("learner", &learner, Method::GET, "/v1/access".to_string(), 404),
    ];
    let mut failures = Vec::new();
    for (role, token, method, path, expected) in cases {
        let body = (method == Method::POST).then(|| company_body("Nope", "nope.io"));
        let answer = app
            .send(method.clone(), &path, Some(token), body.as_ref(), None)
            .await;
        if let Some(problem) = check_answer(&answer, expected, "") {
            failures.push(format!(
                "{method} {path} as {role} without a tenant: {problem}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The role is checked before the body is read: a role that may never act
/// on a route learns nothing of its body's shape (403, not 400).
#[tokio::test]
async fn a_forbidden_role_is_refused_before_its_body_is_read() {
    let app = TestApp::spawn().await;
    let manager = app
        .token("lead@own.io", "manager", Some("c-anything"), None)
        .await;
    let learner = app
        .token("learner@own.io", "learner", Some("c-anything"), None)
        .await;
    for (token, path, body) in [
        (&manager, "/v1/companies", json!({"name": "x"})),
        (
            &learner,
            "/v1/companies/c-anything/allocations",
            json!([1, 2]),
        ),
        (
            &manager,
            "/v1/companies/c-anything/orders/o1/assign",
            json!({"actioned_on": 7}),
        ),
    ] {
        let answer = app.post(path, token, body).await;
        assert_eq!(check_answer(&answer, 403, ""), None, "POST {path}");
    }
}

/// DNS rebinding: a page on another domain that resolves to 127.0.0.1
/// reaches the local server with its own name in `Host`. Refused (421),
/// token minting included; loopback names are served.
#[tokio::test]
async fn a_rebound_host_name_is_refused() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    for (host, expected) in [
        ("evil.example", StatusCode::MISDIRECTED_REQUEST),
        ("localhost", StatusCode::CREATED),
    ] {
        let answer = client
            .post(app.url("/local/token"))
            .header("host", host)
            .json(&json!({"email": "am@vendor.io", "role": "account_manager"}))
            .send()
            .await
            .expect("an answer");
        assert_eq!(answer.status(), expected, "Host: {host}");
    }
}

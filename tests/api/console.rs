//! The console over HTTP through the local server, as a browser without
//! JavaScript uses it: the session cookie and its flags, CSRF, tenancy,
//! and pages read over the same services as the API.

use reqwest::header::{HeaderMap, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::StatusCode;

use crate::helpers::{premium_from, TestApp};

/// A browser: no redirects followed, cookies kept by hand.
struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

struct Page {
    status: StatusCode,
    headers: HeaderMap,
    html: String,
}

impl Page {
    fn location(&self) -> &str {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The first form's CSRF token on the page.
    fn csrf(&self) -> String {
        let marker = "name=\"csrf\" value=\"";
        let start = self.html.find(marker).expect("a csrf field") + marker.len();
        self.html[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .to_string()
    }

    fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        Self {
            app,
            client,
            cookies: Vec::new(),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE).iter() {
            let Some((pair, _)) = value.to_str().unwrap_or_default().split_once(';') else {
                continue;
            };
            let Some((name, value)) = pair.split_once('=') else {
                continue;
            };
            self.cookies.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.cookies.push((name.to_string(), value.to_string()));
            }
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let cookie = self
            .cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let response = request
            .header(COOKIE, cookie)
            .send()
            .await
            .expect("a response");
        let (status, headers) = (response.status(), response.headers().clone());
        self.keep(&headers);
        let html = response.text().await.expect("a body");
        Page {
            status,
            headers,
            html,
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let request = self.client.get(self.app.url(path));
        self.send(request).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(self.app.url(path)).form(fields);
        self.send(request).await
    }

    /// Signs in through the local role picker.
    async fn sign_in(app: &'a TestApp, email: &str, role: &str, company: &str) -> (Self, Page) {
        let mut browser = Self::new(app);
        let form = browser.get("/sign-in").await;
        assert_eq!(form.status, StatusCode::OK);
        let csrf = form.csrf();
        let signed_in = browser
            .post(
                "/sign-in",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", email),
                    ("role", role),
                    ("company_id", company),
                    ("partner_id", ""),
                ],
            )
            .await;
        (browser, signed_in)
    }
}

#[tokio::test]
async fn signing_in_sets_a_sealed_secure_session_cookie() {
    let (app, _am, company) = TestApp::with_company("2026-06-01", 5).await;
    let (mut browser, signed_in) =
        Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER);
    assert_eq!(signed_in.location(), "/");
    let cookie = signed_in
        .set_cookie("sk_session")
        .expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    let home = browser.get("/").await;
    assert_eq!(home.location(), format!("/companies/{company}"));

    // An altered cookie is no session.
    let mut forged = Browser::new(&app);
    let sealed = cookie["sk_session=".len()..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    forged
        .cookies
        .push(("sk_session".into(), format!("x{sealed}")));
    assert_eq!(
        forged
            .get(&format!("/companies/{company}"))
            .await
            .location(),
        "/sign-in"
    );

    // Signing out clears it.
    let account = browser.get(&format!("/companies/{company}")).await;
    let out = browser
        .post("/sign-out", &[("csrf", account.csrf().as_str())])
        .await;
    assert_eq!(out.location(), "/sign-in");
    assert!(out
        .set_cookie("sk_session")
        .is_some_and(|c| c.contains("Max-Age=0")));
    assert_eq!(
        browser
            .get(&format!("/companies/{company}"))
            .await
            .location(),
        "/sign-in"
    );
}

#[tokio::test]
async fn the_account_page_shows_the_pools_counts() {
    let (app, _am, company) = TestApp::with_company("2026-06-01", 5).await;
    let (mut browser, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    let page = browser.get(&format!("/companies/{company}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.html;
    assert!(html.contains("<html lang=\"en\">"));
    assert!(html.contains("<h1>Acme Ltd</h1>"), "{html}");
    assert!(html.contains("<th scope=\"col\">Purchased</th>"));
    // standard: 5 purchased, the lead's seat allocated, 4 available.
    assert!(
        html.contains(
            "<th scope=\"row\">standard</th><td>5</td><td>1</td><td>4</td><td>2027-04-01</td>"
        ),
        "{html}"
    );
    assert!(html.contains(&format!("href=\"/companies/{company}/request\"")));
}

#[tokio::test]
async fn a_post_without_the_sessions_token_is_refused() {
    let (app, _am, company) = TestApp::with_company("2026-06-01", 5).await;
    let (mut browser, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    let path = format!("/companies/{company}/members/add");
    for fields in [
        vec![("emails", "new@acme.io")],
        vec![("emails", "new@acme.io"), ("csrf", "forged")],
    ] {
        let refused = browser.post(&path, &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.html.contains("<h1>Request refused</h1>"));
    }
    // No session at all: refused too, not sent to sign in.
    let stranger = Browser::new(&app).post(&path, &[("csrf", "x")]).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN);

    // With the token it works, and the next page says so once.
    let page = browser.get(&format!("/companies/{company}/members")).await;
    let added = browser
        .post(
            &path,
            &[("csrf", page.csrf().as_str()), ("emails", "new@acme.io")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    let after = browser.get(added.location()).await;
    assert!(after.html.contains("Added 1 learners."), "{}", after.html);
    let unlicensed = browser
        .get(&format!("/companies/{company}/members?tab=unlicensed"))
        .await;
    assert!(unlicensed.html.contains("new@acme.io"));
    assert!(!unlicensed.html.contains("Added 1 learners."));
}

#[tokio::test]
async fn a_company_of_someone_else_is_not_found() {
    let (app, am, company) = TestApp::with_company("2026-06-01", 5).await;
    let other = app
        .create_company(&am, premium_from("2026-04-01"), 3, "co_term")
        .await;
    let (mut browser, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    for path in [
        format!("/companies/{other}"),
        format!("/companies/{other}/members"),
        format!("/companies/{other}/orders"),
    ] {
        let page = browser.get(&path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.html.contains("<h1>Not found</h1>"));
    }
}

#[tokio::test]
async fn a_request_is_quoted_agreed_queued_and_assigned_with_its_invoice() {
    let (app, _am, company) = TestApp::with_company("2026-06-01", 5).await;
    let (mut lead, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    let quote = lead
        .get(&format!(
            "/companies/{company}/request?licence_type=standard&seats=2"
        ))
        .await;
    assert!(quote.html.contains("Days remaining"), "{}", quote.html);
    assert!(quote.html.contains("I agree to pay"));
    let csrf = quote.csrf();
    let orders = format!("/companies/{company}/orders");
    let base = [
        ("csrf", csrf.as_str()),
        ("licence_type", "standard"),
        ("seats", "2"),
    ];
    // Without "I agree to pay": back to the quote with the core's reason.
    let refused = lead.post(&orders, &base).await;
    assert!(refused
        .location()
        .starts_with(&format!("/companies/{company}/request")));
    let again = lead.get(refused.location()).await;
    assert!(again.html.contains("role=\"alert\""), "{}", again.html);
    let agreed = [base.as_slice(), &[("agree_to_pay", "true")]].concat();
    let requested = lead.post(&orders, &agreed).await;
    assert_eq!(requested.location(), orders);

    let (mut staff, _) = Browser::sign_in(&app, "am@vendor.io", "account_manager", "").await;
    assert_eq!(staff.get("/").await.location(), "/companies");
    let queue = staff.get("/orders?state=requested").await;
    assert!(queue.html.contains("Acme Ltd") && queue.html.contains("Assign"));
    let marker = format!("action=\"/companies/{company}/orders/");
    let start = queue.html.find(&marker).expect("an Assign form") + "action=\"".len();
    let assign = queue.html[start..].split('"').next().unwrap().to_string();
    let assigned = staff
        .post(&assign, &[("csrf", queue.csrf().as_str())])
        .await;
    assert_eq!(assigned.status, StatusCode::SEE_OTHER);
    let order = staff.get(assigned.location()).await;
    assert!(order.html.contains("Managing Acme Ltd"), "{}", order.html);
    assert!(order.html.contains("<h2>Invoice</h2>"));
    assert!(order.html.contains("GBP "));
}

#[tokio::test]
async fn a_csv_uploaded_through_the_form_is_previewed() {
    let (app, _am, company) = TestApp::with_company("2026-06-01", 5).await;
    let (mut lead, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    let form = lead.get(&format!("/companies/{company}/import")).await;
    let boundary = "XBOUNDARYX";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.csv\"\r\nContent-Type: text/csv\r\n\r\n\
         Name,Work email\r\nLee,lead@acme.io\r\nNo One,nobody@acme.io\r\n\r\n--{boundary}--\r\n",
        form.csrf()
    );
    let request = lead
        .client
        .post(app.url(&format!("/companies/{company}/import")))
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body);
    let uploaded = lead.send(request).await;
    assert_eq!(uploaded.status, StatusCode::SEE_OTHER, "{}", uploaded.html);
    let preview = lead.get(uploaded.location()).await;
    assert!(preview.html.contains("E-mail column"), "{}", preview.html);
    assert!(preview.html.contains("Work email"));
}

/// Every link the service's e-mails carry is a console page.
#[tokio::test]
async fn every_email_link_is_a_console_page() {
    let (app, am, company) = TestApp::with_company("2026-06-01", 5).await;
    let lead = app.lead(&company).await;
    let order = app
        .request_order(&lead, &company, crate::helpers::order_request("upgrade", 2))
        .await;
    let order_id = order.body["order"]["id"].as_str().expect("an order id");
    app.assign(&am, &company, order_id, serde_json::json!({}))
        .await;
    let base = app.url("");
    let mut paths: Vec<String> = app
        .outbox()
        .await
        .as_array()
        .expect("e-mails")
        .iter()
        .filter_map(|mail| mail["text"].as_str())
        .flat_map(|text| {
            text.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|word| {
            let word = word.trim_end_matches(['.', ',', ';', ':', ')']);
            word.strip_prefix(&base).map(str::to_string)
        })
        .collect();
    paths.sort();
    paths.dedup();
    assert!(paths.len() >= 2, "{paths:?}");
    paths.extend(["/upgrade".to_string(), "/renew".to_string()]);
    let (mut staff, _) = Browser::sign_in(&app, "am@vendor.io", "account_manager", "").await;
    let (mut manager, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    for path in &paths {
        let page = staff.get(path).await;
        assert!(
            page.status.is_success() || page.status.is_redirection(),
            "{path}: {}",
            page.status
        );
        // A manager may be refused the helpdesk queue, but no link is missing.
        assert_ne!(
            manager.get(path).await.status,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_console_has_its_stylesheet_and_a_404_page() {
    let app = TestApp::spawn().await;
    let mut browser = Browser::new(&app);
    let css = browser.get("/assets/console.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.html.contains(":focus-visible"));
    let missing = browser.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.html.contains("<h1>Not found</h1>"));
    // Unsigned, a page sends the browser to sign in; the API stays JSON.
    assert_eq!(browser.get("/companies").await.location(), "/sign-in");
    let api = browser.get("/v1/nothing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(api.html.starts_with('{'));
}

/// The action a form on `page` posts to, the first whose path has `part`.
fn form_action(page: &Page, part: &str) -> String {
    page.html
        .split("action=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.contains(part))
        .unwrap_or_else(|| panic!("no form to {part} in {}", page.html))
        .to_string()
}

/// Journey 1 through the pages: 10 seats quoted at GBP 427.40, requested,
/// assigned from the queue, and the account shows 30 seats.
#[tokio::test]
async fn journey_one_through_the_pages() {
    let (app, _am, company) = TestApp::with_company("2026-11-22", 20).await;
    let (mut lead, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    let quote = lead
        .get(&format!(
            "/companies/{company}/request?licence_type=standard&seats=10"
        ))
        .await;
    assert!(quote.html.contains("<dd>130</dd>"), "{}", quote.html);
    assert!(quote.html.contains("GBP 427.40"));
    let csrf = quote.csrf();
    let submitted = lead
        .post(
            &format!("/companies/{company}/orders"),
            &[
                ("csrf", csrf.as_str()),
                ("licence_type", "standard"),
                ("seats", "10"),
                ("agree_to_pay", "true"),
            ],
        )
        .await;
    assert_eq!(submitted.status, StatusCode::SEE_OTHER);

    let (mut am, _) = Browser::sign_in(&app, "am@vendor.io", "account_manager", "").await;
    let queue = am.get("/orders?state=requested").await;
    let assign = form_action(&queue, "/assign");
    let assigned = am.post(&assign, &[("csrf", queue.csrf().as_str())]).await;
    let order = am.get(assigned.location()).await;
    assert!(
        order.html.contains("Order assigned: invoice GBP 427.40."),
        "{}",
        order.html
    );

    let account = lead.get(&format!("/companies/{company}")).await;
    assert!(
        account
            .html
            .contains("<th scope=\"row\">standard</th><td>30</td>"),
        "{}",
        account.html
    );
}

/// Journey 2 through the pages: a partner's trial ends, its manager lands on
/// /upgrade and requests licences, the partner assigns them and renews
/// every expired learner with "Select All".
#[tokio::test]
async fn journey_two_through_the_pages() {
    let app = TestApp::on("2026-11-01").await;
    let partner_token = app.partner_admin().await;
    let company = app
        .create_company(
            &partner_token,
            crate::helpers::trial_until("2026-11-15", 4),
            0,
            "co_term",
        )
        .await;
    let learners: Vec<String> = (0..3).map(|i| format!("learner{i}@acme.io")).collect();
    app.add_learners(&partner_token, &company, &learners).await;
    let mut partner = Browser::new(&app);
    {
        let form = partner.get("/sign-in").await;
        let csrf = form.csrf();
        partner
            .post(
                "/sign-in",
                &[
                    ("csrf", csrf.as_str()),
                    ("email", "admin@msp.io"),
                    ("role", "partner_admin"),
                    ("company_id", ""),
                    ("partner_id", "msp1"),
                ],
            )
            .await;
    }
    let companies = partner.get("/companies").await;
    assert!(
        companies.html.contains("Manage Company"),
        "{}",
        companies.html
    );
    assert!(companies
        .html
        .contains(&format!("href=\"/companies/{company}\"")));

    app.set_today("2026-11-15").await;
    let (mut lead, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    assert_eq!(lead.get("/").await.location(), "/upgrade");
    let upgrade = lead.get("/upgrade").await;
    assert!(
        upgrade.html.contains("<h1>Upgrade to premium</h1>"),
        "{}",
        upgrade.html
    );
    let quote = lead
        .get(&format!(
            "/companies/{company}/request?licence_type=standard&seats=4"
        ))
        .await;
    assert!(quote.html.contains("Amount"), "{}", quote.html);
    let requested = lead
        .post(
            &format!("/companies/{company}/orders"),
            &[
                ("csrf", quote.csrf().as_str()),
                ("licence_type", "standard"),
                ("seats", "4"),
                ("agree_to_pay", "true"),
            ],
        )
        .await;
    assert_eq!(requested.location(), format!("/companies/{company}/orders"));

    let orders = partner
        .get(&format!("/companies/{company}/orders?state=requested"))
        .await;
    assert!(orders.html.contains("Managing Acme Ltd"));
    let assign = form_action(&orders, "/assign");
    partner
        .post(&assign, &[("csrf", orders.csrf().as_str())])
        .await;
    let expired = partner
        .get(&format!("/companies/{company}/members?tab=expired"))
        .await;
    assert!(
        expired.html.contains("learner0@acme.io"),
        "{}",
        expired.html
    );
    let renewed = partner
        .post(
            &format!("/companies/{company}/members/select-all"),
            &[
                ("csrf", expired.csrf().as_str()),
                ("licence_type", "standard"),
                ("tab", "expired"),
            ],
        )
        .await;
    let after = partner.get(renewed.location()).await;
    assert!(after.html.contains("role=\"status\""), "{}", after.html);
    let active = partner
        .get(&format!("/companies/{company}/members?tab=active"))
        .await;
    assert!(active.html.contains("learner2@acme.io"), "{}", active.html);
}

/// Allocate, then release at renewal: the seat stays until the term ends.
#[tokio::test]
async fn seats_are_allocated_and_released_from_the_licences_page() {
    let (app, _am, company) = TestApp::with_company("2026-06-01", 5).await;
    let lead_token = app.lead(&company).await;
    app.add_learners(&lead_token, &company, &["ann@acme.io".to_string()])
        .await;
    let (mut lead, _) = Browser::sign_in(&app, "lead@acme.io", "manager", &company).await;
    let members = format!("/companies/{company}/members");
    let unlicensed = lead.get(&format!("{members}?tab=unlicensed")).await;
    let csrf = unlicensed.csrf();
    let allocated = lead
        .post(
            &format!("{members}/allocate"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "ann@acme.io"),
                ("licence_type", "standard"),
                ("tab", "unlicensed"),
            ],
        )
        .await;
    let page = lead.get(allocated.location()).await;
    assert!(page.html.contains("Allocated 1 licences."), "{}", page.html);
    let released = lead
        .post(
            &format!("{members}/release"),
            &[
                ("csrf", csrf.as_str()),
                ("email", "ann@acme.io"),
                ("effective", "renewal"),
            ],
        )
        .await;
    let page = lead.get(released.location()).await;
    assert!(page.html.contains("Released 1 licences."), "{}", page.html);
    let active = lead.get(&format!("{members}?tab=active")).await;
    assert!(active.html.contains("ann@acme.io"), "{}", active.html);
}

//! `TestApp`: the local server on a random loopback port, with a fresh data
//! directory, and a client that speaks to it as a person's script would.

use std::net::SocketAddr;

use reqwest::StatusCode;
use serde_json::{json, Value};

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    _data: tempfile::TempDir,
}

/// A response: status, headers and JSON body (`Null` if the body is empty).
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// A 409 `no_seats_available` naming how many seats were needed and free.
    pub fn expect_no_seats(&self, needed: u64, available: u64) {
        assert_eq!(
            (self.status, self.code()),
            (StatusCode::CONFLICT, "no_seats_available"),
            "{}",
            self.body
        );
        assert_eq!(
            (
                self.body["needed"].as_u64(),
                self.body["available"].as_u64()
            ),
            (Some(needed), Some(available))
        );
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        let data = tempfile::TempDir::new().expect("a data directory");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let address = listener.local_addr().expect("the bound address");
        let config = local_server::LocalConfig {
            data_dir: data.path().to_path_buf(),
            base_url: format!("http://{address}"),
        };
        let local = local_server::Local::open(&config).expect("open the local server");
        tokio::spawn(async move { axum::serve(listener, local_server::router(local)).await });
        Self {
            address,
            client: reqwest::Client::new(),
            _data: data,
        }
    }

    /// A server whose today is `today`.
    pub async fn on(today: &str) -> Self {
        let app = Self::spawn().await;
        app.set_today(today).await;
        app
    }

    /// A server whose today is `today`, holding one company the account
    /// manager created: a premium term from 2026-04-01, `seats` co-term
    /// seats. The server, the account manager's token and the company's id.
    pub async fn with_company(today: &str, seats: u32) -> (Self, String, String) {
        let app = Self::on(today).await;
        let am = app.account_manager().await;
        let company = app
            .create_company(&am, premium_from("2026-04-01"), seats, "co_term")
            .await;
        (app, am, company)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON body")
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(reqwest::Method::GET, path, Some(token), None, None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(reqwest::Method::POST, path, Some(token), Some(&body), None)
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(&body), None)
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(reqwest::Method::PUT, path, Some(token), Some(&body), None)
            .await
    }

    /// Runs the daily expiry check as of the server's clock.
    pub async fn run_daily_check(&self) -> Answer {
        self.send(
            reqwest::Method::POST,
            "/local/run-expiry-check",
            None,
            None,
            None,
        )
        .await
    }

    /// A POST with an `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, token: &str, body: &Value, key: &str) -> Answer {
        self.send(
            reqwest::Method::POST,
            path,
            Some(token),
            Some(body),
            Some(key),
        )
        .await
    }

    pub async fn token(
        &self,
        email: &str,
        role: &str,
        company_id: Option<&str>,
        partner_id: Option<&str>,
    ) -> String {
        let body = json!({"email": email, "role": role, "company_id": company_id, "partner_id": partner_id});
        let answer = self
            .send(
                reqwest::Method::POST,
                "/local/token",
                None,
                Some(&body),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["token"].as_str().expect("a token").to_string()
    }

    pub async fn set_today(&self, today: &str) {
        let answer = self
            .send(
                reqwest::Method::POST,
                "/local/clock",
                None,
                Some(&json!({ "today": today })),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }

    pub async fn account_manager(&self) -> String {
        self.token("am@vendor.io", "account_manager", None, None)
            .await
    }

    /// The admin of partner msp1.
    pub async fn partner_admin(&self) -> String {
        self.token("admin@msp.io", "partner_admin", None, Some("msp1"))
            .await
    }

    /// The manager `create_company` names, lead@acme.io.
    pub async fn lead(&self, company: &str) -> String {
        self.token("lead@acme.io", "manager", Some(company), None)
            .await
    }

    /// Creates a company as `token`'s holder; returns its id.
    pub async fn create_company(
        &self,
        token: &str,
        plan: Value,
        seats: u32,
        policy: &str,
    ) -> String {
        let body = json!({
            "name": "Acme Ltd",
            "account_manager_email": "am@vendor.io",
            "plan": plan,
            "licence_types": [{"type": "standard", "policy": policy, "annual_fee_minor": 12000, "currency": "GBP", "seats": seats}],
            "managers": [{"email": "lead@acme.io", "name": "Lee Lead"}],
        });
        let answer = self.post("/v1/companies", token, body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answer.body["id"].as_str().expect("an id").to_string()
    }

    /// Requests an order (`order(kind, quantity)`, or any body).
    pub async fn request_order(&self, token: &str, company: &str, body: Value) -> Answer {
        self.post(&format!("/v1/companies/{company}/orders"), token, body)
            .await
    }

    /// Assigns an order; `body` may name `actioned_on`.
    pub async fn assign(&self, token: &str, company: &str, order: &str, body: Value) -> Answer {
        self.post(
            &format!("/v1/companies/{company}/orders/{order}/assign"),
            token,
            body,
        )
        .await
    }

    /// PUTs `body` to an import's `upload_url`, as a browser would.
    pub async fn upload(&self, url: &str, body: &'static str) -> reqwest::Response {
        self.client
            .put(url)
            .body(body)
            .send()
            .await
            .expect("the upload")
    }

    /// Every e-mail "sent", oldest first.
    pub async fn outbox(&self) -> Value {
        self.client
            .get(self.url("/local/outbox"))
            .send()
            .await
            .expect("outbox")
            .json::<Value>()
            .await
            .expect("json")
    }

    pub async fn add_learners(&self, token: &str, company: &str, emails: &[String]) {
        for email in emails {
            let body = json!({"email": email, "name": "Learner", "role": "learner"});
            let answer = self
                .post(&format!("/v1/companies/{company}/members"), token, body)
                .await;
            assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        }
    }
}

pub fn premium_from(term_start: &str) -> Value {
    json!({"kind": "premium", "term_start": term_start})
}

pub fn trial_until(ends_on: &str, seats: u32) -> Value {
    json!({"kind": "trial", "ends_on": ends_on, "seats": seats})
}

/// An order for "standard" seats, agreeing to pay.
pub fn order_request(kind: &str, quantity: u32) -> Value {
    json!({"licence_type": "standard", "quantity": quantity, "kind": kind, "agree_to_pay": true})
}

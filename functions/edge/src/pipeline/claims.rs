//! Who is calling: the claims API Gateway's JWT authorizer verified and put
//! in the request context. Nothing else is trusted; local stand-ins put
//! their claims in the same place before the pipeline runs.

use lambda_http::{Request, RequestExt};
use seatkeeper_core::types::{CompanyId, Email, PartnerId};
use seatkeeper_core::{Caller, Role};

use super::problem::Problem;

/// The caller, from the claims API Gateway's JWT authorizer put in the
/// request context. Without them the request is not signed in.
pub fn caller_from(request: &Request) -> Result<Caller, Problem> {
    let claims = match request.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    let claims = claims
        .ok_or_else(|| Problem::unauthorized("no credentials: sign in and send a bearer token"))?;
    caller_from_claims(|name| claims.get(name).map(String::as_str))
}

/// The caller from a set of verified claims (the authorizer's, or those a
/// console session holds): one reading of them for the API and the console.
pub fn caller_from_claims<'a>(claims: impl Fn(&str) -> Option<&'a str>) -> Result<Caller, Problem> {
    let claim = |name: &str| claims(name).map(str::trim).filter(|v| !v.is_empty());
    let user_id = claim("sub").ok_or_else(|| Problem::unauthorized("the token has no subject"))?;
    let email = claim("email")
        .and_then(|e| Email::parse(e).ok())
        .ok_or_else(|| Problem::unauthorized("the token has no valid e-mail"))?;
    // Access follows the e-mail: one a user set but never proved is no one's.
    if claim("email_verified") != Some("true") {
        return Err(Problem::unauthorized("the token's e-mail is not verified"));
    }
    let role = claim("custom:role")
        .and_then(Role::parse)
        .ok_or_else(|| Problem::unauthorized("the token carries no known role"))?;
    Ok(Caller {
        user_id: user_id.to_string(),
        email,
        role,
        company_id: claim("custom:company_id").and_then(|c| CompanyId::parse(c).ok()),
        partner_id: claim("custom:partner_id").and_then(|p| PartnerId::parse(p).ok()),
    })
}

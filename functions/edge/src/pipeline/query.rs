//! The query string, from the event's parameters or the URI.

use std::collections::HashMap;

use lambda_http::{Request, RequestExt};

pub(super) fn query_of(request: &Request) -> HashMap<String, String> {
    let from_event = request.query_string_parameters();
    let mut query: HashMap<String, String> = from_event
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Requests built by hand (tests, the local server) may carry the query only in the URI.
    if query.is_empty() {
        if let Some(raw) = request.uri().query() {
            for pair in raw.split('&').filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                query.insert(percent_decode(k), percent_decode(v));
            }
        }
    }
    query
}

/// Decodes `%XX` and `+` in a query component.
pub fn percent_decode(raw: &str) -> String {
    decode(raw, true)
}

/// Decodes `%XX` in a path segment; `+` is itself there (`a+b@x.io`).
pub fn percent_decode_path(raw: &str) -> String {
    decode(raw, false)
}

fn decode(raw: &str, plus_is_space: bool) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .map(|hex| u8::from_str_radix(hex, 16))
                {
                    Ok(Ok(byte)) => {
                        out.push(byte);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(percent_decode("a%40b.io"), "a@b.io");
        assert_eq!(percent_decode("x+y"), "x y");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode_path("a+b%40x.io"), "a+b@x.io");
    }
}

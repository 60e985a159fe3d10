//! The headers every HTML answer carries, the settings page's and the connect callback's
//! alike: a strict CSP (no inline script, no framing), HSTS, no MIME sniffing, no referrer
//! beyond the origin, and no caching of personal pages.

use axum::{
    http::{HeaderName, HeaderValue, header},
    response::Response,
};

const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// Where static assets live: cached for an hour; everything else is never cached.
const ASSETS: &str = "/settings/assets/";

/// Middleware: sets the headers on every answer that passes through it.
pub async fn security_headers(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let asset = request.uri().path().starts_with(ASSETS);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 5] = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let caching = if asset { "public, max-age=3600" } else { "no-store" };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching));
    response
}

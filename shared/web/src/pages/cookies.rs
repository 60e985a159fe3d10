//! The two cookies: the session (a random 256-bit id; everything else is server-side) and the
//! pre-login cookie that binds a login's `state` to the browser that started it.
//!
//! In production both are `__Host-` cookies: Secure, HttpOnly, SameSite=Lax, Path=/, no
//! Domain. On a plain-http site (the local stack on 127.0.0.1) a browser drops Secure
//! cookies and refuses the `__Host-` prefix without them, so there the names lose the prefix
//! and the Secure flag; nothing else changes.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::domain::{LOGIN_LIFETIME_SECS, SESSION_LIFETIME_SECS};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePolicy {
    pub secure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cookie {
    Session,
    Login,
}

impl CookiePolicy {
    /// Secure unless the site is known to be plain http.
    pub fn for_site(public_url: Option<&url::Url>) -> Self {
        Self { secure: public_url.is_none_or(|url| url.scheme() == "https") }
    }

    pub fn name(self, cookie: Cookie) -> &'static str {
        match (cookie, self.secure) {
            (Cookie::Session, true) => "__Host-gb_session",
            (Cookie::Session, false) => "gb_session",
            (Cookie::Login, true) => "__Host-gb_login",
            (Cookie::Login, false) => "gb_login",
        }
    }

    /// `Set-Cookie` for `value`, living as long as what it names.
    pub fn set(self, cookie: Cookie, value: &str) -> Option<HeaderValue> {
        let max_age = match cookie {
            Cookie::Session => SESSION_LIFETIME_SECS,
            Cookie::Login => LOGIN_LIFETIME_SECS,
        };
        self.header(cookie, value, max_age)
    }

    /// `Set-Cookie` that removes the cookie.
    pub fn clear(self, cookie: Cookie) -> Option<HeaderValue> {
        self.header(cookie, "", 0)
    }

    fn header(self, cookie: Cookie, value: &str, max_age: u64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        let line = format!("{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}", self.name(cookie));
        HeaderValue::from_str(&line).ok()
    }

    /// The cookie's value in the request, if present.
    pub fn read(self, headers: &HeaderMap, cookie: Cookie) -> Option<String> {
        let name = self.name(cookie);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, value)| *key == name && !value.is_empty())
            .map(|(_, value)| value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_cookies_are_host_prefixed_secure_http_only_and_lax() {
        let policy = CookiePolicy::for_site(Some(&url::Url::parse("https://gb.example").expect("url")));
        let line = policy.set(Cookie::Session, "abc").expect("header");
        assert_eq!(
            line.to_str().expect("ascii"),
            "__Host-gb_session=abc; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax; Secure"
        );
    }

    #[test]
    fn plain_http_drops_the_prefix_and_secure_only() {
        let policy = CookiePolicy::for_site(Some(&url::Url::parse("http://127.0.0.1:8080").expect("url")));
        let line = policy.set(Cookie::Login, "s").expect("header");
        assert_eq!(line.to_str().expect("ascii"), "gb_login=s; Path=/; Max-Age=600; HttpOnly; SameSite=Lax");
    }

    #[test]
    fn reads_its_own_cookie_among_others() {
        let policy = CookiePolicy { secure: true };
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("a=1; __Host-gb_session=xyz; gb_session=no"));
        assert_eq!(policy.read(&headers, Cookie::Session).as_deref(), Some("xyz"));
        assert_eq!(policy.read(&headers, Cookie::Login), None);
    }
}

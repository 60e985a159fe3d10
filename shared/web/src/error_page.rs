//! The one HTML error page, for every door a person reaches in a browser: the settings page
//! and the connect callback. It says what went wrong in plain words, whether anything changed,
//! and where to go next.

use crate::domain::error::Report;
use askama::Template;
use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use url::Url;

use crate::{api::problem::store_answer, pages::BASE_PATH, store::StoreError};

/// Where the page's one link leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Back {
    /// The settings page's list of servers.
    Servers,
    /// Where the person came from (a platform's page). Boxed: a `Url` is large, and the page
    /// travels in every handler's `Err`.
    To(Box<Url>),
    /// No link: there is nowhere known to send them.
    Nowhere,
}

/// A refusal or failure as a person sees it in a browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    status: StatusCode,
    title: &'static str,
    detail: String,
    unchanged: bool,
    back: Back,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorHtml<'a> {
    title: &'a str,
    detail: &'a str,
    unchanged: bool,
    back: Option<(&'a str, &'static str)>,
}

impl ErrorPage {
    /// A page with this status, title and detail, linking back to the list of servers.
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, title, detail: detail.into(), unchanged: false, back: Back::Servers }
    }

    /// Says that nothing was changed (a refused write).
    pub fn unchanged(mut self) -> Self {
        self.unchanged = true;
        self
    }

    pub fn back(mut self, back: Back) -> Self {
        self.back = back;
        self
    }

    /// "Try again": the store, the queue or Discord is busy for now.
    pub fn busy() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Try again", "Guildbridge is busy; try again in a moment.")
    }
}

impl From<StoreError> for ErrorPage {
    fn from(error: StoreError) -> Self {
        let (status, _, detail) = store_answer(&error);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Self::busy();
        }
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Changed meanwhile",
            status if status.is_client_error() => "Not possible",
            _ => "Something went wrong",
        };
        Self::new(status, title, detail)
    }
}

impl IntoResponse for ErrorPage {
    fn into_response(self) -> Response {
        let back = match &self.back {
            Back::Servers => Some((BASE_PATH, "Back to your servers")),
            Back::To(url) => Some((url.as_str(), "Back to where you started")),
            Back::Nowhere => None,
        };
        let page = ErrorHtml { title: self.title, detail: &self.detail, unchanged: self.unchanged, back };
        let mut response = match page.render() {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(error) => {
                tracing::error!(error = %Report(&error), "error page: template failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
            }
        };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(page: ErrorPage) -> (StatusCode, String) {
        let response = page.into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn the_page_escapes_what_it_shows_and_links_where_it_is_told() {
        let back = Url::parse("https://club.example/events?x=<1>").expect("url");
        let page = ErrorPage::new(StatusCode::BAD_REQUEST, "Not valid", "<script>x</script>")
            .unchanged()
            .back(Back::To(Box::new(back)));
        let (status, html) = body(page).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("&#60;script&#62;x&#60;/script&#62;") || html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("Nothing was changed."), "{html}");
        assert!(html.contains("Back to where you started"), "{html}");
        assert!(!html.contains("Back to your servers"), "{html}");
    }

    #[tokio::test]
    async fn a_busy_store_is_try_again_and_a_missing_thing_is_not_found() {
        let (status, html) = body(ErrorPage::from(StoreError::NotFound("subject"))).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(html.contains("Not found") && html.contains("Back to your servers"), "{html}");
        let (status, html) = body(ErrorPage::busy().back(Back::Nowhere)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!html.contains("Back to"), "{html}");
    }
}

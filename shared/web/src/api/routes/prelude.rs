//! What every route module uses: the HTTP pieces, the extractors, problems and views.

pub use std::sync::Arc;

pub use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
pub use serde::Deserialize;
pub use utoipa::{IntoParams, ToSchema};

pub use super::{accepted, page_limit, random_key};
pub use crate::api::{
    Api,
    extract::{Caller, Connected, JsonBody, PathParams, QueryParams},
    problem::Problem,
    views::*,
};

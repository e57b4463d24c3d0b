//! Query-string parameters, parsed so that every mistake is a 400 naming the parameter.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;

use crate::error::{ApiError, ApiResult};

/// The query string as name → value (the last value wins for repeated names).
#[derive(Debug, Default)]
pub struct Params(pub HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> ApiResult<Self> {
        let RawQuery(query) = RawQuery::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::parameter("query", "unreadable query string"))?;
        Ok(Self(
            form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        ))
    }
}

impl Params {
    /// An optional unsigned integer parameter.
    ///
    /// # Errors
    /// 400 naming the parameter if it is not a decimal `u64`.
    pub fn u64(&self, name: &str) -> ApiResult<Option<u64>> {
        self.0
            .get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::parameter(name, "must be a non-negative integer"))
            })
            .transpose()
    }

    /// An optional boolean parameter (`true`/`false`, `1`/`0`).
    ///
    /// # Errors
    /// 400 naming the parameter otherwise.
    pub fn bool(&self, name: &str) -> ApiResult<bool> {
        match self.0.get(name).map(String::as_str) {
            None | Some("false" | "0") => Ok(false),
            Some("true" | "1" | "") => Ok(true),
            Some(_) => Err(ApiError::parameter(name, "must be true or false")),
        }
    }
}

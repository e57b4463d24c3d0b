//! Talking to a running server (`--server URL --api-key KEY`).

use anyhow::{bail, Context};
use reqwest::{Client, RequestBuilder, Response};

/// A client for one server, with its key.
pub struct Remote {
    base: String,
    api_key: Option<String>,
    http: Client,
}

impl Remote {
    pub fn new(base: &str, api_key: Option<&str>) -> anyhow::Result<Self> {
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.map(str::to_owned),
            http: Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .build()?,
        })
    }

    fn authorized(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.authorized(self.http.get(format!("{}{path}", self.base)))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.authorized(self.http.post(format!("{}{path}", self.base)))
    }
}

/// The response if 2xx, else an error carrying the server's problem detail.
pub async fn success(response: Response) -> anyhow::Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
        .unwrap_or(body);
    bail!("the server answered {status}: {detail}")
}

/// GETs `path` as text.
pub async fn get_text(remote: &Remote, path: &str) -> anyhow::Result<String> {
    let response = remote
        .get(path)
        .send()
        .await
        .context("reaching the server")?;
    Ok(success(response).await?.text().await?)
}

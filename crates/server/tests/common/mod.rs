//! Helpers for the HTTP API tests: a server on a temporary SQLite store, driven with
//! `router(state).oneshot(..)` (STYLE habit 7), and independent checks of what it
//! answers (leaf hashes and tree roots computed here, straight from RFC 9162, not
//! with the server's own code).

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use evident_server::auth::{generate_api_key, Role};
use evident_server::datadir::{self, SecretPaths};
use evident_server::state::Settings;
use evident_server::{App, AppState};
use evident_store::sqlite::{SqliteOptions, SqliteStore};
use evident_store::{Store, StoredCheckpoint};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;
use tower::ServiceExt;

/// The origin every test log is created with.
pub const ORIGIN: &str = "test.example/log";

/// A checkpoint interval long enough that the background checkpointer never signs
/// during a test after its first (empty-tree) checkpoint: tests sign explicitly.
pub const MANUAL_CHECKPOINTS: Duration = Duration::from_secs(3600);

/// A running application on a temporary store, with a key of every role.
pub struct TestApp {
    pub app: Arc<App>,
    pub store: Arc<dyn Store>,
    /// The PostgreSQL database of this test, dropped with it (API tests on PostgreSQL).
    _database: Option<PgDatabase>,
    pub verifier_key: String,
    pub admin: String,
    pub ingest: String,
    pub auditor: String,
    pub approver: String,
    pub privacy: String,
    // Dropped last: the store's files live here.
    pub dir: TempDir,
}

/// An HTTP answer, body collected.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a 200 and returns the JSON body.
    pub fn ok_json(&self) -> Value {
        assert_eq!(
            self.status,
            StatusCode::OK,
            "expected 200, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts an RFC 9457 problem with `status` and returns it.
    pub fn problem(&self, status: StatusCode) -> Value {
        assert_eq!(
            self.status,
            status,
            "expected {status}, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "errors are problem+json"
        );
        let problem = self.json();
        assert_eq!(problem["status"], json!(status.as_u16()), "{problem}");
        assert!(problem["title"].is_string(), "{problem}");
        assert!(problem["detail"].is_string(), "{problem}");
        problem
    }

    /// Asserts a 4xx problem (any status) and returns it: the hostile-input rule.
    pub fn client_problem(&self) -> Value {
        assert!(
            self.status.is_client_error(),
            "expected a 4xx, got {}: {}",
            self.status,
            String::from_utf8_lossy(&self.body)
        );
        self.problem(self.status)
    }
}

impl TestApp {
    /// An app whose checkpoints are signed only by [`TestApp::sign`].
    pub async fn new() -> Self {
        Self::with_settings(Settings {
            checkpoint_interval: MANUAL_CHECKPOINTS,
            ..Settings::default()
        })
        .await
    }

    pub async fn with_settings(settings: Settings) -> Self {
        Self::build(settings, true, |store| store).await
    }

    /// [`TestApp::new`] serving through `wrap(store)` (e.g. a `FaultyStore`); the
    /// store is initialised, and the test keys created, on the unwrapped one.
    pub async fn with_store_wrapper(wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>) -> Self {
        let settings = Settings {
            checkpoint_interval: MANUAL_CHECKPOINTS,
            ..Settings::default()
        };
        Self::build(settings, true, wrap).await
    }

    /// An app started without the signing key (as on a server whose key lives
    /// elsewhere): it never signs a checkpoint.
    pub async fn without_signing_key() -> Self {
        Self::build(Settings::default(), false, |store| store).await
    }

    async fn build(
        settings: Settings,
        signing: bool,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, database): (Arc<dyn Store>, Option<PgDatabase>) = match PgDatabase::create()
            .await
        {
            Some((store, database)) => (store, Some(database)),
            None => (
                Arc::new(
                    SqliteStore::open(dir.path(), &SqliteOptions::default()).expect("open store"),
                ),
                None,
            ),
        };
        let paths = SecretPaths::new(dir.path(), None);
        let init = datadir::initialize(&*store, &paths, Some(ORIGIN))
            .await
            .expect("initialize");
        let admin = init.admin_key.expect("a new store prints its admin key");
        let mut secrets = datadir::load(&*store, &paths).await.expect("load");
        if !signing {
            secrets.identity.signer = None;
        }
        let store = wrap(store);
        let app = App::start(store.clone(), secrets, settings);
        let mut test_app = Self {
            app,
            store,
            _database: database,
            verifier_key: init.verifier_key,
            admin,
            ingest: String::new(),
            auditor: String::new(),
            approver: String::new(),
            privacy: String::new(),
            dir,
        };
        test_app.ingest = test_app.key("ingest-1", Role::Ingest, &[]).await;
        test_app.auditor = test_app.key("auditor-1", Role::Auditor, &[]).await;
        test_app.approver = test_app.key("approver-1", Role::Approver, &[]).await;
        test_app.privacy = test_app.key("privacy-1", Role::Privacy, &[]).await;
        // The checkpointer signs the empty tree as soon as it starts; wait for it, so
        // that with MANUAL_CHECKPOINTS it sleeps for the rest of the test.
        if signing {
            test_app
                .wait_for_checkpoint(0, Duration::from_secs(5))
                .await;
        }
        test_app
    }

    /// Creates an API key and returns its secret.
    pub async fn key(&self, name: &str, role: Role, agents: &[&str]) -> String {
        let key = generate_api_key(
            name,
            role,
            agents.iter().map(|a| (*a).to_owned()).collect(),
            evident_core::time::now_utc_micros().1,
        );
        self.store
            .create_api_key(key.record)
            .await
            .expect("create key");
        key.secret
    }

    /// Overwrites the stored `agents` column of key `name` with `raw`, straight in the
    /// database (as damage or a hand edit would), bypassing the store's checks.
    pub async fn overwrite_key_agents(&self, name: &str, raw: &str) {
        let sql = "UPDATE api_keys SET agents = $1 WHERE name = $2";
        match &self._database {
            Some(database) => {
                let (client, connection) =
                    tokio_postgres::connect(&database.url(), tokio_postgres::NoTls)
                        .await
                        .expect("connect to the test database");
                tokio::spawn(connection);
                let n = client.execute(sql, &[&raw, &name]).await.expect("update");
                assert_eq!(n, 1, "key {name} exists");
            }
            None => {
                let db = rusqlite::Connection::open(self.dir.path().join("evident.db"))
                    .expect("open the database file");
                db.busy_timeout(Duration::from_secs(5))
                    .expect("busy timeout");
                let n = db
                    .execute(&sql.replace('$', "?"), rusqlite::params![raw, name])
                    .expect("update");
                assert_eq!(n, 1, "key {name} exists");
            }
        }
    }

    /// Runs `sql` straight on the database (as damage or a hand edit would), bypassing
    /// the store; returns the rows changed.
    pub async fn execute_sql(&self, sql: &str) -> u64 {
        match &self._database {
            Some(database) => {
                let (client, connection) =
                    tokio_postgres::connect(&database.url(), tokio_postgres::NoTls)
                        .await
                        .expect("connect to the test database");
                tokio::spawn(connection);
                client.execute(sql, &[]).await.expect("execute")
            }
            None => {
                let db = rusqlite::Connection::open(self.dir.path().join("evident.db"))
                    .expect("open the database file");
                db.busy_timeout(Duration::from_secs(5))
                    .expect("busy timeout");
                db.execute(sql, []).expect("execute") as u64
            }
        }
    }

    /// Sends one request through a fresh router.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        key: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(key) = key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {key}"));
        }
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send_request(request.body(body.into()).expect("request"))
            .await
    }

    pub async fn send_request(&self, request: Request<Body>) -> Reply {
        send_to(&self.app, request).await
    }

    /// Another application on this test's store (as a restarted server, or a second
    /// server sharing the PostgreSQL database: then with a connection pool of its
    /// own), with `settings`.
    #[allow(dead_code)]
    pub async fn sibling(&self, settings: Settings) -> Arc<App> {
        let store: Arc<dyn Store> = match &self._database {
            Some(database) => Arc::new(
                evident_store::postgres::PgStore::connect(&database.url())
                    .await
                    .expect("a second connection to the test database"),
            ),
            None => self.store.clone(),
        };
        let paths = SecretPaths::new(self.dir.path(), None);
        let secrets = datadir::load(&*store, &paths).await.expect("load");
        App::start(store, secrets, settings)
    }
}

/// Sends one request to `app` through a fresh router.
pub async fn send_to(app: &Arc<App>, request: Request<Body>) -> Reply {
    {
        let router = evident_server::router(AppState { app: app.clone() });
        let response = router.oneshot(request).await.expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }
}

impl TestApp {
    /// A second server on this test's PostgreSQL database (as a second process would
    /// run: its own store connection, the same secrets and clock), when the API tests
    /// run on PostgreSQL; `None` on the embedded store, which one process owns.
    #[allow(dead_code)]
    pub async fn second_server(&self) -> Option<Arc<App>> {
        self._database.as_ref()?;
        let settings = Settings {
            checkpoint_interval: MANUAL_CHECKPOINTS,
            clock: self.app.settings.clock.clone(),
            ..Settings::default()
        };
        Some(self.sibling(settings).await)
    }

    pub async fn get(&self, uri: &str, key: Option<&str>) -> Reply {
        self.send(Method::GET, uri, key, None, Body::empty()).await
    }

    /// `POST /api/v1/events` with a JSON body.
    pub async fn post_json(&self, key: &str, body: &Value) -> Reply {
        self.post_events_raw(key, "application/json", body.to_string())
            .await
    }

    pub async fn post_events_raw(
        &self,
        key: &str,
        content_type: &str,
        body: impl Into<Body>,
    ) -> Reply {
        self.send(
            Method::POST,
            "/api/v1/events",
            Some(key),
            Some(content_type),
            body,
        )
        .await
    }

    /// Posts `events` with the ingest key and returns the answer array (asserting 200).
    pub async fn ingest_ok(&self, events: &Value) -> Vec<Value> {
        let answer = self.post_json(&self.ingest, events).await.ok_json();
        answer.as_array().expect("ingest answers an array").clone()
    }

    /// Ingests `n` simple events (ids `{prefix}-{i}`) in one batch.
    pub async fn ingest_n(&self, prefix: &str, n: usize) -> Vec<Value> {
        let events: Vec<Value> = (0..n)
            .map(|i| event(&format!("{prefix}-{i}"), "trace-bulk"))
            .collect();
        self.ingest_ok(&Value::Array(events)).await
    }

    /// The integrated tree's size, straight from the store.
    pub async fn tree_size(&self) -> u64 {
        self.store.tree_head().await.expect("tree head").size
    }

    /// Signs a checkpoint for the current tree now.
    pub async fn sign(&self) -> StoredCheckpoint {
        evident_server::checkpointer::sign_if_grown(&self.app)
            .await
            .expect("sign");
        self.store
            .latest_checkpoint()
            .await
            .expect("latest checkpoint")
            .expect("a checkpoint")
    }

    /// Waits until a checkpoint of at least `size` is stored.
    pub async fn wait_for_checkpoint(&self, size: u64, timeout: Duration) -> StoredCheckpoint {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(cp) = self.store.latest_checkpoint().await.expect("checkpoint") {
                if cp.size >= size {
                    return cp;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no checkpoint of size {size} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until the full-text index covers the first `size` entries.
    pub async fn wait_for_text_index(&self, size: u64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.store.text_indexed_through().await.expect("index") < size {
            assert!(
                Instant::now() < deadline,
                "the text index did not reach {size} within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `GET /api/v1/events/{id}` as the auditor.
    pub async fn get_event(&self, event_id: &str) -> Reply {
        self.get(&format!("/api/v1/events/{event_id}"), Some(&self.auditor))
            .await
    }

    /// Every entry of the log, read over HTTP as entry bundles (tlog-tiles).
    pub async fn entries(&self) -> Vec<Vec<u8>> {
        let size = self.tree_size().await;
        let mut entries = Vec::new();
        let mut index = 0u64;
        while index * 256 < size {
            let width = u16::try_from((size - index * 256).min(256)).expect("width");
            let path = evident_tlog::entries_path(index, width);
            let reply = self.get(&format!("/{path}"), Some(&self.auditor)).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
            let bundle = evident_tlog::decode_entry_bundle(&reply.body).expect("bundle");
            assert_eq!(bundle.len(), usize::from(width), "{path}");
            entries.extend(bundle.into_iter().map(<[u8]>::to_vec));
            index += 1;
        }
        entries
    }

    /// The entry bytes at `seq`, read over HTTP.
    pub async fn entry(&self, seq: u64) -> Vec<u8> {
        let mut entries = self.entries().await;
        entries.swap_remove(usize::try_from(seq).expect("seq"))
    }

    /// The entry at `seq`, parsed.
    pub async fn entry_json(&self, seq: u64) -> Value {
        serde_json::from_slice(&self.entry(seq).await).expect("entry is JSON")
    }
}

/// A minimal valid client event.
pub fn event(event_id: &str, trace_id: &str) -> Value {
    json!({
        "event_id": event_id,
        "trace_id": trace_id,
        "timestamp": "2026-11-23T14:22:07.123+01:00",
        "actor": {"type": "agent", "id": "refund-bot", "version": "1.4.2"},
        "event_type": "tool_call",
        "tool": {"name": "issue_refund", "call_id": "call-1"},
        "outcome": "success"
    })
}

/// A valid client event for agent `agent`.
pub fn event_for(event_id: &str, agent: &str) -> Value {
    let mut e = event(event_id, "trace-agents");
    e["actor"]["id"] = json!(agent);
    e
}

/// RFC 9162 leaf hash, computed here: SHA-256(0x00 ‖ entry).
pub fn leaf(entry: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(entry);
    hasher.finalize().into()
}

pub fn leaf_b64(entry: &[u8]) -> String {
    BASE64.encode(leaf(entry))
}

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// MTH(D[n]) straight from RFC 9162 §2.1.1.
pub fn naive_root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

pub fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    BASE64.decode(text).expect("base64")
}

/// A base64 hash from a JSON answer, as an evident_tlog hash.
pub fn hash(value: &Value) -> evident_tlog::Hash {
    evident_tlog::Hash::from_base64(value.as_str().expect("a base64 string")).expect("a hash")
}

pub fn hashes(value: &Value) -> Vec<evident_tlog::Hash> {
    value
        .as_array()
        .expect("an array of hashes")
        .iter()
        .map(hash)
        .collect()
}

/// The `detail` of a problem.
pub fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().unwrap_or("")
}

// ---------------------------------------------------------------------------------
// Reading the trail: search requests and the text index.

/// A URL query string (`a=1&b=2`), every value percent-encoded (so `+01:00` stays a
/// plus sign).
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The `event_id`s of the `events` of a search, trace or timeline answer, in order.
pub fn event_ids(answer: &Value) -> Vec<String> {
    answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no `events` array in {answer}"))
        .iter()
        .map(|r| {
            r["event_id"]
                .as_str()
                .unwrap_or_else(|| panic!("an event without event_id: {r}"))
                .to_owned()
        })
        .collect()
}

/// The `seq`s of the `events` of an answer, in order.
pub fn event_seqs(answer: &Value) -> Vec<u64> {
    answer["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no `events` array in {answer}"))
        .iter()
        .map(|r| {
            r["seq"]
                .as_u64()
                .unwrap_or_else(|| panic!("an event without seq: {r}"))
        })
        .collect()
}

impl TestApp {
    /// `GET /api/v1/events?{pairs}` with `key`.
    pub async fn search_get_as(&self, key: &str, pairs: &[(&str, &str)]) -> Reply {
        self.get(
            &format!("/api/v1/events?{}", query_string(pairs)),
            Some(key),
        )
        .await
    }

    /// `GET /api/v1/events?{pairs}` as the auditor.
    pub async fn search_get(&self, pairs: &[(&str, &str)]) -> Reply {
        self.search_get_as(&self.auditor, pairs).await
    }

    /// `POST /api/v1/events/search` with a JSON body as the auditor.
    pub async fn search_post(&self, body: &Value) -> Reply {
        self.send(
            Method::POST,
            "/api/v1/events/search",
            Some(&self.auditor),
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    /// Drives the text indexer until it covers the whole log (at most 5 s). The
    /// background indexer may race this one; losing the race is fine.
    pub async fn wait_indexed(&self) {
        let size = self.tree_size().await;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match evident_server::indexer::index_step(&self.app).await {
                Ok(_) | Err(evident_store::StoreError::Conflict(_)) => {}
                Err(e) => panic!("text indexing failed: {e}"),
            }
            let through = self
                .store
                .text_indexed_through()
                .await
                .expect("indexed through");
            if through >= size {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the text index covers {through} of {size} entries after 5 s"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A database of its own on the test PostgreSQL cluster, for running the API tests on
/// the PostgreSQL store: `./scripts/test` runs them once more with
/// `EVIDENT_TEST_API_STORE=postgres`.
pub struct PgDatabase {
    admin_url: String,
    name: String,
}

impl PgDatabase {
    async fn create() -> Option<(Arc<dyn Store>, Self)> {
        if std::env::var("EVIDENT_TEST_API_STORE").ok().as_deref() != Some("postgres") {
            return None;
        }
        let admin_url = std::env::var("EVIDENT_TEST_DATABASE_URL")
            .expect("EVIDENT_TEST_API_STORE=postgres needs EVIDENT_TEST_DATABASE_URL");
        let name = format!("evident_api_{:016x}", rand::random::<u64>());
        let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create a test database");
        let base = admin_url.rsplit_once('/').expect("a database URL").0;
        let store = evident_store::postgres::PgStore::connect(&format!("{base}/{name}"))
            .await
            .expect("open the PostgreSQL store");
        Some((Arc::new(store), Self { admin_url, name }))
    }
}

impl PgDatabase {
    /// The URL of this test database.
    pub fn url(&self) -> String {
        let base = self.admin_url.rsplit_once('/').expect("a database URL").0;
        format!("{base}/{}", self.name)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&admin_url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await;
                }
            });
        })
        .join();
    }
}

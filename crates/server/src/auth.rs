//! API keys and roles (CONTRACT section 4, "Auth").
//!
//! A key is `evk_` + 52 base32 characters (256 random bits). The store keeps only its
//! SHA-256: a high-entropy secret needs no slow hash. Lookups are cached for at most
//! [`KEY_CACHE_TTL`], so a key revoked with `evident keys revoke` (even from another
//! process) stops working within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use data_encoding::BASE32_NOPAD;
use evident_store::{AgentBinding, ApiKeyRecord, Store, StoreError};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a key lookup is trusted before the store is asked again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// The roles of CONTRACT section 4; a key has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Ingest,
    Auditor,
    Approver,
    Privacy,
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Ingest,
        Role::Auditor,
        Role::Approver,
        Role::Privacy,
        Role::Admin,
    ];
    /// "readers": every role that may read the trail.
    pub const READERS: &'static [Role] =
        &[Role::Auditor, Role::Approver, Role::Privacy, Role::Admin];
    /// Roles that may write events.
    pub const WRITERS: &'static [Role] = &[Role::Ingest, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Ingest => "ingest",
            Role::Auditor => "auditor",
            Role::Approver => "approver",
            Role::Privacy => "privacy",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// The caller of a request, authenticated by its API key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    /// Agent ids this key may claim.
    pub agents: AgentBinding,
}

impl Principal {
    /// 403 unless the caller has one of `roles`.
    ///
    /// # Errors
    /// [`ApiError`] 403 naming the roles that would do.
    pub fn require(&self, roles: &[Role]) -> ApiResult<()> {
        if roles.contains(&self.role) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(ApiError::forbidden(format!(
            "the key {:?} has role {}; this needs {}",
            self.name,
            self.role.as_str(),
            names.join(" or ")
        )))
    }

    /// `true` if this key may submit events claiming `agent_id`.
    pub fn may_claim(&self, agent_id: &str) -> bool {
        self.agents.may_claim(agent_id)
    }

    /// Why this key may not claim `agent_id`, for a 403's detail.
    pub fn claim_refusal(&self, agent_id: &str) -> String {
        match &self.agents {
            AgentBinding::Unreadable(_) => format!(
                "the key {:?} may submit events for no agent: its stored agent binding is unreadable (see the server log)",
                self.name
            ),
            _ => format!(
                "the key {:?} may not submit events for agent {agent_id:?}",
                self.name
            ),
        }
    }
}

/// A newly generated API key: the secret (shown once) and what the store keeps.
pub struct NewApiKey {
    pub secret: String,
    pub record: ApiKeyRecord,
}

/// Generates a key for `name` with `role`, bound to `agents` (empty = any).
pub fn generate_api_key(name: &str, role: Role, agents: Vec<String>, now_micros: i64) -> NewApiKey {
    let agents = AgentBinding::of(agents);
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let secret = format!("evk_{}", BASE32_NOPAD.encode(&raw).to_ascii_lowercase());
    NewApiKey {
        record: ApiKeyRecord {
            name: name.to_owned(),
            role: role.as_str().to_owned(),
            key_hash: hash_api_key(&secret),
            agents,
            created_micros: now_micros,
            revoked_micros: None,
        },
        secret,
    }
}

/// The SHA-256 the store keeps of a key.
pub fn hash_api_key(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// `true` for names a key may have: 1–64 of `[A-Za-z0-9._-]`.
pub fn is_valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A cached lookup: when it was made, and whom the key named (`None`: nobody).
type CachedLookup = (Instant, Option<Principal>);

/// Resolves bearer keys to principals, with a short cache.
pub struct KeyResolver {
    store: Arc<dyn Store>,
    cache: Mutex<HashMap<[u8; 32], CachedLookup>>,
}

impl KeyResolver {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The principal of a bearer key, or `None` for unknown and revoked keys.
    ///
    /// # Errors
    /// The store failed.
    pub async fn resolve(&self, secret: &str) -> Result<Option<Principal>, StoreError> {
        let key_hash = hash_api_key(secret);
        if let Some((at, principal)) = self
            .cache
            .lock()
            .ok()
            .and_then(|c| c.get(&key_hash).cloned())
        {
            if at.elapsed() < KEY_CACHE_TTL {
                return Ok(principal);
            }
        }
        let principal = self
            .store
            .api_key_by_hash(&key_hash)
            .await?
            .filter(|k| k.revoked_micros.is_none())
            .and_then(|k| {
                if let AgentBinding::Unreadable(why) = &k.agents {
                    // Fail closed: the key keeps its role but may claim no agent.
                    tracing::error!(key = %k.name, %why, "API key's agent binding is unreadable; it may claim no agent");
                }
                Some(Principal {
                    role: Role::parse(&k.role)?,
                    name: k.name,
                    agents: k.agents,
                })
            });
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(key_hash, (Instant::now(), principal.clone()));
        }
        Ok(principal)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| {
                ApiError::unauthorized("an `Authorization: Bearer <api key>` header is required")
            })?;
        let secret = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <api key>`")
            })?;
        state
            .app
            .keys
            .resolve(secret)
            .await?
            .ok_or_else(|| ApiError::unauthorized("unknown or revoked API key"))
    }
}

/// An optional principal: `None` when no Authorization header was sent.
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequestParts<AppState> for MaybePrincipal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        if parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            Principal::from_request_parts(parts, state)
                .await
                .map(|p| Self(Some(p)))
        } else {
            Ok(Self(None))
        }
    }
}

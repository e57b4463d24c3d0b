//! API keys and roles (CONTRACT section 4, "Auth"): a missing or unknown key is 401,
//! a known key without the role is 403, a revoked key stops working within the key
//! cache's TTL, and a key bound to agents cannot claim others.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::{detail, event, event_for, TestApp};
use evident_server::auth::{Role, KEY_CACHE_TTL};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_is_401_problem_json() {
    let t = TestApp::new().await;
    let reply = t
        .send(
            Method::POST,
            "/api/v1/events",
            None,
            Some("application/json"),
            event("a", "t").to_string(),
        )
        .await;
    reply.problem(StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
        "Bearer"
    );
    t.get("/api/v1/events/a", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    t.send(Method::POST, "/api/v1/blobs", None, Some("text/plain"), "x")
        .await
        .problem(StatusCode::UNAUTHORIZED);
    t.get("/tile/entries/000.p/1", None)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert_eq!(t.tree_size().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_keys_are_401() {
    let t = TestApp::new().await;
    let unknown = format!("evk_{}", "a".repeat(52));
    let reply = t.post_json(&unknown, &event("a", "t")).await;
    reply.problem(StatusCode::UNAUTHORIZED);
    // A known key's secret with one character changed is just another unknown key.
    let mut altered = t.ingest.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'a' { 'b' } else { 'a' });
    t.post_json(&altered, &event("a", "t"))
        .await
        .problem(StatusCode::UNAUTHORIZED);
    for header_value in [
        format!("Basic {}", t.ingest),
        format!("bearer{}", t.ingest),
        "Bearer ".to_owned(),
        "Bearer".to_owned(),
        t.ingest.clone(),
    ] {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/events")
            .header(header::AUTHORIZATION, header_value.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(event("a", "t").to_string()))
            .unwrap();
        let reply = t.send_request(request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header_value:?}");
        reply.problem(StatusCode::UNAUTHORIZED);
    }
    // Bytes that are not visible ASCII in the header.
    let request = Request::builder()
        .method(Method::GET)
        .uri("/api/v1/events/a")
        .header(
            header::AUTHORIZATION,
            axum::http::HeaderValue::from_bytes(b"Bearer \xffkey").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    t.send_request(request)
        .await
        .problem(StatusCode::UNAUTHORIZED);
    assert_eq!(t.tree_size().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_working_within_the_cache_ttl() {
    let t = TestApp::new().await;
    let key = t.key("short-lived", Role::Ingest, &[]).await;
    t.post_json(&key, &event("before-revoke", "t"))
        .await
        .ok_json();
    let revoked_at = Instant::now();
    t.store
        .revoke_api_key("short-lived", evident_core::time::now_utc_micros().1)
        .await
        .unwrap();
    // The contract: within the cache TTL (1 s); a little slack for a busy machine.
    let deadline = KEY_CACHE_TTL + Duration::from_millis(100);
    loop {
        let reply = t
            .post_json(&key, &event(&format!("after-{}", t.tree_size().await), "t"))
            .await;
        if reply.status == StatusCode::UNAUTHORIZED {
            reply.problem(StatusCode::UNAUTHORIZED);
            break;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        assert!(
            revoked_at.elapsed() < deadline,
            "the revoked key still works after {:?}",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let size = t.tree_size().await;
    t.post_json(&key, &event("never", "t"))
        .await
        .problem(StatusCode::UNAUTHORIZED);
    t.get_event("never").await.problem(StatusCode::NOT_FOUND);
    assert_eq!(t.tree_size().await, size);
    // Other keys are unaffected.
    t.ingest_ok(&event("other-key", "t")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_reader_cannot_read() {
    let t = TestApp::new().await;
    let key = t.key("reader-2", Role::Auditor, &[]).await;
    t.ingest_ok(&event("r-1", "t")).await;
    t.get("/api/v1/events/r-1", Some(&key)).await.ok_json();
    t.store
        .revoke_api_key("reader-2", evident_core::time::now_utc_micros().1)
        .await
        .unwrap();
    tokio::time::sleep(KEY_CACHE_TTL + Duration::from_millis(100)).await;
    t.get("/api/v1/events/r-1", Some(&key))
        .await
        .problem(StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_matrix() {
    let t = TestApp::new().await;
    // Something to read.
    t.ingest_ok(&event("seed", "t")).await;
    let upload = t
        .send(
            Method::POST,
            "/api/v1/blobs",
            Some(&t.ingest),
            Some("text/plain"),
            "seed blob",
        )
        .await
        .ok_json();
    let blob_path = format!("/api/v1/blobs/{}", upload["$blob"].as_str().unwrap());

    let keys = [
        ("ingest", t.ingest.clone(), true, false),
        ("auditor", t.auditor.clone(), false, true),
        ("approver", t.approver.clone(), false, true),
        ("privacy", t.privacy.clone(), false, true),
        ("admin", t.admin.clone(), true, true),
    ];
    for (role, key, writes, reads) in &keys {
        let expect = |allowed: bool| {
            if allowed {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            }
        };
        let id = format!("by-{role}");
        let size = t.tree_size().await;
        let reply = t.post_json(key, &event(&id, "t")).await;
        assert_eq!(reply.status, expect(*writes), "POST events as {role}");
        if *writes {
            assert_eq!(t.tree_size().await, size + 1);
        } else {
            let problem = reply.problem(StatusCode::FORBIDDEN);
            assert!(detail(&problem).contains(role), "{problem}");
            assert_eq!(t.tree_size().await, size, "a 403 stores nothing");
        }

        let reply = t
            .send(
                Method::POST,
                "/api/v1/blobs",
                Some(key),
                Some("text/plain"),
                "x",
            )
            .await;
        assert_eq!(reply.status, expect(*writes), "POST blobs as {role}");

        let reply = t.get("/api/v1/events/seed", Some(key)).await;
        assert_eq!(reply.status, expect(*reads), "GET event as {role}");
        if !*reads {
            reply.problem(StatusCode::FORBIDDEN);
        }
        let reply = t.get(&blob_path, Some(key)).await;
        assert_eq!(reply.status, expect(*reads), "GET blob as {role}");
        let reply = t.get("/tile/entries/000.p/1", Some(key)).await;
        assert_eq!(reply.status, expect(*reads), "GET entries as {role}");
        if !*reads {
            reply.problem(StatusCode::FORBIDDEN);
        }
    }

    // The log itself is public.
    t.sign().await;
    for path in [
        "/checkpoint",
        "/tile/0/000.p/1",
        "/api/v1/log",
        "/api/v1/proofs/inclusion?seq=0",
        "/api/v1/proofs/consistency?from=1",
        "/healthz",
        "/readyz",
    ] {
        let reply = t.get(path, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_principal_is_the_submitting_key() {
    let t = TestApp::new().await;
    t.post_json(&t.admin, &event("by-admin", "t"))
        .await
        .ok_json();
    t.ingest_ok(&event("by-ingest", "t")).await;
    assert_eq!(t.entry_json(0).await["principal"], json!("admin"));
    assert_eq!(t.entry_json(1).await["principal"], json!("ingest-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_bound_to_agents_cannot_claim_others() {
    let t = TestApp::new().await;
    let bound = t.key("bot-a-key", Role::Ingest, &["a"]).await;
    let two = t.key("bot-ab-key", Role::Ingest, &["a", "b"]).await;

    let reply = t.post_json(&bound, &event_for("claims-b", "b")).await;
    let problem = reply.problem(StatusCode::FORBIDDEN);
    assert!(detail(&problem).contains("/0/actor/id"), "{problem}");
    assert_eq!(t.tree_size().await, 0);

    // A batch with one foreign agent stores nothing, not even the allowed event.
    let reply = t
        .post_json(
            &bound,
            &json!([event_for("ok-a", "a"), event_for("bad-b", "b")]),
        )
        .await;
    let problem = reply.problem(StatusCode::FORBIDDEN);
    assert!(detail(&problem).contains("/1/actor/id"), "{problem}");
    assert_eq!(t.tree_size().await, 0);
    t.get_event("ok-a").await.problem(StatusCode::NOT_FOUND);

    // Its own agent works; a key bound to several may claim each.
    let answer = t.post_json(&bound, &event_for("ok-a", "a")).await.ok_json();
    assert_eq!(answer[0]["seq"], json!(0));
    t.post_json(
        &two,
        &json!([event_for("two-a", "a"), event_for("two-b", "b")]),
    )
    .await
    .ok_json();
    t.post_json(&two, &event_for("two-c", "c"))
        .await
        .problem(StatusCode::FORBIDDEN);
    // Unbound keys may claim any agent.
    t.ingest_ok(&event_for("any-c", "c")).await;
    assert_eq!(t.tree_size().await, 4);
}

/// A key whose stored agent binding cannot be read may claim no agent at all (fail
/// closed), and the refusal says why; it must never fall back to "any agent".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_with_an_unreadable_agent_binding_claims_no_agent() {
    let t = TestApp::new().await;
    for (name, raw) in [
        ("torn-key", r#"["a""#),
        ("object-key", r#"{"a": true}"#),
        ("number-key", "[1]"),
        ("empty-text-key", ""),
    ] {
        let key = t.key(name, Role::Ingest, &["a"]).await;
        t.overwrite_key_agents(name, raw).await;
        for agent in ["a", "c"] {
            let reply = t
                .post_json(&key, &event_for(&format!("{name}-{agent}"), agent))
                .await;
            let problem = reply.problem(StatusCode::FORBIDDEN);
            assert!(detail(&problem).contains("/0/actor/id"), "{problem}");
            assert!(detail(&problem).contains("unreadable"), "{problem}");
        }
    }
    assert_eq!(t.tree_size().await, 0, "nothing was stored");
    // A stored empty list still means any agent.
    let any = t.key("any-key", Role::Ingest, &[]).await;
    t.post_json(&any, &event_for("any-c", "c")).await.ok_json();
}

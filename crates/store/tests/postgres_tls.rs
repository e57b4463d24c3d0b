//! TLS to PostgreSQL, against the test cluster of `scripts/pg-cluster`, which serves
//! TLS with a certificate for `localhost` signed by a CA of its own
//! (`EVIDENT_TEST_PG_CA`). Without the cluster the tests say so and pass, unless
//! `EVIDENT_REQUIRE_POSTGRES=1` (set by the test script, so CI never skips them).

use evident_store::postgres::connect::{prepare, SslMode};
use evident_store::postgres::PgStore;
use evident_store::LogStore;

/// The cluster's port and its CA file; `None` when no cluster is configured.
fn cluster() -> Option<(u16, String)> {
    let (Ok(url), Ok(ca)) = (
        std::env::var("EVIDENT_TEST_DATABASE_URL"),
        std::env::var("EVIDENT_TEST_PG_CA"),
    ) else {
        assert!(
            std::env::var("EVIDENT_REQUIRE_POSTGRES").is_err(),
            "EVIDENT_TEST_DATABASE_URL or EVIDENT_TEST_PG_CA is not set but PostgreSQL tests are required"
        );
        eprintln!("SKIPPED: no PostgreSQL with TLS (run ./scripts/test, which starts one)");
        return None;
    };
    let config: tokio_postgres::Config = url.parse().expect("the test URL");
    Some((config.get_ports()[0], ca))
}

/// Connects with `url` as the store does and asks the server whether the connection
/// is encrypted.
async fn connection_is_encrypted(url: &str) -> Result<bool, String> {
    let connection = prepare(url).map_err(|e| e.to_string())?;
    let (client, driver) = connection
        .config
        .connect(connection.tls.clone())
        .await
        .map_err(|e| format!("{e}: {:?}", std::error::Error::source(&e)))?;
    tokio::spawn(driver);
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[tokio::test]
async fn verify_full_with_the_servers_ca_connects_encrypted() {
    let Some((port, ca)) = cluster() else { return };
    let url = format!(
        "postgres://evident@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
    );
    assert_eq!(connection_is_encrypted(&url).await, Ok(true));
    // verify-ca checks the chain only: the certificate does not name 127.0.0.1.
    let url =
        format!("postgres://evident@127.0.0.1:{port}/postgres?sslmode=verify-ca&sslrootcert={ca}");
    assert_eq!(connection_is_encrypted(&url).await, Ok(true));
    // require without a CA encrypts without checking (libpq's meaning).
    let url = format!("postgres://evident@127.0.0.1:{port}/postgres?sslmode=require");
    assert_eq!(connection_is_encrypted(&url).await, Ok(true));
    // Cleartext stays possible on loopback when asked for.
    let url = format!("postgres://evident@127.0.0.1:{port}/postgres?sslmode=disable");
    assert_eq!(connection_is_encrypted(&url).await, Ok(false));

    // The store itself, over verify-full, on a database of its own.
    let name = format!("evident_tls_{:016x}", rand::random::<u64>());
    let admin = format!(
        "postgres://evident@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
    );
    let store = PgStore::connect(&admin).await.expect("admin connection");
    drop(store);
    let connection = prepare(&admin).unwrap();
    let (client, driver) = connection
        .config
        .connect(connection.tls.clone())
        .await
        .unwrap();
    tokio::spawn(driver);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let url =
        format!("postgres://evident@localhost:{port}/{name}?sslmode=verify-full&sslrootcert={ca}");
    let store = PgStore::connect(&url).await.expect("the store over TLS");
    assert_eq!(store.tree_head().await.unwrap().size, 0);
    drop(store);
    client
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_certificate_the_ca_did_not_sign_or_for_another_name_is_refused() {
    let Some((port, ca)) = cluster() else { return };
    let dir = tempfile::tempdir().unwrap();
    let other_ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let wrong = dir.path().join("wrong-ca.crt");
    std::fs::write(&wrong, other_ca.cert.pem()).unwrap();
    let wrong = wrong.display();
    for (url, why) in [
        (
            format!("postgres://evident@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={wrong}"),
            "another CA, verify-full",
        ),
        (
            format!("postgres://evident@localhost:{port}/postgres?sslmode=verify-ca&sslrootcert={wrong}"),
            "another CA, verify-ca",
        ),
        (
            format!("postgres://evident@localhost:{port}/postgres?sslmode=require&sslrootcert={wrong}"),
            "another CA, require with a CA",
        ),
        (
            format!("postgres://evident@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"),
            "the right CA, a name the certificate does not hold",
        ),
    ] {
        let error = connection_is_encrypted(&url)
            .await
            .expect_err(why);
        assert!(error.to_lowercase().contains("certificate"), "{why}: {error}");
        let error = PgStore::connect(&url).await.err().expect(why).to_string();
        assert!(error.to_lowercase().contains("certificate"), "{why}: {error}");
    }
}

#[test]
fn cleartext_to_another_host_is_refused_with_a_clear_message() {
    for url in [
        "postgres://evident@db.example.com:5432/evident?sslmode=disable",
        "postgres://evident@db.example.com:5432/evident?sslmode=prefer",
        "host=10.1.2.3 user=evident sslmode=disable",
    ] {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let error = runtime
            .block_on(PgStore::connect(url))
            .err()
            .expect(url)
            .to_string();
        assert!(error.contains("in clear"), "{url}: {error}");
        assert!(error.contains("loopback"), "{url}: {error}");
    }
    assert_eq!(
        prepare("postgres://evident@localhost/e").unwrap().ssl_mode,
        SslMode::Prefer,
        "loopback without sslmode"
    );
}

//! TLS against a throwaway cluster of the test's own with a self-signed CA: the server accepts
//! TCP only over TLS (`hostssl`) with a password, and its certificate names `localhost` only.

#[path = "common/cluster.rs"]
mod cluster;

use cluster::{Cluster, ClusterOptions};
use lobby_core::{Engine, VisitorDetails};
use lobby_postgres::{PostgresConfig, PostgresError, PostgresStore, TlsMode};

fn connect(url: &str) -> Result<PostgresStore, PostgresError> {
    // A refused connection is retried until acquire_timeout: keep the refusals quick.
    let config = PostgresConfig {
        schema: "tls_test".into(),
        pool_size: 2,
        acquire_timeout: std::time::Duration::from_secs(1),
        ..PostgresConfig::default()
    };
    PostgresStore::connect(url, config)
}

#[test]
fn tls_modes_encrypt_and_verify_as_libpq_does() {
    let options = ClusterOptions { tls: true, password: Some("s3cret-pw".into()), ..ClusterOptions::default() };
    let Some(cluster) = Cluster::start(options) else { return };
    let ca = cluster.dir().join("ca.crt");
    let other_ca = cluster.dir().join("other-ca.crt");
    let ca = ca.display();
    let other_ca = other_ca.display();

    // Plain connections are refused by the server (hostssl only).
    let plain = connect(&cluster.url());
    assert!(plain.is_err(), "plain TCP must be refused");

    // require: encrypted, certificate not checked (it is self-signed).
    let store = connect(&cluster.url_for_host("127.0.0.1", "sslmode=require")).expect("sslmode=require connects");
    assert_eq!(store.tls_mode(), TlsMode::Require);
    assert!(store.connection_encrypted().unwrap());
    // The store works over it: a write and a read, and the feed's own connection.
    let feed = lobby_core::Store::subscribe(&store).unwrap();
    let engine = Engine::new(store);
    engine.register_visitor(&VisitorDetails { token: "tls-visitor".into(), ..Default::default() }).unwrap();
    assert!(engine.visitor_by_token("tls-visitor").unwrap().is_some());
    engine.open_room("tls-visitor", None).unwrap();
    assert!(feed.next_timeout(std::time::Duration::from_secs(30)).is_some(), "the feed connects over TLS too");
    drop((feed, engine));

    // verify-full to the name on the certificate, trusting its CA: connects.
    let url = cluster.url_for_host("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let verified = connect(&url).expect("verify-full to localhost connects");
    assert!(verified.connection_encrypted().unwrap());
    drop(verified);

    // verify-full to 127.0.0.1: the certificate does not name it.
    let url = cluster.url_for_host("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"));
    let wrong_name = connect(&url).expect_err("the certificate names localhost, not 127.0.0.1");
    assert!(matches!(wrong_name, PostgresError::Pool(_)), "{wrong_name}");

    // verify-ca checks the chain only: 127.0.0.1 is fine.
    let url = cluster.url_for_host("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
    connect(&url).expect("verify-ca ignores the host name");

    // Another CA: refused, in both verify modes.
    for mode in ["verify-ca", "verify-full"] {
        let url = cluster.url_for_host("localhost", &format!("sslmode={mode}&sslrootcert={other_ca}"));
        assert!(connect(&url).is_err(), "{mode} with an unrelated CA must fail");
    }

    // The key=value form works the same way.
    let keywords = format!(
        "host=localhost port={} user=lobby password=s3cret-pw dbname=lobby_test sslmode=verify-full sslrootcert={ca}",
        cluster.port
    );
    assert!(connect(&keywords).expect("key=value form").connection_encrypted().unwrap());

    // A wrong password stays a refusal, and its message does not carry the password.
    let url = format!("postgres://lobby:not-it@127.0.0.1:{}/lobby_test?sslmode=require", cluster.port);
    let refused = connect(&url).expect_err("wrong password");
    assert!(!refused.to_string().contains("not-it"), "{refused}");
}

#[test]
fn prefer_uses_tls_when_offered_and_disable_never_does() {
    let Some(cluster) = Cluster::start(ClusterOptions::default()) else { return };
    let preferred = connect(&cluster.url_for_host("127.0.0.1", "sslmode=prefer")).expect("prefer connects");
    assert_eq!(preferred.tls_mode(), TlsMode::Prefer);
    // This cluster has no certificate: prefer falls back to plain.
    assert!(!preferred.connection_encrypted().unwrap());
    let plain = connect(&cluster.url()).expect("plain connects");
    assert_eq!(plain.tls_mode(), TlsMode::Disable);
    assert!(!plain.connection_encrypted().unwrap());
}

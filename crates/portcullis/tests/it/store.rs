//! The storage interface, the same suite on SQLite and PostgreSQL: batches are atomic,
//! uniqueness is the database's, versions guard concurrent updates.

use std::sync::Arc;

use portcullis::store::{
    PostgresStore, SqliteStore, Store, StoreError, StoredRealm, UserRow, Write,
};

use crate::support::*;

fn realm(id: &str, name: &str) -> StoredRealm {
    StoredRealm {
        id: id.into(),
        name: name.into(),
        version: 1,
        representation: format!("{{\"realm\":\"{name}\"}}"),
    }
}

fn user(id: &str, name: &str) -> UserRow {
    UserRow {
        id: id.into(),
        username: name.into(),
        email: None,
        representation: "{}".into(),
    }
}

async fn suite(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    // A batch that fails half-way leaves nothing behind.
    let e = store
        .apply(vec![
            Write::InsertRealm(realm("r1", "one")),
            Write::InsertUsers {
                realm_id: "r1".into(),
                users: vec![user("u1", "a"), user("u2", "a")],
            },
        ])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    assert!(
        store.realm_by_name("one").await.unwrap().is_none(),
        "rolled back"
    );

    store
        .apply(vec![
            Write::InsertRealm(realm("r1", "one")),
            Write::InsertUsers {
                realm_id: "r1".into(),
                users: (0..2500)
                    .map(|i| user(&format!("u{i}"), &format!("user{i}")))
                    .collect(),
            },
        ])
        .await
        .unwrap();
    assert_eq!(store.user_count("r1").await.unwrap(), 2500);
    let users = store.users("r1").await.unwrap();
    assert_eq!(users[0].username, "user0");
    assert_eq!(users[2499].username, "user2499", "insertion order kept");

    // Realm names are unique.
    let e = store
        .apply(vec![Write::InsertRealm(realm("r2", "one"))])
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict(ref m) if m.contains("one")),
        "{e:?}"
    );

    // Optimistic concurrency.
    let e = store
        .apply(vec![Write::UpdateRealm {
            id: "r1".into(),
            expected_version: 7,
            representation: "{}".into(),
        }])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict(_)));
    store
        .apply(vec![Write::UpdateRealm {
            id: "r1".into(),
            expected_version: 1,
            representation: "{\"x\":1}".into(),
        }])
        .await
        .unwrap();
    let r = store.realm_by_name("one").await.unwrap().unwrap();
    assert_eq!((r.version, r.representation.as_str()), (2, "{\"x\":1}"));

    // Delete takes the users along.
    store
        .apply(vec![Write::DeleteRealm { id: "r1".into() }])
        .await
        .unwrap();
    assert!(store.realms().await.unwrap().is_empty());
    assert_eq!(store.user_count("r1").await.unwrap(), 0);
}

#[tokio::test]
async fn store_suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    suite(Arc::new(store)).await;
    // Reopening runs no migration twice and keeps data.
    SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
}

#[tokio::test]
async fn store_suite_postgres() {
    let Some(schema) = pg_schema().await else {
        return;
    };
    let store = PostgresStore::connect(&pg_url(), Some(&schema), 4)
        .await
        .unwrap();
    suite(Arc::new(store)).await;
    PostgresStore::connect(&pg_url(), Some(&schema), 1)
        .await
        .unwrap();
    drop_schema(&schema).await;
}

//! The storage interface, the same suite on SQLite and PostgreSQL: batches are atomic,
//! uniqueness is the database's, versions guard concurrent updates.

use std::sync::Arc;

use portcullis::store::{
    AuthzKind, AuthzRow, AuthzWrite, CibaRow, DeviceStatus, InitialAccessRow, LoginEnd,
    MemberQuery, MembershipType, NewCode, NewOrganization, NewResourceServer, OrgConflict,
    OrgWriteError, OrganizationDomain, OrganizationQuery, OrganizationRow, PostgresStore,
    RefreshStart, RefreshUse, ResourceServerRow, SessionRow, SqliteStore, Store, StoreError,
    StoredRealm, UserRow, Write,
};

use serde_json::{json, Value};

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

/// When `client`'s part in session `sid` started, as the refresh grant reads it (with the
/// session, through the read caches where the store has them).
async fn started(store: &dyn Store, sid: &str, client: &str) -> Option<i64> {
    store
        .session_for_client(sid, client)
        .await
        .unwrap()
        .and_then(|(_, started)| started)
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
    assert!(matches!(e, StoreError::Unique(_)), "{e:?}");
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
        matches!(e, StoreError::Unique(ref m) if m.contains("one")),
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
    assert!(matches!(e, StoreError::VersionConflict), "{e:?}");
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

    // A used-up initial access token fails the whole batch with its own error.
    let token = InitialAccessRow {
        id: "iat".into(),
        created_at: 1_000,
        expiration: 0,
        count: 1,
        remaining: 1,
    };
    store.put_initial_access("r1", &token, "h").await.unwrap();
    let use_it = || Write::UseInitialAccess {
        realm_id: "r1".into(),
        token_hash: "h".into(),
        now: 2_000,
    };
    store.apply(vec![use_it()]).await.unwrap();
    let e = store
        .apply(vec![
            use_it(),
            Write::InsertUsers {
                realm_id: "r1".into(),
                users: vec![user("iat-user", "iat-user")],
            },
        ])
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Exhausted), "{e:?}");
    assert!(
        store.user_by_id("r1", "iat-user").await.unwrap().is_none(),
        "nothing of the batch was written"
    );

    // Ending a session returns it with its clients; of two concurrent calls, one gets it.
    let session = SessionRow {
        id: "s1".into(),
        realm_id: "r1".into(),
        user_id: "u1".into(),
        offline: false,
        created_at: 10,
        last_refresh: 10,
        data: "{}".into(),
    };
    store.create_session(&session, "web", None).await.unwrap();
    store
        .set_refresh_token("s1", "app", "rt", 11)
        .await
        .unwrap();
    // Client sessions start when the client joins; a detached one is gone alone, and joins
    // again with a later start; joining keeps an existing start.
    assert_eq!(started(store.as_ref(), "s1", "web").await, Some(10));
    assert_eq!(started(store.as_ref(), "s1", "app").await, Some(11));
    assert_eq!(started(store.as_ref(), "s1", "ghost").await, None);
    assert!(store.detach_client_session("s1", "app").await.unwrap());
    assert!(!store.detach_client_session("s1", "app").await.unwrap());
    assert_eq!(started(store.as_ref(), "s1", "app").await, None);
    assert!(
        store.session("s1").await.unwrap().is_some(),
        "the session stays"
    );
    store.join_client_session("s1", "app", 12).await.unwrap();
    store.join_client_session("s1", "app", 13).await.unwrap();
    assert_eq!(started(store.as_ref(), "s1", "app").await, Some(12));
    let (a, b) = tokio::join!(store.end_session("s1"), store.end_session("s1"));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.is_some() != b.is_some(), "exactly one caller ends it");
    let ended = a.or(b).unwrap();
    assert_eq!(ended.session, session);
    assert_eq!(ended.clients, ["app", "web"]);
    assert!(store.session("s1").await.unwrap().is_none());
    assert!(
        store
            .session_for_client("s1", "web")
            .await
            .unwrap()
            .is_none(),
        "an ended session is not served from the cache"
    );
    for (id, at) in [("s2", 20), ("s3", 30)] {
        let s = SessionRow {
            id: id.into(),
            created_at: at,
            ..session.clone()
        };
        store.create_session(&s, "web", None).await.unwrap();
    }
    let other = SessionRow {
        id: "s4".into(),
        user_id: "u2".into(),
        ..session.clone()
    };
    store.create_session(&other, "web", None).await.unwrap();
    let ended = store.end_user_sessions("r1", "u1").await.unwrap();
    let ids: Vec<_> = ended.iter().map(|e| e.session.id.as_str()).collect();
    assert_eq!(ids, ["s2", "s3"], "oldest first, only that user's");
    assert!(ended.iter().all(|e| e.clients == ["web"]));
    assert!(store
        .end_user_sessions("r1", "u1")
        .await
        .unwrap()
        .is_empty());
    assert!(store.session("s4").await.unwrap().is_some());

    // One client's part in a session goes; the session stays unless asked to end when empty.
    store
        .set_refresh_token("s4", "app", "rt", 12)
        .await
        .unwrap();
    assert!(store
        .remove_client_session("s4", "app", true)
        .await
        .unwrap());
    assert!(!store
        .remove_client_session("s4", "app", true)
        .await
        .unwrap());
    assert!(
        store.session("s4").await.unwrap().is_some(),
        "web is left in it"
    );
    assert!(store
        .remove_client_session("s4", "web", false)
        .await
        .unwrap());
    assert!(
        store.session("s4").await.unwrap().is_some(),
        "kept when not asked"
    );
    store
        .set_refresh_token("s4", "web", "rt", 13)
        .await
        .unwrap();
    assert!(store
        .remove_client_session("s4", "web", true)
        .await
        .unwrap());
    assert!(
        store.session("s4").await.unwrap().is_none(),
        "ended when empty"
    );
    store.create_session(&other, "web", None).await.unwrap();

    // A sweep removes the sessions (and client sessions) past its bounds, online and offline
    // apart, in its realm only; the others stay.
    for (id, offline, created, used) in [
        ("fresh", false, 900, 990),
        ("idle", false, 900, 940),
        ("old", false, 100, 995),
        ("off-fresh", true, 100, 960),
        ("off-idle", true, 100, 400),
    ] {
        let s = SessionRow {
            id: id.into(),
            offline,
            created_at: created,
            last_refresh: used,
            ..session.clone()
        };
        store.create_session(&s, "web", None).await.unwrap();
    }
    let bounds = portcullis::store::SessionSweep {
        online_used_before: 950,
        online_started_before: 500,
        offline_used_before: 500,
        offline_started_before: 0,
    };
    assert_eq!(store.sweep_sessions("r2", &bounds).await.unwrap(), 0);
    assert_eq!(store.sweep_sessions("r1", &bounds).await.unwrap(), 4);
    let mut left = Vec::new();
    for id in ["fresh", "idle", "old", "off-fresh", "off-idle", "s4"] {
        if store.session(id).await.unwrap().is_some() {
            left.push(id);
        }
    }
    assert_eq!(left, ["fresh", "off-fresh"]);
    let clients = store.user_session_clients("r1", "u1").await.unwrap();
    let with_clients: Vec<&str> = clients.iter().map(|c| c.session_id.as_str()).collect();
    assert_eq!(
        with_clients,
        ["fresh", "off-fresh"],
        "client sessions went with them"
    );
    // A backlog larger than one batch goes in several.
    for i in 0..501 {
        let s = SessionRow {
            id: format!("backlog-{i}"),
            last_refresh: 10,
            ..session.clone()
        };
        store.create_session(&s, "web", None).await.unwrap();
    }
    assert_eq!(store.sweep_sessions("r1", &bounds).await.unwrap(), 501);
    assert_eq!(store.user_sessions("r1", "u1").await.unwrap().len(), 2);

    // Delete takes the users along.
    store
        .apply(vec![Write::DeleteRealm { id: "r1".into() }])
        .await
        .unwrap();
    assert!(store.realms().await.unwrap().is_empty());
    assert_eq!(store.user_count("r1").await.unwrap(), 0);
}

/// Runs the futures concurrently (each its own task); their outputs in order.
async fn all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// Writes committed together (SQLite's write queue) keep each write's own outcome: of
/// concurrent redemptions of one code or uses of one refresh token, exactly one wins; a write
/// that fails does not take the others of its batch with it; every write is there afterwards.
async fn concurrent_writes(store: Arc<dyn Store>) {
    store
        .apply(vec![Write::InsertRealm(realm("c1", "concurrent"))])
        .await
        .unwrap();
    let session = SessionRow {
        id: "cs".into(),
        realm_id: "c1".into(),
        user_id: "u".into(),
        offline: false,
        created_at: 10,
        last_refresh: 10,
        data: "{}".into(),
    };
    store
        .create_session(&session, "web", Some("rt1"))
        .await
        .unwrap();

    let uses = all((0..20).map(|_| {
        let store = store.clone();
        async move { store.use_refresh_token("cs", "web", "rt1", 10, 0, 20).await }
    }))
    .await;
    let accepted = uses
        .into_iter()
        .filter(|u| *u.as_ref().unwrap() == RefreshUse::Accepted)
        .count();
    assert_eq!(
        accepted, 1,
        "a refresh token without reuse is accepted once"
    );

    store
        .put_code("code", "c1", "{}", i64::MAX / 2)
        .await
        .unwrap();
    let redemptions = all((0..20).map(|_| {
        let store = store.clone();
        async move { store.use_code("code").await }
    }))
    .await;
    let first: Vec<bool> = redemptions
        .into_iter()
        .map(|r| r.unwrap().unwrap().first_use)
        .filter(|f| *f)
        .collect();
    assert_eq!(first, [true], "one first redemption");

    // A duplicate pending-login id fails on its own; the rest are written.
    store
        .put_auth_session("dup", "c1", "{}", i64::MAX / 2)
        .await
        .unwrap();
    let puts = all((0..30).map(|i| {
        let store = store.clone();
        async move {
            let id = if i == 15 {
                "dup".to_string()
            } else {
                format!("a{i}")
            };
            store.put_auth_session(&id, "c1", "{}", i64::MAX / 2).await
        }
    }))
    .await;
    for (i, p) in puts.iter().enumerate() {
        assert_eq!(p.is_err(), i == 15, "write {i}: {p:?}");
    }
    for i in (0..30).filter(|i| *i != 15) {
        assert!(store
            .auth_session(&format!("a{i}"), 0)
            .await
            .unwrap()
            .is_some());
    }
    let touches = all((0..30).map(|t| {
        let store = store.clone();
        async move { store.touch_session("cs", 100 + t).await }
    }))
    .await;
    assert!(touches.iter().all(Result::is_ok));
    let last = store.session("cs").await.unwrap().unwrap().last_refresh;
    assert!((100..130).contains(&last), "{last}");
    store
        .apply(vec![Write::DeleteRealm { id: "c1".into() }])
        .await
        .unwrap();
}

/// The writes of a browser login: a step replaces its pending login under the same id; the
/// end of the login (pending login removed, session and its client's part created, code
/// stored) holds all together or not at all, also when it is committed in a batch with other
/// writes (SQLite's write queue); of concurrent redemptions of a code exactly one wins, and
/// only the winner's refresh token becomes current.
async fn login_writes(store: Arc<dyn Store>) {
    const LATER: i64 = i64::MAX / 2;
    store
        .apply(vec![Write::InsertRealm(realm("lw", "login-writes"))])
        .await
        .unwrap();
    let data = |id: &str| {
        let (store, id) = (store.clone(), id.to_string());
        async move { store.auth_session(&id, 0).await.unwrap().map(|r| r.data) }
    };

    // A step replaces its pending login; a pending login gone meanwhile is stored again.
    store
        .put_auth_session("flow", "lw", "step-1", LATER)
        .await
        .unwrap();
    store
        .replace_auth_session("flow", "lw", "step-2", LATER)
        .await
        .unwrap();
    assert_eq!(data("flow").await.as_deref(), Some("step-2"));
    store
        .replace_auth_session("gone", "lw", "again", LATER)
        .await
        .unwrap();
    assert_eq!(data("gone").await.as_deref(), Some("again"));

    // The end of a login whose code cannot be stored (its hash is taken) writes nothing: no
    // session, no client part, the pending login kept. Alone, and in a batch with others.
    store.put_code("taken", "lw", "{}", LATER).await.unwrap();
    let session = SessionRow {
        id: "ls".into(),
        realm_id: "lw".into(),
        user_id: "u".into(),
        offline: false,
        created_at: 10,
        last_refresh: 10,
        data: "{}".into(),
    };
    let end = |code: &str| LoginEnd {
        auth_session: Some("flow".into()),
        session: Some((session.clone(), "web".into())),
        code: Some(NewCode {
            code_hash: code.into(),
            realm_id: "lw".into(),
            data: "{\"session_id\":\"ls\"}".into(),
            expires_at: LATER,
        }),
    };
    assert!(store.finish_login(&end("taken")).await.is_err());
    let failed = end("taken");
    let batch = all((0..10).map(|i| {
        let (store, failed) = (store.clone(), failed.clone());
        async move {
            if i == 5 {
                store.finish_login(&failed).await
            } else {
                store
                    .put_auth_session(&format!("other-{i}"), "lw", "{}", LATER)
                    .await
            }
        }
    }))
    .await;
    for (i, r) in batch.iter().enumerate() {
        assert_eq!(r.is_err(), i == 5, "write {i}: {r:?}");
    }
    assert_eq!(store.fresh_session("ls").await.unwrap(), None, "no session");
    assert_eq!(store.session("ls").await.unwrap(), None);
    assert_eq!(started(store.as_ref(), "ls", "web").await, None);
    assert_eq!(
        data("flow").await.as_deref(),
        Some("step-2"),
        "still pending"
    );
    assert_eq!(data("other-3").await.as_deref(), Some("{}"));

    // The end that can be written: all of it.
    store.finish_login(&end("code")).await.unwrap();
    assert_eq!(
        store.fresh_session("ls").await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(store.session("ls").await.unwrap(), Some(session.clone()));
    assert_eq!(started(store.as_ref(), "ls", "web").await, Some(10));
    assert_eq!(data("flow").await, None, "the pending login is over");
    let code = store.code("code").await.unwrap().unwrap();
    assert_eq!((code.realm_id.as_str(), code.used), ("lw", false));
    assert_eq!(code.data, "{\"session_id\":\"ls\"}");

    // Concurrent redemptions, each with its own refresh token: one wins, its token current.
    let redemptions = all((0..20).map(|i| {
        let store = store.clone();
        async move {
            let refresh = RefreshStart {
                session_id: "ls".into(),
                client_id: "web".into(),
                refresh_token_id: format!("rt-{i}"),
                now: 20,
            };
            store.redeem_code("code", Some(&refresh)).await.unwrap()
        }
    }))
    .await;
    let winners: Vec<usize> = (0..20).filter(|i| redemptions[*i]).collect();
    assert_eq!(winners.len(), 1, "one first redemption: {redemptions:?}");
    assert!(store.code("code").await.unwrap().unwrap().used);
    // (Presented as issued at 0, a token is accepted only as the current one.)
    for loser in (0..20).filter(|i| *i != winners[0]) {
        let stale = store
            .use_refresh_token("ls", "web", &format!("rt-{loser}"), 0, 0, 21)
            .await
            .unwrap();
        assert_eq!(
            stale,
            RefreshUse::Rejected,
            "rt-{loser} lost, yet is current"
        );
    }
    let current = store
        .use_refresh_token("ls", "web", &format!("rt-{}", winners[0]), 0, 0, 21)
        .await
        .unwrap();
    assert_eq!(current, RefreshUse::Accepted);
    // An unknown or used code redeems nothing and writes nothing.
    let other = RefreshStart {
        session_id: "ls".into(),
        client_id: "other".into(),
        refresh_token_id: "rt-x".into(),
        now: 30,
    };
    assert!(!store.redeem_code("code", Some(&other)).await.unwrap());
    assert!(!store.redeem_code("unknown", Some(&other)).await.unwrap());
    assert_eq!(started(store.as_ref(), "ls", "other").await, None);
    // A deleted realm's logins in progress and codes go with it.
    store
        .apply(vec![Write::DeleteRealm { id: "lw".into() }])
        .await
        .unwrap();
    assert_eq!(
        data("other-3").await,
        None,
        "pending login of a deleted realm"
    );
    assert_eq!(store.code("code").await.unwrap(), None);
}

fn org(id: &str, name: &str, domain: &str) -> NewOrganization {
    NewOrganization {
        row: OrganizationRow {
            id: id.into(),
            name: name.into(),
            alias: name.to_lowercase(),
            enabled: true,
            attributes: [("tier".to_string(), vec!["gold".to_string()])]
                .into_iter()
                .collect(),
            domains: vec![OrganizationDomain {
                name: domain.into(),
                verified: false,
            }],
            ..Default::default()
        },
        members: Vec::new(),
        identity_providers: Vec::new(),
    }
}

/// Organizations: uniqueness rules each with its own answer, members of the realm only, a
/// write bumping the realm's version (so that nodes rebuild their snapshots) while members do
/// not, and deletes of users, organizations and realms taking what hangs on them.
async fn organizations_suite(store: Arc<dyn Store>) {
    store
        .apply(vec![
            Write::InsertRealm(realm("o1", "orgs")),
            Write::InsertRealm(realm("o2", "other")),
            Write::InsertUsers {
                realm_id: "o1".into(),
                users: vec![user("ou1", "alice"), user("ou2", "bob")],
            },
            Write::InsertUsers {
                realm_id: "o2".into(),
                users: vec![user("ou3", "carol")],
            },
        ])
        .await
        .unwrap();
    let version = |name: &'static str| {
        let store = store.clone();
        async move { store.realm_by_name(name).await.unwrap().unwrap().version }
    };
    let v0 = version("orgs").await;
    store
        .insert_organization("o1", &org("org-a", "Acme", "acme.com"))
        .await
        .unwrap();
    assert_eq!(
        version("orgs").await,
        v0 + 1,
        "a new organization bumps the realm"
    );
    let conflict = |r: Result<(), OrgWriteError>| match r {
        Err(OrgWriteError::Conflict(c)) => c,
        other => panic!("expected a conflict: {other:?}"),
    };
    assert_eq!(
        conflict(
            store
                .insert_organization("o1", &org("org-b", "Acme", "b.com"))
                .await
        ),
        OrgConflict::Name
    );
    let mut same_alias = org("org-b", "Other", "b.com");
    same_alias.row.alias = "acme".into();
    assert_eq!(
        conflict(store.insert_organization("o1", &same_alias).await),
        OrgConflict::Alias
    );
    assert_eq!(
        conflict(
            store
                .insert_organization("o1", &org("org-b", "B", "acme.com"))
                .await
        ),
        OrgConflict::Domain {
            domain: "acme.com".into(),
            organization: "Acme".into()
        }
    );
    // Another realm may use the name, alias and domain.
    store
        .insert_organization("o2", &org("org-c", "Acme", "acme.com"))
        .await
        .unwrap();
    assert_eq!(
        store.organizations("o1").await.unwrap().len(),
        1,
        "nothing half-written"
    );

    // Members: users of the realm, once each; no realm version change.
    let v1 = version("orgs").await;
    let add = |u: &'static str| {
        let store = store.clone();
        async move {
            store
                .add_member("o1", "org-a", u, MembershipType::Unmanaged)
                .await
                .unwrap()
        }
    };
    assert!(add("ou1").await);
    assert!(add("ou2").await);
    assert!(!add("ou1").await, "a member added twice");
    assert!(!add("ou3").await, "a user of another realm");
    assert!(!add("nobody").await);
    assert_eq!(version("orgs").await, v1, "members do not touch the realm");
    assert_eq!(store.count_members("org-a").await.unwrap(), 2);
    assert_eq!(
        store.membership_ids("o1", "ou1").await.unwrap(),
        ["org-a".to_string()]
    );
    let page = store
        .members(
            "org-a",
            &MemberQuery {
                search: Some("BO".into()),
                max: -1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].user.username, "bob");
    let found = store
        .search_organizations(
            "o1",
            &OrganizationQuery {
                attributes: vec![("tier".into(), "gold".into())],
                max: -1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found[0].attributes["tier"], ["gold"]);
    assert_eq!(found[0].domains[0].name, "acme.com");

    // Deleting a user ends the memberships.
    assert!(store.delete_user("o1", "ou2").await.unwrap());
    assert_eq!(store.count_members("org-a").await.unwrap(), 1);

    // Identity providers: one organization each.
    store
        .link_identity_provider("o1", "org-a", "github")
        .await
        .unwrap();
    assert!(matches!(
        store.link_identity_provider("o1", "org-a", "github").await,
        Err(OrgWriteError::Conflict(OrgConflict::IdpLinked))
    ));
    assert_eq!(
        store.identity_provider_links("o1").await.unwrap(),
        [("github".to_string(), "org-a".to_string())]
    );

    // Deleting the organization takes its memberships and links; deleting a realm its
    // organizations.
    assert!(store.delete_organization("o1", "org-a").await.unwrap());
    assert!(!store.delete_organization("o1", "org-a").await.unwrap());
    assert!(store.membership_ids("o1", "ou1").await.unwrap().is_empty());
    assert!(store
        .identity_provider_links("o1")
        .await
        .unwrap()
        .is_empty());
    store
        .add_member("o2", "org-c", "ou3", MembershipType::Managed)
        .await
        .unwrap();
    store
        .apply(vec![
            Write::DeleteRealm { id: "o1".into() },
            Write::DeleteRealm { id: "o2".into() },
        ])
        .await
        .unwrap();
    assert!(store.all_organizations().await.unwrap().is_empty());
    assert!(store.membership_ids("o2", "ou3").await.unwrap().is_empty());
}

/// Brute-force counters: the store's one-statement failure update computes what Keycloak's
/// algorithm (`policy::brute_force::next`) computes; concurrent failures are all counted, each
/// seeing its own count; clearing one user or a realm; a deleted user's row goes with it.
async fn login_failures(store: Arc<dyn Store>) {
    use portcullis::policy::brute_force::{next, Policy};
    use portcullis::representation::RealmRepresentation;
    use portcullis::store::LoginFailureRow;
    store
        .apply(vec![
            Write::InsertRealm(realm("b1", "brute")),
            Write::InsertUsers {
                realm_id: "b1".into(),
                users: (0..4)
                    .map(|i| user(&format!("bu{i}"), &format!("b{i}")))
                    .collect(),
            },
        ])
        .await
        .unwrap();
    let policy = |v: Value| {
        Policy::of(&RealmRepresentation {
            extra: v.as_object().unwrap().clone(),
            ..Default::default()
        })
    };
    let policies = [
        policy(json!({"bruteForceProtected": true, "failureFactor": 3, "waitIncrementSeconds": 5})),
        policy(
            json!({"bruteForceProtected": true, "bruteForceStrategy": "LINEAR", "failureFactor": 2,
                      "waitIncrementSeconds": 10, "maxFailureWaitSeconds": 25, "maxDeltaTimeSeconds": 30}),
        ),
        policy(json!({"bruteForceProtected": true, "permanentLockout": true, "failureFactor": 3})),
        policy(
            json!({"bruteForceProtected": true, "permanentLockout": true, "maxTemporaryLockouts": 1,
                      "failureFactor": 2, "waitIncrementSeconds": 1, "minimumQuickLoginWaitSeconds": 3}),
        ),
    ];
    // Quick ones (< 1 s apart), slow ones, and one past maxDeltaTimeSeconds of the second policy.
    let t0 = 1_700_000_000_000_i64;
    let gaps = [0, 400, 2_000, 2_500, 31_000, 100, 5_000, 60_000, 10];
    for (i, p) in policies.iter().enumerate() {
        let id = format!("bu{i}");
        let mut expected = LoginFailureRow::default();
        let mut t = t0;
        for (step, gap) in gaps.iter().enumerate() {
            t += gap;
            let ip = format!("10.0.0.{step}");
            expected = next(p, &expected, t, Some(&ip));
            let got = store
                .record_login_failure("b1", &id, t, Some(&ip), &p.failure_rule(t, Some(&ip)))
                .await
                .unwrap();
            assert_eq!(got, expected, "policy {i}, failure {step}");
            assert_eq!(
                store.login_failure("b1", &id).await.unwrap(),
                Some(expected.clone())
            );
        }
    }
    // Concurrent failures of one user: none lost, each saw a different count.
    let p = Arc::new(policies[0].clone());
    let counts = all((0..40).map(|i| {
        let (store, p) = (store.clone(), p.clone());
        async move {
            store
                .record_login_failure(
                    "b1",
                    "bu0",
                    t0 + 1_000_000 + i,
                    None,
                    &p.failure_rule(t0 + 1_000_000 + i, None),
                )
                .await
                .map(|r| r.num_failures)
        }
    }))
    .await;
    let mut counts: Vec<i64> = counts.into_iter().map(Result::unwrap).collect();
    counts.sort_unstable();
    let before = gaps.len() as i64;
    assert_eq!(counts, ((before + 1)..=(before + 40)).collect::<Vec<_>>());
    assert!(store.clear_login_failure("b1", "bu0").await.unwrap());
    assert!(!store.clear_login_failure("b1", "bu0").await.unwrap());
    assert_eq!(store.login_failure("b1", "bu0").await.unwrap(), None);
    assert_eq!(store.clear_login_failures("b1").await.unwrap(), 3);
    assert_eq!(store.login_failure("b1", "bu1").await.unwrap(), None);
    store
        .record_login_failure("b1", "bu2", t0, None, &p.failure_rule(t0, None))
        .await
        .unwrap();
    assert!(store.delete_user("b1", "bu2").await.unwrap());
    assert_eq!(store.login_failure("b1", "bu2").await.unwrap(), None);
    store
        .apply(vec![Write::DeleteRealm { id: "b1".into() }])
        .await
        .unwrap();
}

fn authz_row(id: &str, name: &str, owner: &str) -> AuthzRow {
    AuthzRow {
        id: id.into(),
        name: name.into(),
        owner: owner.into(),
        representation: format!("{{\"name\":\"{name}\"}}"),
    }
}

fn resource_server(id: &str) -> NewResourceServer {
    NewResourceServer {
        server: ResourceServerRow {
            id: id.into(),
            settings: "{\"decisionStrategy\":\"UNANIMOUS\"}".into(),
            version: 1,
        },
        resources: vec![authz_row("res-1", "Default Resource", id)],
        scopes: vec![authz_row("sc-1", "read", "")],
        policies: vec![authz_row("pol-1", "Default Policy", "")],
    }
}

/// Resource servers: written whole in realm batches, row by row with a version that every
/// write bumps (and that guards concurrent writers), names unique as Keycloak's, gone with
/// their client or realm.
async fn authz_suite(store: Arc<dyn Store>) {
    store
        .apply(vec![
            Write::InsertRealm(realm("az1", "authz-one")),
            Write::InsertRealm(realm("az2", "authz-two")),
            Write::PutResourceServer {
                realm_id: "az1".into(),
                server: resource_server("client-uuid"),
            },
            // The same client UUID in another realm (copies of one export) is another server.
            Write::PutResourceServer {
                realm_id: "az2".into(),
                server: resource_server("client-uuid"),
            },
        ])
        .await
        .unwrap();
    let rs = store
        .resource_server("az1", "client-uuid")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rs.version, 1);
    assert!(rs.settings.contains("UNANIMOUS"));
    assert_eq!(store.resource_servers("az1").await.unwrap().len(), 1);
    let scopes = store
        .authz_rows("az1", "client-uuid", AuthzKind::Scope)
        .await
        .unwrap();
    assert_eq!(scopes, vec![authz_row("sc-1", "read", "")]);

    // A write bumps the version and returns it.
    let v = store
        .authz_write(
            "az1",
            "client-uuid",
            Some(1),
            vec![
                AuthzWrite::Insert(AuthzKind::Scope, authz_row("sc-2", "write", "")),
                AuthzWrite::Insert(AuthzKind::Resource, authz_row("res-2", "doc", "user-1")),
                // The same name for another owner is another resource.
                AuthzWrite::Insert(AuthzKind::Resource, authz_row("res-3", "doc", "user-2")),
            ],
        )
        .await
        .unwrap();
    assert_eq!(v, Some(2));
    // A writer that read version 1 is refused, nothing written.
    let e = store
        .authz_write(
            "az1",
            "client-uuid",
            Some(1),
            vec![AuthzWrite::Insert(
                AuthzKind::Scope,
                authz_row("sc-3", "admin", ""),
            )],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::VersionConflict), "{e:?}");
    // Names: a scope's and a policy's per server, a resource's per owner; a failed batch
    // leaves the rows and the version as they were.
    for w in [
        AuthzWrite::Insert(AuthzKind::Scope, authz_row("sc-4", "read", "")),
        AuthzWrite::Insert(AuthzKind::Policy, authz_row("pol-2", "Default Policy", "")),
        AuthzWrite::Insert(AuthzKind::Resource, authz_row("res-4", "doc", "user-1")),
    ] {
        let e = store
            .authz_write(
                "az1",
                "client-uuid",
                None,
                vec![
                    AuthzWrite::Insert(AuthzKind::Scope, authz_row("sc-5", "fresh", "")),
                    w,
                ],
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Unique(_)), "{e:?}");
    }
    assert_eq!(
        store
            .resource_server("az1", "client-uuid")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );
    assert_eq!(
        store
            .authz_rows("az1", "client-uuid", AuthzKind::Scope)
            .await
            .unwrap()
            .len(),
        2
    );
    // Update, delete and settings in one batch.
    let mut renamed = authz_row("sc-2", "write-all", "");
    renamed.representation = "{\"name\":\"write-all\",\"displayName\":\"W\"}".into();
    store
        .authz_write(
            "az1",
            "client-uuid",
            Some(2),
            vec![
                AuthzWrite::Delete(AuthzKind::Resource, "res-3".into()),
                AuthzWrite::Update(AuthzKind::Scope, renamed.clone()),
                AuthzWrite::Settings("{\"decisionStrategy\":\"AFFIRMATIVE\"}".into()),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .authz_row("az1", "client-uuid", AuthzKind::Scope, "sc-2")
            .await
            .unwrap(),
        Some(renamed)
    );
    assert_eq!(
        store
            .authz_row("az1", "client-uuid", AuthzKind::Resource, "res-3")
            .await
            .unwrap(),
        None
    );
    let rs = store
        .resource_server("az1", "client-uuid")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rs.version, 3);
    assert!(rs.settings.contains("AFFIRMATIVE"));
    // Rows are listed by name.
    let names: Vec<String> = store
        .authz_rows("az1", "client-uuid", AuthzKind::Resource)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["Default Resource", "doc"]);
    // A server that does not exist takes no write.
    assert_eq!(
        store
            .authz_write("az1", "nobody", None, vec![])
            .await
            .unwrap(),
        None
    );
    // Replaced whole (an import): the rows are the new ones, the version goes on.
    let mut next = resource_server("client-uuid");
    next.scopes = vec![authz_row("sc-9", "only", "")];
    store
        .apply(vec![Write::PutResourceServer {
            realm_id: "az1".into(),
            server: next,
        }])
        .await
        .unwrap();
    assert_eq!(
        store
            .resource_server("az1", "client-uuid")
            .await
            .unwrap()
            .unwrap()
            .version,
        4
    );
    assert_eq!(
        store
            .authz_rows("az1", "client-uuid", AuthzKind::Scope)
            .await
            .unwrap(),
        vec![authz_row("sc-9", "only", "")]
    );
    // Deleting the client's server takes its rows; the other realm's copy stays.
    store
        .apply(vec![Write::DeleteResourceServer {
            realm_id: "az1".into(),
            id: "client-uuid".into(),
        }])
        .await
        .unwrap();
    assert_eq!(
        store.resource_server("az1", "client-uuid").await.unwrap(),
        None
    );
    assert!(store
        .authz_rows("az1", "client-uuid", AuthzKind::Policy)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .resource_server("az2", "client-uuid")
        .await
        .unwrap()
        .is_some());
    // Deleting a realm takes its servers.
    store
        .apply(vec![Write::DeleteRealm { id: "az2".into() }])
        .await
        .unwrap();
    assert_eq!(
        store.resource_server("az2", "client-uuid").await.unwrap(),
        None
    );
    assert!(store
        .authz_rows("az2", "client-uuid", AuthzKind::Resource)
        .await
        .unwrap()
        .is_empty());
    store
        .apply(vec![Write::DeleteRealm { id: "az1".into() }])
        .await
        .unwrap();
}

/// CIBA requests: one decision wins among concurrent callbacks, an approved request is
/// redeemed once among concurrent polls, polls faster than the interval grow it, a cancelled
/// request is gone, and a deleted realm takes its requests along.
async fn ciba_requests(store: Arc<dyn Store>) {
    store
        .apply(vec![Write::InsertRealm(realm("cb1", "ciba-store"))])
        .await
        .unwrap();
    let row = |n: &str| CibaRow {
        auth_req_hash: format!("hash-{n}"),
        auth_result_id: format!("result-{n}"),
        realm_id: "cb1".into(),
        client_id: "cd".into(),
        user_id: "u1".into(),
        data: r#"{"scope":"openid"}"#.into(),
        expires_at: 2_000,
        poll_interval: 5,
        status: DeviceStatus::Pending,
    };
    store.put_ciba_request(&row("a")).await.unwrap();
    store.put_ciba_request(&row("b")).await.unwrap();
    // The callback token's id names one request: a second one with it is refused.
    let mut dup = row("c");
    dup.auth_result_id = "result-a".into();
    assert!(matches!(
        store.put_ciba_request(&dup).await,
        Err(StoreError::Unique(_))
    ));
    assert_eq!(store.ciba_request("hash-a").await.unwrap(), Some(row("a")));
    assert_eq!(
        store
            .ciba_request_by_result("cb1", "result-a")
            .await
            .unwrap()
            .map(|r| r.auth_req_hash),
        Some("hash-a".to_string())
    );
    assert!(store
        .ciba_request_by_result("other-realm", "result-a")
        .await
        .unwrap()
        .is_none());

    // Polling: the first is allowed, one within the interval is not and grows it by 5.
    assert!(store.poll_ciba_request("hash-a", 1_000).await.unwrap());
    assert!(!store.poll_ciba_request("hash-a", 1_004).await.unwrap());
    assert_eq!(
        store
            .ciba_request("hash-a")
            .await
            .unwrap()
            .unwrap()
            .poll_interval,
        10
    );
    assert!(!store.poll_ciba_request("hash-a", 1_009).await.unwrap());
    assert!(store.poll_ciba_request("hash-a", 1_015).await.unwrap());

    // Not approved yet: nothing to redeem.
    assert!(!store.redeem_ciba_request("hash-a").await.unwrap());
    // Concurrent decisions: exactly one wins.
    let decided = all((0..8).map(|i| {
        let store = store.clone();
        async move {
            store
                .decide_ciba_request("cb1", "result-a", i % 2 == 0)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(decided.iter().filter(|d| **d).count(), 1);
    let status = store.ciba_request("hash-a").await.unwrap().unwrap().status;
    assert!(matches!(
        status,
        DeviceStatus::Approved | DeviceStatus::Denied
    ));
    if status == DeviceStatus::Denied {
        // Make it approved for the redemption race below, through a fresh request.
        store.cancel_ciba_request("cb1", "result-a").await.unwrap();
        store.put_ciba_request(&row("a")).await.unwrap();
        assert!(store
            .decide_ciba_request("cb1", "result-a", true)
            .await
            .unwrap());
    }
    // Concurrent redemptions: exactly one wins, and the request is gone.
    let redeemed = all((0..8).map(|_| {
        let store = store.clone();
        async move { store.redeem_ciba_request("hash-a").await.unwrap() }
    }))
    .await;
    assert_eq!(redeemed.iter().filter(|r| **r).count(), 1);
    assert!(store.ciba_request("hash-a").await.unwrap().is_none());

    // Cancelled: gone. A denied request is never redeemed.
    assert!(store
        .decide_ciba_request("cb1", "result-b", false)
        .await
        .unwrap());
    assert!(!store
        .decide_ciba_request("cb1", "result-b", true)
        .await
        .unwrap());
    assert!(!store.redeem_ciba_request("hash-b").await.unwrap());
    store.cancel_ciba_request("cb1", "result-b").await.unwrap();
    assert!(store.ciba_request("hash-b").await.unwrap().is_none());

    // A deleted realm takes its requests along.
    store.put_ciba_request(&row("d")).await.unwrap();
    store
        .apply(vec![Write::DeleteRealm { id: "cb1".into() }])
        .await
        .unwrap();
    assert!(store.ciba_request("hash-d").await.unwrap().is_none());
}

#[tokio::test]
async fn store_suite_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    suite(store.clone()).await;
    organizations_suite(store.clone()).await;
    authz_suite(store.clone()).await;
    ciba_requests(store.clone()).await;
    login_failures(store.clone()).await;
    login_writes(store.clone()).await;
    concurrent_writes(store).await;
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
    let store: Arc<dyn Store> = Arc::new(store);
    suite(store.clone()).await;
    organizations_suite(store.clone()).await;
    authz_suite(store.clone()).await;
    ciba_requests(store.clone()).await;
    login_failures(store.clone()).await;
    login_writes(store.clone()).await;
    concurrent_writes(store).await;
    PostgresStore::connect(&pg_url(), Some(&schema), 1)
        .await
        .unwrap();
    drop_schema(&schema).await;
}

/// Scale figures (run by hand: `cargo test -p portcullis --test it store::organization_scale -- --ignored --nocapture`):
/// an organization of 100,000 members on SQLite; adding one more writes one row and leaves
/// the realm's version alone, and the token endpoint's membership read stays one indexed query.
#[tokio::test]
#[ignore]
async fn organization_scale() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("s.db")).await.unwrap());
    const N: usize = 100_000;
    let users: Vec<UserRow> = (0..N)
        .map(|i| user(&format!("u{i}"), &format!("user{i:06}")))
        .collect();
    let mut big = org("big", "Big", "big.example");
    big.members = (0..N)
        .map(|i| (format!("u{i}"), MembershipType::Unmanaged))
        .collect();
    let t = std::time::Instant::now();
    store
        .apply(vec![
            Write::InsertRealm(realm("s1", "scale")),
            Write::InsertUsers {
                realm_id: "s1".into(),
                users,
            },
            Write::InsertOrganizations {
                realm_id: "s1".into(),
                realm_name: "scale".into(),
                organizations: vec![big],
            },
        ])
        .await
        .unwrap();
    println!("import of {N} users and members: {:?}", t.elapsed());
    store
        .apply(vec![Write::InsertUsers {
            realm_id: "s1".into(),
            users: vec![user("late", "late")],
        }])
        .await
        .unwrap();
    let version = store.realm_by_name("scale").await.unwrap().unwrap().version;
    let time = |label: &str, t: std::time::Instant, n: u32| {
        println!("{label}: {:?} each", t.elapsed() / n)
    };
    let t = std::time::Instant::now();
    assert!(store
        .add_member("s1", "big", "late", MembershipType::Unmanaged)
        .await
        .unwrap());
    time("add a member (the 100,001st)", t, 1);
    assert_eq!(
        store.realm_by_name("scale").await.unwrap().unwrap().version,
        version,
        "the realm is not rewritten"
    );
    let t = std::time::Instant::now();
    for i in 0..1000 {
        let ids = store
            .membership_ids("s1", &format!("u{}", i * 97))
            .await
            .unwrap();
        assert_eq!(ids.len(), 1);
    }
    time("membership read of the token endpoint", t, 1000);
    let t = std::time::Instant::now();
    assert_eq!(store.count_members("big").await.unwrap(), N as i64 + 1);
    time("count members", t, 1);
    let t = std::time::Instant::now();
    let page = store
        .members(
            "big",
            &MemberQuery {
                search: Some("user0999".into()),
                max: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 10);
    time("member search, one page", t, 1);
    let t = std::time::Instant::now();
    let page = store
        .members(
            "big",
            &MemberQuery {
                first: 50_000,
                max: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.len(), 10);
    time("member page at offset 50,000", t, 1);
}

/// A SQLite file written by a version that kept logins in progress and codes in tables: the
/// rows it left are read by nothing now, and the upgrade empties the tables.
#[tokio::test]
async fn upgrading_sqlite_empties_the_login_tables_it_no_longer_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.unwrap());
    store
        .apply(vec![Write::InsertRealm(realm("old", "old"))])
        .await
        .unwrap();
    drop(store);
    // The file as the earlier version left it: rows in both tables, migration 19 not yet run.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    for sql in [
        "INSERT INTO auth_session (id, realm_id, data, expires_at) VALUES ('s1', 'old', '{}', 9999999999)",
        "INSERT INTO auth_code (code_hash, realm_id, data, expires_at, used) VALUES ('c1', 'old', '{}', 9999999999, 0)",
        "DELETE FROM _sqlx_migrations WHERE version = 19",
    ] {
        sqlx::query(sql).execute(&raw).await.unwrap();
    }
    let count = |table: &'static str| {
        let raw = raw.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&raw)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        (count("auth_session").await, count("auth_code").await),
        (1, 1)
    );
    SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        (count("auth_session").await, count("auth_code").await),
        (0, 0)
    );
    let ran: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 19")
        .fetch_one(&raw)
        .await
        .unwrap();
    assert_eq!(ran, 1);
    raw.close().await;
}

//! SQLite on a full disk: writes are refused with `503`, `Retry-After` and a message naming
//! the full disk (never a bare 500, never a hang), reads go on, nothing acknowledged is lost
//! or corrupted, and writes succeed again once space is freed, without a restart. The disk is
//! real: the server runs in a mount namespace of its own (`unshare -m`) with its data directory
//! on a small tmpfs, which the test fills through `/proc/<pid>/root`.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use serde_json::{json, Value};

use crate::support::*;

/// The tmpfs under the server's data directory.
const DISK: &str = "size=24m";

/// Whether this machine lets the test make a mount namespace with a tmpfs (root, or
/// CAP_SYS_ADMIN); the machines this project runs on do.
fn namespaces_work() -> bool {
    Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"])
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes zeros into `path` until the disk refuses (`ENOSPC`).
fn fill(path: &PathBuf) {
    let mut f = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        match f.write_all(&chunk).and_then(|()| f.sync_all()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => return,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
}

async fn create_user(s: &TestServer, token: &str, n: usize) -> (u16, Value, String) {
    let (status, body, headers) = call(
        s,
        "POST",
        "/admin/realms/disk/users",
        Some(token),
        Some(json!({
            "username": format!("user-{n}"), "enabled": true,
            // A few kilobytes a user, so the disk fills in a few hundred writes.
            "attributes": {"note": ["x".repeat(4000)]},
        })),
    )
    .await;
    let retry = headers
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, body, retry)
}

#[tokio::test]
async fn a_full_disk_refuses_writes_clearly_keeps_reads_and_recovers() {
    assert!(
        namespaces_work(),
        "this test needs `unshare -m` and tmpfs mounts (root or CAP_SYS_ADMIN)"
    );
    let data = Data::new(Backend::Sqlite).await.unwrap();
    // Inside the server's namespace its data directory is the tmpfs (the test's log file there
    // was opened before, on the real disk).
    let dir = data.dir.path().to_path_buf();
    let mount = format!("mount -t tmpfs -o {DISK} tmpfs \"$0\" && exec \"$@\"");
    let wrapper = ["unshare", "-m", "sh", "-c", &mount, dir.to_str().unwrap()];
    let s = TestServer::start_under(&wrapper, &data, "start-dev", &[], &[]).unwrap();
    let admin = admin_token(&s).await;
    let (status, body, _) = call(
        &s,
        "POST",
        "/admin/realms",
        Some(&admin),
        Some(json!({
            "realm": "disk", "enabled": true,
            "clients": [{"clientId": "svc", "secret": "svc-secret", "publicClient": false,
                         "serviceAccountsEnabled": true, "standardFlowEnabled": false}],
        })),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, _) = create_user(&s, &admin, 0).await;
    assert_eq!(status, 201);

    // The server's view of its data directory is the tmpfs; fill it.
    let pid = s.child.id();
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    let inside = root.join(dir.strip_prefix("/").unwrap());
    let filler = inside.join("filler");
    fill(&filler);

    // Writes now fail: each with 503, Retry-After and the reason, within the client's timeout.
    let mut acknowledged = vec![0];
    let mut refused = 0;
    for n in 1..400 {
        let (status, body, retry) = create_user(&s, &admin, n).await;
        match status {
            201 => acknowledged.push(n),
            503 => {
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                assert!(
                    body["error_description"]
                        .as_str()
                        .unwrap()
                        .contains("disk is full"),
                    "{body}"
                );
                assert_eq!(retry, "5");
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            other => panic!(
                "a write on a full disk answered {other}: {body}\n{}",
                s.logs()
            ),
        }
    }
    assert_eq!(refused, 3, "the disk never filled");
    assert!(!s.logs().contains("panicked"), "{}", s.logs());

    // Reads go on: the admin API, discovery, JWKS, and a token that needs no write.
    let (status, users, _) = call(
        &s,
        "GET",
        "/admin/realms/disk/users?max=1000&briefRepresentation=true",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200, "{users}");
    assert_eq!(users.as_array().unwrap().len(), acknowledged.len());
    let (status, _) = get_json(&s.url("/realms/disk/.well-known/openid-configuration")).await;
    assert_eq!(status, 200);
    let (status, jwks) = get_json(&s.url("/realms/disk/protocol/openid-connect/certs")).await;
    assert_eq!(status, 200);
    assert!(!jwks["keys"].as_array().unwrap().is_empty());
    let token_url = s.url("/realms/disk/protocol/openid-connect/token");
    let (status, body, _) = post_form(
        &token_url,
        Some(("svc", "svc-secret")),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    // Space comes back: writes work again, without a restart, and nothing acknowledged is lost.
    std::fs::remove_file(&filler).unwrap();
    let (status, body, _) = create_user(&s, &admin, 1000).await;
    assert_eq!(status, 201, "{body}");
    acknowledged.push(1000);
    let (_, users, _) = call(
        &s,
        "GET",
        "/admin/realms/disk/users?max=1000&briefRepresentation=true",
        Some(&admin),
        None,
    )
    .await;
    let mut names: Vec<String> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    let mut expected: Vec<String> = acknowledged.iter().map(|n| format!("user-{n}")).collect();
    expected.sort();
    assert_eq!(names, expected);

    // The database file itself is sound. SQLite resolves `/proc/<pid>/root` to this
    // namespace's root, so the check reads a copy. The server may be writing while the files
    // are copied (the sweeper, a checkpoint), and a copy of the database and its write-ahead
    // log taken across such a write is torn; a torn copy is taken again, a lost row never
    // comes back.
    let mut last = String::new();
    for _ in 0..10 {
        match copy_and_check(&inside).await {
            Ok(n) if n >= acknowledged.len() as i64 => {
                last.clear();
                break;
            }
            Ok(n) => last = format!("{n} users stored, {} acknowledged", acknowledged.len()),
            Err(e) => last = e,
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    assert!(last.is_empty(), "{last}");
}

/// Copies the SQLite files of `dir` and answers the copy's user count once its integrity
/// check passes.
async fn copy_and_check(dir: &std::path::Path) -> Result<i64, String> {
    let copy = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if name.starts_with("portcullis.db") {
            std::fs::copy(&path, copy.path().join(&name)).map_err(|e| e.to_string())?;
        }
    }
    let db = copy.path().join("portcullis.db");
    assert!(db.exists(), "the SQLite file in the data directory");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .map_err(|e| e.to_string())?;
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    if check != "ok" {
        return Err(format!("integrity check: {check}"));
    }
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM user_entity")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    pool.close().await;
    Ok(n)
}

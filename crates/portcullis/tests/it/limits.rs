//! Resource limits against hostile clients: a 100 MB body, a 1 MB header, 100,000 form
//! parameters, a client sending one byte a second, too many connections, too many requests.
//! Each gets a bounded, clear refusal, and the server keeps answering another client while
//! the attack runs (a normal request answers within the test client's generous timeout).

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::http::{client, post_form};
use crate::support::{Backend, Data, TestServer};

const TOKEN: &str = "/realms/master/protocol/openid-connect/token";
const DISCOVERY: &str = "/realms/master/.well-known/openid-configuration";

/// A hang guard for reads, not a timing assertion.
const GUARD: Duration = Duration::from_secs(60);

async fn server(extra: &[&str]) -> (Data, TestServer) {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = TestServer::start(&data, "start-dev", extra, &[]).unwrap();
    (data, server)
}

fn addr(server: &TestServer) -> String {
    server.base.trim_start_matches("http://").to_string()
}

/// Another client is answered normally while an attack runs.
async fn others_are_served(server: &TestServer) {
    let r = client().get(server.url(DISCOVERY)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert!(v["issuer"].as_str().unwrap().ends_with("/realms/master"));
}

/// Reads what the server answers on `stream` until it closes the connection (or resets it).
async fn read_answer(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                out.extend_from_slice(&buf[..n]);
                // One answer is enough: stop at the end of its body.
                if let Some(head_end) = find(&out, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&out[..head_end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if out.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            Err(_) => panic!("no answer within the guard"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The JSON body of a raw answer.
fn body_of(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

/// Sends `head`, then `total` bytes of body in chunks (ignoring write errors: the server may
/// close early), while reading the answer.
async fn send_body_and_read(address: String, head: String, total: usize) -> String {
    let stream = TcpStream::connect(&address).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            if wr.write_all(&chunk[..n]).await.is_err() {
                return;
            }
            sent += n;
        }
    });
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout(GUARD, rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within the guard"),
        }
        if find(&out, b"}").is_some() {
            break;
        }
    }
    writer.abort();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn a_100_mb_body_is_refused_with_413_and_others_are_served() {
    let (_data, server) = server(&[]).await;
    let a = addr(&server);
    let total = 100 * 1024 * 1024;
    // Declared length: refused before a byte of the body is read.
    let head = format!(
        "POST {TOKEN} HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {total}\r\n\r\n"
    );
    let attack = tokio::spawn(send_body_and_read(a.clone(), head, total));
    others_are_served(&server).await;
    let answer = attack.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let body = body_of(&answer);
    assert_eq!(body["error"], "invalid_request", "{answer}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("1048576 bytes"),
        "{answer}"
    );

    // Chunked, no declared length, to the Admin API (10 MiB limit): reading stops at the limit.
    let head = format!(
        "POST /admin/realms HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let stream = TcpStream::connect(&a).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        wr.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("10000\r\n{}\r\n", "a".repeat(0x10000));
        for _ in 0..(100 * 16) {
            if wr.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    others_are_served(&server).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while find(&out, b"}").is_none() {
        match tokio::time::timeout(GUARD, rd.read(&mut buf))
            .await
            .unwrap()
        {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    writer.abort();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        body_of(&answer)["error_description"]
            .as_str()
            .unwrap()
            .contains(&(10 * 1024 * 1024).to_string()),
        "{answer}"
    );
    others_are_served(&server).await;
}

#[tokio::test]
async fn body_limits_differ_per_endpoint() {
    let (_data, server) = server(&["--http-limits-max-body-size", "3M"]).await;
    let big = format!("{{\"realm\":\"{}\"}}", "x".repeat(2 * 1024 * 1024));
    // 2 MiB passes the Admin API's limit (3M here): the body is read and the request refused
    // for what it is (no token), not for its size.
    let r = client()
        .post(server.url("/admin/realms"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // The same body at the token endpoint is past its 1 MiB limit.
    let r = client()
        .post(server.url(TOKEN))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    // And 4M is past the Admin API's limit (read and dropped, so the client gets the answer).
    let r = client()
        .post(server.url("/admin/realms"))
        .header("content-type", "application/json")
        .body(vec![b'a'; 4 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let v: Value = r.json().await.unwrap();
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .contains(&(3 * 1024 * 1024).to_string()));
}

#[tokio::test]
async fn a_1_mb_header_is_refused_with_431_and_others_are_served() {
    let (_data, server) = server(&[]).await;
    let a = addr(&server);
    let head = format!(
        "GET {DISCOVERY} HTTP/1.1\r\nHost: {a}\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let attack = tokio::spawn(send_body_and_read(a.clone(), head, 0));
    others_are_served(&server).await;
    let answer = attack.await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 431"),
        "expected 431, got {answer:?}"
    );
    others_are_served(&server).await;

    // 350 KiB of headers pass the default (400K) and not `--http-limits-max-header-size 300K`.
    let filler = "a".repeat(350 * 1024);
    let r = client()
        .get(server.url(DISCOVERY))
        .header("x-filler", &filler)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_data, small) = self::server(&["--http-limits-max-header-size", "300K"]).await;
    let r = client()
        .get(small.url(DISCOVERY))
        .header("x-filler", &filler)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 431);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(
        v["error_description"],
        "Request headers too large: the limit is 307200 bytes"
    );
}

#[tokio::test]
async fn a_form_of_100000_parameters_is_refused() {
    let (_data, server) = server(&[]).await;
    let form: String = (0..100_000)
        .map(|i| format!("p{i}=1"))
        .collect::<Vec<_>>()
        .join("&");
    assert!(
        form.len() < 1024 * 1024,
        "under the body limit: the count is what is refused"
    );
    let attack = {
        let url = server.url(TOKEN);
        tokio::spawn(async move {
            client()
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap()
        })
    };
    others_are_served(&server).await;
    let r = attack.await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    assert_eq!(
        v["error_description"],
        "Too many form parameters (the limit is 256)"
    );

    // The option lowers it.
    let (_data, server) = self::server(&["--http-limits-max-form-fields", "3"]).await;
    let (status, body, _) = post_form(
        &server.url(TOKEN),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", "admin-cli"),
            ("username", "admin"),
            ("password", "admin"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error_description"],
        "Too many form parameters (the limit is 3)"
    );
}

#[tokio::test]
async fn a_client_sending_one_byte_a_second_is_cut_off_and_others_are_served() {
    let (_data, server) = server(&["--http-read-timeout", "2s"]).await;
    let a = addr(&server);

    // Headers, one byte a second: the connection is closed once the read timeout has passed.
    let mut slow = TcpStream::connect(&a).await.unwrap();
    slow.write_all(format!("GET {DISCOVERY} HTTP/1.1\r\nHost: {a}\r\n").as_bytes())
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        let mut closed = false;
        for _ in 0..120 {
            if slow.write_all(b"X").await.is_err() {
                closed = true;
                break;
            }
            let mut b = [0u8; 64];
            match tokio::time::timeout(Duration::from_secs(1), slow.read(&mut b)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                Ok(Ok(_)) => panic!("the server answered a request whose headers never ended"),
                Err(_) => {}
            }
        }
        closed
    });
    others_are_served(&server).await;
    assert!(
        trickle.await.unwrap(),
        "the slow connection was never closed"
    );

    // The body, one byte a second: 408 with a protocol error once the read timeout has passed.
    let mut slow = TcpStream::connect(&a).await.unwrap();
    slow.write_all(
        format!(
            "POST {TOKEN} HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (mut rd, mut wr) = slow.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..120 {
            if wr.write_all(b"a").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    others_are_served(&server).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while find(&out, b"}").is_none() {
        match tokio::time::timeout(GUARD, rd.read(&mut buf))
            .await
            .unwrap()
        {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    trickle.abort();
    let answer = String::from_utf8_lossy(&out);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = body_of(&answer);
    assert_eq!(body["error"], "invalid_request");
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("did not arrive within 2000 ms"));
}

#[tokio::test]
async fn connections_past_the_limit_get_503_with_retry_after() {
    let (_data, server) = server(&["--http-limits-max-connections", "3"]).await;
    let a = addr(&server);
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(&a).await.unwrap());
    }
    let mut extra = TcpStream::connect(&a).await.unwrap();
    let answer = read_answer(&mut extra).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert_eq!(body_of(&answer)["error"], "temporarily_unavailable");

    // A freed slot serves again.
    drop(idle.pop());
    let mut served = false;
    for _ in 0..100 {
        let mut s = TcpStream::connect(&a).await.unwrap();
        s.write_all(
            format!("GET {DISCOVERY} HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
        let answer = read_answer(&mut s).await;
        if answer.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a closed connection never freed its slot");
}

async fn token_attempt(
    server: &TestServer,
    client_id: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    post_form(
        &server.url(TOKEN),
        None,
        &[
            ("grant_type", "password"),
            ("client_id", client_id),
            ("username", "nobody"),
            ("password", "wrong"),
        ],
    )
    .await
}

#[tokio::test]
async fn the_token_endpoint_answers_429_past_the_rate_limit_per_address() {
    let (_data, server) = server(&["--http-rate-limit-per-ip", "5"]).await;
    for _ in 0..5 {
        let (status, body, _) = token_attempt(&server, "admin-cli").await;
        assert_ne!(status, 429, "{body}");
    }
    let (status, body, headers) = token_attempt(&server, "admin-cli").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_requests");
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    // Another client id from the same address is limited too, login forms as well.
    assert_eq!(token_attempt(&server, "other").await.0, 429);
    let r = client()
        .post(server.url("/realms/master/login-actions/authenticate"))
        .form(&[("username", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // Endpoints that check no credentials are not limited.
    others_are_served(&server).await;
}

#[tokio::test]
async fn the_rate_limit_per_client_counts_each_client_apart() {
    let (_data, server) = server(&["--http-rate-limit-per-client", "3"]).await;
    for _ in 0..3 {
        assert_ne!(token_attempt(&server, "admin-cli").await.0, 429);
    }
    let (status, body, headers) = token_attempt(&server, "admin-cli").await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"));
    // Basic authentication names the same client.
    let r = client()
        .post(server.url(TOKEN))
        .basic_auth("admin-cli", Some("x"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    // Another client is not affected.
    let (status, body, _) = token_attempt(&server, "security-admin-console").await;
    assert_ne!(status, 429, "{body}");
}

#[tokio::test]
async fn bad_limit_values_stop_the_server_with_the_option_named() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    for (flag, value) in [
        ("--http-limits-max-body-size", "lots"),
        ("--http-limits-max-header-size", "8K"),
        ("--http-read-timeout", "never"),
        ("--http-rate-limit-per-ip", "many"),
    ] {
        let err = TestServer::start(&data, "start-dev", &[flag, value], &[])
            .err()
            .unwrap_or_else(|| panic!("{flag} {value} was accepted"));
        assert!(err.contains(flag), "{flag}: {err}");
    }
}

#[tokio::test]
async fn the_https_listener_has_the_connection_limit_too() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert_path = data.dir.path().join("cert.pem");
    let key_path = data.dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let s = TestServer::start(
        &data,
        "start",
        &[
            "--hostname",
            "localhost",
            "--https-port",
            "0",
            "--https-certificate-file",
            cert_path.to_str().unwrap(),
            "--https-certificate-key-file",
            key_path.to_str().unwrap(),
            "--http-limits-max-connections",
            "1",
        ],
        &[("KC_BOOTSTRAP_ADMIN_PASSWORD", "pw")],
    )
    .unwrap();
    let addr = s.startup_line["https"].as_str().unwrap().to_string();
    let port = addr.rsplit(':').next().unwrap();
    let url = format!("https://localhost:{port}{DISCOVERY}");
    let tls_client = || {
        reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap(),
            )
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    };
    // The kernel completes an idle connection before the server's accept loop counts it: a
    // request racing ahead of that may still be served, so the refusal is awaited. Each try
    // opens a fresh idle connection first (the server drops one that never starts its
    // handshake after a while, which a stalled test could otherwise outwait).
    let mut idle = Vec::new();
    let mut refused = false;
    for _ in 0..100 {
        idle.push(TcpStream::connect(&addr).await.unwrap());
        if tls_client().get(&url).send().await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        refused,
        "a connection past the limit is closed before the handshake"
    );
    drop(idle);
    let mut served = false;
    for _ in 0..100 {
        if let Ok(r) = tls_client().get(&url).send().await {
            assert_eq!(r.status().as_u16(), 200);
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "a closed connection never freed its slot");
}

//! The full browser login as load, like `bench/login.mjs` but at a fraction of its CPU: GET the
//! authorization endpoint and follow its redirects to the login page (keeping cookies), POST
//! the credentials to the form's action (and, with an OTP secret, the TOTP code to the OTP
//! page) and follow the redirects to the redirect URI, then exchange the code at the token
//! endpoint (code + PKCE, client_secret_basic). A fresh cookie jar per login, N concurrent
//! workers for D seconds on one thread. Prints the steady rate of logins per second (see
//! below), all completed logins and the whole run's time, and latency percentiles of whole
//! logins, in `login.mjs`'s format.
//!
//! node's `fetch` costs about 7 ms of CPU per login; on a two-core machine the load generator
//! shares the host with the server it measures, so `bench/mfa.sh` uses this one (about a tenth
//! of that).
//!
//! ```text
//! cargo run --release --example login_load -- <authorization-endpoint> <token-endpoint> \
//!   <client_id> <client_secret> <redirect_uri> <user> <password> [workers=4] [seconds=10] [otp-secret]
//! ```

#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use portcullis::crypto::{b64, b64url, random_bytes};
use portcullis::users::otp::{totp, Algorithm};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, Method, Response, StatusCode};
use url::Url;

struct Target {
    auth: Url,
    token: Url,
    client_id: String,
    basic: String,
    redirect_uri: String,
    user: String,
    password: String,
    otp_secret: Option<String>,
}

#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn take(&mut self, res: &Response) {
        for c in res.headers().get_all(SET_COOKIE) {
            let Ok(c) = c.to_str() else { continue };
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                self.0.insert(k.trim().to_owned(), v.to_owned());
            }
        }
    }

    fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("; ")
    }
}

/// Where a visit ended: a page (its URL and body), or the redirect URI it was sent to.
enum Visit {
    Page(Url, String),
    Back(Url),
}

/// One request, then its redirects followed (GET, cookies kept) until a page, or until the
/// redirect URI, which is returned instead of fetched.
async fn visit(
    http: &Client,
    t: &Target,
    jar: &mut Jar,
    mut url: Url,
    form: Option<Vec<(&str, String)>>,
) -> Result<Visit, String> {
    let mut req = http.request(
        if form.is_some() {
            Method::POST
        } else {
            Method::GET
        },
        url.clone(),
    );
    req = req.header(COOKIE, jar.header());
    if let Some(f) = &form {
        req = req
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(f.iter().map(|(k, v)| (*k, v.as_str())))
                    .finish(),
            );
    }
    let mut res = req.send().await.map_err(|e| e.to_string())?;
    for _ in 0..10 {
        jar.take(&res);
        let location = res
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        match location {
            Some(l) if res.status().is_redirection() => {
                let _ = res.bytes().await;
                url = url.join(&l).map_err(|e| e.to_string())?;
                if url.as_str().starts_with(&t.redirect_uri) {
                    return Ok(Visit::Back(url));
                }
                res = http
                    .get(url.clone())
                    .header(COOKIE, jar.header())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
            }
            _ => {
                let status = res.status();
                let body = res.text().await.map_err(|e| e.to_string())?;
                if status != StatusCode::OK {
                    return Err(format!("{url}: {status}"));
                }
                return Ok(Visit::Page(url, body));
            }
        }
    }
    Err("too many redirects".into())
}

/// The value of the first `attr="..."` in `html` after `from`.
fn attr<'a>(html: &'a str, from: &str, attr: &str) -> Option<&'a str> {
    let start = html.find(from)?;
    let rest = &html[start..];
    let open = rest.find(&format!("{attr}=\""))? + attr.len() + 2;
    let len = rest[open..].find('"')?;
    Some(&rest[open..open + len])
}

/// The form of a page: its action, resolved against the page's URL, and its `session_code`.
fn form_of(url: &Url, html: &str) -> Result<(Url, Option<String>), String> {
    let action = attr(html, "<form", "action").ok_or("no form on the page")?;
    let action = url
        .join(&action.replace("&amp;", "&"))
        .map_err(|e| e.to_string())?;
    let code = attr(html, "name=\"session_code\"", "value").map(str::to_owned);
    Ok((action, code))
}

async fn login(http: &Client, t: &Target) -> Result<(), String> {
    let mut jar = Jar::default();
    let verifier = b64url(&random_bytes(32).map_err(|e| e.to_string())?);
    let challenge =
        b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref());
    let state = b64url(&random_bytes(8).map_err(|e| e.to_string())?);
    let mut auth = t.auth.clone();
    auth.query_pairs_mut()
        .append_pair("client_id", &t.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("redirect_uri", &t.redirect_uri)
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let Visit::Page(url, html) = visit(http, t, &mut jar, auth, None).await? else {
        return Err("no login page".into());
    };
    let (action, code) = form_of(&url, &html)?;
    let mut form = vec![
        ("username", t.user.clone()),
        ("password", t.password.clone()),
    ];
    if let Some(c) = code {
        form.push(("session_code", c));
    }
    let mut posted = visit(http, t, &mut jar, action, Some(form)).await?;
    if let Some(secret) = &t.otp_secret {
        let Visit::Page(url, html) = posted else {
            return Err("no OTP page".into());
        };
        if !html.contains("name=\"otp\"") {
            return Err("no OTP page".into());
        }
        let (action, code) = form_of(&url, &html)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|e| e.to_string())?
            .as_secs();
        let mut form = vec![("otp", totp(Algorithm::Sha1, secret.as_bytes(), now, 30, 6))];
        if let Some(c) = code {
            form.push(("session_code", c));
        }
        posted = visit(http, t, &mut jar, action, Some(form)).await?;
    }
    let Visit::Back(back) = posted else {
        return Err("the credentials did not lead back to the client".into());
    };
    let param = |name: &str| {
        back.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(format!("state mismatch: {back}"));
    }
    let code = param("code").ok_or("no code")?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &t.redirect_uri)
        .append_pair("code_verifier", &verifier)
        .finish();
    let res = http
        .post(t.token.clone())
        .header(AUTHORIZATION, &t.basic)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = res.status();
    let body = res.text().await.map_err(|e| e.to_string())?;
    if status != StatusCode::OK || !body.contains("\"access_token\"") {
        return Err(format!("token: {status} {body}"));
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 7 {
        eprintln!("usage: login_load <authorization-endpoint> <token-endpoint> <client_id> <client_secret> <redirect_uri> <user> <password> [workers] [seconds] [otp-secret]");
        std::process::exit(2);
    }
    let t = Target {
        auth: Url::parse(&args[0]).expect("authorization endpoint"),
        token: Url::parse(&args[1]).expect("token endpoint"),
        client_id: args[2].clone(),
        basic: format!(
            "Basic {}",
            b64(format!("{}:{}", args[2], args[3]).as_bytes())
        ),
        redirect_uri: args[4].clone(),
        user: args[5].clone(),
        password: args[6].clone(),
        otp_secret: args.get(9).filter(|s| !s.is_empty()).cloned(),
    };
    let workers: usize = args.get(7).map_or(4, |s| s.parse().expect("workers"));
    let seconds: f64 = args.get(8).map_or(10.0, |s| s.parse().expect("seconds"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (times, errors, elapsed, rate) = rt.block_on(async {
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let start = Instant::now();
        let end = start + Duration::from_secs_f64(seconds);
        let t = &t;
        let runs = (0..workers).map(|_| {
            let http = http.clone();
            async move {
                let (mut done, mut errors) = (Vec::new(), 0u64);
                while Instant::now() < end {
                    let began = Instant::now();
                    match login(&http, t).await {
                        Ok(()) => done.push((began, Instant::now())),
                        Err(e) => {
                            if errors == 0 {
                                eprintln!("{e}");
                            }
                            errors += 1;
                        }
                    }
                }
                (done, errors)
            }
        });
        let runs = futures::future::join_all(runs).await;
        let elapsed = start.elapsed().as_secs_f64();
        let done: Vec<(Instant, Instant)> =
            runs.iter().flat_map(|(d, _)| d.iter().copied()).collect();
        // The steady rate: logins completed between a tenth of the run (at most 1 s) and its
        // end, over that time. The logins in flight at either edge are the same number in a
        // steady state; the ramp-up of the first logins and the tail after the end (fewer
        // workers than at full load) are left out.
        let from = start + Duration::from_secs_f64((seconds / 10.0).min(1.0));
        let steady = done.iter().filter(|(_, e)| *e >= from && *e <= end).count();
        let rate = steady as f64 / end.duration_since(from).as_secs_f64();
        let mut times: Vec<f64> = done
            .iter()
            .map(|(b, e)| e.duration_since(*b).as_secs_f64() * 1e3)
            .collect();
        times.sort_by(f64::total_cmp);
        (
            times,
            runs.iter().map(|(_, e)| e).sum::<u64>(),
            elapsed,
            rate,
        )
    });
    let pct = |p: f64| {
        times
            .get(((p * times.len() as f64) as usize).min(times.len().saturating_sub(1)))
            .map_or("-".to_owned(), |v| format!("{v:.1}"))
    };
    println!(
        "logins/s {:.1}  ({} in {:.1} s, {} errors, {} workers)  p50 {} ms  p99 {} ms",
        rate,
        times.len(),
        elapsed,
        errors,
        workers,
        pct(0.5),
        pct(0.99)
    );
}

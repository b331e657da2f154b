//! HTTP integration: the axum extractor, GuardLayer on axum and on a plain tower service, the
//! require_* guards, the tenant header, and RFC 6750 responses.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, Response, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use portcullis_guard::{
    require_client_role, require_org, require_realm_role, require_scope, Actor, GuardLayer,
    Validator,
};
use serde_json::{json, Value};
use tower::ServiceExt as _;

use crate::support::{Fixture, AUD};

async fn me(actor: Actor) -> Json<Value> {
    Json(json!({"sub": actor.sub, "tenant": actor.tenant}))
}

async fn maybe_me(actor: Option<Actor>) -> String {
    actor.map_or_else(|| "anonymous".to_owned(), |a| a.sub)
}

async fn call(
    app: &Router,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Option<String>, String) {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get(header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const INVALID: Option<&str> = Some("Bearer error=\"invalid_token\"");
const INSUFFICIENT: Option<&str> = Some("Bearer error=\"insufficient_scope\"");

#[tokio::test]
async fn extractor_with_validator_in_state() {
    let f = Fixture::new().await;
    let app = Router::new()
        .route("/me", get(me))
        .route("/maybe", get(maybe_me))
        .with_state(f.validator());
    let token = f.token(&f.rsa);
    let auth = bearer(&token);

    let (status, _, body) = call(&app, "/me", &[("authorization", &auth)]).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["tenant"], "acme");

    // Missing credentials: 401 with a bare challenge (RFC 6750 §3.1: no error code).
    let (status, challenge, body) = call(&app, "/me", &[]).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );
    assert!(body.is_empty());
    let (status, challenge, _) = call(&app, "/me", &[("authorization", "Basic dTpw")]).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, Some("Bearer"))
    );

    // Bad tokens: 401 invalid_token, and the body says no more than that.
    let expired = f
        .idp
        .token("acme", &f.rsa)
        .claim("aud", AUD)
        .claim("exp", 1_000)
        .sign();
    for bad in [
        bearer("garbage"),
        bearer(&expired),
        bearer(&token[..token.len() - 4]),
    ] {
        let (status, challenge, body) = call(&app, "/me", &[("authorization", &bad)]).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (StatusCode::UNAUTHORIZED, INVALID)
        );
        assert_eq!(body, r#"{"error":"invalid_token"}"#);
    }

    // The tenant header must name the token's realm.
    let (status, ..) = call(
        &app,
        "/me",
        &[("authorization", &auth), ("x-tenant-id", "acme")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, challenge, body) = call(
        &app,
        "/me",
        &[("authorization", &auth), ("X-Tenant-Id", "globex")],
    )
    .await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::FORBIDDEN, INSUFFICIENT)
    );
    assert_eq!(body, r#"{"error":"insufficient_scope"}"#);
    let (status, ..) = call(
        &app,
        "/me",
        &[
            ("authorization", &auth),
            ("x-tenant-id", "acme"),
            ("x-tenant-id", "globex"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Option<Actor>: anonymous without a header, still refused with a bad token.
    let (status, _, body) = call(&app, "/maybe", &[]).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "anonymous"));
    let (status, ..) = call(&app, "/maybe", &[("authorization", "Bearer x")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tenant_header_check_can_be_renamed_or_disabled() {
    let f = Fixture::new().await;
    let auth = bearer(&f.token(&f.ec));
    let renamed = Arc::new(f.builder().tenant_header(Some("X-Realm")).build().unwrap());
    let app = Router::new().route("/me", get(me)).with_state(renamed);
    let (status, ..) = call(
        &app,
        "/me",
        &[("authorization", &auth), ("x-realm", "other")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, ..) = call(
        &app,
        "/me",
        &[("authorization", &auth), ("x-tenant-id", "other")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let off = Arc::new(f.builder().tenant_header(None).build().unwrap());
    let app = Router::new().route("/me", get(me)).with_state(off);
    let (status, ..) = call(
        &app,
        "/me",
        &[("authorization", &auth), ("x-tenant-id", "other")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn guard_layer_and_require_guards() {
    let f = Fixture::new().await;
    let v = f.validator();
    let ok = || async { "ok" };
    let app = Router::new()
        .route("/admin", get(ok).route_layer(require_realm_role("admin")))
        .route(
            "/refund",
            get(ok).route_layer(require_client_role(AUD, "refund")),
        )
        .route("/read", get(ok).route_layer(require_scope("orders:read")))
        .route("/acme-corp", get(ok).route_layer(require_org("acme-corp")))
        .route("/me", get(me))
        .layer(GuardLayer::new(v.clone()))
        .with_state(v);

    let plain = bearer(&f.token(&f.rsa));
    let rich = bearer(
        &f.idp
            .token("acme", &f.ed)
            .claim("aud", AUD)
            .claim("realm_access", json!({"roles": ["admin"]}))
            .claim("resource_access", json!({AUD: {"roles": ["refund"]}}))
            .claim("scope", "openid orders:read")
            .claim("organization", json!(["acme-corp"]))
            .sign(),
    );
    for path in ["/admin", "/refund", "/read", "/acme-corp"] {
        let (status, challenge, body) = call(&app, path, &[("authorization", &plain)]).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (StatusCode::FORBIDDEN, INSUFFICIENT),
            "{path}"
        );
        assert!(body.is_empty(), "{path}: {body}");
        let (status, _, body) = call(&app, path, &[("authorization", &rich)]).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"), "{path}");
        let (status, challenge, _) = call(&app, path, &[]).await;
        assert_eq!(
            (status, challenge.as_deref()),
            (StatusCode::UNAUTHORIZED, Some("Bearer"))
        );
    }
    // The extractor reuses the layer's actor.
    let (status, ..) = call(&app, "/me", &[("authorization", &rich)]).await;
    assert_eq!(status, StatusCode::OK);
    // The layer checks the tenant header too.
    let (status, ..) = call(
        &app,
        "/me",
        &[("authorization", &rich), ("x-tenant-id", "x")],
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A bad token never reaches the guards or the handler.
    let (status, challenge, _) = call(&app, "/admin", &[("authorization", "Bearer a.b.c")]).await;
    assert_eq!(
        (status, challenge.as_deref()),
        (StatusCode::UNAUTHORIZED, INVALID)
    );
}

#[tokio::test]
async fn a_guard_without_authentication_fails_closed() {
    let app: Router = Router::new().route(
        "/admin",
        get(|| async { "ok" }).route_layer(require_realm_role("admin")),
    );
    let (status, ..) = call(&app, "/admin", &[("authorization", "Bearer x.y.z")]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn guard_layer_on_a_plain_tower_service() {
    let f = Fixture::new().await;
    let v: Arc<Validator> = f.validator();
    let svc = tower::ServiceBuilder::new()
        .layer(GuardLayer::new(v))
        .service_fn(|req: Request<()>| async move {
            let actor = req.extensions().get::<Actor>().cloned();
            Ok::<_, Infallible>(Response::new(actor.map(|a| a.sub).unwrap_or_default()))
        });
    let token = f.token(&f.rsa);
    let req = Request::get("/")
        .header("authorization", bearer(&token))
        .body(())
        .unwrap();
    let resp = svc.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(!resp.body().is_empty());

    let resp = svc
        .clone()
        .oneshot(Request::get("/").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert!(resp.body().is_empty());
}

//! The `openidconnect` crate (a certified Rust relying party) against a real Portcullis:
//! discovery, the authorization code flow with PKCE and a nonce through the login page, the ID
//! token verified with the realm's JWKS, userinfo, and the password grant.

use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, ResourceOwnerPassword, ResourceOwnerUsername, Scope,
    TokenResponse,
};
use serde_json::json;

use crate::support::{browser, login, start_with, Backend, Data};

fn realm() -> serde_json::Value {
    json!({
        "realm": "rp",
        "clients": [{"clientId": "rp-app", "secret": "rp-secret", "directAccessGrantsEnabled": true,
                     "redirectUris": ["http://localhost:3000/cb"], "attributes": {"pkce.code.challenge.method": "S256"}}],
        "users": [{"username": "alice", "email": "alice@example.com", "emailVerified": true, "firstName": "Alice", "lastName": "Liddell",
                   "enabled": true, "credentials": [{"type": "password", "value": "alice-pw"}]}]
    })
}

#[tokio::test]
async fn openidconnect_crate_code_flow_userinfo_and_password_grant() {
    let data = Data::new(Backend::Sqlite).await.unwrap();
    let server = start_with(&data, &[realm()]).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(server.url("/realms/rp")).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http)
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("rp-app".into()),
        Some(ClientSecret::new("rp-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new("http://localhost:3000/cb".into()).unwrap());

    // Code flow with PKCE and a nonce, the user signing in on the login page.
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let b = browser();
    let (status, _, params) = login(&b, &server, auth_url.as_str(), "alice", "alice-pw").await;
    assert_eq!(status, 302);
    assert_eq!(
        params.get("state").map(String::as_str),
        Some(csrf.secret().as_str())
    );
    let code = params.get("code").expect("a code").clone();
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &nonce)
        .unwrap();
    assert_eq!(claims.issuer(), &issuer);
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    // `at_hash` binds the access token to the ID token; the crate checks it when asked.
    let at_hash = claims.access_token_hash().expect("at_hash");
    let expected = openidconnect::AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&client.id_token_verifier()).unwrap(),
    )
    .unwrap();
    assert_eq!(at_hash, &expected);

    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), None)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));

    // Password grant: the ID token verifies too.
    let tokens = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new("alice-pw".into()),
        )
        .unwrap()
        .add_scope(Scope::new("openid".into()))
        .request_async(&http)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| Ok(()))
        .unwrap();
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    // A wrong password is an error the crate reports as the server's `invalid_grant`.
    let err = client
        .exchange_password(
            &ResourceOwnerUsername::new("alice".into()),
            &ResourceOwnerPassword::new("wrong".into()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    data.cleanup().await;
}

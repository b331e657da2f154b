//! /admin/realms/{realm}/clients/{id}/certificates/{attr}[/generate|/upload|/upload-certificate|/download]
//!
//! Keycloak's `ClientAttributeCertificateResource` with `CertificateInfoHelper`: the key
//! material a client keeps in its attributes under a prefix (`jwt.credential` for
//! `private_key_jwt`): `{attr}.certificate` (base64 DER X.509), `{attr}.public.key`,
//! `{attr}.private.key` (base64 PKCS#8) and `{attr}.kid`, or, for OIDC clients, a JWK Set in
//! `jwks.string` with `use.jwks.string`. The client authenticator reads the same attributes
//! (`realm/client_keys.rs`), so an upload takes effect at the next client assertion.
//!
//! Uploads take `Certificate PEM`, `Public Key PEM` and `JSON Web Key Set`; Java keystores
//! (`JKS`, `PKCS12`) are refused with a 400 naming the format, and so is the keystore
//! download, which Keycloak offers in those formats only.

use std::collections::HashMap;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::auth::{ManageClient, RealmAdmin, ViewClient};
use super::{edit_realm, AdminError, AdminResult};
use crate::crypto::{b64, client_cert, client_key};
use crate::http::paths;
use crate::realm::edit;
use crate::representation::ClientRepresentation;
use crate::AppState;

/// `keystoreFormat` of an uploaded certificate in PEM.
pub const CERTIFICATE_PEM: &str = "Certificate PEM";
/// `keystoreFormat` of an uploaded public key in PEM.
pub const PUBLIC_KEY_PEM: &str = "Public Key PEM";
/// `keystoreFormat` of an uploaded JWK Set.
pub const JSON_WEB_KEY_SET: &str = "JSON Web Key Set";

/// Keycloak's `CertificateRepresentation` (absent members are left out).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateInfo {
    /// Base64 PKCS#8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
    /// Base64 SubjectPublicKeyInfo (as uploaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Base64 DER X.509.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    /// Key id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// A JWK Set (JSON text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
}

fn attr<'a>(c: &'a ClientRepresentation, name: &str) -> Option<&'a str> {
    c.attributes.as_ref()?.get(name)?.as_str()
}

fn set_or_remove(c: &mut ClientRepresentation, name: &str, value: Option<&str>) {
    match value {
        Some(v) => {
            c.attributes
                .get_or_insert_with(Default::default)
                .insert(name.to_string(), json!(v));
        }
        None => {
            if let Some(a) = c.attributes.as_mut() {
                a.shift_remove(name);
            }
        }
    }
}

fn is_oidc(c: &ClientRepresentation) -> bool {
    c.protocol.as_deref().is_none_or(|p| p == "openid-connect")
}

/// `CertificateInfoHelper.getCertificateFromClient`: the JWK Set of an OIDC client using one,
/// else the four prefixed attributes.
pub fn info_of(c: &ClientRepresentation, prefix: &str) -> AdminResult<CertificateInfo> {
    if is_oidc(c) && attr(c, "use.jwks.string") == Some("true") {
        return jwks_info(attr(c, "jwks.string").unwrap_or_default());
    }
    let get = |suffix: &str| attr(c, &format!("{prefix}.{suffix}")).map(str::to_string);
    Ok(CertificateInfo {
        private_key: get("private.key"),
        public_key: get("public.key"),
        certificate: get("certificate"),
        kid: get("kid"),
        jwks: None,
    })
}

/// `jwksStringToSigCertificateRepresentation`: a JWK Set with a signature key (`use: sig`)
/// that clients can sign with; its `kid`. (Keycloak also answers the key as a PEM public
/// key; Portcullis leaves `publicKey` out.)
fn jwks_info(jwks: &str) -> AdminResult<CertificateInfo> {
    let not_found = || {
        AdminError::Policy(
            "certificate-not-found".into(),
            "Certificate or key with given alias not found in the keystore".into(),
        )
    };
    let set: Value = serde_json::from_str(jwks).map_err(|_| not_found())?;
    let key = client_key::signature_keys(&set, false)
        .into_iter()
        .next()
        .ok_or_else(not_found)?;
    Ok(CertificateInfo {
        kid: key.kid,
        jwks: Some(jwks.to_string()),
        ..Default::default()
    })
}

/// `updateClientModelCertificateInfo` (a certificate or a public key, not both or neither;
/// the other attributes follow the info, a JWK Set in use is dropped) or, for a JWK Set,
/// `updateClientModelJwksString`.
pub fn store(
    c: &mut ClientRepresentation,
    prefix: &str,
    info: &CertificateInfo,
) -> AdminResult<()> {
    let name = |suffix: &str| format!("{prefix}.{suffix}");
    if let Some(jwks) = &info.jwks {
        if !is_oidc(c) {
            return Err(AdminError::Policy(
                "certificate-not-found".into(),
                "Certificate or key with given alias not found in the keystore".into(),
            ));
        }
        for s in ["private.key", "public.key", "certificate", "kid"] {
            set_or_remove(c, &name(s), None);
        }
        set_or_remove(c, "use.jwks.string", Some("true"));
        set_or_remove(c, "jwks.string", Some(jwks));
        return Ok(());
    }
    if info.public_key.is_some() == info.certificate.is_some() {
        return Err(AdminError::Policy(
            "certificate-not-found".into(),
            "Certificate or key with given alias not found in the keystore".into(),
        ));
    }
    set_or_remove(c, &name("private.key"), info.private_key.as_deref());
    set_or_remove(c, &name("public.key"), info.public_key.as_deref());
    set_or_remove(c, &name("certificate"), info.certificate.as_deref());
    set_or_remove(c, &name("kid"), info.kid.as_deref());
    if is_oidc(c) {
        set_or_remove(c, "use.jwks.string", None);
        set_or_remove(c, "jwks.string", None);
    }
    Ok(())
}

/// `CertificateInfoHelper.getCertificateFromRequest` for the formats Portcullis reads: the
/// key material of the multipart fields `keystoreFormat` and `file`, checked.
pub fn from_upload(fields: &HashMap<String, Bytes>) -> AdminResult<CertificateInfo> {
    let text = |name: &str| {
        fields
            .get(name)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    };
    let format = text("keystoreFormat")
        .ok_or_else(|| AdminError::Plain("keystoreFormat cannot be null".into()))?;
    let file = text("file")
        .filter(|f| !f.is_empty())
        .ok_or_else(|| AdminError::Plain("file cannot be empty".into()))?;
    match format.as_str() {
        CERTIFICATE_PEM => {
            let body = client_cert::remove_begin_end(&file);
            client_cert::check_certificate(&body)
                .map_err(|e| AdminError::Plain(format!("invalid certificate: {}", e.0)))?;
            Ok(CertificateInfo {
                certificate: Some(body),
                ..Default::default()
            })
        }
        PUBLIC_KEY_PEM => {
            client_cert::check_public_key(&file)
                .map_err(|e| AdminError::Plain(format!("invalid public key: {}", e.0)))?;
            Ok(CertificateInfo {
                public_key: Some(file),
                ..Default::default()
            })
        }
        JSON_WEB_KEY_SET => jwks_info(&file),
        other => Err(AdminError::Plain(format!(
            "keystore format {other:?} is not supported: upload a {CERTIFICATE_PEM:?}, \
             {PUBLIC_KEY_PEM:?} or {JSON_WEB_KEY_SET:?}"
        ))),
    }
}

/// The client `id` of the path, or 404 `Could not find client`.
fn client<'a>(
    rep: &'a crate::representation::RealmRepresentation,
    id: &str,
) -> AdminResult<&'a ClientRepresentation> {
    edit::client(rep, id).ok_or_else(|| AdminError::not_found("Could not find client"))
}

/// `GET .../certificates/{attr}`.
pub async fn info(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id, prefix)): Path<(String, String, String)>,
) -> AdminResult<Json<CertificateInfo>> {
    info_of(client(&snap.rep, &id)?, &prefix).map(Json)
}

/// Stores `info` on client `id` and answers it.
async fn save(
    state: &AppState,
    realm: &str,
    id: &str,
    prefix: &str,
    info: CertificateInfo,
) -> AdminResult<Json<CertificateInfo>> {
    edit_realm(state, realm, |rep, _| {
        let c = edit::client_mut(rep, id)
            .ok_or_else(|| AdminError::not_found("Could not find client"))?;
        store(c, prefix, &info)
    })
    .await?;
    Ok(Json(info))
}

/// `POST .../certificates/{attr}/generate`: a new RSA key pair and a self-signed certificate
/// for `CN=<clientId>`, both kept on the client and answered.
pub async fn generate(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id, prefix)): Path<(String, String, String)>,
) -> AdminResult<Json<CertificateInfo>> {
    let c = client(&snap.rep, &id)?;
    let cn = c.client_id.clone().unwrap_or_default();
    let (pkcs8, cert) = client_cert::generate_rsa(&cn)?;
    let info = CertificateInfo {
        private_key: Some(b64(&pkcs8)),
        certificate: Some(b64(&cert)),
        ..Default::default()
    };
    save(&state, &snap.name, &id, &prefix, info).await
}

/// The first value of each multipart field.
async fn fields(mp: Result<Multipart, MultipartRejection>) -> AdminResult<HashMap<String, Bytes>> {
    let bad = |e: String| AdminError::Plain(format!("invalid multipart/form-data body: {e}"));
    let mut mp = mp.map_err(|e| bad(e.body_text()))?;
    let mut out = HashMap::new();
    while let Some(field) = mp.next_field().await.map_err(|e| bad(e.body_text()))? {
        let name = field.name().unwrap_or_default().to_string();
        let data = field.bytes().await.map_err(|e| bad(e.body_text()))?;
        out.entry(name).or_insert(data);
    }
    Ok(out)
}

/// `POST .../certificates/{attr}/upload` and `.../upload-certificate` (Keycloak 26 treats
/// them alike): the uploaded certificate, public key or JWK Set replaces the client's key
/// material (a private key kept before is dropped).
pub async fn upload(
    State(state): State<AppState>,
    RealmAdmin { snap, .. }: RealmAdmin<ManageClient>,
    Path((_, id, prefix)): Path<(String, String, String)>,
    mp: Result<Multipart, MultipartRejection>,
) -> AdminResult<Json<CertificateInfo>> {
    client(&snap.rep, &id)?;
    let info = from_upload(&fields(mp).await?)?;
    save(&state, &snap.name, &id, &prefix, info).await
}

/// Keycloak's `KeyStoreConfig`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStoreConfig {
    /// `JKS` or `PKCS12`.
    pub format: Option<String>,
    /// Alias of the client's entry.
    pub key_alias: Option<String>,
    /// Password of the private key entry.
    pub key_password: Option<String>,
    /// Password of the store.
    pub store_password: Option<String>,
    /// Whether to add the realm's certificate.
    pub realm_certificate: Option<bool>,
    /// Alias of the realm's certificate.
    pub realm_alias: Option<String>,
}

/// `POST .../certificates/{attr}/download`: Keycloak's checks in its order (406 for a format
/// other than `JKS`/`PKCS12`, 404 without key material, 400 without the passwords), then a
/// 400 naming the keystore format, which this server does not write.
pub async fn download(
    RealmAdmin { snap, .. }: RealmAdmin<ViewClient>,
    Path((_, id, prefix)): Path<(String, String, String)>,
    b: axum::body::Bytes,
) -> AdminResult<Response> {
    let c = client(&snap.rep, &id)?;
    let config: KeyStoreConfig =
        super::representation(&b, &super::Shape::One(&super::jackson::KEY_STORE_CONFIG))?;
    if let Some(f) = config.format.as_deref() {
        if f != "JKS" && f != "PKCS12" {
            return Ok((
                StatusCode::NOT_ACCEPTABLE,
                Json(json!({"error": "Only support jks or pkcs12 format."})),
            )
                .into_response());
        }
    }
    let private = attr(c, &format!("{prefix}.private.key"));
    let cert = attr(c, &format!("{prefix}.certificate"));
    if private.is_none() && cert.is_none() {
        return Err(AdminError::not_found("keypair not generated for client"));
    }
    if private.is_some() && config.key_password.is_none() {
        return Err(AdminError::Plain(
            "Need to specify a key password for jks download".into(),
        ));
    }
    if config.store_password.is_none() {
        return Err(AdminError::Plain(
            "Need to specify a store password for jks download".into(),
        ));
    }
    Err(AdminError::Plain(format!(
        "keystore format {:?} is not supported: this server keeps the client's key and \
         certificate as base64 DER, readable at GET .../certificates/{prefix}",
        config.format.as_deref().unwrap_or("(none)")
    )))
}

/// The routes of this resource.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::ADMIN_CLIENT_CERTIFICATE, get(info))
        .route(paths::ADMIN_CLIENT_CERTIFICATE_GENERATE, post(generate))
        .route(paths::ADMIN_CLIENT_CERTIFICATE_UPLOAD, post(upload))
        .route(
            paths::ADMIN_CLIENT_CERTIFICATE_UPLOAD_CERTIFICATE,
            post(upload),
        )
        .route(paths::ADMIN_CLIENT_CERTIFICATE_DOWNLOAD, post(download))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, Bytes> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Bytes::from(v.to_string())))
            .collect()
    }

    fn pem(der: &[u8]) -> String {
        let b = b64(der);
        let lines: Vec<&str> = b
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    #[test]
    fn a_pem_certificate_is_kept_as_its_base64_body() {
        let (_, cert) = client_cert::generate_rsa("c").unwrap();
        let info = from_upload(&form(&[
            ("keystoreFormat", CERTIFICATE_PEM),
            ("file", &pem(&cert)),
        ]))
        .unwrap();
        assert_eq!(info.certificate.as_deref(), Some(b64(&cert).as_str()));
        assert_eq!(info.private_key, None);
    }

    #[test]
    fn bad_uploads_are_refused_naming_the_problem() {
        let err = |pairs: &[(&str, &str)]| match from_upload(&form(pairs)) {
            Err(AdminError::Plain(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(err(&[("file", "x")]), "keystoreFormat cannot be null");
        assert_eq!(
            err(&[("keystoreFormat", CERTIFICATE_PEM), ("file", "")]),
            "file cannot be empty"
        );
        assert!(
            err(&[("keystoreFormat", CERTIFICATE_PEM), ("file", "QUJD")])
                .starts_with("invalid certificate")
        );
        assert!(err(&[("keystoreFormat", PUBLIC_KEY_PEM), ("file", "QUJD")])
            .starts_with("invalid public key"));
        assert!(
            err(&[("keystoreFormat", "JKS"), ("file", "x")]).contains("\"JKS\" is not supported")
        );
        assert!(matches!(
            from_upload(&form(&[
                ("keystoreFormat", JSON_WEB_KEY_SET),
                ("file", "{\"keys\":[]}")
            ])),
            Err(AdminError::Policy(..))
        ));
    }

    #[test]
    fn storing_a_certificate_replaces_the_other_material_and_a_jwks_in_use() {
        let mut c: ClientRepresentation = serde_json::from_value(json!({
            "clientId": "c",
            "attributes": {"jwt.credential.private.key": "old", "jwt.credential.kid": "k",
                           "use.jwks.string": "true", "jwks.string": "{}", "other": "kept"}
        }))
        .unwrap();
        let info = CertificateInfo {
            certificate: Some("Q0VSVA==".into()),
            ..Default::default()
        };
        store(&mut c, "jwt.credential", &info).unwrap();
        let attrs = serde_json::to_value(&c.attributes).unwrap();
        assert_eq!(
            attrs,
            json!({"other": "kept", "jwt.credential.certificate": "Q0VSVA=="})
        );
        assert_eq!(info_of(&c, "jwt.credential").unwrap(), info);
        // Neither a certificate nor a key: refused, nothing changed.
        assert!(store(&mut c, "jwt.credential", &CertificateInfo::default()).is_err());
        assert_eq!(serde_json::to_value(&c.attributes).unwrap(), attrs);
    }
}

//! Configuration from the environment.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PORTCULLIS_URL` | `http://localhost:8080` | where the service reaches Portcullis (Admin API, token endpoint) |
//! | `PORTCULLIS_ISSUER_BASE` | `PORTCULLIS_URL` | the base of `iss` in tokens, when clients reach Portcullis under another name |
//! | `ADMIN_REALM` | `master` | realm of the provisioning client (only master-realm accounts may create realms, as in Keycloak) |
//! | `ADMIN_CLIENT_ID` | `tenant-provisioner` | confidential client whose service account creates realms |
//! | `ADMIN_CLIENT_SECRET` | (required) | its secret |
//! | `PLATFORM_CLIENT_ID` | `platform-services` | client of the `platform` realm that `seed-demo` acts as |
//! | `PLATFORM_CLIENT_SECRET` | (required by `seed-demo`) | its secret |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/tenants` | PostgreSQL |
//! | `DATABASE_SCHEMA` | (the URL's default) | schema of the service's tables, created if missing |
//! | `HOST`, `PORT` | `127.0.0.1`, `3100` | where to listen; port `0` picks a free one |
//! | `INSECURE_ALLOW_HTTP_ISSUER` | `false` | trust an `http://` issuer on a non-loopback host |

use crate::portcullis::AdminCredentials;

/// The service's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Portcullis, as this service reaches it.
    pub portcullis_url: String,
    /// The base of issuers in tokens.
    pub issuer_base: String,
    /// The provisioning client.
    pub admin_credentials: AdminCredentials,
    /// The platform client `seed-demo` uses (id, secret).
    pub platform_client: (String, Option<String>),
    /// PostgreSQL.
    pub database_url: String,
    /// Its schema.
    pub database_schema: Option<String>,
    /// Listen address.
    pub host: String,
    /// Listen port.
    pub port: u16,
    /// Trust `http://` issuers on non-loopback hosts.
    pub insecure_allow_http_issuer: bool,
}

impl Config {
    /// Reads the configuration through `var` (the environment in `main`); the error names the
    /// variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let or = |name: &str, default: &str| var(name).unwrap_or_else(|| default.to_owned());
        let portcullis_url = or("PORTCULLIS_URL", "http://localhost:8080")
            .trim_end_matches('/')
            .to_owned();
        let port = or("PORT", "3100")
            .parse()
            .map_err(|e| format!("PORT: {e}"))?;
        let insecure = match or("INSECURE_ALLOW_HTTP_ISSUER", "false").as_str() {
            "true" | "1" => true,
            "false" | "0" => false,
            other => {
                return Err(format!(
                    "INSECURE_ALLOW_HTTP_ISSUER: {other:?} is not true/false"
                ))
            }
        };
        Ok(Config {
            issuer_base: var("PORTCULLIS_ISSUER_BASE")
                .map(|b| b.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| portcullis_url.clone()),
            admin_credentials: AdminCredentials {
                realm: or("ADMIN_REALM", "master"),
                client_id: or("ADMIN_CLIENT_ID", "tenant-provisioner"),
                client_secret: var("ADMIN_CLIENT_SECRET")
                    .ok_or("ADMIN_CLIENT_SECRET is required (the provisioning client's secret)")?,
            },
            platform_client: (
                or("PLATFORM_CLIENT_ID", "platform-services"),
                var("PLATFORM_CLIENT_SECRET"),
            ),
            portcullis_url,
            database_url: or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tenants"),
            database_schema: var("DATABASE_SCHEMA"),
            host: or("HOST", "127.0.0.1"),
            port,
            insecure_allow_http_issuer: insecure,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_required() {
        let err = Config::from_vars(|_| None).unwrap_err();
        assert!(err.contains("ADMIN_CLIENT_SECRET"));
        let c = Config::from_vars(|k| (k == "ADMIN_CLIENT_SECRET").then(|| "s".to_owned()))
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(c.issuer_base, "http://localhost:8080");
        assert_eq!(c.admin_credentials.realm, "master");
        assert_eq!(c.port, 3100);
        let bad = Config::from_vars(|k| match k {
            "ADMIN_CLIENT_SECRET" => Some("s".into()),
            "PORT" => Some("x".into()),
            _ => None,
        });
        assert!(bad.unwrap_err().starts_with("PORT"));
    }
}

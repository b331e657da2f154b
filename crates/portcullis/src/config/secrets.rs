//! Where the key-encryption key (KEK) that seals secrets at rest comes from: a file
//! (`--secrets-kek-file`), an environment variable (`PORTCULLIS_SECRETS_KEK`), or Keycloak's
//! file vault (`--vault-dir`, file [`VAULT_FILE`]); plus the KEKs that only open values
//! during a rotation (`--secrets-kek-accept-files`). See `docs/secrets.md`.

use std::path::Path;
use std::sync::Arc;

use super::{ConfigError, Lookup};
use crate::crypto::seal::{Kek, Sealer};

/// The KEK's file in a vault directory. Keycloak's file vault names a realm's secret
/// `<realm>_<key>`; the KEK is the server's, so it is the master realm's `portcullis-kek`.
pub const VAULT_FILE: &str = "master_portcullis-kek";

/// Reads one KEK file.
pub fn read_kek_file(option: &str, path: &Path) -> Result<Kek, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "option '--{option}': cannot read {}: {e}",
            path.display()
        ))
    })?;
    Kek::parse(&text)
        .map_err(|e| ConfigError(format!("option '--{option}' ({}): {e}", path.display())))
}

/// The process's sealer: sealing with the configured KEK, if any.
pub(super) fn sealer(o: &Lookup<'_>) -> Result<Arc<Sealer>, ConfigError> {
    let file = o.get("secrets-kek-file");
    let inline = o.get("secrets-kek");
    let vault = o
        .get("vault-dir")
        .map(|d| Path::new(&d).join(VAULT_FILE))
        .filter(|p| p.is_file());
    let current = match (file, inline) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(
                "set the key-encryption key once: '--secrets-kek-file' or 'secrets-kek' (PORTCULLIS_SECRETS_KEK), not both"
                    .into(),
            ))
        }
        (Some(f), None) => Some(read_kek_file("secrets-kek-file", Path::new(&f))?),
        (None, Some(k)) => Some(Kek::parse(&k).map_err(|e| {
            ConfigError(format!("option 'secrets-kek' (PORTCULLIS_SECRETS_KEK): {e}"))
        })?),
        (None, None) => match vault {
            Some(p) => Some(read_kek_file("vault-dir", &p)?),
            None => None,
        },
    };
    let accepted = o
        .get("secrets-kek-accept-files")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(|f| read_kek_file("secrets-kek-accept-files", Path::new(f)))
                .collect::<Result<Vec<Kek>, _>>()
        })
        .transpose()?
        .unwrap_or_default();
    Ok(Arc::new(match current {
        Some(k) => Sealer::new(k, accepted),
        None if accepted.is_empty() => Sealer::clear(),
        None => {
            return Err(ConfigError(
                "'--secrets-kek-accept-files' needs a sealing key: '--secrets-kek-file', PORTCULLIS_SECRETS_KEK or the vault file"
                    .into(),
            ))
        }
    }))
}

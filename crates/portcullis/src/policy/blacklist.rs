//! Password blacklist files for the `passwordBlacklist(<file name>)` policy, as Keycloak's
//! `BlacklistPasswordPolicyProviderFactory` reads them: one password per line, in a file of
//! the blacklists directory (`--spi-password-policy--password-blacklist--blacklists-path`,
//! default `<data-dir>/password-blacklists/`, Keycloak's `${kc.home.dir}/data/password-blacklists/`),
//! compared lower-cased.
//!
//! Each file is loaded once per process, on first use, and shared by every realm naming it
//! (later edits of the file need a restart, as in Keycloak). Keycloak keeps a Bloom filter
//! (false positive probability 0.0001); this keeps the exact lines, sorted in one buffer with
//! a 4-byte offset per line, so a list of ten million passwords costs its own size plus
//! 40 MB and never refuses a password by mistake.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// One loaded blacklist.
pub struct Blacklist {
    name: String,
    /// The distinct lower-cased lines, sorted, concatenated.
    data: String,
    /// End offset in `data` of each line.
    ends: Vec<u32>,
}

impl std::fmt::Debug for Blacklist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Blacklist({}, {} passwords)", self.name, self.ends.len())
    }
}

impl PartialEq for Blacklist {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.ends == other.ends && self.data == other.data
    }
}

impl Eq for Blacklist {}

impl Blacklist {
    /// Builds a list from a file's text: every line lower-cased (empty lines skipped).
    pub fn from_text(name: &str, text: &str) -> Result<Blacklist, String> {
        let lowered = text.to_lowercase();
        let mut lines: Vec<&str> = lowered.lines().filter(|l| !l.is_empty()).collect();
        lines.sort_unstable();
        lines.dedup();
        let total: usize = lines.iter().map(|l| l.len()).sum();
        if u32::try_from(total).is_err() {
            return Err(format!("Password blacklist {name} is too large"));
        }
        let mut data = String::with_capacity(total);
        let mut ends = Vec::with_capacity(lines.len());
        for l in lines {
            data.push_str(l);
            ends.push(data.len() as u32);
        }
        Ok(Blacklist {
            name: name.to_string(),
            data,
            ends,
        })
    }

    /// The file name it was loaded from.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of distinct passwords.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn line(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.data[start..self.ends[i] as usize]
    }

    /// Whether the password, lower-cased, is on the list (Keycloak's
    /// `BlacklistPasswordPolicyProvider`: `blacklist.contains(password.toLowerCase())`).
    pub fn contains(&self, password: &str) -> bool {
        let wanted = password.to_lowercase();
        let (mut lo, mut hi) = (0usize, self.ends.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.line(mid).cmp(wanted.as_str()) {
                std::cmp::Ordering::Equal => return true,
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        false
    }
}

type Slot = Arc<tokio::sync::OnceCell<Arc<Blacklist>>>;

/// The blacklists directory and the lists loaded from it.
#[derive(Default)]
pub struct Blacklists {
    dir: Option<PathBuf>,
    lists: Mutex<HashMap<String, Slot>>,
}

impl std::fmt::Debug for Blacklists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blacklists")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Blacklists {
    /// Lists are looked up in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Blacklists {
            dir: Some(dir),
            lists: Mutex::default(),
        }
    }

    /// The list of a policy's `passwordBlacklist(<name>)`, loaded on first use (off the async
    /// workers; concurrent first uses share one load). The errors are Keycloak's texts.
    pub async fn resolve(&self, name: &str) -> Result<Arc<Blacklist>, String> {
        let name = name.trim();
        if name.is_empty() {
            return Err("Password blacklist name must not be empty!".into());
        }
        // Keycloak refuses '/' (no path traversal); '\' and dot names are refused too.
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(format!("{name} must not contain slashes!"));
        }
        let dir = self
            .dir
            .clone()
            .ok_or_else(|| "Password blacklists location is not configured".to_string())?;
        let slot: Slot = {
            let mut lists = self
                .lists
                .lock()
                .map_err(|_| "password blacklist registry unavailable".to_string())?;
            lists.entry(name.to_string()).or_default().clone()
        };
        let list = slot
            .get_or_try_init(|| async {
                let name = name.to_string();
                tokio::task::spawn_blocking(move || load(&dir, &name))
                    .await
                    .map_err(|_| "Loading blacklist failed".to_string())?
                    .map(Arc::new)
            })
            .await?;
        Ok(list.clone())
    }
}

fn load(dir: &std::path::Path, name: &str) -> Result<Blacklist, String> {
    // Keycloak creates its default directory and refuses a configured one that is missing
    // ("Password blacklists location does not exist"); either way the file is not there.
    if !dir.is_dir() {
        return Err(format!(
            "Password blacklist {name} not found! (the blacklists directory {} does not exist)",
            dir.display()
        ));
    }
    let path = dir.join(name);
    if !path.is_file() {
        return Err(format!("Password blacklist {name} not found!"));
    }
    let started = std::time::Instant::now();
    let bytes = std::fs::read(&path).map_err(|e| {
        tracing::error!(path = %path.display(), error = %e, "cannot read a password blacklist");
        format!("Loading blacklist failed: Could not load password blacklist {name}")
    })?;
    // Leaked-password lists are not always valid UTF-8; such lines cannot equal a password
    // typed as UTF-8, so a lossy read loses nothing.
    let list = Blacklist::from_text(name, &String::from_utf8_lossy(&bytes))?;
    tracing::info!(
        name,
        passwords = list.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "loaded password blacklist"
    );
    Ok(list)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_exact_and_case_insensitive() {
        let l =
            Blacklist::from_text("t", "Password1\nletmein\r\n\nqwerty\nLETMEIN\nÄrger\n").unwrap();
        assert_eq!(l.len(), 4);
        for p in [
            "password1",
            "PASSWORD1",
            "LetMeIn",
            "qwerty",
            "ärger",
            "ÄRGER",
        ] {
            assert!(l.contains(p), "{p}");
        }
        for p in ["password", "password12", "", "qwert", "zzz", "aaa"] {
            assert!(!l.contains(p), "{p}");
        }
        assert!(!Blacklist::from_text("e", "").unwrap().contains("x"));
    }

    #[tokio::test]
    async fn files_load_once_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("top.txt"), "hunter2\n").unwrap();
        let reg = Blacklists::new(dir.path().to_path_buf());
        let a = reg.resolve("top.txt").await.unwrap();
        assert!(a.contains("HUNTER2"));
        // Loaded once: a later edit of the file is not seen.
        std::fs::write(dir.path().join("top.txt"), "other\n").unwrap();
        let b = reg.resolve(" top.txt ").await.unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            reg.resolve("missing.txt").await.unwrap_err(),
            "Password blacklist missing.txt not found!"
        );
        // A missing file added later is found (failures are not remembered).
        std::fs::write(dir.path().join("missing.txt"), "x\n").unwrap();
        assert!(reg.resolve("missing.txt").await.is_ok());
        assert!(reg
            .resolve("../etc/passwd")
            .await
            .unwrap_err()
            .contains("slashes"));
        assert!(reg.resolve("..").await.is_err());
        assert!(reg
            .resolve("  ")
            .await
            .unwrap_err()
            .contains("must not be empty"));
        let nowhere = Blacklists::new(dir.path().join("nope"));
        assert!(nowhere
            .resolve("top.txt")
            .await
            .unwrap_err()
            .contains("blacklists directory"));
        assert!(Blacklists::default().resolve("top.txt").await.is_err());
    }
}

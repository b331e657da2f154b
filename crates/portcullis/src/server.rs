//! Start-up: open the store, create the master realm, import realm files, bind listeners,
//! and print one machine-readable line with the bound addresses.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::json;
use tokio::net::TcpListener;

use crate::config::limits::Limits;
use crate::config::{Config, Database, Mode, TlsFiles};
use crate::http::base_url::BaseUrl;
use crate::policy::blacklist::Blacklists;
use crate::realm::client_keys::{ClientKeyCache, KeyCacheSettings};
use crate::realm::export::UsersMode;
use crate::realm::snapshot::RealmCache;
use crate::realm::{self, IfExists, ImportOutcome};
use crate::store::{PostgresStore, SqliteStore, Store};
use crate::AppState;

/// How often each node removes the rows of expired sessions.
const SESSION_SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Opens the configured store (running migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.db {
        Database::Sqlite { path } => Arc::new(
            SqliteStore::open(path)
                .await
                .with_context(|| format!("cannot open the embedded database {}", path.display()))?
                .with_sealer(config.sealer.clone()),
        ),
        Database::Postgres {
            url,
            schema,
            max_connections,
        } => Arc::new(
            PostgresStore::connect(url.expose(), schema.as_deref(), *max_connections)
                .await
                .context(
                    "cannot connect to PostgreSQL (check --db-url / KC_DB_URL and credentials)",
                )?
                .with_sealer(config.sealer.clone()),
        ),
    })
}

/// Realm files in a directory, in name order. Keycloak's split exports
/// (`<realm>-users-<n>.json`) are merged into their realm.
pub fn realm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("json") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn is_users_file(p: &Path) -> bool {
    // Keycloak's `kc.sh export --dir` writes `<realm>-users-<n>.json` beside `<realm>-realm.json`.
    p.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.rsplit_once("-users-"))
        .map(|(_, n)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or(false)
}

/// Imports the realm files of a directory (or one file); returns what happened to each realm.
pub async fn import_paths(
    store: &dyn Store,
    blacklists: &Blacklists,
    files: &[PathBuf],
    if_exists: IfExists,
) -> anyhow::Result<Vec<(String, ImportOutcome)>> {
    let mut realms: Vec<(PathBuf, serde_json::Value)> = Vec::new();
    let mut users_files = Vec::new();
    for f in files {
        let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
        let values = realm::import::parse_file(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?;
        if is_users_file(f) {
            users_files.extend(values);
        } else {
            realms.extend(values.into_iter().map(|v| (f.clone(), v)));
        }
    }
    for uf in users_files {
        let target = uf
            .get("realm")
            .and_then(|r| r.as_str())
            .unwrap_or_default()
            .to_string();
        let Some((_, realm)) = realms
            .iter_mut()
            .find(|(_, r)| r.get("realm").and_then(|n| n.as_str()) == Some(target.as_str()))
        else {
            bail!("users file for realm '{target}' has no matching realm file");
        };
        if let (Some(obj), Some(users)) = (
            realm.as_object_mut(),
            uf.get("users").and_then(|u| u.as_array()),
        ) {
            let list = obj.entry("users").or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.extend(users.iter().cloned());
            }
        }
    }
    // master first: other realms add their admin client to it.
    realms.sort_by_key(|(_, r)| r.get("realm").and_then(|n| n.as_str()) != Some(realm::MASTER));
    let mut done = Vec::new();
    for (file, value) in realms {
        let outcome = realm::import(store, blacklists, value, if_exists)
            .await
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        done.push(outcome);
    }
    Ok(done)
}

/// Exports realms to a file (one realm) or a directory (`<realm>-realm.json` each).
pub async fn export(
    store: &dyn Store,
    realm_name: Option<&str>,
    file: Option<&Path>,
    dir: Option<&Path>,
    users: UsersMode,
    secrets: ExportSecrets,
) -> anyhow::Result<()> {
    let mut masked = 0;
    let mut export_one = async |n: &str| -> anyhow::Result<serde_json::Value> {
        let mut v = realm::export::export(store, n, users).await?;
        if secrets == ExportSecrets::Masked {
            masked += crate::crypto::seal::mask_export(&mut v);
        }
        Ok(v)
    };
    let names: Vec<String> = match realm_name {
        Some(r) => vec![r.to_string()],
        None => {
            let mut names: Vec<String> = store
                .realm_versions()
                .await?
                .into_iter()
                .map(|r| r.name)
                .collect();
            names.sort();
            names
        }
    };
    match (file, dir) {
        (Some(file), None) => {
            let mut values = Vec::new();
            for n in &names {
                values.push(export_one(n).await?);
            }
            let out = if values.len() == 1 {
                values.remove(0)
            } else {
                serde_json::Value::Array(values)
            };
            write_atomic(file, &serde_json::to_vec_pretty(&out)?)?;
        }
        (None, Some(dir)) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for n in &names {
                let v = export_one(n).await?;
                write_atomic(
                    &dir.join(format!("{n}-realm.json")),
                    &serde_json::to_vec_pretty(&v)?,
                )?;
            }
        }
        _ => bail!("export needs exactly one of --file or --dir"),
    }
    if masked > 0 {
        eprintln!(
            "{masked} secrets masked as {} (client and identity-provider secrets, SMTP password, OTP seeds, realm private keys): pass --include-secrets for a full backup",
            crate::crypto::seal::MASK
        );
    }
    Ok(())
}

/// Whether `export` writes secrets in clear or masks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportSecrets {
    /// Masked as Keycloak's partial export masks them (the default).
    Masked,
    /// In clear (`--include-secrets`): a full backup.
    Clear,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// The server's listener tasks; each ends when its listener shuts down.
type Listeners = tokio::task::JoinSet<anyhow::Result<()>>;

/// Runs the server until SIGINT/SIGTERM.
/// `store_latency`: the store's latency histogram the process's `tracing` layer fills
/// ([`crate::metrics::store_latency_layer`]), shown on `/metrics`.
pub async fn run(
    config: Config,
    import_realm: bool,
    store_latency: Option<Arc<crate::metrics::StoreLatency>>,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = Arc::new(config);
    if let Database::Sqlite { path } = &config.db {
        tracing::info!(path = %path.display(), "using the embedded SQLite store");
    }
    match config.sealer.current_kid() {
        Some(kid) => tracing::info!(kid, "secrets are sealed at rest (AES-256-GCM)"),
        None => tracing::warn!(
            "no key-encryption key: client secrets, identity-provider secrets, SMTP passwords, OTP seeds and realm private keys are stored in clear (set --secrets-kek-file; see docs/secrets.md)"
        ),
    }
    let store = open_store(&config).await?;
    ensure_master(store.as_ref(), &config)
        .await
        .context("cannot read the master realm")?;
    // Loaded lists are kept: the realms imported below and every later request share them.
    let blacklists = Blacklists::new(config.password_blacklists_dir.clone());
    if import_realm {
        import_at_startup(store.as_ref(), &blacklists, &config).await?;
    }
    realm::upgrade_organizations(store.as_ref()).await?;
    realm::upgrade_admin_clients(store.as_ref()).await?;
    let realms = Arc::new(RealmCache::new(
        ClientKeyCache::new(KeyCacheSettings {
            min_time_between_requests: config.public_key_min_time_between_requests,
            ..KeyCacheSettings::default()
        }),
        blacklists,
        config.realm_cache_size,
    ));
    realms.load_all(store.as_ref()).await?;
    if store.backend() == "postgres" {
        spawn_realm_sync(realms.clone(), store.clone());
    }
    spawn_session_sweep(realms.clone(), store.clone());
    spawn_facts_warm_up(realms.clone(), store.clone());
    spawn_memory_release();

    let state = app_state(&config, store, realms, store_latency)?;
    let app = crate::app(state.clone());
    let mut tasks = Listeners::new();
    let mut addrs = serde_json::Map::new();
    if config.http_enabled {
        serve_http(&config, app.clone(), &mut tasks, &mut addrs).await?;
    }
    if let Some(tls) = &config.tls {
        serve_https(&config, tls, app.clone(), &mut tasks, &mut addrs).await?;
    }
    if config.health_enabled || config.metrics_enabled {
        serve_management(&config, state.clone(), &mut tasks, &mut addrs).await?;
    }
    if addrs.is_empty() {
        bail!("no listener is enabled: enable HTTP (--http-enabled=true) or HTTPS (--https-certificate-file)");
    }
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    addrs.insert("event".into(), json!("started"));
    addrs.insert("startup_ms".into(), json!((elapsed * 10.0).round() / 10.0));
    println!("{}", serde_json::Value::Object(addrs.clone()));
    tracing::info!(startup_ms = elapsed, "Portcullis started");
    while let Some(res) = tasks.join_next().await {
        res??;
    }
    Ok(())
}

/// On an empty store, creates the master realm and the bootstrap administrator (production
/// refuses to start without one).
async fn ensure_master(store: &dyn Store, config: &Config) -> anyhow::Result<()> {
    let has_master = store.realm_by_name(realm::MASTER).await?.is_some();
    if !has_master {
        match (&config.bootstrap_admin, config.mode) {
            (None, Mode::Production) => bail!(
                "the store is empty and no bootstrap administrator is configured: set KC_BOOTSTRAP_ADMIN_USERNAME and KC_BOOTSTRAP_ADMIN_PASSWORD (or --bootstrap-admin-username / --bootstrap-admin-password)"
            ),
            (admin, _) => {
                let admin = admin.as_ref().map(|(u, p)| (u.as_str(), p.expose()));
                realm::bootstrap(store, admin).await?;
                tracing::info!("created the master realm{}", if admin.is_some() { " and the bootstrap administrator" } else { "" });
            }
        }
    }
    Ok(())
}

/// `--import-realm`: imports the realm files of `<data-dir>/import`, skipping realms that
/// already exist.
async fn import_at_startup(
    store: &dyn Store,
    blacklists: &Blacklists,
    config: &Config,
) -> anyhow::Result<()> {
    let dir = config.data_dir.join("import");
    if dir.is_dir() {
        let files = realm_files(&dir)?;
        for (name, outcome) in import_paths(store, blacklists, &files, IfExists::Skip).await? {
            match outcome {
                ImportOutcome::Skipped => {
                    tracing::info!(realm = %name, "realm already exists; import skipped")
                }
                _ => tracing::info!(realm = %name, "realm imported"),
            }
        }
    } else {
        tracing::warn!(dir = %dir.display(), "--import-realm: the import directory does not exist");
    }
    Ok(())
}

/// Several nodes may share the database: pick up realm changes made by the others
/// (the Admin API on this node updates its own cache at once). On PostgreSQL each change to a
/// realm is announced, and only that realm is read again (every realm's version is compared
/// only when announcements may have been missed); elsewhere the versions are polled.
fn spawn_realm_sync(realms: Arc<RealmCache>, store: Arc<dyn Store>) {
    if let Some(mut changes) = store.realm_changes() {
        tokio::spawn(async move {
            use crate::store::RealmChange;
            use tokio::sync::broadcast::error::RecvError;
            // What changed between the first load and this subscription.
            let mut resync = true;
            loop {
                if resync {
                    resync = false;
                    if let Err(e) = realms.sync(store.as_ref()).await {
                        tracing::warn!(error = %e, "realm reload failed");
                        resync = true;
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        continue;
                    }
                }
                match changes.recv().await {
                    Ok(RealmChange::Realm(name)) => {
                        if let Err(e) = realms.refresh(store.as_ref(), &name).await {
                            tracing::warn!(realm = %name, error = %e, "realm reload failed");
                            resync = true;
                        }
                    }
                    Ok(RealmChange::Resync) | Err(RecvError::Lagged(_)) => resync = true,
                    Err(RecvError::Closed) => break,
                }
            }
        });
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = realms.sync(store.as_ref()).await {
                tracing::warn!(error = %e, "realm reload failed");
            }
        }
    });
}

/// Reads what the realm list and the sweeps need of every realm (its facts), one realm at a
/// time, shortly after start-up: a realm list asked for later does not read 10,000 realms
/// itself. Realms are not built, so the cache keeps only the realms in use.
fn spawn_facts_warm_up(realms: Arc<RealmCache>, store: Arc<dyn Store>) {
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        for name in realms.names() {
            if let Err(e) = realms.facts(store.as_ref(), &name).await {
                tracing::warn!(realm = %name, error = %e, "realm settings could not be read");
            }
            tokio::task::yield_now().await;
        }
    });
}

/// Expired SSO and offline sessions are refused when read; this removes their rows, so
/// the store does not grow with every login (each node sweeps; deletes are idempotent).
/// The first sweep waits one interval: a node starting does not read every realm's settings
/// before it serves.
fn spawn_session_sweep(realms: Arc<RealmCache>, store: Arc<dyn Store>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(
            tokio::time::Instant::now() + SESSION_SWEEP_INTERVAL,
            SESSION_SWEEP_INTERVAL,
        );
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            crate::sessions::sweep_sessions(store.as_ref(), &realms).await;
            crate::events::sweep(store.as_ref(), &realms).await;
        }
    });
}

/// How long an Argon2 working memory (19 MiB) may stay unused before it is freed, and how often
/// that is checked: a server idles back at its resting memory within a minute of its last
/// password hash, while a steady stream of logins keeps reusing its buffers.
const ARGON2_MEMORY_IDLE: std::time::Duration = std::time::Duration::from_secs(30);
const ARGON2_MEMORY_CHECK: std::time::Duration = std::time::Duration::from_secs(10);

/// Frees idle Argon2 working memory (see [`ARGON2_MEMORY_IDLE`]).
fn spawn_memory_release() {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(ARGON2_MEMORY_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let freed = crate::crypto::password::release_idle_memory(ARGON2_MEMORY_IDLE);
            if freed > 0 {
                tracing::debug!(bytes = freed, "idle password-hashing memory freed");
            }
        }
    });
}

/// The state shared by every request handler.
fn app_state(
    config: &Arc<Config>,
    store: Arc<dyn Store>,
    realms: Arc<RealmCache>,
    store_latency: Option<Arc<crate::metrics::StoreLatency>>,
) -> anyhow::Result<AppState> {
    // The server-wide JSON-lines listener sees every realm's events; Loki only the events of
    // realms that name it in `eventsListeners`.
    let (events, queue) = crate::events::Events::new(
        config.events_queue_size,
        config.events_json_output.is_some(),
    );
    let mut events = events
        .with_levels(config.events_success_level, config.events_error_level)
        .with_audit(config.audit_enabled);
    let loki = match &config.events_loki {
        Some(l) => {
            let (sender, stats) = crate::events::loki::spawn(
                l.clone(),
                crate::http::outbound::client()?,
                realms.clone(),
            );
            events = events.with_loki(stats);
            Some(sender)
        }
        None => None,
    };
    let events = if config.metrics_enabled {
        events.with_counters(config.event_metrics.clone())
    } else {
        events
    };
    crate::events::writer::spawn(
        store.clone(),
        queue,
        crate::events::writer::WriterConfig {
            success_level: config.events_success_level,
            error_level: config.events_error_level,
            json: config.events_json_output.clone(),
            audit: config.audit_enabled,
            loki,
        },
    );
    let scheme = if config.tls.is_some() && !config.http_enabled {
        "https"
    } else {
        "http"
    };
    Ok(AppState::new(crate::Shared {
        store,
        realms,
        config: config.clone(),
        base: Arc::new(BaseUrl {
            hostname: config.hostname.clone(),
            proxy: config.proxy_headers,
            scheme,
        }),
        metrics: Arc::new(crate::metrics::Metrics::with_store_latency(store_latency)),
        outbound: crate::http::outbound::client()
            .context("cannot build the outgoing HTTP client")?,
        logins_in_flight: Arc::default(),
        events: Arc::new(events),
        email: crate::email::Outbox::spawn(crate::email::QUEUE_SIZE),
    }))
}

/// Binds the plain HTTP listener (`--http-port`) and serves the application on it.
async fn serve_http(
    config: &Config,
    app: axum::Router,
    tasks: &mut Listeners,
    addrs: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let l = TcpListener::bind((config.http_host.as_str(), config.http_port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (--http-port)",
                config.http_host, config.http_port
            )
        })?;
    addrs.insert("http".into(), json!(l.local_addr()?.to_string()));
    let limits = config.limits.clone();
    tasks.spawn(async move {
        serve_connections(l, app, limits).await;
        Ok(())
    });
    Ok(())
}

/// hyper's connection settings for the limits: the header size (431 past it) and the time
/// a client has to send its headers (the connection is closed past it, so a slowloris client
/// holds a connection for at most `http-read-timeout`).
fn connection_builder(
    limits: &Limits,
) -> hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor> {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    let mut b = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout)
        .max_buf_size(limits.max_header_size);
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_size).unwrap_or(u32::MAX));
    b
}

/// The accept loop of the HTTP listener: at most `http-limits-max-connections` connections
/// (one past it is answered 503 and closed), each served with [`connection_builder`]'s limits,
/// until SIGINT/SIGTERM; then open connections get five seconds to finish.
async fn serve_connections(listener: TcpListener, app: axum::Router, limits: Limits) {
    use hyper_util::server::graceful::GracefulShutdown;
    use tower::ServiceExt;
    let builder = connection_builder(&limits);
    let slots = limits
        .max_connections
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n)));
    let graceful = GracefulShutdown::new();
    let stop = shutdown();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        let permit = match &slots {
            None => None,
            Some(s) => match s.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    tokio::spawn(refuse_connection(stream));
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // The peer address reaches handlers (client registration's trusted hosts, the rate
        // limit) as axum's `ConnectInfo`.
        let svc =
            app.clone()
                .map_request(move |mut req: axum::http::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    req
                });
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let conn = builder
            .serve_connection_with_upgrades(
                hyper_util::rt::TokioIo::new(
                    crate::http::linger::Lingering::new(stream).holding(permit),
                ),
                svc,
            )
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after five seconds; closing them");
    }
}

/// The connection limit and the lingering close of the HTTPS listener, under its TLS
/// acceptor: a connection past `http-limits-max-connections` is closed before the handshake
/// (an HTTP answer would need the handshake first).
#[derive(Clone)]
struct SlotAcceptor {
    slots: Option<Arc<tokio::sync::Semaphore>>,
}

impl<S> axum_server::accept::Accept<tokio::net::TcpStream, S> for SlotAcceptor {
    type Stream = crate::http::linger::Lingering<tokio::net::TcpStream>;
    type Service = S;
    type Future = std::future::Ready<std::io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        let slot = match &self.slots {
            None => None,
            Some(s) => match s.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    return std::future::ready(Err(std::io::Error::other(
                        "too many open connections",
                    )))
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let io = crate::http::linger::Lingering::new(stream).holding(slot);
        std::future::ready(Ok((io, service)))
    }
}

/// A connection past `http-limits-max-connections`: a 503 with `Retry-After`, then closed.
async fn refuse_connection(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    const BODY: &str =
        r#"{"error":"temporarily_unavailable","error_description":"Too many open connections"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), write).await;
}

/// Loads the certificate, binds the HTTPS listener (`--https-port`) and serves the
/// application on it.
async fn serve_https(
    config: &Config,
    tls: &TlsFiles,
    app: axum::Router,
    tasks: &mut Listeners,
    addrs: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let rustls_config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key)
        .await
        .with_context(|| {
            format!(
                "cannot load the HTTPS certificate {} / key {}",
                tls.cert.display(),
                tls.key.display()
            )
        })?;
    let l = std::net::TcpListener::bind((config.http_host.as_str(), config.https_port))
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (--https-port)",
                config.http_host, config.https_port
            )
        })?;
    l.set_nonblocking(true)?;
    addrs.insert("https".into(), json!(l.local_addr()?.to_string()));
    let handle = axum_server::Handle::new();
    let h = handle.clone();
    tokio::spawn(async move {
        shutdown().await;
        h.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    let slots = SlotAcceptor {
        slots: config
            .limits
            .max_connections
            .map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
    };
    let mut server = axum_server::from_tcp_rustls(l, rustls_config)
        .handle(handle)
        .map(|tls| tls.acceptor(slots));
    *server.http_builder() = connection_builder(&config.limits);
    tasks.spawn(async move {
        server
            .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .map_err(anyhow::Error::from)
    });
    Ok(())
}

/// Binds the management listener (`--http-management-port`: health, metrics).
async fn serve_management(
    config: &Config,
    state: AppState,
    tasks: &mut Listeners,
    addrs: &mut serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let l = TcpListener::bind((config.http_host.as_str(), config.management_port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (--http-management-port)",
                config.http_host, config.management_port
            )
        })?;
    addrs.insert("management".into(), json!(l.local_addr()?.to_string()));
    let mgmt = crate::http::router::management_router(state);
    tasks.spawn(async move {
        axum::serve(l, mgmt)
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(anyhow::Error::from)
    });
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// For the `start-up` line consumers: parse an address printed by [`run`].
pub fn parse_addr(s: &str) -> Option<SocketAddr> {
    s.parse().ok()
}

//! The `portcullis` command, shaped like Keycloak's `kc.sh`: `start`, `start-dev`, `import`,
//! `export`, `build`. Thin: it reads options and calls the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Arg, ArgAction, ArgMatches, Command};
use portcullis::config::options::{ignored_kc_vars, OPTIONS};
use portcullis::config::{Config, Flags, Mode};
use portcullis::realm::export::UsersMode;
use portcullis::realm::IfExists;

/// mimalloc instead of the system allocator: a token request allocates and frees a few hundred
/// small objects (JSON maps, strings), and glibc's malloc took about a tenth of the CPU time of
/// `client_credentials` in a profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn with_options(mut cmd: Command) -> Command {
    for o in OPTIONS {
        let env = o.env.join(", ");
        cmd = cmd.arg(
            Arg::new(o.name)
                .long(o.name)
                .value_name("VALUE")
                .help(format!("{} [env: {env}]", o.help))
                .hide_env_values(o.secret),
        );
    }
    cmd
}

fn cli() -> Command {
    let import_realm = Arg::new("import-realm")
        .long("import-realm")
        .action(ArgAction::SetTrue)
        .help("Import every *.json realm in <data-dir>/import at start-up; existing realms are skipped");
    let audit_realm = Arg::new("realm")
        .long("realm")
        .value_name("REALM")
        .help("Only this realm's chain (default: all)");
    Command::new("portcullis")
        .about("A Keycloak-compatible identity and access management server")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .subcommand(
            with_options(Command::new("start").about("Start in production mode"))
                .arg(import_realm.clone()),
        )
        .subcommand(
            with_options(Command::new("start-dev").about("Start in development mode"))
                .arg(import_realm),
        )
        .subcommand(
            with_options(Command::new("import").about("Import realms into the store (offline)"))
                .arg(
                    Arg::new("file")
                        .long("file")
                        .value_name("FILE")
                        .help("A realm file"),
                )
                .arg(
                    Arg::new("dir")
                        .long("dir")
                        .value_name("DIR")
                        .help("A directory of realm files"),
                )
                .arg(
                    Arg::new("override")
                        .long("override")
                        .value_name("true|false")
                        .default_value("true")
                        .value_parser(["true", "false"])
                        .help("Overwrite realms that already exist (Keycloak's default: true)"),
                ),
        )
        .subcommand(
            with_options(
                Command::new("export")
                    .about("Export realms from the store (offline): a full backup"),
            )
            .arg(
                Arg::new("realm")
                    .long("realm")
                    .value_name("REALM")
                    .help("Realm to export (default: all)"),
            )
            .arg(
                Arg::new("file")
                    .long("file")
                    .value_name("FILE")
                    .help("Output file"),
            )
            .arg(
                Arg::new("dir")
                    .long("dir")
                    .value_name("DIR")
                    .help("Output directory (<realm>-realm.json each)"),
            )
            .arg(
                Arg::new("users")
                    .long("users")
                    .value_name("STRATEGY")
                    .default_value("realm_file")
                    .value_parser(["realm_file", "same_file", "skip"])
                    .help("Users: realm_file/same_file (in the realm file) or skip"),
            )
            .arg(
                Arg::new("include-secrets")
                    .long("include-secrets")
                    .action(ArgAction::SetTrue)
                    .help("Write client and identity-provider secrets, the SMTP password, OTP seeds and realm private keys in clear (a full backup); without it they are masked as **********"),
            ),
        )
        .subcommand(
            Command::new("secrets")
                .about("Secrets at rest: seal them under the key-encryption key, or re-wrap them under a new one (see docs/secrets.md)")
                .subcommand_required(true)
                .subcommand(with_options(Command::new("seal").about(
                    "Seal every secret still in clear (or under another accepted key) under the configured key-encryption key, now",
                )))
                .subcommand(
                    with_options(Command::new("rotate-kek").about(
                        "Re-wrap every sealed secret under a new key-encryption key; the configured keys (--secrets-kek-file, --secrets-kek-accept-files) still open the old values",
                    ))
                    .arg(
                        Arg::new("new-kek-file")
                            .long("new-kek-file")
                            .value_name("FILE")
                            .required(true)
                            .help("File holding the new key-encryption key"),
                    ),
                ),
        )
        .subcommand(
            Command::new("audit")
                .about("Check or export the tamper-evident audit trail (offline)")
                .subcommand_required(true)
                .subcommand(
                    with_options(Command::new("verify").about(
                        "Check every realm's hash chain (or one): prints `ok: <realm> <n> records` per realm, or the first broken record, and exits non-zero when one is broken",
                    ))
                    .arg(audit_realm.clone()),
                )
                .subcommand(
                    with_options(Command::new("export").about(
                        "Write the audit records as JSON lines (realmId, realm, seq, time, prevHash, hash, event)",
                    ))
                    .arg(audit_realm)
                    .arg(
                        Arg::new("output")
                            .long("output")
                            .value_name("FILE")
                            .help("Output file (default: standard output)"),
                    ),
                ),
        )
        .subcommand(
            Command::new("build").about("Accepted for Keycloak compatibility; nothing to build"),
        )
}

fn flags(m: &ArgMatches) -> Flags {
    OPTIONS
        .iter()
        .filter_map(|o| {
            m.get_one::<String>(o.name)
                .map(|v| (o.name.to_string(), v.clone()))
        })
        .collect()
}

/// Sets up the log, and the `tracing` layers of the OpenTelemetry traces (`--tracing-enabled`)
/// and of the store latency histogram (`store_latency`, with `--metrics-enabled`).
fn init_tracing(
    config: &Config,
    store_latency: Option<std::sync::Arc<portcullis::metrics::StoreLatency>>,
) {
    let filter = tracing_subscriber::EnvFilter::try_new(config.tracing_filter())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: log files and collectors get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut otel_error = None;
    if config.tracing.is_none() && store_latency.is_none() {
        // Neither: one global filter, so `debug` spans stay disabled where they are declared.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .try_init();
    } else {
        // The log keeps its filter; the OpenTelemetry layer has its own
        // (`telemetry::traced`), the store timer its own (`metrics::store_span`).
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        use tracing_subscriber::Layer;
        let otel = match config.tracing.as_ref().map(portcullis::telemetry::layer) {
            Some(Ok(l)) => Some(l),
            Some(Err(e)) => {
                otel_error = Some(e);
                None
            }
            None => None,
        };
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_writer(std::io::stderr)
                    .with_filter(filter),
            )
            .with(otel)
            .with(store_latency.map(portcullis::metrics::store_latency_layer))
            .try_init();
    }
    if let Some(e) = otel_error {
        tracing::error!(error = %e, "tracing: the OTLP exporter could not be set up; no traces are exported");
    } else if let Some(t) = &config.tracing {
        tracing::info!(endpoint = %t.export_url(), protocol = ?t.protocol, "tracing: exporting OpenTelemetry traces over OTLP");
    }
    let vars: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
    for var in ignored_kc_vars(vars.iter().map(String::as_str)) {
        tracing::warn!(variable = %var, "ignored: this Keycloak option is not supported by Portcullis");
    }
    for feature in &config.features.ignored {
        tracing::warn!(feature = %feature, "ignored: this Keycloak feature is not implemented by Portcullis");
    }
}

fn resolve(mode: Mode, m: &ArgMatches) -> anyhow::Result<Config> {
    let config = Config::resolve(mode, &flags(m), &|k| std::env::var(k).ok())?;
    init_tracing(&config, None);
    Ok(config)
}

async fn run() -> anyhow::Result<()> {
    let matches = cli().get_matches();
    match matches.subcommand() {
        Some((cmd @ ("start" | "start-dev"), m)) => {
            let mode = if cmd == "start" {
                Mode::Production
            } else {
                Mode::Dev
            };
            let config = Config::resolve(mode, &flags(m), &|k| std::env::var(k).ok())?;
            // With `/metrics`, the store's latency per operation is timed from its spans.
            let store_latency = config
                .metrics_enabled
                .then(|| std::sync::Arc::new(portcullis::metrics::StoreLatency::default()));
            init_tracing(&config, store_latency.clone());
            portcullis::server::run(config, m.get_flag("import-realm"), store_latency).await
        }
        Some(("import", m)) => {
            let config = resolve(Mode::Dev, m)?;
            let store = portcullis::server::open_store(&config).await?;
            let files: Vec<PathBuf> =
                match (m.get_one::<String>("file"), m.get_one::<String>("dir")) {
                    (Some(f), None) => vec![PathBuf::from(f)],
                    (None, Some(d)) => portcullis::server::realm_files(&PathBuf::from(d))?,
                    _ => anyhow::bail!("import needs exactly one of --file or --dir"),
                };
            let if_exists = if m.get_one::<String>("override").map(String::as_str) == Some("false")
            {
                IfExists::Skip
            } else {
                IfExists::Overwrite
            };
            let has_master = store
                .realm_by_name(portcullis::realm::MASTER)
                .await?
                .is_some();
            if !has_master {
                let admin = config
                    .bootstrap_admin
                    .as_ref()
                    .map(|(u, p)| (u.as_str(), p.expose()));
                portcullis::realm::bootstrap(store.as_ref(), admin).await?;
            }
            for (name, outcome) in portcullis::server::import_paths(
                store.as_ref(),
                &portcullis::policy::blacklist::Blacklists::new(
                    config.password_blacklists_dir.clone(),
                ),
                &files,
                if_exists,
            )
            .await?
            {
                println!(
                    "realm '{name}': {}",
                    match outcome {
                        portcullis::realm::ImportOutcome::Created => "imported",
                        portcullis::realm::ImportOutcome::Replaced =>
                            "imported (replaced the existing realm)",
                        portcullis::realm::ImportOutcome::Skipped =>
                            "skipped (already exists; --override false)",
                    }
                );
            }
            Ok(())
        }
        Some(("export", m)) => {
            let config = resolve(Mode::Dev, m)?;
            let store = portcullis::server::open_store(&config).await?;
            let users = if m.get_one::<String>("users").map(String::as_str) == Some("skip") {
                UsersMode::Skip
            } else {
                UsersMode::Include
            };
            portcullis::server::export(
                store.as_ref(),
                m.get_one::<String>("realm").map(String::as_str),
                m.get_one::<String>("file").map(PathBuf::from).as_deref(),
                m.get_one::<String>("dir").map(PathBuf::from).as_deref(),
                users,
                if m.get_flag("include-secrets") {
                    portcullis::server::ExportSecrets::Clear
                } else {
                    portcullis::server::ExportSecrets::Masked
                },
            )
            .await
            .context("export failed")
        }
        Some(("secrets", sub)) => {
            let (m, rotate) = match sub.subcommand() {
                Some(("seal", m)) => (m, false),
                Some(("rotate-kek", m)) => (m, true),
                _ => return Ok(()),
            };
            let mut config = resolve(Mode::Dev, m)?;
            if rotate {
                let file = m
                    .get_one::<String>("new-kek-file")
                    .context("rotate-kek needs --new-kek-file")?;
                let new = portcullis::config::secrets::read_kek_file(
                    "new-kek-file",
                    std::path::Path::new(file),
                )?;
                let old = std::sync::Arc::try_unwrap(config.sealer)
                    .map_err(|_| anyhow::anyhow!("the configured keys are in use"))?;
                config.sealer = std::sync::Arc::new(old.rotated_to(new));
            }
            let Some(kid) = config.sealer.current_kid().map(str::to_string) else {
                anyhow::bail!("no key-encryption key is configured: set --secrets-kek-file, PORTCULLIS_SECRETS_KEK or the vault file (see docs/secrets.md)");
            };
            let store = portcullis::server::open_store(&config).await?;
            let done = store
                .reseal_all()
                .await
                .context("sealing the stored secrets failed")?;
            println!(
                "sealed under key-encryption key {kid}: {} realm documents and {} user documents written again",
                done.realms, done.users
            );
            if done.changed_meanwhile > 0 {
                println!(
                    "{} documents were changed by a running server meanwhile: run the command again",
                    done.changed_meanwhile
                );
            }
            Ok(())
        }
        Some(("audit", sub)) => match sub.subcommand() {
            Some(("verify", m)) => {
                let config = resolve(Mode::Dev, m)?;
                let store = portcullis::server::open_store(&config).await?;
                let verdicts = portcullis::events::audit::verify(
                    store.as_ref(),
                    m.get_one::<String>("realm").map(String::as_str),
                )
                .await
                .context("audit verify failed")?;
                let mut broken = false;
                for v in &verdicts {
                    println!("{v}");
                    broken |= matches!(v, portcullis::events::audit::Verdict::Broken { .. });
                }
                if broken {
                    std::process::exit(2);
                }
                Ok(())
            }
            Some(("export", m)) => {
                let config = resolve(Mode::Dev, m)?;
                let store = portcullis::server::open_store(&config).await?;
                let realm = m.get_one::<String>("realm").map(String::as_str);
                let mut out: Box<dyn std::io::Write> = match m.get_one::<String>("output") {
                    Some(f) => Box::new(std::io::BufWriter::new(
                        std::fs::File::create(f).with_context(|| format!("cannot create {f}"))?,
                    )),
                    None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
                };
                let n = portcullis::events::audit::export(store.as_ref(), realm, &mut out)
                    .await
                    .context("audit export failed")?;
                eprintln!("{n} audit records exported");
                Ok(())
            }
            _ => Ok(()),
        },
        Some(("build", _)) => {
            println!("Portcullis needs no build step; options are read at start.");
            Ok(())
        }
        _ => Ok(()),
    }
}

fn main() {
    // No transparent huge pages for this process. With them, a mostly idle heap of a few MB is
    // backed by 2 MiB pages (the kernel fills a huge page on the first touch of any of it, and
    // khugepaged collapses sparsely used ranges back into huge pages after the allocator has
    // purged them): a fresh server rested at 36-38 MB, 14 MB of it huge pages around a few MB
    // of live objects. mimalloc is built with `no_thp` (it does not madvise its arenas for huge
    // pages); this also covers hosts whose THP setting is `always`, and the C allocations
    // (SQLite, aws-lc). Done before the runtime starts any thread. A kernel without the call
    // (before 3.15) just keeps its behaviour.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ERROR: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("ERROR: {e:#}");
        std::process::exit(1);
    }
}

//! `tenant-service [serve | seed-demo | migrate]` — see the crate's README.md.
//!
//! `serve` (the default) prints one line, `listening on http://<host>:<port>`, to stdout once
//! bound. Configuration: environment variables (`tenant_service::config`).

use std::process::ExitCode;

use tenant_service::config::Config;
use tenant_service::store::Store;
use tenant_service::{api, build, seed};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn serve(config: &Config) -> Result<(), BoxError> {
    let (tenants, validator) = build(config, None).await?;
    let app = api::router(tenants, validator);
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn seed_demo(config: &Config) -> Result<(), BoxError> {
    let (client_id, secret) = &config.platform_client;
    let secret = secret
        .as_deref()
        .ok_or("PLATFORM_CLIENT_SECRET is required by seed-demo")?;
    let (tenants, validator) = build(config, None).await?;
    let token = seed::platform_token(&config.portcullis_url, client_id, secret).await?;
    let report = seed::seed_demo(&tenants, &validator, &token).await?;
    print!("{}", seed::instructions(&report, &config.issuer_base));
    Ok(())
}

async fn run(command: &str) -> Result<(), BoxError> {
    let config = Config::from_vars(|k| std::env::var(k).ok())?;
    match command {
        "serve" => serve(&config).await,
        "seed-demo" => seed_demo(&config).await,
        "migrate" => {
            Store::connect(&config.database_url, config.database_schema.as_deref()).await?;
            println!("migrations applied");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}; use serve, seed-demo or migrate").into()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    match run(&command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenant-service {command}: {e}");
            ExitCode::from(2)
        }
    }
}

//! `zbridge serve`: the web UI and the JSON API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use secrecy::ExposeSecret;
use zbridge_server::{AccessToken, AppState, ServerOptions};
use zbridge_store::{Home, Store};

use crate::exit::UsageError;

/// Options of `zbridge serve`.
#[derive(Debug, Args)]
#[command(after_help = "\
The access token is created on first start and printed once; only its digest is kept (in
server-token next to the key file). Sign in with it in the browser, or send it as
'Authorization: Bearer TOKEN' to the JSON API (described at /api/openapi.json).")]
pub struct ServeArgs {
    /// Address to listen on; loopback by default.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub bind: String,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow a non-loopback address without TLS (the token and cookie then travel in clear).
    #[arg(long)]
    pub insecure: bool,
    /// Replace the access token with a new one (printed once); the old one stops working.
    #[arg(long)]
    pub new_token: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let addr = resolve(&args.bind).await?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            zbridge_server::tls::load_config(cert, key).map_err(|e| UsageError(e.to_string()))?,
        ),
        _ => None,
    };
    if !addr.ip().is_loopback() && tls.is_none() && !args.insecure {
        return Err(UsageError(format!(
            "--bind {addr} is reachable from other machines; give --tls-cert and --tls-key, \
             or pass --insecure to accept that the token travels in clear"
        ))
        .into());
    }
    let home = Home::from_env()?;
    let store = Store::open(&home).await?;
    let (token, shown) = AccessToken::load_or_create(&home.config_dir, args.new_token)?;
    let options = ServerOptions {
        secure_cookies: tls.is_some(),
    };
    let state = AppState::new(store, token, options)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("zbridge serves {scheme}://{local}/");
    match shown {
        Some(secret) => {
            println!("access token: {}", secret.expose_secret());
            eprintln!(
                "This token is shown only now; keep it. 'zbridge serve --new-token' makes a new one."
            );
        }
        None => eprintln!(
            "Sign in with the access token printed when the server first started \
             ('zbridge serve --new-token' makes a new one)."
        ),
    }
    match tls {
        Some(config) => zbridge_server::serve_tls(listener, config, state).await?,
        None => zbridge_server::serve(listener, state).await?,
    }
    Ok(())
}

async fn resolve(bind: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(bind)
        .await
        .map_err(|e| UsageError(format!("--bind {bind}: {e}")))?
        .next()
        .ok_or_else(|| UsageError(format!("--bind {bind}: no address")).into())
}

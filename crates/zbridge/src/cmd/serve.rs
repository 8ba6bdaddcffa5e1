//! `zbridge serve`: the web UI and the JSON API.

use std::net::SocketAddr;

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
    /// Allow a non-loopback address without TLS (the token and cookie then travel in clear).
    #[arg(long)]
    pub insecure: bool,
    /// Replace the access token with a new one (printed once); the old one stops working.
    #[arg(long)]
    pub new_token: bool,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let addr = resolve(&args.bind).await?;
    if !addr.ip().is_loopback() && !args.insecure {
        return Err(UsageError(format!(
            "--bind {addr} is reachable from other machines, and this server has no TLS; \
             bind to 127.0.0.1, or pass --insecure to accept that the token travels in clear"
        ))
        .into());
    }
    let home = Home::from_env()?;
    let store = Store::open(&home).await?;
    let (token, shown) = AccessToken::load_or_create(&home.config_dir, args.new_token)?;
    let state = AppState::new(store, token, ServerOptions::default())?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr()?;
    println!("zbridge serves http://{local}/");
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
    zbridge_server::serve(listener, state).await?;
    Ok(())
}

async fn resolve(bind: &str) -> anyhow::Result<SocketAddr> {
    tokio::net::lookup_host(bind)
        .await
        .map_err(|e| UsageError(format!("--bind {bind}: {e}")))?
        .next()
        .ok_or_else(|| UsageError(format!("--bind {bind}: no address")).into())
}

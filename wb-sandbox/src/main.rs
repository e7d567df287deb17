//! `wb-sandbox` serves the simulator on `WB_SANDBOX_BIND` (default 127.0.0.1:8081);
//! `wb-sandbox mint-token --seller-id N` prints a token and exits.

use std::process::ExitCode;

use chrono::{Duration, Utc};
use tracing_subscriber::EnvFilter;
use wb_sandbox::{Category, SandboxConfig, TokenOptions, TokenType, mint_token};

const USAGE: &str = "\
usage:
  wb-sandbox [serve]
      env: WB_SANDBOX_BIND (127.0.0.1:8081), WB_SANDBOX_PRODUCTS, WB_SANDBOX_SIZES,
           WB_SANDBOX_WB_WAREHOUSES, WB_SANDBOX_SELLER_WAREHOUSES, WB_SANDBOX_RATE_SCALE,
           WB_SANDBOX_DRAIN_SECS, WB_SANDBOX_CLIENT_SECRETS (X-Client-Secret values accepted)
  wb-sandbox mint-token --seller-id N [--type personal|service|base|test]
                        [--categories content,analytics,...] [--read-write] [--days D] [--test]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(),
        Some("mint-token") => match mint(&args[1..]) {
            Ok(token) => {
                println!("{token}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("wb-sandbox mint-token: {e}\n{USAGE}");
                ExitCode::from(2)
            }
        },
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("wb-sandbox: unknown command {other:?}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn mint(args: &[String]) -> Result<String, String> {
    let mut seller_id = None;
    let mut opts = TokenOptions::demo(0);
    let mut test = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f, Some(v.to_string())),
            None => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--seller-id" => {
                let v = value()?;
                seller_id = Some(
                    v.parse::<i64>()
                        .map_err(|e| format!("--seller-id {v:?}: {e}"))?,
                );
            }
            "--type" => opts.token_type = value()?.parse::<TokenType>()?,
            "--categories" => {
                opts.categories = value()?
                    .split(',')
                    .filter(|c| !c.trim().is_empty())
                    .map(str::parse::<Category>)
                    .collect::<Result<_, _>>()?;
            }
            "--days" => {
                let v = value()?;
                let days = v.parse::<i64>().map_err(|e| format!("--days {v:?}: {e}"))?;
                opts.expires_at = Utc::now() + Duration::days(days);
            }
            "--read-write" => opts.read_only = false,
            "--test" => test = Some(true),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    opts.seller_id = seller_id.ok_or("--seller-id is required")?;
    opts.test = test.unwrap_or(opts.token_type == TokenType::Test);
    Ok(mint_token(&opts))
}

fn serve() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    let cfg = match SandboxConfig::from_env() {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("wb-sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    let bind = std::env::var("WB_SANDBOX_BIND").unwrap_or_else(|_| "127.0.0.1:8081".into());
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wb-sandbox: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&bind)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("bind {bind}: {e}")))?;
        let addr = listener.local_addr()?;
        tracing::info!(
            url = %format!("http://{addr}"),
            products = cfg.products,
            wb_stock_rows = cfg.wb_stock_rows(),
            rate_limit_scale = cfg.rate_limit_scale,
            "wb-sandbox ready at http://{addr}"
        );
        wb_sandbox::serve_with_shutdown(listener, cfg, shutdown_signal()).await
    });
    match result {
        Ok(()) => {
            tracing::info!("wb-sandbox stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wb-sandbox: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
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
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

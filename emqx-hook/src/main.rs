//! `mqward-exhook CONFIG`: the EMQX ExHook server. Logs to standard error; SIGHUP reloads the
//! engine configuration (keeping the old one if the new one fails), SIGTERM and Ctrl-C stop.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use mqward_emqx::{log, Error, HookConfig, Server};
use tokio::signal::unix::{signal, SignalKind};

/// Command line.
#[derive(Parser)]
#[command(
    name = "mqward-exhook",
    version,
    about = "EMQX ExHook server backed by mqward"
)]
struct Args {
    /// The hook configuration file (JSON).
    config: PathBuf,
    /// Load the configuration and the engine, report, and exit without serving.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            log::line(format_args!("cannot start the runtime: {e}"));
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::line(format_args!("{e}"));
            ExitCode::from(2)
        }
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    let config = HookConfig::from_file(&args.config)?;
    if args.check {
        mqward_emqx::tls::listener(&config)?;
        let (_, warnings) = mqward_emqx::backend::open(&config)?;
        warn(&warnings);
        log::line(format_args!(
            "configuration `{}` is valid",
            args.config.display()
        ));
        return Ok(());
    }
    let signals = |kind| signal(kind).map_err(|e| Error::Transport(format!("signals: {e}")));
    let (mut hangup, mut terminate) = (
        signals(SignalKind::hangup())?,
        signals(SignalKind::terminate())?,
    );
    let (server, warnings) = Server::start(&config).await?;
    warn(&warnings);
    if config.insecure && config.tls.is_none() && !config.is_loopback() {
        log::line(format_args!(
            "warning: plain gRPC off loopback (`insecure`): client passwords cross the network in clear"
        ));
    }
    log::line(format_args!(
        "listening on {} ({}; emqx.exhook.v2 and emqx.exhook.v3)",
        server.local_addr(),
        if server.is_tls() { "tls" } else { "plain" }
    ));
    loop {
        tokio::select! {
            _ = hangup.recv() => match server.reload().await {
                Ok(warnings) => {
                    warn(&warnings);
                    log::line(format_args!("reloaded `{}`", config.engine.display()));
                }
                Err(e) => log::line(format_args!("reload refused, the previous configuration stays: {e}")),
            },
            _ = terminate.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    log::line(format_args!("stopping"));
    server.shutdown().await
}

fn warn(warnings: &[String]) {
    for w in warnings {
        log::line(format_args!("warning: {w}"));
    }
}

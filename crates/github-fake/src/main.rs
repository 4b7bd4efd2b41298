//! `github-fake`: the test fake as a standalone server, for action tests run
//! by `act`. Prints `PORT` to `--port-file` once listening; `/_fake/state`
//! returns everything recorded; `/_fake/faults`, `/_fake/pulls`,
//! `/_fake/files`, `/_fake/runs`, `/_fake/check_runs`, `/_fake/artifacts` and
//! `/_fake/apps` seed it (server.rs's `control_endpoint` says each body);
//! `/_fake/reset` empties it.

use std::time::Duration;

use clap::Parser;

/// Serve the GitHub fake on 127.0.0.1 until killed.
#[derive(Parser)]
struct Args {
    /// API path prefix ("" for github.com, "/api/v3" for GHES).
    #[arg(long, default_value = "")]
    prefix: String,
    /// Port (0 picks one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// File to write the port number to.
    #[arg(long)]
    port_file: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let fake = github_fake::Fake::start_on(&args.prefix, args.port)?;
    if let Some(f) = &args.port_file {
        std::fs::write(f, fake.addr().port().to_string())?;
    }
    eprintln!("github-fake listening on {}", fake.base_url());
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

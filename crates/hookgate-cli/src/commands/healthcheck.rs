//! `hookgate healthcheck [URL]`: GET a URL and exit 0 on a 2xx answer (container health
//! checks, where no curl is installed).

use std::process::ExitCode;

use clap::Args;

/// `healthcheck` arguments.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// URL to probe.
    #[arg(default_value = "http://127.0.0.1:8080/health/ready")]
    url: String,
}

/// Probe the URL.
pub fn run(args: &HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let url = args.url.as_str();
    actix_web::rt::System::new().block_on(async {
        let response = awc::Client::default()
            .get(url)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("GET {url}: {e}"))?;
        Ok(if response.status().is_success() {
            ExitCode::SUCCESS
        } else {
            eprintln!("{url}: {}", response.status());
            ExitCode::FAILURE
        })
    })
}

//! `evident bench`: the benchmark lives in the evident-bench crate; here it only gets
//! the global `--database-url` and its failed check becomes exit 1.

use crate::{CheckFailed, Cli};

pub use evident_bench::Args;

pub async fn run(cli: &Cli, args: &Args) -> anyhow::Result<()> {
    evident_bench::run(cli.database_url.as_deref(), args)
        .await
        .map_err(|e| match e.downcast::<evident_bench::VerifyFailed>() {
            Ok(failed) => CheckFailed(failed.to_string()).into(),
            Err(other) => other,
        })
}

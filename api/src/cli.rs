//! The command line of `stock-tracker-api`: the server (the default) and the operator's
//! commands, defined once with clap so `--help`, parsing and errors come from the
//! definition.

use clap::{Args, Parser, Subcommand, ValueEnum};
use stock_tracker_shared::jobs::admin::RunFilter;
use uuid::Uuid;

#[derive(Debug, Parser, PartialEq, Eq)]
#[command(
    name = "stock-tracker-api",
    about = "The Stock Tracker HTTP API and its operator commands",
    version
)]
pub struct Cli {
    /// What to do; without one, `serve`.
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command to run (`serve` when none was given).
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum Command {
    /// Run the HTTP API (default)
    Serve,
    /// Apply database migrations as DATABASE_OWNER_URL and grant access to the DATABASE_URL
    /// role (the api) and the DATABASE_JOBS_ROLE role (worker, scheduler)
    Migrate,
    /// Re-encrypt every stored WB token under the first key of CREDENTIALS_KEYS (connects as
    /// DATABASE_OWNER_URL)
    RotateCredentialsKey,
    /// The sync queue by state, runs running, failed or dead-lettered, and retrying a
    /// dead-lettered run (connects as DATABASE_OWNER_URL)
    Jobs(JobsArgs),
    /// Our account with WB as a catalog service: whether syncing is paused because WB
    /// answered 402 (the service balance is empty), and resuming it once topped up
    /// (connects as DATABASE_OWNER_URL)
    #[command(subcommand)]
    WbBilling(WbBillingCommand),
}

/// `wb-billing status` or `wb-billing resume`.
#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum WbBillingCommand {
    /// Whether syncing is paused, since when, and the last 402 seen
    Status,
    /// Lift the pause after topping up the balance: syncs are queued again at the next tick
    Resume,
}

/// `jobs depth`, `jobs retry RUN_ID`, or `jobs running|failed|dead`.
#[derive(Debug, Args, PartialEq, Eq)]
#[command(args_conflicts_with_subcommands = true, arg_required_else_help = true)]
pub struct JobsArgs {
    #[command(subcommand)]
    pub command: Option<JobsCommand>,
    /// List the newest 100 runs in this state
    #[arg(value_enum)]
    pub runs: Option<RunState>,
}

#[derive(Debug, Subcommand, PartialEq, Eq)]
pub enum JobsCommand {
    /// Sync queue entries by state
    Depth,
    /// Queue a fresh sync for a dead-lettered run's tenant
    Retry {
        /// The dead-lettered run
        run_id: Uuid,
    },
}

/// The runs `jobs` lists.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum RunState {
    /// Runs in progress
    Running,
    /// Failed runs, dead-lettered or not
    Failed,
    /// Runs given up on after the maximum attempts
    Dead,
}

impl From<RunState> for RunFilter {
    fn from(state: RunState) -> Self {
        match state {
            RunState::Running => RunFilter::Running,
            RunState::Failed => RunFilter::Failed,
            RunState::Dead => RunFilter::Dead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("stock-tracker-api").chain(args.iter().copied()))
            .map(Cli::into_command)
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default() {
        assert_eq!(parse(&[]).unwrap(), Command::Serve);
        assert_eq!(parse(&["serve"]).unwrap(), Command::Serve);
    }

    #[test]
    fn admin_commands_parse() {
        assert_eq!(parse(&["migrate"]).unwrap(), Command::Migrate);
        assert_eq!(
            parse(&["wb-billing", "resume"]).unwrap(),
            Command::WbBilling(WbBillingCommand::Resume)
        );
        assert_eq!(
            parse(&["wb-billing", "status"]).unwrap(),
            Command::WbBilling(WbBillingCommand::Status)
        );
        assert!(parse(&["wb-billing"]).is_err());
        assert_eq!(
            parse(&["rotate-credentials-key"]).unwrap(),
            Command::RotateCredentialsKey
        );
        assert_eq!(
            parse(&["jobs", "depth"]).unwrap(),
            Command::Jobs(JobsArgs {
                command: Some(JobsCommand::Depth),
                runs: None
            })
        );
        for (arg, state) in [
            ("running", RunState::Running),
            ("failed", RunState::Failed),
            ("dead", RunState::Dead),
        ] {
            assert_eq!(
                parse(&["jobs", arg]).unwrap(),
                Command::Jobs(JobsArgs {
                    command: None,
                    runs: Some(state)
                })
            );
        }
        let run = Uuid::now_v7();
        assert_eq!(
            parse(&["jobs", "retry", &run.to_string()]).unwrap(),
            Command::Jobs(JobsArgs {
                command: Some(JobsCommand::Retry { run_id: run }),
                runs: None
            })
        );
    }

    #[test]
    fn malformed_commands_are_usage_errors() {
        use clap::error::ErrorKind;
        for args in [
            &["frobnicate"][..],
            &["jobs", "stuck"],
            &["jobs", "retry", "not-a-uuid"],
            &["jobs", "retry"],
            &["jobs", "dead", "depth"],
            &["migrate", "now"],
        ] {
            let e = parse(args).expect_err(&format!("{args:?} parsed"));
            assert_ne!(e.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(e.exit_code(), 2, "{args:?}");
        }
        // `jobs` alone shows its help rather than doing something.
        let e = parse(&["jobs"]).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.exit_code(), 0);
        assert!(help.to_string().contains("rotate-credentials-key"));
    }
}

//! The settings several binaries take, declared once as clap `Args`
//! groups and flattened into each binary's flags. A binary gives a
//! setting its own default (and `concord` its etcd wording) with clap's
//! `mut_arg` where it builds its command.

use clap::Args;

/// The config file and the process's name: every binary.
#[derive(Args, Debug, Clone)]
pub struct ProcessArgs {
    /// A YAML file with any of the settings below (keys as the flags).
    #[arg(long)]
    pub config_file: Option<String>,
    /// Name shown on every log line.
    // Each binary gives its default (`mut_arg`), so never missing.
    #[arg(long, required = false)]
    pub name: String,
}

/// The log level: every binary.
#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// debug, info, warn, error, panic or fatal.
    #[arg(long, default_value = "info")]
    pub log_level: String,
}

/// Where a split tier finds the consensus members: given, or from the
/// member registry (`concord-gateway`, `concord-watch`).
#[derive(Args, Debug, Clone)]
pub struct MembersArgs {
    /// Client URLs of concord-consensus members (comma-separated; required
    /// here or in the file, unless --discovery is given).
    #[arg(long, value_delimiter = ',')]
    pub consensus_endpoints: Vec<String>,
    /// The discovery URL the cluster was bootstrapped with (its members'
    /// --discovery): the members are taken from the member registry there
    /// and followed (adds, removals) without a restart, instead of
    /// --consensus-endpoints.
    #[arg(long)]
    pub discovery: Option<String>,
}

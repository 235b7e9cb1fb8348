//! Settings of the split services' binaries (`concord-gateway`,
//! `concord-watch`, `concord-discovery`), layered by [`crate::flags`] as
//! `concord` layers a member's: built-in defaults < a YAML file
//! (`--config-file`, or `CONCORD_CONFIG_FILE`; keys are the flag names, as
//! in `config/`) < `CONCORD_*` environment variables < flags.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;
use clap::{ArgMatches, Command, FromArgMatches};

use crate::flags;

/// The split binaries' environment prefix.
pub const ENV_PREFIXES: &[&str] = &["CONCORD"];

/// `cmd` as the split binaries run it: `name` the default of `--name`
/// ([`crate::args::ProcessArgs`]), each setting's `CONCORD_*` variable
/// shown in `--help`.
pub fn command(cmd: Command, name: &'static str) -> Command {
    flags::with_env(
        cmd.mut_arg("name", |a| a.default_value(name)),
        ENV_PREFIXES[0],
    )
}

/// Parses the process's arguments with `cmd` (built by [`command`]; clap
/// answers `--help`, `--version` and a bad flag itself, and exits) and
/// layers them over the environment and the file, into `T`.
pub fn load<T: FromArgMatches>(cmd: Command) -> anyhow::Result<T> {
    let given = cmd.clone().get_matches();
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let matches = layered(&cmd, &given, &env)?;
    T::from_arg_matches(&matches).map_err(|e| anyhow::anyhow!("{}", clap_text(&e)))
}

/// [`load`], or the error on stderr as `<binary>: <error>` and exit 1.
pub fn load_or_exit<T: FromArgMatches>(cmd: Command) -> T {
    let name = cmd.get_name().to_string();
    load(cmd).unwrap_or_else(|e| {
        eprintln!("{name}: {e:#}");
        std::process::exit(1)
    })
}

/// The settings' final matches from the command line's `given`, the
/// environment `env` and the YAML file they name.
pub fn layered(
    cmd: &Command,
    given: &ArgMatches,
    env: &BTreeMap<String, String>,
) -> anyhow::Result<ArgMatches> {
    let file = flags::config_file(given, ENV_PREFIXES, env).map(PathBuf::from);
    let source = file.as_ref().map(|p| {
        Box::new(config::File::from(p.as_path()).format(config::FileFormat::Yaml))
            as Box<dyn config::Source + Send + Sync>
    });
    let in_file = |what: String| match &file {
        Some(p) => format!("{}: {what}", p.display()),
        None => what,
    };
    if let Some(unknown) = source
        .as_deref()
        .and_then(|s| flags::unknown_file_key(cmd, s))
    {
        anyhow::bail!(in_file(unknown));
    }
    let sources = flags::Sources {
        env_prefixes: ENV_PREFIXES,
        env,
        file: source,
        extra_keys: &[],
    };
    let settings = flags::layer(cmd, given, sources)?
        .build()
        .with_context(|| match &file {
            Some(p) => format!("cannot read the config file {}", p.display()),
            None => "bad settings".into(),
        })?;
    flags::reparse(cmd, &settings).map_err(|e| anyhow::anyhow!(in_file(clap_text(&e))))
}

/// A clap error's first line, without clap's `error: `.
pub fn clap_text(e: &clap::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    line.strip_prefix("error: ").unwrap_or(line).to_string()
}

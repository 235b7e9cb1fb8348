//! Settings of the split services' binaries (`concord-gateway`,
//! `concord-watch`, `concord-discovery`), layered with the `config` crate
//! as `concord` layers a member's: built-in defaults < a YAML file
//! (`--config-file`, or `CONCORD_CONFIG_FILE`; keys are the flag names, as
//! in `config/`) < `CONCORD_*` environment variables < flags. clap reads the
//! flags and the environment (and documents both in `--help`); this module
//! puts the file under them.

use std::path::PathBuf;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use serde::de::DeserializeOwned;

/// Parses the process's arguments with `command` (which must have a
/// `config-file` argument) and layers them over the file.
pub fn load<T: DeserializeOwned>(command: Command) -> anyhow::Result<T> {
    let matches = command.clone().get_matches();
    layered(&command, &matches)
}

/// The settings from `matches` (flags, environment, defaults) over the
/// YAML file it names.
pub fn layered<T: DeserializeOwned>(command: &Command, matches: &ArgMatches) -> anyhow::Result<T> {
    let mut builder = config::Config::builder();
    let file: Option<PathBuf> = matches.get_one::<String>("config_file").map(PathBuf::from);
    for arg in command.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "config_file" || id == "help" || id == "version" {
            continue;
        }
        let Some(values) = matches.get_raw(id) else {
            continue;
        };
        let values: Vec<String> = values.map(|v| v.to_string_lossy().into_owned()).collect();
        let value: config::Value = if arg.get_value_delimiter().is_some() {
            values.into()
        } else {
            values.into_iter().next().unwrap_or_default().into()
        };
        let key = id.replace('_', "-");
        builder = match matches.value_source(id) {
            Some(ValueSource::DefaultValue) | None => builder.set_default(key, value)?,
            // The environment and the command line win over the file.
            Some(_) => builder.set_override(key, value)?,
        };
    }
    if let Some(path) = &file {
        builder =
            builder.add_source(config::File::from(path.as_path()).format(config::FileFormat::Yaml));
    }
    let settings = builder.build().with_context(|| match &file {
        Some(p) => format!("cannot read the config file {}", p.display()),
        None => "bad settings".into(),
    })?;
    settings.try_deserialize().map_err(|e| match &file {
        Some(p) => anyhow::anyhow!("{}: {e}", p.display()),
        None => anyhow::anyhow!("{e}"),
    })
}

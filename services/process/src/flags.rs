//! Every setting of every binary is one clap argument, declared once (in a
//! clap `Args` group, [`crate::args`] for the ones several binaries take);
//! its long name is its config-file key, its environment variables are the
//! binary's prefixes and that name (`CONCORD_LOG_LEVEL`), its clap default
//! is its default. This module layers those sources as defaults < config
//! file < environment (prefixes in order) < command line, and hands the
//! result back to clap as one command line, so that every value, wherever
//! it came from, is parsed by the same declaration.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};

/// Arguments that are not settings: they act, or name the file.
const NOT_SETTINGS: &[&str] = &["help", "version", "config-file"];

/// The settings `cmd` takes: its arguments with a long name, less
/// `--help`, `--version` and `--config-file`, in declaration order.
pub fn settings(cmd: &Command) -> Vec<&Arg> {
    let mut args: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| a.get_long().is_some_and(|l| !NOT_SETTINGS.contains(&l)))
        .collect();
    // `mut_arg` moves an argument to the end; its display order stays.
    args.sort_by_key(|a| a.get_display_order());
    args
}

/// The environment variables of the setting `long`, lowest first:
/// `PREFIX_LONG_NAME` for each prefix.
pub fn env_names(prefixes: &[&str], long: &str) -> Vec<String> {
    let name = long.replace('-', "_").to_uppercase();
    prefixes.iter().map(|p| format!("{p}_{name}")).collect()
}

/// `cmd` with each setting's `prefix` variable declared to clap, so that
/// clap's `--help` shows it and checks its value.
pub fn with_env(cmd: Command, prefix: &str) -> Command {
    let names: Vec<(String, String)> = settings(&cmd)
        .iter()
        .filter_map(|a| {
            let long = a.get_long()?;
            let env = env_names(&[prefix], long).pop()?;
            Some((a.get_id().to_string(), env))
        })
        .chain(std::iter::once((
            "config_file".to_string(),
            format!("{prefix}_CONFIG_FILE"),
        )))
        .collect();
    names.into_iter().fold(cmd, |cmd, (id, env)| {
        if cmd.get_arguments().all(|a| a.get_id() != id.as_str()) {
            return cmd;
        }
        // clap keeps a variable's name for the life of the command, which
        // is the process's.
        let env: &'static str = Box::leak(env.into_boxed_str());
        cmd.mut_arg(id, |a| a.env(env))
    })
}

/// A configuration value as a flag's text: `None` for YAML's empty value
/// (`cert-file:`) and an empty list, a list joined with commas (as flags
/// write lists), a map as something no flag accepts.
pub fn value_text(v: config::Value) -> Option<String> {
    match v.kind {
        config::ValueKind::Nil => None,
        config::ValueKind::Array(items) if items.is_empty() => None,
        config::ValueKind::Array(items) => Some(
            items
                .into_iter()
                .filter_map(value_text)
                .collect::<Vec<_>>()
                .join(","),
        ),
        config::ValueKind::Table(_) => Some("{...}".into()),
        _ => v.into_string().ok(),
    }
}

/// Where a binary's settings come from besides its command line.
pub struct Sources<'a> {
    /// Environment prefixes, lowest first (`["ETCD", "CONCORD"]`).
    pub env_prefixes: &'a [&'a str],
    /// The environment.
    pub env: &'a BTreeMap<String, String>,
    /// The config file, if one is named.
    pub file: Option<Box<dyn config::Source + Send + Sync>>,
    /// Keys read from the environment besides the command's settings (the
    /// etcd flags `concord` refuses, which it checks in every layer).
    pub extra_keys: &'a [&'a str],
}

/// The config file named by `--config-file` or, failing that, its
/// variables (the last prefix first).
pub fn config_file(
    matches: &ArgMatches,
    env_prefixes: &[&str],
    env: &BTreeMap<String, String>,
) -> Option<String> {
    let given = match matches.value_source("config_file") {
        Some(ValueSource::CommandLine) => matches
            .get_raw("config_file")
            .and_then(|mut v| v.next())
            .map(|v| v.to_string_lossy().into_owned()),
        _ => None,
    };
    given.or_else(|| {
        env_names(env_prefixes, "config-file")
            .iter()
            .rev()
            .find_map(|k| env.get(k).cloned())
    })
}

/// Defaults < file < environment < command line, keyed by long name. The
/// caller may add overrides of its own before building.
pub fn layer(
    cmd: &Command,
    matches: &ArgMatches,
    sources: Sources<'_>,
) -> Result<config::ConfigBuilder<config::builder::DefaultState>, config::ConfigError> {
    let mut b = config::Config::builder();
    for arg in settings(cmd) {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        if let [default, ..] = arg.get_default_values() {
            b = b.set_default(long, default.to_string_lossy().into_owned())?;
        }
        // Overrides win over every source, whatever the order.
        if matches!(matches.value_source(id), Some(ValueSource::CommandLine)) {
            if let Some(values) = matches.get_raw(id) {
                let text: Vec<String> = values.map(|v| v.to_string_lossy().into_owned()).collect();
                b = b.set_override(long, text.join(","))?;
            }
        }
    }
    if let Some(file) = sources.file {
        b = b.add_source(Boxed(file));
    }
    let longs = settings(cmd)
        .into_iter()
        .filter_map(Arg::get_long)
        .chain(sources.extra_keys.iter().copied());
    let mut env_layer = config::Map::new();
    for long in longs {
        for name in env_names(sources.env_prefixes, long) {
            if let Some(v) = sources.env.get(&name) {
                env_layer.insert(long.to_string(), config::Value::from(v.as_str()));
            }
        }
    }
    Ok(b.add_source(Layer(env_layer)))
}

/// The file's keys that are no setting of `cmd`, worded as serde words an
/// unknown field (the split binaries refuse them; `concord`, like etcd,
/// ignores them).
pub fn unknown_file_key(cmd: &Command, file: &dyn config::Source) -> Option<String> {
    let keys = file.collect().ok()?;
    let known: Vec<&str> = settings(cmd)
        .into_iter()
        .filter_map(Arg::get_long)
        .collect();
    let unknown = keys.keys().find(|k| !known.contains(&k.as_str()))?;
    let expected = match known.as_slice() {
        [] => "there are no fields".to_string(),
        [one] => format!("expected `{one}`"),
        [a, b] => format!("expected `{a}` or `{b}`"),
        many => format!(
            "expected one of {}",
            many.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    Some(format!("unknown field `{unknown}`, {expected}"))
}

/// The layered settings as one command line for `cmd` (`--long=value`,
/// so a value may start with `-`), parsed by clap: the values are checked
/// and typed by their declarations, wherever they came from.
pub fn reparse(cmd: &Command, layered: &config::Config) -> Result<ArgMatches, clap::Error> {
    let mut argv: Vec<OsString> = vec![cmd.get_name().into()];
    for arg in settings(cmd) {
        let Some(long) = arg.get_long() else { continue };
        let Some(v) = layered.get::<config::Value>(long).ok().and_then(value_text) else {
            continue;
        };
        argv.push(format!("--{long}={v}").into());
    }
    cmd.clone().try_get_matches_from(argv)
}

/// A boxed source (the file, whose reader the binary picks).
#[derive(Debug)]
struct Boxed(Box<dyn config::Source + Send + Sync>);

impl Clone for Boxed {
    fn clone(&self) -> Self {
        Self(self.0.clone_into_box())
    }
}

impl config::Source for Boxed {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        self.0.collect()
    }
}

/// One layer of values already read (the environment's).
#[derive(Debug, Clone)]
struct Layer(config::Map<String, config::Value>);

impl config::Source for Layer {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<config::Map<String, config::Value>, config::ConfigError> {
        Ok(self.0.clone())
    }
}

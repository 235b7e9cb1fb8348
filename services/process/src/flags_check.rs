//! The check every binary's test runs over its own declarations: each
//! setting shown in `--help` with its variables and default, and set by
//! its flag, by each of its variables and by its config-file key. Data
//! comes from the declarations, so a new flag is checked with no new test.

use std::collections::BTreeMap;
use std::path::Path;

use clap::{Arg, ArgMatches, Command};

use crate::flags::{env_names, settings};

/// How a binary reads its settings, for [`check_every_flag`].
pub struct Binary<'a> {
    /// The binary's command, as its `main` builds it.
    pub command: Command,
    /// Its `--help` text.
    pub help: String,
    /// Its environment prefixes.
    pub env_prefixes: &'a [&'a str],
    /// Values to try for settings that do not take any text (flag name,
    /// value).
    pub samples: &'a [(&'a str, &'a str)],
    /// The binary's layering: a command line and an environment in, the
    /// settings' final matches out.
    pub load: &'a dyn Fn(Vec<String>, BTreeMap<String, String>) -> Result<ArgMatches, String>,
}

fn value(m: &ArgMatches, id: &str) -> Option<String> {
    let values: Vec<String> = m
        .get_raw(id)?
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    Some(values.join(","))
}

/// A value the setting accepts that is not its default.
fn sample(arg: &Arg, samples: &[(&str, &str)], long: &str) -> String {
    if let Some((_, v)) = samples.iter().find(|(l, _)| *l == long) {
        return v.to_string();
    }
    let default: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    if let Some(p) = arg
        .get_possible_values()
        .into_iter()
        .find(|p| !default.iter().any(|d| d == p.get_name()))
    {
        return p.get_name().to_string();
    }
    match arg.get_value_delimiter() {
        Some(d) => format!("http://one-{long}:1{d}http://two-{long}:2"),
        None => format!("x-{long}"),
    }
}

/// The failures, one line each, of every setting of `bin`; `dir` holds
/// the config files written.
pub fn check_every_flag(bin: &Binary<'_>, dir: &Path) -> Vec<String> {
    let name = bin.command.get_name().to_string();
    let mut failures = Vec::new();
    let mut check = |what: String, got: Result<ArgMatches, String>, id: &str, want: &str| match got
        .map(|m| value(&m, id))
    {
        Ok(Some(v)) if v == want => {}
        Ok(v) => failures.push(format!("{name} {what}: got {v:?}, want {want:?}")),
        Err(e) => failures.push(format!("{name} {what}: {e}")),
    };
    let settings = settings(&bin.command);
    let mut not_shown = Vec::new();
    if settings.is_empty() {
        not_shown.push(format!("{name} has no settings"));
    }
    for arg in settings {
        let (id, Some(long)) = (arg.get_id().as_str(), arg.get_long()) else {
            continue;
        };
        let env = env_names(bin.env_prefixes, long);
        for shown in std::iter::once(format!("--{long} ")).chain(env.iter().cloned()) {
            if !bin.help.contains(&shown) {
                not_shown.push(format!("{name} --help does not show {shown:?}"));
            }
        }
        if let [default, ..] = arg.get_default_values() {
            let default = default.to_string_lossy().into_owned();
            if !bin.help.contains(&default) {
                not_shown.push(format!(
                    "{name} --help does not show --{long}'s default {default:?}"
                ));
            }
            check(
                format!("--{long} by default"),
                (bin.load)(vec![name.clone()], BTreeMap::new()),
                id,
                &default,
            );
        }
        let v = sample(arg, bin.samples, long);
        check(
            format!("--{long} {v}"),
            (bin.load)(
                vec![name.clone(), format!("--{long}"), v.clone()],
                BTreeMap::new(),
            ),
            id,
            &v,
        );
        for var in env {
            check(
                format!("{var}={v}"),
                (bin.load)(
                    vec![name.clone()],
                    BTreeMap::from([(var.clone(), v.clone())]),
                ),
                id,
                &v,
            );
        }
        // Lists as YAML lists, as the example files write them.
        let yaml = match arg.get_value_delimiter() {
            Some(d) => v
                .split(d)
                .map(|p| format!("\n  - {p:?}"))
                .collect::<String>(),
            None => format!(" {v:?}"),
        };
        let file = dir.join(format!("{name}-{long}.yaml"));
        let got = std::fs::write(&file, format!("{long}:{yaml}\n"))
            .map_err(|e| e.to_string())
            .and_then(|()| {
                (bin.load)(
                    vec![
                        name.clone(),
                        "--config-file".into(),
                        file.display().to_string(),
                    ],
                    BTreeMap::new(),
                )
            });
        check(format!("config file {long}:{yaml}"), got, id, &v);
    }
    failures.extend(not_shown);
    failures
}

/// A split binary's final matches from `args` and `env`, as its `main`
/// reads them ([`crate::settings`]).
pub fn load_split(
    cmd: &Command,
    args: Vec<String>,
    env: BTreeMap<String, String>,
) -> Result<ArgMatches, String> {
    let given = cmd
        .clone()
        .try_get_matches_from(args)
        .map_err(|e| e.to_string())?;
    crate::settings::layered(cmd, &given, &env).map_err(|e| format!("{e:#}"))
}

/// [`check_every_flag`] for a split binary, whose `command` builds its
/// command as its `main` does ([`crate::settings::command`]): its
/// `CONCORD_*` variables, its YAML file, clap's `--help`.
pub fn check_split_binary(command: fn() -> Command) -> Vec<String> {
    let load = |args, env| load_split(&command(), args, env);
    let bin = Binary {
        command: command(),
        help: command().render_long_help().to_string(),
        env_prefixes: crate::settings::ENV_PREFIXES,
        samples: &[],
        load: &load,
    };
    let dir = std::env::temp_dir().join(format!(
        "concord-flags-{}-{}",
        bin.command.get_name(),
        std::process::id()
    ));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return vec![format!("cannot create {}: {e}", dir.display())];
    }
    let failures = check_every_flag(&bin, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    failures
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches, Parser};

    use super::*;
    use crate::args::{LogArgs, MembersArgs, ProcessArgs};

    /// The shared groups in a binary of their own, layered as the split
    /// binaries layer theirs.
    #[derive(Parser, Debug)]
    #[command(name = "shared", version)]
    struct Shared {
        #[command(flatten)]
        process: ProcessArgs,
        #[command(flatten)]
        members: MembersArgs,
        #[command(flatten)]
        log: LogArgs,
    }

    fn command() -> Command {
        crate::settings::command(Shared::command(), "shared")
    }

    fn load(args: Vec<String>, env: BTreeMap<String, String>) -> Result<ArgMatches, String> {
        load_split(&command(), args, env)
    }

    #[test]
    fn every_shared_flag_is_set_by_its_flag_variable_and_file_key() {
        let failures = check_split_binary(command);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        let s = Shared::from_arg_matches(&load(vec!["shared".into()], BTreeMap::new()).unwrap())
            .unwrap();
        assert_eq!(
            (s.process.name.as_str(), s.log.log_level.as_str()),
            ("shared", "info")
        );
        assert!(s.members.consensus_endpoints.is_empty());
    }

    #[test]
    fn a_variable_that_sets_nothing_is_reported() {
        let dir = std::env::temp_dir().join(format!("concord-process-deaf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A binary that forgets its environment.
        let deaf = |args: Vec<String>, _env: BTreeMap<String, String>| load(args, BTreeMap::new());
        let bin = Binary {
            command: command(),
            help: command().render_long_help().to_string(),
            env_prefixes: crate::settings::ENV_PREFIXES,
            samples: &[],
            load: &deaf,
        };
        let failures = check_every_flag(&bin, &dir);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(failures.len(), 4, "{}", failures.join("\n"));
        assert!(
            failures[0].starts_with("shared CONCORD_NAME=x-name: got Some(\"shared\")"),
            "{}",
            failures[0]
        );
    }

    #[test]
    fn flags_win_over_the_environment_over_the_file() {
        let dir =
            std::env::temp_dir().join(format!("concord-process-layers-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("s.yaml");
        std::fs::write(
            &file,
            "name: file\nlog-level: warn\nconsensus-endpoints:\n  - http://f:1\n",
        )
        .unwrap();
        let path = file.display().to_string();
        let env = BTreeMap::from([("CONCORD_NAME".to_string(), "env".to_string())]);
        let got = |args: &[&str], env: &BTreeMap<String, String>| {
            let mut argv = vec!["shared".to_string(), "--config-file".into(), path.clone()];
            argv.extend(args.iter().map(|s| s.to_string()));
            Shared::from_arg_matches(&load(argv, env.clone()).unwrap()).unwrap()
        };
        let s = got(&[], &BTreeMap::new());
        assert_eq!(
            (s.process.name.as_str(), s.log.log_level.as_str()),
            ("file", "warn")
        );
        assert_eq!(s.members.consensus_endpoints, ["http://f:1"]);
        assert_eq!(got(&[], &env).process.name, "env");
        assert_eq!(got(&["--name=-flag"], &env).process.name, "-flag");
        std::fs::write(&file, "name: file\nbogus: 1\n").unwrap();
        let err = load(
            vec!["shared".into(), "--config-file".into(), path.clone()],
            BTreeMap::new(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            format!("{path}: unknown field `bogus`, expected one of `name`, `consensus-endpoints`, `discovery`, `log-level`")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

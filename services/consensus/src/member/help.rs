//! `concord --help`, laid out as `etcd --help` is, from the flags'
//! declarations ([`super::config::Flags`]): each flag with its default and
//! the environment variables that set it; then the etcd 3.4 flags Concord
//! does not support yet ([`super::unsupported`]).

use super::unsupported::UNSUPPORTED;

/// Defaults that etcd's help shows as a rule, since they follow from
/// other settings ([`super::config::Flags`] has no default for them).
const DERIVED_DEFAULTS: &[(&str, &str)] = &[
    ("data-dir", "${name}.etcd"),
    ("initial-cluster", "default=http://localhost:2380"),
];

/// A setting's default as etcd's help shows it: quoted.
fn shown_default(arg: &clap::Arg, long: &str) -> String {
    let default = match DERIVED_DEFAULTS.iter().find(|(l, _)| *l == long) {
        Some((_, d)) => d.to_string(),
        None => arg
            .get_default_values()
            .first()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    format!("'{default}'")
}

/// The text of `concord --help`.
pub fn text() -> String {
    let mut s = String::from(
        "Usage:

  concord [flags]
    Start a Concord member (an etcd v2 API server).

  concord --version
    Show the version of concord.

  concord -h | --help
    Show the help information about concord.

  concord --config-file <path>
    Path to an etcd YAML configuration file (etcd's keys, e.g. 'data-dir: x').
    Environment: ETCD_CONFIG_FILE, CONCORD_CONFIG_FILE.

Every flag can also be given as an environment variable (ETCD_<FLAG> or
CONCORD_<FLAG>: upper case, '-' as '_') or as a key of the config file.
Unlike etcd, where a config file makes flags and environment ignored,
Concord layers them: flags > CONCORD_* > ETCD_* > config file > defaults.
Flags may be written as etcd's Go syntax too: -name x, -name=x, --name=x.
",
    );
    // The settings by section (etcd's), in their declaration order.
    let cmd = super::config::command();
    let args = concord_process::flags::settings(&cmd);
    let mut sections: Vec<&str> = Vec::new();
    for arg in &args {
        if let Some(h) = arg.get_help_heading() {
            if !sections.contains(&h) {
                sections.push(h);
            }
        }
    }
    for section in sections {
        s.push_str(&format!("\n{section}:\n"));
        for arg in args
            .iter()
            .filter(|a| a.get_help_heading() == Some(section))
        {
            let Some(long) = arg.get_long() else { continue };
            let env = concord_process::flags::env_names(super::config::ENV_PREFIXES, long);
            s.push_str(&format!(
                "  --{long} {}\n    {}\n    env: {}\n",
                shown_default(arg, long),
                arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                env.join(", ")
            ));
        }
    }
    s.push_str(
        "
etcd flags not supported by Concord (yet):
  Given with a value other than etcd's default (shown), as a flag, as
  ETCD_<FLAG> / CONCORD_<FLAG> or in the config file, each of these stops
  the start with \"this etcd flag is not supported by Concord (yet)\".
",
    );
    for fl in UNSUPPORTED {
        let default = fl.accepted.first().copied().unwrap_or("");
        s.push_str(&format!("  --{} '{default}'\n    {}\n", fl.name, fl.help));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_defaults_env_and_unsupported() {
        let t = text();
        assert!(t.contains("--name 'default'"));
        assert!(t.contains("env: ETCD_NAME, CONCORD_NAME"));
        assert!(t.contains("etcd flags not supported by Concord (yet):"));
        assert!(t.contains("--cert-file ''"));
        assert!(!t.contains("zap is"));
    }
}

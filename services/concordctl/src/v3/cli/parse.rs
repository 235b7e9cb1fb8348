//! cobra's command lookup and pflag's flag parsing, as etcdctl 3.4 runs
//! them: the subcommand is found among the words that are not flags
//! (a unique prefix of a name is enough, `cobra.EnablePrefixMatching`),
//! then the command's own and inherited flags are parsed anywhere among
//! its arguments (`--name value`, `--name=value`, `-x value`, `-xvalue`,
//! booleans without a value, `--` ending the flags), with pflag's error
//! texts.

use std::collections::HashMap;

use concord_store::go;

use super::spec::{Command, Flag, Kind, ETCDCTL_ORDER, HELP, ROOT};

/// A command line, parsed: the command path from the root, its
/// positional arguments and the flags set on it.
#[derive(Debug)]
pub struct Parsed {
    pub path: Vec<&'static Command>,
    pub args: Vec<String>,
    /// Every value given to each flag, in order (a string slice flag
    /// collects them all).
    set: HashMap<&'static str, Vec<String>>,
    flags: Vec<&'static Flag>,
}

/// Why a command line does not run a command.
#[derive(Debug)]
pub enum Stop {
    /// `-h`/`--help`, or a command that only groups subcommands: its usage.
    Help(Vec<&'static Command>),
    /// A flag error: printed with the command's usage, exit 1.
    Flag(Vec<&'static Command>, String),
    /// An unknown command under the root.
    UnknownCommand(String),
}

/// Finds the command and parses its flags (cobra's `Find` then
/// `ParseFlags`).
pub fn parse(argv: &[String]) -> Result<Parsed, Stop> {
    let mut path: Vec<&'static Command> = vec![&ROOT];
    let mut args: Vec<String> = argv.to_vec();
    loop {
        let cmd = *path.last().expect("root");
        if cmd.subs.is_empty() {
            break;
        }
        let flags = flags_of(&path);
        let words = strip_flags(&args, &flags);
        let Some(next) = words.first() else { break };
        let Some(sub) = find_sub(cmd, next) else {
            break;
        };
        if let Some(i) = args.iter().position(|a| a == next) {
            args.remove(i);
        }
        path.push(sub);
    }
    let cmd = *path.last().expect("root");
    if path.len() == 1 {
        let flags = flags_of(&path);
        let words = strip_flags(&args, &flags);
        if let Some(first) = words.first() {
            if is_help(first) {
                return Err(Stop::Help(help_path(&words[1..])));
            }
            return Err(Stop::UnknownCommand(format!(
                "unknown command {} for \"etcdctl\"{}",
                go::quote(first),
                suggestions(cmd, first)
            )));
        }
    }
    let flags = flags_of(&path);
    let mut parsed = Parsed {
        path: path.clone(),
        args: Vec::new(),
        set: HashMap::new(),
        flags,
    };
    match parsed.parse_flags(args) {
        Ok(true) => return Err(Stop::Help(path)),
        Ok(false) => {}
        Err(e) => return Err(Stop::Flag(path, e)),
    }
    if parsed.bool("help") || !cmd.runnable {
        return Err(Stop::Help(path));
    }
    Ok(parsed)
}

/// Parses only `args` against `cmd`'s own flags (no globals): how txn
/// reads its `get`/`put`/`del` request lines. `Err` on any flag error.
pub fn parse_local(cmd: &'static Command, args: &[String]) -> Result<Parsed, String> {
    let mut parsed = Parsed {
        path: vec![cmd],
        args: Vec::new(),
        set: HashMap::new(),
        flags: cmd.flags.iter().chain([&HELP]).collect(),
    };
    match parsed.parse_flags(args.to_vec()) {
        Ok(false) => Ok(parsed),
        Ok(true) => Err("help".into()),
        Err(e) => Err(e),
    }
}

/// The flags a command accepts: its own, its persistent ones, those its
/// ancestors pass down, and help.
fn flags_of(path: &[&'static Command]) -> Vec<&'static Flag> {
    let cmd = path.last().expect("root");
    let mut flags: Vec<&'static Flag> = cmd.flags.iter().chain(cmd.persistent).collect();
    flags.push(&HELP);
    for parent in &path[..path.len() - 1] {
        flags.extend(parent.persistent.iter());
    }
    flags
}

/// A subcommand by exact name, else by a prefix unique among etcdctl's
/// commands (at the root, those concordctl lacks count too).
fn find_sub(cmd: &'static Command, name: &str) -> Option<&'static Command> {
    if let Some(c) = cmd.subs.iter().find(|c| c.name == name) {
        return Some(c);
    }
    let names = sub_names(cmd);
    let mut matches = names.iter().filter(|n| n.starts_with(name));
    match (matches.next(), matches.next()) {
        (Some(n), None) => cmd.subs.iter().find(|c| c.name == *n),
        _ => None,
    }
}

/// Whether `word` names cobra's `help` command (a unique prefix will do).
fn is_help(word: &str) -> bool {
    let mut matches = ETCDCTL_ORDER.iter().filter(|n| n.starts_with(word));
    matches!((matches.next(), matches.next()), (Some(&"help"), None))
}

/// `help <command...>`: the command named, as far as the words name one.
fn help_path(words: &[String]) -> Vec<&'static Command> {
    let mut path: Vec<&'static Command> = vec![&ROOT];
    for w in words {
        let cmd = *path.last().expect("root");
        match cmd.subs.iter().find(|c| c.name == w.as_str()) {
            Some(sub) => path.push(sub),
            None => break,
        }
    }
    path
}

/// A command's subcommand names as etcdctl has them.
fn sub_names(cmd: &'static Command) -> Vec<&'static str> {
    if std::ptr::eq(cmd, &ROOT) {
        ETCDCTL_ORDER.to_vec()
    } else {
        cmd.subs.iter().map(|c| c.name).collect()
    }
}

/// cobra's `stripFlags`: the words of `args` that are not flags or flag
/// values (a flag not known is taken to have a value).
fn strip_flags(args: &[String], flags: &[&'static Flag]) -> Vec<String> {
    let takes_value_long =
        |name: &str| !flags.iter().any(|f| f.name == name && f.kind == Kind::Bool);
    let takes_value_short = |c: &str| {
        !flags
            .iter()
            .any(|f| f.short.map(String::from).as_deref() == Some(c) && f.kind == Kind::Bool)
    };
    let mut words = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let s = args[i].as_str();
        i += 1;
        if s == "--" {
            break;
        }
        let long_with_value = s.starts_with("--") && !s.contains('=') && takes_value_long(&s[2..]);
        let short_with_value = s.starts_with('-')
            && !s.starts_with("--")
            && !s.contains('=')
            && s.len() == 2
            && takes_value_short(&s[1..]);
        if long_with_value || short_with_value {
            if args.len() - i <= 1 {
                break;
            }
            i += 1;
        } else if !s.is_empty() && !s.starts_with('-') {
            words.push(s.to_string());
        }
    }
    words
}

/// cobra's "Did you mean this?" list: subcommands within Levenshtein
/// distance 2 of what was typed, or that it is a prefix of.
fn suggestions(cmd: &'static Command, typed: &str) -> String {
    let lower = typed.to_lowercase();
    let found: Vec<&str> = sub_names(cmd)
        .into_iter()
        // cobra does not offer its `help` command.
        .filter(|n| *n != "help")
        .filter(|n| levenshtein(&lower, n) <= 2 || n.starts_with(&lower))
        .collect();
    if found.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n\nDid you mean this?\n");
    for name in found {
        s.push_str(&format!("\t{name}\n"));
    }
    s
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

impl Parsed {
    /// pflag's `Parse` with interspersed flags; `Ok(true)` for help.
    fn parse_flags(&mut self, args: Vec<String>) -> Result<bool, String> {
        let mut rest = args.into_iter();
        while let Some(s) = rest.next() {
            if s.len() < 2 || !s.starts_with('-') {
                self.args.push(s);
                continue;
            }
            if s == "--" {
                self.args.extend(rest.by_ref());
                break;
            }
            let help = if let Some(long) = s.strip_prefix("--") {
                self.parse_long(long, &s, &mut rest)?
            } else {
                self.parse_short(&s[1..], &mut rest)?
            };
            if help {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn parse_long(
        &mut self,
        name: &str,
        whole: &str,
        rest: &mut impl Iterator<Item = String>,
    ) -> Result<bool, String> {
        if name.is_empty() || name.starts_with('-') || name.starts_with('=') {
            return Err(format!("bad flag syntax: {whole}"));
        }
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let Some(flag) = self.flags.iter().copied().find(|f| f.name == name) else {
            if name == "help" {
                return Ok(true);
            }
            return Err(format!("unknown flag: --{name}"));
        };
        let value = match value {
            Some(v) => v,
            None if flag.kind == Kind::Bool => "true".into(),
            None => rest
                .next()
                .ok_or_else(|| format!("flag needs an argument: {whole}"))?,
        };
        self.set_value(flag, value)?;
        Ok(false)
    }

    fn parse_short(
        &mut self,
        mut shorthands: &str,
        rest: &mut impl Iterator<Item = String>,
    ) -> Result<bool, String> {
        while let Some(c) = shorthands.chars().next() {
            let after = &shorthands[c.len_utf8()..];
            let Some(flag) = self.flags.iter().copied().find(|f| f.short == Some(c)) else {
                if c == 'h' {
                    return Ok(true);
                }
                return Err(format!("unknown shorthand flag: '{c}' in -{shorthands}"));
            };
            let (value, next) = if let Some(v) = after.strip_prefix('=') {
                (v.to_string(), "")
            } else if flag.kind == Kind::Bool {
                ("true".to_string(), after)
            } else if !after.is_empty() {
                (after.to_string(), "")
            } else {
                let v = rest
                    .next()
                    .ok_or_else(|| format!("flag needs an argument: '{c}' in -{shorthands}"))?;
                (v, "")
            };
            self.set_value(flag, value)?;
            shorthands = next;
        }
        Ok(false)
    }

    /// Checks `value` as pflag's typed `Set` would, then records it.
    fn set_value(&mut self, flag: &'static Flag, value: String) -> Result<(), String> {
        if let Err(why) = check(flag.kind, &value) {
            let name = match flag.short {
                Some(s) => format!("-{s}, --{}", flag.name),
                None => format!("--{}", flag.name),
            };
            return Err(format!(
                "invalid argument {} for {} flag: {why}",
                go::quote(&value),
                go::quote(&name)
            ));
        }
        self.set.entry(flag.name).or_default().push(value);
        Ok(())
    }

    /// Sets a flag from the environment (etcd's `SetPflagsFromEnv`) unless
    /// the command line set it; a value that does not parse is ignored,
    /// as etcdctl ignores that error.
    pub fn set_from_env(&mut self, flag: &'static Flag, value: String) {
        if self.changed(flag.name) || check(flag.kind, &value).is_err() {
            return;
        }
        self.set.entry(flag.name).or_default().push(value);
    }

    /// Whether the command line (or environment) set the flag.
    pub fn changed(&self, name: &str) -> bool {
        self.set.contains_key(name)
    }

    fn raw(&self, name: &str) -> String {
        if let Some(v) = self.set.get(name).and_then(|v| v.last()) {
            return v.clone();
        }
        self.flags
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.default.to_string())
            .unwrap_or_default()
    }

    pub fn bool(&self, name: &str) -> bool {
        go::parse_bool(&self.raw(name)).unwrap_or(false)
    }

    pub fn string(&self, name: &str) -> String {
        self.raw(name)
    }

    pub fn int64(&self, name: &str) -> i64 {
        parse_go_int(&self.raw(name)).unwrap_or(0)
    }

    /// A duration flag in nanoseconds (negative allowed, as Go's).
    pub fn duration(&self, name: &str) -> i64 {
        go::parse_duration(&self.raw(name)).unwrap_or(0)
    }

    /// A string slice flag: every value set, each split on commas; the
    /// default when none was.
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.set.get(name) {
            Some(values) => values
                .iter()
                .flat_map(|v| v.split(',').map(String::from).collect::<Vec<_>>())
                .collect(),
            None => {
                let d = self.raw(name);
                let inner = d.trim_start_matches('[').trim_end_matches(']');
                inner.split(',').map(String::from).collect()
            }
        }
    }
}

/// Whether `value` parses as a `kind`; `Err` is Go's parse error text.
fn check(kind: Kind, value: &str) -> Result<(), String> {
    match kind {
        Kind::Bool => go::parse_bool(value).map(|_| ()).ok_or_else(|| {
            format!(
                "strconv.ParseBool: parsing {}: invalid syntax",
                go::quote(value)
            )
        }),
        Kind::Int64 => parse_go_int(value).map(|_| ()),
        Kind::Duration => go::parse_duration(value).map(|_| ()),
        Kind::Str | Kind::StrSlice => Ok(()),
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)` as pflag's int64 uses it: decimal,
/// or `0x`, `0o`, `0b`, leading-`0` octal; `_` separators after a prefix.
fn parse_go_int(s: &str) -> Result<i64, String> {
    let err = |what: &str| format!("strconv.ParseInt: parsing {}: {what}", go::quote(s));
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    let digits: String = if radix == 10 {
        digits.to_string()
    } else {
        digits.replace('_', "")
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(err("invalid syntax"));
    }
    let magnitude = u128::from_str_radix(&digits, radix).map_err(|_| err("value out of range"))?;
    let v = if neg {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    i64::try_from(v).map_err(|_| err("value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn finds_commands_past_global_flags_and_by_prefix() {
        let p = parse(&argv(&["--endpoints", "x:1", "ge", "foo", "--prefix"])).unwrap();
        assert_eq!(p.path.last().unwrap().name, "get");
        assert_eq!(p.args, ["foo"]);
        assert!(p.bool("prefix"));
        assert_eq!(p.strings("endpoints"), ["x:1"]);
    }

    #[test]
    fn worded_as_pflag() {
        let e = |a: &[&str]| match parse(&argv(a)) {
            Err(Stop::Flag(_, e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            e(&["lease", "grant", "-5"]),
            "unknown shorthand flag: '5' in -5"
        );
        assert_eq!(
            e(&["get", "a", "--count-only"]),
            "unknown flag: --count-only"
        );
        assert_eq!(
            e(&["get", "a", "--limit=abc"]),
            "invalid argument \"abc\" for \"--limit\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(e(&["get", "a", "-w"]), "flag needs an argument: 'w' in -w");
        match parse(&argv(&["foo"])) {
            Err(Stop::UnknownCommand(e)) => {
                assert_eq!(e, "unknown command \"foo\" for \"etcdctl\"")
            }
            other => panic!("{other:?}"),
        }
    }
}

//! etcdctl 3.4's usage text (`ctlv3/help.go`, from rkt): its template
//! (NAME, USAGE, VERSION, API VERSION, COMMANDS, DESCRIPTION, OPTIONS,
//! GLOBAL OPTIONS), its flag lines (`--name="default"\tusage`, booleans
//! as `--name[=false]`), all passed through Go's `text/tabwriter` with
//! tab padding, as etcdctl writes it to stdout.

use concord_store::go;

use super::spec::{Command, Flag, Kind, HELP};

/// etcdctl's version strings, as `etcdctl version` prints them.
pub const VERSION: &str = "3.4.23";
pub const API_VERSION: &str = "3.4";

/// The usage of the last command of `path` (the root first).
pub fn usage(path: &[&'static Command]) -> String {
    let cmd = path[path.len() - 1];
    let root = path.len() == 1;
    let mut out = String::from("NAME:\n");
    let name = if root {
        cmd.name.to_string()
    } else {
        path[1..]
            .iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
            .join(" ")
    };
    out.push_str(&format!("\t{name} - {}\n", cmd.short));
    out.push_str(&format!("\nUSAGE:\n\t{}\n", use_line(path)));
    if root {
        out.push_str(&format!("\nVERSION:\n\t{VERSION}\n"));
    }
    if !cmd.subs.is_empty() {
        out.push_str(&format!("\nAPI VERSION:\n\t{API_VERSION}\n"));
        out.push_str("\n\nCOMMANDS:\n");
        for (sub_name, short) in sub_commands(cmd, "") {
            out.push_str(&format!("\t{sub_name}\t{short}\n"));
        }
    }
    if !cmd.long.is_empty() {
        out.push_str("\nDESCRIPTION:\n");
        for line in cmd.long.trim_matches(['\n', '\t', ' ']).split('\n') {
            out.push_str(&format!("\t{line}\n"));
        }
    }
    let mut local: Vec<&Flag> = cmd.flags.iter().chain(cmd.persistent).collect();
    local.push(&HELP);
    out.push_str("\nOPTIONS:\n");
    out.push_str(&flag_usages(local, cmd.name));
    let inherited: Vec<&Flag> = path[..path.len() - 1]
        .iter()
        .flat_map(|c| c.persistent.iter())
        .collect();
    if !inherited.is_empty() {
        out.push_str("\nGLOBAL OPTIONS:\n");
        out.push_str(&flag_usages(inherited, cmd.name));
    }
    out.push('\n');
    tabwrite(&out)
}

/// cobra's `UseLine`: the parents' names, the command's `Use`, and
/// ` [flags]` (every command has at least `--help`).
fn use_line(path: &[&'static Command]) -> String {
    let names: Vec<&str> = path[..path.len() - 1].iter().map(|c| c.name).collect();
    let own = path[path.len() - 1].use_line;
    let line = if names.is_empty() {
        own.to_string()
    } else {
        format!("{} {own}", names.join(" "))
    };
    if line.contains("[flags]") {
        line
    } else {
        format!("{line} [flags]")
    }
}

/// Every runnable command below `cmd`, named from `cmd`, sorted by name
/// at each level as cobra sorts them.
fn sub_commands(cmd: &'static Command, prefix: &str) -> Vec<(String, &'static str)> {
    let mut subs: Vec<&'static Command> = cmd.subs.iter().collect();
    subs.sort_by_key(|c| c.name);
    let mut out = Vec::new();
    for sub in subs {
        let name = format!("{prefix}{}", sub.name);
        if sub.runnable {
            out.push((name.clone(), sub.short));
        }
        out.extend(sub_commands(sub, &format!("{name} ")));
    }
    out
}

/// etcdctl's `etcdFlagUsages`, sorted by name as pflag visits them.
fn flag_usages(mut flags: Vec<&Flag>, cmd_name: &str) -> String {
    flags.sort_by_key(|f| f.name);
    let mut out = String::new();
    for f in flags {
        let mut line = match f.short {
            Some(s) => format!("  -{s}, --{}", f.name),
            None => format!("      --{}", f.name),
        };
        let value = if f.kind == Kind::Str {
            go::quote(f.default)
        } else {
            f.default.to_string()
        };
        if f.kind == Kind::Bool {
            line.push_str(&format!("[={value}]"));
        } else {
            line.push_str(&format!("={value}"));
        }
        let usage = if f.name == "help" {
            format!("{}{cmd_name}", f.usage)
        } else {
            f.usage.to_string()
        };
        out.push_str(&format!("{line}\t{usage}\n"));
    }
    out
}

/// Go's `text/tabwriter` with minwidth 0, tabwidth 8, padding 1 and tab
/// padding (etcdctl's `getTabOutWithWriter`): tab-terminated cells of
/// adjacent lines form columns, each padded with tabs to the next tab
/// stop past its widest cell plus one.
pub fn tabwrite(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::new();
    let mut widths = Vec::new();
    format(&mut out, &lines, &mut widths, 0, lines.len());
    out
}

fn format(
    out: &mut String,
    lines: &[Vec<&str>],
    widths: &mut Vec<usize>,
    mut line0: usize,
    line1: usize,
) {
    let column = widths.len();
    let mut this = line0;
    while this < line1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        write_lines(out, lines, widths, line0, this);
        line0 = this;
        let mut width = 0;
        while this < line1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + 1);
            this += 1;
        }
        widths.push(width);
        format(out, lines, widths, line0, this);
        widths.pop();
        line0 = this;
    }
    write_lines(out, lines, widths, line0, line1);
}

fn write_lines(out: &mut String, lines: &[Vec<&str>], widths: &[usize], from: usize, to: usize) {
    for (i, line) in lines.iter().enumerate().take(to).skip(from) {
        for (j, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(&w) = widths.get(j) {
                let cellw = w.div_ceil(8) * 8;
                let n = cellw - cell.chars().count();
                out.push_str(&"\t".repeat(n.div_ceil(8)));
            }
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v3::cli::spec::{COMMANDS, ROOT};

    #[test]
    fn tab_columns_as_go() {
        assert_eq!(
            tabwrite("a\tb\nlonger text\tc\nno tabs\n"),
            "a\t\tb\nlonger text\tc\nno tabs\n"
        );
    }

    #[test]
    fn lease_grant_usage_as_etcdctl() {
        let grant = COMMANDS
            .iter()
            .find(|c| c.name == "lease")
            .unwrap()
            .subs
            .iter()
            .find(|c| c.name == "grant")
            .unwrap();
        let lease = COMMANDS.iter().find(|c| c.name == "lease").unwrap();
        let text = usage(&[&ROOT, lease, grant]);
        assert!(text.starts_with(
            "NAME:\n\tlease grant - Creates leases\n\nUSAGE:\n\tetcdctl lease grant <ttl> [flags]\n\nOPTIONS:\n  -h, --help[=false]\thelp for grant\n\nGLOBAL OPTIONS:\n      --cacert=\"\"\t\t\t\tverify"
        ), "{text}");
        assert!(text.ends_with("simple, table)\n\n"));
    }
}

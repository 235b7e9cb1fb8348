//! etcdctl 3.4's command tree as cobra declares it (`ctlv3/ctl.go` and
//! `ctlv3/command/*_command.go`): each command's `Use`, `Short`, `Long`
//! and flags, in the words etcdctl prints in its usage. The parser
//! (`parse.rs`) and the usage printer (`usage.rs`) both read this table,
//! so a command's help and its accepted flags cannot drift apart.
//!
//! Only the commands concordctl implements are listed: any other name is
//! an unknown command, as etcdctl says of a command it lacks.

/// How a flag's value is read (pflag's value types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Str,
    Int64,
    Duration,
    StrSlice,
}

/// One flag: pflag's name, shorthand, type, default as printed
/// (`DefValue`) and usage text.
#[derive(Debug)]
pub struct Flag {
    pub name: &'static str,
    pub short: Option<char>,
    pub kind: Kind,
    pub default: &'static str,
    pub usage: &'static str,
}

const fn flag(name: &'static str, kind: Kind, default: &'static str, usage: &'static str) -> Flag {
    Flag {
        name,
        short: None,
        kind,
        default,
        usage,
    }
}

const fn short(
    name: &'static str,
    s: char,
    kind: Kind,
    default: &'static str,
    usage: &'static str,
) -> Flag {
    Flag {
        name,
        short: Some(s),
        kind,
        default,
        usage,
    }
}

/// One cobra command. `persistent` flags are inherited by its
/// subcommands (and, as cobra counts them, are local to itself).
#[derive(Debug)]
pub struct Command {
    pub name: &'static str,
    pub use_line: &'static str,
    pub short: &'static str,
    pub long: &'static str,
    pub flags: &'static [Flag],
    pub persistent: &'static [Flag],
    pub subs: &'static [Command],
    pub runnable: bool,
}

const fn leaf(
    name: &'static str,
    use_line: &'static str,
    short: &'static str,
    flags: &'static [Flag],
) -> Command {
    Command {
        name,
        use_line,
        short,
        long: "",
        flags,
        persistent: &[],
        subs: &[],
        runnable: true,
    }
}

const fn group(
    name: &'static str,
    use_line: &'static str,
    short: &'static str,
    subs: &'static [Command],
) -> Command {
    Command {
        name,
        use_line,
        short,
        long: "",
        flags: &[],
        persistent: &[],
        subs,
        runnable: false,
    }
}

use Kind::*;

/// etcdctl's global (root persistent) flags, `ctlv3/ctl.go`.
pub const GLOBAL: &[Flag] = &[
    flag("endpoints", StrSlice, "[127.0.0.1:2379]", "gRPC endpoints"),
    flag("debug", Bool, "false", "enable client-side debug logging"),
    short(
        "write-out",
        'w',
        Str,
        "simple",
        "set the output format (fields, json, protobuf, simple, table)",
    ),
    flag("hex", Bool, "false", "print byte strings as hex encoded strings"),
    flag("dial-timeout", Duration, "2s", "dial timeout for client connections"),
    flag(
        "command-timeout",
        Duration,
        "5s",
        "timeout for short running command (excluding dial timeout)",
    ),
    flag("keepalive-time", Duration, "2s", "keepalive time for client connections"),
    flag("keepalive-timeout", Duration, "6s", "keepalive timeout for client connections"),
    flag(
        "insecure-transport",
        Bool,
        "true",
        "disable transport security for client connections",
    ),
    flag(
        "insecure-discovery",
        Bool,
        "true",
        "accept insecure SRV records describing cluster endpoints",
    ),
    flag(
        "insecure-skip-tls-verify",
        Bool,
        "false",
        "skip server certificate verification (CAUTION: this option should be enabled only for testing purposes)",
    ),
    flag("cert", Str, "", "identify secure client using this TLS certificate file"),
    flag("key", Str, "", "identify secure client using this TLS key file"),
    flag(
        "cacert",
        Str,
        "",
        "verify certificates of TLS-enabled secure servers using this CA bundle",
    ),
    flag(
        "user",
        Str,
        "",
        "username[:password] for authentication (prompt if password is not supplied)",
    ),
    flag(
        "password",
        Str,
        "",
        "password for authentication (if this option is used, --user option shouldn't include password)",
    ),
    short(
        "discovery-srv",
        'd',
        Str,
        "",
        "domain name to query for SRV records describing cluster endpoints",
    ),
    flag(
        "discovery-srv-name",
        Str,
        "",
        "service name to query when using DNS discovery",
    ),
];

pub const GET_FLAGS: &[Flag] = &[
    flag(
        "consistency",
        Str,
        "l",
        "Linearizable(l) or Serializable(s)",
    ),
    flag(
        "order",
        Str,
        "",
        "Order of results; ASCEND or DESCEND (ASCEND by default)",
    ),
    flag(
        "sort-by",
        Str,
        "",
        "Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION",
    ),
    flag("limit", Int64, "0", "Maximum number of results"),
    flag("prefix", Bool, "false", "Get keys with matching prefix"),
    flag(
        "from-key",
        Bool,
        "false",
        "Get keys that are greater than or equal to the given key using byte compare",
    ),
    flag("rev", Int64, "0", "Specify the kv revision"),
    flag("keys-only", Bool, "false", "Get only the keys"),
    flag(
        "print-value-only",
        Bool,
        "false",
        "Only write values when using the \"simple\" output format",
    ),
];

pub const PUT_FLAGS: &[Flag] = &[
    flag(
        "lease",
        Str,
        "0",
        "lease ID (in hexadecimal) to attach to the key",
    ),
    flag(
        "prev-kv",
        Bool,
        "false",
        "return the previous key-value pair before modification",
    ),
    flag(
        "ignore-value",
        Bool,
        "false",
        "updates the key using its current value",
    ),
    flag(
        "ignore-lease",
        Bool,
        "false",
        "updates the key using its current lease",
    ),
];

pub const DEL_FLAGS: &[Flag] = &[
    flag("prefix", Bool, "false", "delete keys with matching prefix"),
    flag("prev-kv", Bool, "false", "return deleted key-value pairs"),
    flag(
        "from-key",
        Bool,
        "false",
        "delete keys that are greater than or equal to the given key using byte compare",
    ),
];

const PUT_LONG: &str = "
Puts the given key into the store.

When <value> begins with '-', <value> is interpreted as a flag.
Insert '--' for workaround:

$ put <key> -- <value>
$ put -- <key> <value>

If <value> isn't given as a command line argument and '--ignore-value' is not specified,
this command tries to read the value from standard input.

If <lease> isn't given as a command line argument and '--ignore-lease' is not specified,
this command tries to read the value from standard input.

For example,
$ cat file | put <key>
will store the content of the file to <key>.
";

pub const GET: Command = leaf(
    "get",
    "get [options] <key> [range_end]",
    "Gets the key or a range of keys",
    GET_FLAGS,
);

pub const PUT: Command = Command {
    long: PUT_LONG,
    ..leaf(
        "put",
        "put [options] <key> <value> (<value> can also be given from stdin)",
        "Puts the given key into the store",
        PUT_FLAGS,
    )
};

pub const DEL: Command = leaf(
    "del",
    "del [options] <key> [range_end]",
    "Removes the specified key or range of keys [key, range_end)",
    DEL_FLAGS,
);

const CLUSTER_FLAG: Flag = flag(
    "cluster",
    Bool,
    "false",
    "use all endpoints from the cluster member list",
);

/// The root's subcommands.
pub const COMMANDS: &[Command] = &[
    GET,
    PUT,
    DEL,
    leaf(
        "txn",
        "txn [options]",
        "Txn processes all the requests in one transaction",
        &[short(
            "interactive",
            'i',
            Bool,
            "false",
            "Input transaction in interactive mode",
        )],
    ),
    leaf(
        "compaction",
        "compaction [options] <revision>",
        "Compacts the event history in etcd",
        &[flag(
            "physical",
            Bool,
            "false",
            "'true' to wait for compaction to physically remove all old revisions",
        )],
    ),
    group(
        "alarm",
        "alarm <subcommand>",
        "Alarm related commands",
        &[
            leaf("disarm", "disarm", "Disarms all alarms", &[]),
            leaf("list", "list", "Lists all alarms", &[]),
        ],
    ),
    Command {
        persistent: &[CLUSTER_FLAG],
        ..leaf(
            "defrag",
            "defrag",
            "Defragments the storage of the etcd members with given endpoints",
            &[flag(
                "data-dir",
                Str,
                "",
                "Optional. If present, defragments a data directory not in use by etcd.",
            )],
        )
    },
    Command {
        persistent: &[CLUSTER_FLAG],
        ..group(
            "endpoint",
            "endpoint <subcommand>",
            "Endpoint related commands",
            &[
                leaf(
                    "health",
                    "health",
                    "Checks the healthiness of endpoints specified in `--endpoints` flag",
                    &[],
                ),
                Command {
                    long: "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are endpoint, ID, version, db size, is leader, is learner, raft term, raft index, raft applied index, errors.
",
                    ..leaf(
                        "status",
                        "status",
                        "Prints out the status of endpoints specified in `--endpoints` flag",
                        &[],
                    )
                },
                Command {
                    persistent: &[flag(
                        "rev",
                        Int64,
                        "0",
                        "maximum revision to hash (default: all revisions)",
                    )],
                    ..leaf(
                        "hashkv",
                        "hashkv",
                        "Prints the KV history hash for each endpoint in --endpoints",
                        &[],
                    )
                },
            ],
        )
    },
    leaf(
        "move-leader",
        "move-leader <transferee-member-id>",
        "Transfers leadership to another etcd cluster member.",
        &[],
    ),
    leaf(
        "watch",
        "watch [options] [key or prefix] [range_end] [--] [exec-command arg1 arg2 ...]",
        "Watches events stream on keys or prefixes",
        &[
            short("interactive", 'i', Bool, "false", "Interactive mode"),
            flag("prefix", Bool, "false", "Watch on a prefix if prefix is set"),
            flag("rev", Int64, "0", "Revision to start watching"),
            flag(
                "prev-kv",
                Bool,
                "false",
                "get the previous key-value pair before the event happens",
            ),
        ],
    ),
    leaf("version", "version", "Prints the version of etcdctl", &[]),
    group(
        "lease",
        "lease <subcommand>",
        "Lease related commands",
        &[
            leaf("grant", "grant <ttl>", "Creates leases", &[]),
            leaf("revoke", "revoke <leaseID>", "Revokes leases", &[]),
            leaf(
                "timetolive",
                "timetolive <leaseID> [options]",
                "Get lease information",
                &[flag("keys", Bool, "false", "Get keys attached to this lease")],
            ),
            leaf("list", "list", "List all active leases", &[]),
            leaf(
                "keep-alive",
                "keep-alive [options] <leaseID>",
                "Keeps leases alive (renew)",
                &[flag(
                    "once",
                    Bool,
                    "false",
                    "Resets the keep-alive time to its original value and exits immediately",
                )],
            ),
        ],
    ),
    group(
        "member",
        "member <subcommand>",
        "Membership related commands",
        &[
            leaf(
                "add",
                "add <memberName> [options]",
                "Adds a member into the cluster",
                &[
                    flag("peer-urls", Str, "", "comma separated peer URLs for the new member."),
                    flag("learner", Bool, "false", "indicates if the new member is raft learner"),
                ],
            ),
            leaf("remove", "remove <memberID>", "Removes a member from the cluster", &[]),
            leaf(
                "update",
                "update <memberID> [options]",
                "Updates a member in the cluster",
                &[flag(
                    "peer-urls",
                    Str,
                    "",
                    "comma separated peer URLs for the updated member.",
                )],
            ),
            Command {
                long: "When --write-out is set to simple, this command prints out comma-separated member lists for each endpoint.
The items in the lists are ID, Status, Name, Peer Addrs, Client Addrs, Is Learner.
",
                ..leaf("list", "list", "Lists all members in the cluster", &[])
            },
            Command {
                long: "Promotes a non-voting learner member to a voting one in the cluster.
",
                ..leaf(
                    "promote",
                    "promote <memberID>",
                    "Promotes a non-voting member in the cluster",
                    &[],
                )
            },
        ],
    ),
    group(
        "snapshot",
        "snapshot <subcommand>",
        "Manages etcd node snapshots",
        &[
            leaf(
                "save",
                "save <filename>",
                "Stores an etcd node backend snapshot to a given file",
                &[],
            ),
            leaf(
                "restore",
                "restore <filename> [options]",
                "Restores an etcd member snapshot to an etcd directory",
                &[
                    flag("data-dir", Str, "", "Path to the data directory"),
                    flag(
                        "wal-dir",
                        Str,
                        "",
                        "Path to the WAL directory (use --data-dir if none given)",
                    ),
                    flag(
                        "initial-cluster",
                        Str,
                        "default=http://localhost:2380",
                        "Initial cluster configuration for restore bootstrap",
                    ),
                    flag(
                        "initial-cluster-token",
                        Str,
                        "etcd-cluster",
                        "Initial cluster token for the etcd cluster during restore bootstrap",
                    ),
                    flag(
                        "initial-advertise-peer-urls",
                        Str,
                        "http://localhost:2380",
                        "List of this member's peer URLs to advertise to the rest of the cluster",
                    ),
                    flag("name", Str, "default", "Human-readable name for this member"),
                    flag(
                        "skip-hash-check",
                        Bool,
                        "false",
                        "Ignore snapshot integrity hash value (required if copied from data directory)",
                    ),
                ],
            ),
            Command {
                long: "When --write-out is set to simple, this command prints out comma-separated status lists for each endpoint.
The items in the lists are hash, revision, total keys, total size.
",
                ..leaf(
                    "status",
                    "status <filename>",
                    "Gets backend snapshot status of a given file",
                    &[],
                )
            },
        ],
    ),
    AUTH,
    USER,
    ROLE,
];

/// `auth` (`auth_command.go`).
const AUTH: Command = group(
    "auth",
    "auth <enable or disable>",
    "Enable or disable authentication",
    &[
        leaf("enable", "enable", "Enables authentication", &[]),
        leaf("disable", "disable", "Disables authentication", &[]),
    ],
);

/// `user` (`user_command.go`).
const USER: Command = group(
    "user",
    "user <subcommand>",
    "User related commands",
    &[
        leaf(
            "add",
            "add <user name or user:password> [options]",
            "Adds a new user",
            &[
                flag(
                    "interactive",
                    Bool,
                    "true",
                    "Read password from stdin instead of interactive terminal",
                ),
                flag(
                    "new-user-password",
                    Str,
                    "",
                    "Supply password from the command line flag",
                ),
                flag(
                    "no-password",
                    Bool,
                    "false",
                    "Create a user without password (CN based auth only)",
                ),
            ],
        ),
        leaf("delete", "delete <user name>", "Deletes a user", &[]),
        leaf(
            "get",
            "get <user name> [options]",
            "Gets detailed information of a user",
            &[flag(
                "detail",
                Bool,
                "false",
                "Show permissions of roles granted to the user",
            )],
        ),
        leaf("list", "list", "Lists all users", &[]),
        leaf(
            "passwd",
            "passwd <user name> [options]",
            "Changes password of user",
            &[flag(
                "interactive",
                Bool,
                "true",
                "If true, read password from stdin instead of interactive terminal",
            )],
        ),
        leaf(
            "grant-role",
            "grant-role <user name> <role name>",
            "Grants a role to a user",
            &[],
        ),
        leaf(
            "revoke-role",
            "revoke-role <user name> <role name>",
            "Revokes a role from a user",
            &[],
        ),
    ],
);

/// `role` (`role_command.go`).
const ROLE: Command = group(
    "role",
    "role <subcommand>",
    "Role related commands",
    &[
        leaf("add", "add <role name>", "Adds a new role", &[]),
        leaf("delete", "delete <role name>", "Deletes a role", &[]),
        leaf("get", "get <role name>", "Gets detailed information of a role", &[]),
        leaf("list", "list", "Lists all roles", &[]),
        leaf(
            "grant-permission",
            "grant-permission [options] <role name> <permission type> <key> [endkey]",
            "Grants a key to a role",
            &[
                flag("prefix", Bool, "false", "grant a prefix permission"),
                flag(
                    "from-key",
                    Bool,
                    "false",
                    "grant a permission of keys that are greater than or equal to the given key using byte compare",
                ),
            ],
        ),
        leaf(
            "revoke-permission",
            "revoke-permission <role name> <key> [endkey]",
            "Revokes a key from a role",
            &[
                flag("prefix", Bool, "false", "revoke a prefix permission"),
                flag(
                    "from-key",
                    Bool,
                    "false",
                    "revoke a permission of keys that are greater than or equal to the given key using byte compare",
                ),
            ],
        ),
    ],
);

/// etcdctl's root commands in the order it adds them, with those
/// concordctl lacks: a prefix names a command only if it is unique among
/// all of them, and cobra suggests them in this order. Typed in full, a
/// missing one is an unknown command.
pub const ETCDCTL_ORDER: &[&str] = &[
    "get",
    "put",
    "del",
    "txn",
    "compaction",
    "alarm",
    "defrag",
    "endpoint",
    "move-leader",
    "watch",
    "version",
    "lease",
    "member",
    "snapshot",
    "make-mirror",
    "migrate",
    "lock",
    "elect",
    "auth",
    "user",
    "role",
    "check",
    "completion",
    "help",
];

/// The root command, `etcdctl`.
pub const ROOT: Command = Command {
    name: "etcdctl",
    use_line: "etcdctl",
    short: "A simple command line client for etcd3.",
    long: "",
    flags: &[],
    persistent: GLOBAL,
    subs: COMMANDS,
    runnable: false,
};

/// cobra's `-h, --help` flag, local to every command; its usage text
/// (`help for <name>`) is written by `usage.rs`.
pub const HELP: Flag = Flag {
    name: "help",
    short: Some('h'),
    kind: Bool,
    default: "false",
    usage: "help for ",
};

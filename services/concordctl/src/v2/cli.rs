//! etcdctl v2's command line (urfave/cli in `ctlv2/ctl.go` and
//! `ctlv2/command/*.go`): its global flags and commands, with etcdctl's
//! spellings and help texts, on clap.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "concordctl",
    version,
    about = "A simple command line client for etcd (v2 API)."
)]
pub struct Cli {
    /// a comma-delimited list of machine addresses in the cluster (default: "http://127.0.0.1:2379,http://127.0.0.1:4001")
    #[arg(long = "endpoints", global = true)]
    pub endpoints: Option<String>,
    /// DEPRECATED - "--endpoints" should be used instead
    #[arg(long = "endpoint", global = true)]
    pub endpoint: Option<String>,
    /// DEPRECATED - "--endpoints" should be used instead
    #[arg(long = "peers", short = 'C', global = true)]
    pub peers: Option<String>,
    /// output response in the given format (`simple`, `extended` or `json`)
    #[arg(long = "output", short = 'o', default_value = "simple", global = true)]
    pub output: String,
    /// don't synchronize cluster information before sending request
    #[arg(long = "no-sync", global = true)]
    pub no_sync: bool,
    /// output cURL commands which can be used to reproduce the request
    #[arg(long, global = true)]
    pub debug: bool,
    /// connection timeout per request
    #[arg(long, default_value = "2s", global = true)]
    pub timeout: String,
    /// timeout for the command execution (except watch)
    #[arg(long = "total-timeout", default_value = "5s", global = true)]
    pub total_timeout: String,
    /// identify HTTPS client using this SSL certificate file
    #[arg(long = "cert-file", default_value = "", global = true)]
    pub cert_file: String,
    /// identify HTTPS client using this SSL key file
    #[arg(long = "key-file", default_value = "", global = true)]
    pub key_file: String,
    /// verify certificates of HTTPS-enabled servers using this CA bundle
    #[arg(long = "ca-file", default_value = "", global = true)]
    pub ca_file: String,
    /// provide username[:password] and prompt if password is not supplied.
    #[arg(long = "username", short = 'u', default_value = "", global = true)]
    pub username: String,
    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(Args, Debug, Default)]
pub struct TtlArg {
    /// key time-to-live in seconds
    #[arg(long, default_value_t = 0)]
    pub ttl: u64,
}

/// etcdctl's commands, in its order.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    #[command(flatten)]
    Keys(KeysCmd),
    /// member add, remove and list subcommands
    Member {
        #[command(subcommand)]
        action: MemberCmd,
    },
    /// check the health of the etcd cluster
    #[command(name = "cluster-health")]
    ClusterHealth {
        /// forever check the health every 10 second until CTRL+C
        #[arg(long, short = 'f')]
        forever: bool,
    },
    /// Concord's own container healthcheck (not etcdctl's, hence hidden):
    /// `probe URL` checks a v2 endpoint's /health, `probe --grpc URL` a
    /// gRPC endpoint's grpc.health.v1 service; exit 0 healthy, 1 not;
    /// bounded by --timeout. See probe.rs.
    #[command(hide = true)]
    Probe {
        /// the endpoint speaks gRPC (concord-consensus, concord-watch)
        #[arg(long)]
        grpc: bool,
        url: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum MemberCmd {
    /// enumerate existing cluster members
    List {
        #[arg(hide = true)]
        args: Vec<String>,
    },
    /// add a new member to the etcd cluster (<name> <peerURL>)
    Add { args: Vec<String> },
    /// remove an existing member from the etcd cluster (<memberID>)
    Remove { args: Vec<String> },
    /// update an existing member in the etcd cluster (<memberID> <peerURLs>)
    Update { args: Vec<String> },
}

/// The commands on the keys API: each builds (and syncs) the client
/// before it looks at its arguments, as etcdctl's do.
#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// retrieve the value of a key
    Get {
        key: Option<String>,
        /// returns result in sorted order
        #[arg(long)]
        sort: bool,
        /// require quorum for get request
        #[arg(long, short = 'q')]
        quorum: bool,
    },
    /// set the value of a key
    Set {
        key: Option<String>,
        value: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
        /// previous value
        #[arg(long = "swap-with-value", default_value = "")]
        swap_with_value: String,
        /// previous index
        #[arg(long = "swap-with-index", default_value_t = 0)]
        swap_with_index: u64,
    },
    /// make a new key with a given value
    Mk {
        key: Option<String>,
        value: Option<String>,
        /// create in-order key under directory
        #[arg(long = "in-order")]
        in_order: bool,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// make a new directory
    Mkdir {
        key: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// create a new directory or update an existing directory TTL
    Setdir {
        key: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// update an existing key with a given value
    Update {
        key: Option<String>,
        value: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// update an existing directory
    Updatedir {
        key: Option<String>,
        #[command(flatten)]
        ttl: TtlArg,
    },
    /// remove a key or a directory
    Rm {
        key: Option<String>,
        /// removes the key if it is an empty directory or a key-value pair
        #[arg(long)]
        dir: bool,
        /// removes the key and all child keys(if it is a directory)
        #[arg(long, short = 'r')]
        recursive: bool,
        /// previous value
        #[arg(long = "with-value", default_value = "")]
        with_value: String,
        /// previous index
        #[arg(long = "with-index", default_value_t = 0)]
        with_index: u64,
    },
    /// removes the key if it is an empty directory or a key-value pair
    Rmdir { key: Option<String> },
    /// retrieve a directory
    Ls {
        key: Option<String>,
        /// returns result in sorted order
        #[arg(long)]
        sort: bool,
        /// returns all key names recursively for the given path
        #[arg(long, short = 'r')]
        recursive: bool,
        /// append slash (/) to directories
        #[arg(short = 'p')]
        p: bool,
        /// require quorum for get request
        #[arg(long, short = 'q')]
        quorum: bool,
    },
    /// watch a key for changes
    Watch {
        key: Option<String>,
        /// forever watch a key until CTRL+C
        #[arg(long, short = 'f')]
        forever: bool,
        /// watch after the given index
        #[arg(long = "after-index", default_value_t = 0)]
        after_index: u64,
        /// returns all values for key and child keys
        #[arg(long, short = 'r')]
        recursive: bool,
    },
    /// watch a key for changes and exec an executable
    #[command(name = "exec-watch")]
    ExecWatch {
        /// watch after the given index
        #[arg(long = "after-index", default_value_t = 0)]
        after_index: u64,
        /// watch all values for key and child keys
        #[arg(long, short = 'r')]
        recursive: bool,
        /// <key> -- <command> [args...]
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

//! The etcd 3.4 server flags Concord does not support (yet): listed in
//! `--help`, and refused from any layer (flag, variable, config file)
//! unless given a value that changes nothing.

/// An etcd 3.4 flag that Concord does not support (yet).
pub struct Unsupported {
    pub name: &'static str,
    /// Go bool flags take a value only as `--flag=value`.
    pub is_bool: bool,
    /// Values that change nothing (etcd's default first): given with one of
    /// these, the flag is accepted, since the member behaves as asked.
    pub accepted: &'static [&'static str],
    pub help: &'static str,
}

impl Unsupported {
    /// Whether `value` asks for nothing Concord does not do.
    pub fn accepts(&self, value: &str) -> bool {
        let value = value.trim();
        if self.is_bool {
            let want = concord_store::go::parse_bool(value);
            return want.is_some()
                && want
                    == self
                        .accepted
                        .first()
                        .and_then(|d| concord_store::go::parse_bool(d));
        }
        self.accepted.contains(&value)
    }
}

const fn u(
    name: &'static str,
    is_bool: bool,
    accepted: &'static [&'static str],
    help: &'static str,
) -> Unsupported {
    Unsupported {
        name,
        is_bool,
        accepted,
        help,
    }
}

/// Every etcd 3.4 server flag Concord does not implement (from
/// `etcd --help` of 3.4.23), with etcd's default.
pub const UNSUPPORTED: &[Unsupported] = &[
    u("initial-election-tick-advance", true, &["true"], "Whether to fast-forward initial election ticks on boot for faster election."),
    u("backend-batch-interval", false, &[""], "BackendBatchInterval is the maximum time before commit the backend transaction."),
    u("backend-batch-limit", false, &["0"], "BackendBatchLimit is the maximum operations before commit the backend transaction."),
    u("max-txn-ops", false, &["128"], "Maximum number of operations permitted in a transaction."),
    u("max-concurrent-streams", false, &["math.MaxUint32", "4294967295"], "Maximum concurrent streams that each client can open at a time."),
    u("grpc-keepalive-min-time", false, &["5s"], "Minimum duration interval that a client should wait before pinging server."),
    u("grpc-keepalive-interval", false, &["2h", "2h0m0s"], "Frequency duration of server-to-client ping to check if a connection is alive (0 to disable)."),
    u("grpc-keepalive-timeout", false, &["20s"], "Additional duration of wait before closing a non-responsive connection (0 to disable)."),
    u("discovery-srv", false, &[""], "DNS srv domain used to bootstrap the cluster."),
    u("discovery-srv-name", false, &[""], "Suffix to the dns srv name queried when bootstrapping."),
    u("pre-vote", true, &["false"], "Enable to run an additional Raft election phase."),
    u("client-crl-file", false, &[""], "Path to the client certificate revocation list file."),
    u("client-cert-allowed-hostname", false, &[""], "Allowed TLS hostname for client cert authentication."),
    u("peer-cert-allowed-hostname", false, &[""], "Allowed TLS hostname for inter peer authentication."),
    u("peer-crl-file", false, &[""], "Path to the peer certificate revocation list file."),
    u("cors", false, &["*", ""], "Comma-separated whitelist of origins for CORS, or cross-origin resource sharing, (empty or * means allow all)."),
    u("host-whitelist", false, &["*", ""], "Acceptable hostnames from HTTP client requests, if server is not secure (empty or * means allow all)."),
    u("auth-token", false, &["simple"], "Specify a v3 authentication token type and its options ('simple' or 'jwt')."),
    u("bcrypt-cost", false, &["10"], "Specify the cost / strength of the bcrypt algorithm for hashing auth passwords."),
    u("enable-pprof", true, &["false"], "Enable runtime profiling data via HTTP server."),
    u("metrics", false, &["basic"], "Set level of detail for exported metrics, specify 'extensive' to include histogram metrics."),
    u("listen-metrics-urls", false, &[""], "List of URLs to listen on for the metrics and health endpoints."),
    u("logger", false, &["capnslog"], "Specify 'zap' for structured logging or 'capnslog' (Concord has one format of its own: one line per event on stderr)."),
    u("log-outputs", false, &["default", "stderr"], "'stdout', 'stderr' or a list of output targets (Concord logs to stderr: 'default' and 'stderr' are accepted)."),
    u("log-package-levels", false, &[""], "Specify a particular log level for each etcd package (Concord: use CONCORD_LOG)."),
    u("proxy", false, &["off"], "Proxy mode setting ('off', 'readonly' or 'on')."),
    u("proxy-failure-wait", false, &["5000"], "Time (in milliseconds) an endpoint will be held in a failed state."),
    u("proxy-refresh-interval", false, &["30000"], "Time (in milliseconds) of the endpoints refresh interval."),
    u("proxy-dial-timeout", false, &["1000"], "Time (in milliseconds) for a dial to timeout."),
    u("proxy-write-timeout", false, &["5000"], "Time (in milliseconds) for a write to timeout."),
    u("proxy-read-timeout", false, &["0"], "Time (in milliseconds) for a read to timeout."),
    u("experimental-initial-corrupt-check", true, &["false"], "Enable to check data corruption before serving any client/peer traffic."),
    u("experimental-corrupt-check-time", false, &["0s", "0"], "Duration of time between cluster corruption check passes."),
    u("experimental-enable-v2v3", false, &[""], "Serve v2 requests through the v3 backend under a given prefix."),
    u("experimental-backend-bbolt-freelist-type", false, &["array"], "The type of freelist that boltdb backend uses."),
    u("experimental-enable-lease-checkpoint", true, &["false"], "Persist lease remainingTTL to prevent indefinite auto-renewal of long lived leases."),
    u("experimental-compaction-batch-limit", false, &["1000"], "The maximum revisions deleted in each compaction batch."),
    u("experimental-peer-skip-client-san-verification", true, &["false"], "Skip verification of SAN field in client certificate for peer connections."),
    u("experimental-watch-progress-notify-interval", false, &["10m", "10m0s"], "Duration of periodical watch progress notification."),
    u("experimental-warning-apply-duration", false, &["100ms"], "Warning is generated if requests take more than this duration."),
    u("force-new-cluster", true, &["false"], "Force to create a new one-member cluster."),
];

/// The etcd flag named `name` (without dashes) that Concord lacks.
pub fn unsupported(name: &str) -> Option<&'static Unsupported> {
    UNSUPPORTED.iter().find(|u| u.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_accepted_others_not() {
        let crl = unsupported("client-crl-file").unwrap();
        assert!(crl.accepts(""));
        assert!(!crl.accepts("/x.pem"));
        assert!(unsupported("cert-file").is_none());
        let fnc = unsupported("force-new-cluster").unwrap();
        assert!(fnc.accepts("false") && fnc.accepts("0"));
        assert!(!fnc.accepts("true") && !fnc.accepts("bogus"));
        assert!(unsupported("log-outputs").unwrap().accepts("stderr"));
        assert!(!unsupported("logger").unwrap().accepts("zap"));
        assert!(unsupported("name").is_none());
    }
}

//! `concord`: the all-in-one member (consensus, v2 gateway and watch in
//! one process), with etcd's flags. See the library's documentation.

fn main() -> std::process::ExitCode {
    concord_consensus::member::cli::main(&concord::AllInOne::new())
}

//! etcdctl 3.4's command line (cobra and pflag in `ctlv3/ctl.go`): the
//! command tree (`spec.rs`), the parser (`parse.rs`) and the usage text
//! (`usage.rs`).
//!
//! etcdctl's parser is cobra's, not clap's: flags may follow the
//! arguments, a unique prefix names a command, and the errors and usage
//! are cobra's words, which scripts and tests compare. So this is a small
//! table-driven parser of its own rather than clap (which v2 uses, as
//! urfave/cli's behaviour is close to clap's).

pub mod parse;
pub mod spec;
pub mod usage;

pub use parse::{parse, Parsed, Stop};

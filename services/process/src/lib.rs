//! What every Concord binary does as a process, in one copy: its flags,
//! each declared once and layered from defaults, a YAML file, environment
//! variables and the command line ([`flags`], [`args`] for the flags
//! several binaries share, [`settings`] for the split binaries,
//! [`flags_check`] the test every binary runs over its flags), its log
//! lines with the process's name on each ([`logging`]), the address a
//! listen URL names ([`listen_addr`]), serving HTTP/1.1 and h2c until
//! stopped ([`serve`]), over TLS when asked ([`tls`]), and the stop signals
//! it obeys ([`shutdown_signal`]).

pub mod args;
pub mod flags;
pub mod flags_check;
pub mod logging;
pub mod net;
pub mod serve;
pub mod settings;
pub mod signal;
pub mod tls;
mod x509_cn;

pub use logging::init_logging;
pub use net::listen_addr;
pub use signal::shutdown_signal;

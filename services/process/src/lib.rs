//! What every Concord binary does as a process, in one copy: its settings
//! layered from defaults, a YAML file, `CONCORD_*` variables and flags
//! ([`settings`]), its log lines with the process's name on each
//! ([`logging`]), the address a listen URL names ([`listen_addr`]) and the
//! stop signals it obeys ([`shutdown_signal`]).

pub mod logging;
pub mod net;
pub mod settings;
pub mod signal;

pub use logging::init_logging;
pub use net::listen_addr;
pub use signal::shutdown_signal;

//! The standard gRPC health service (`grpc.health.v1.Health`), so that any
//! gRPC tool, and the container healthchecks, can ask a Concord server
//! whether it serves.

use tonic_health::pb::health_server::{Health, HealthServer};

/// A health service that answers SERVING for the server as a whole (the
/// empty service name) as long as the process serves gRPC at all.
pub fn service() -> HealthServer<impl Health> {
    let (_reporter, service) = tonic_health::server::health_reporter();
    service
}

//! One listener for both APIs, as etcd serves them: a request whose
//! `content-type` is gRPC's goes to the v3 services, any other (HTTP/1.1
//! or HTTP/2) to the v2 router. Paths alone would do for today's routes,
//! but etcd dispatches on the content type, and so a non-gRPC request to
//! `/etcdserverpb.KV/Range` gets the v2 API's 404 as it does from etcd.

use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use axum::Router;
use tower::ServiceExt;

/// The v2 router with the v3 gRPC services beside it.
pub fn grpc_or_http(v3: Router, v2: Router) -> Router {
    Router::new().fallback(move |req: Request| {
        let grpc = req
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let to = if grpc { v3.clone() } else { v2.clone() };
        async move {
            let answered: Result<Response, std::convert::Infallible> = to.oneshot(req).await;
            match answered {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
    })
}

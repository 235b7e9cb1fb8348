//! The v2 client's errors, printed as the Go client's `err.Error()`.

/// Why a call failed; its `Display` is Go's `err.Error()`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// `client.ClusterError`: every endpoint failed; one text each, with
    /// whether etcdctl counts it as a connection error.
    #[error("client: etcd cluster is unavailable or misconfigured{}", cluster_errors(.0))]
    Cluster(Vec<(String, bool)>),
    /// `client.ErrNoEndpoints`.
    #[error("client: no endpoints available")]
    NoEndpoints,
    /// A single error (a one-shot request's, the context's, a parse error).
    #[error("{text}")]
    Raw { text: String, connection: bool },
}

/// `ClusterError.Error()`'s list: `; error #0: <err>\n` each.
fn cluster_errors(errs: &[(String, bool)]) -> String {
    errs.iter()
        .enumerate()
        .map(|(i, (e, _))| format!("; error #{i}: {e}\n"))
        .collect()
}

/// `client.ErrEmptyBody`.
pub const EMPTY_BODY: &str = "client: response body is empty";

impl Error {
    /// A single error that is not a connection error.
    pub fn raw(text: impl Into<String>) -> Error {
        Error::Raw {
            text: text.into(),
            connection: false,
        }
    }

    /// `context.DeadlineExceeded`, a `net.Error` with `Timeout() == true`
    /// (so a connection error to etcdctl).
    pub fn deadline() -> Error {
        Error::Raw {
            text: "context deadline exceeded".into(),
            connection: true,
        }
    }

    /// Go's `Error()`.
    pub fn text(&self) -> String {
        self.to_string()
    }

    /// `ClusterError.Detail()`, which etcdctl's `handleError` adds.
    pub fn detail(&self) -> Option<String> {
        match self {
            Error::Cluster(errs) => Some(
                errs.iter()
                    .enumerate()
                    .map(|(i, (e, _))| format!("error #{i}: {e}\n"))
                    .collect(),
            ),
            _ => None,
        }
    }

    /// `client.ErrEmptyBody`, which a watcher retries.
    pub fn is_empty_body(&self) -> bool {
        matches!(self, Error::Raw { text, .. } if text == EMPTY_BODY)
    }

    /// etcdctl's `isConnectionError`.
    pub fn is_connection(&self) -> bool {
        match self {
            Error::Cluster(errs) => errs.iter().all(|(_, c)| *c),
            Error::NoEndpoints => false,
            Error::Raw { connection, .. } => *connection,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_error_text_and_detail_are_gos() {
        let e = Error::Cluster(vec![("a".into(), true), ("b".into(), true)]);
        assert_eq!(
            e.text(),
            "client: etcd cluster is unavailable or misconfigured; error #0: a\n; error #1: b\n"
        );
        assert_eq!(e.detail().unwrap(), "error #0: a\nerror #1: b\n");
        assert!(e.is_connection());
        let e = Error::Cluster(vec![("a".into(), true), ("b".into(), false)]);
        assert!(!e.is_connection());
    }

    #[test]
    fn the_empty_body_error_is_recognised() {
        assert!(Error::raw(EMPTY_BODY).is_empty_body());
        assert!(!Error::deadline().is_empty_body());
        assert!(Error::deadline().is_connection());
        assert_eq!(
            Error::NoEndpoints.to_string(),
            "client: no endpoints available"
        );
    }
}

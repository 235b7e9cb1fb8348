//! The v3 routes over `LocalKeyspace` and `LocalCluster`, served on
//! 127.0.0.1 over h2c, and the generated clients to call them (or any other
//! endpoint, such as etcd's).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use concord_rpc::etcd::etcdserverpb::{
    auth_client::AuthClient, cluster_client::ClusterClient, kv_client::KvClient,
    lease_client::LeaseClient, maintenance_client::MaintenanceClient, watch_client::WatchClient,
};
use concord_v3rpc::{routes_with, V3Options};
use tonic::transport::Channel;

use super::cluster::LocalCluster;
use super::keyspace::LocalKeyspace;

/// A test server: the v3 routes on an ephemeral port.
pub struct TestServer {
    pub addr: SocketAddr,
    pub keyspace: Arc<LocalKeyspace>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Serves with etcd's defaults.
    pub async fn start() -> TestServer {
        Self::start_with(V3Options::default()).await
    }

    pub async fn start_with(options: V3Options) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let keyspace = LocalKeyspace::new();
        let cluster = Arc::new(LocalCluster::new(&format!("http://{addr}")));
        let app = routes_with(keyspace.clone(), cluster, options);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        TestServer {
            addr,
            keyspace,
            task,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The generated clients of every v3 service, on one connection.
#[derive(Clone)]
pub struct Clients {
    pub kv: KvClient<Channel>,
    pub watch: WatchClient<Channel>,
    pub lease: LeaseClient<Channel>,
    pub cluster: ClusterClient<Channel>,
    pub maintenance: MaintenanceClient<Channel>,
    pub auth: AuthClient<Channel>,
    pub channel: Channel,
}

impl Clients {
    pub async fn connect(endpoint: &str) -> Clients {
        let channel = Channel::from_shared(endpoint.to_string())
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connect {endpoint}: {e}"));
        Clients {
            kv: KvClient::new(channel.clone()),
            watch: WatchClient::new(channel.clone()),
            lease: LeaseClient::new(channel.clone()),
            cluster: ClusterClient::new(channel.clone()),
            maintenance: MaintenanceClient::new(channel.clone()),
            auth: AuthClient::new(channel.clone()),
            channel,
        }
    }
}

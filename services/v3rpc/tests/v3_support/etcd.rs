//! etcd 3.4 as the reference: started from PATH on unique ports with a
//! temporary data dir, killed when dropped. `None` when etcd is not
//! installed (the comparisons then say so and check Concord alone).

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use concord_rpc::etcd::etcdserverpb::{maintenance_client::MaintenanceClient, StatusRequest};

pub struct Etcd {
    child: Child,
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now (bound and released; etcd binds it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn installed() -> bool {
    Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Etcd {
    /// A one-member etcd, ready to answer `Status`.
    pub async fn start() -> Option<Etcd> {
        if !installed() {
            eprintln!("etcd is not installed: comparing with nothing");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "default", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("default={peer_url}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("etcd.log")).unwrap())
            .spawn()
            .expect("start etcd");
        let etcd = Etcd {
            child,
            endpoint: client_url,
            _dir: dir,
        };
        etcd.wait_ready().await;
        Some(etcd)
    }

    /// Polls `Status` until etcd has a leader.
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut c) = MaintenanceClient::connect(self.endpoint.clone()).await {
                if let Ok(s) = c.status(StatusRequest {}).await {
                    if s.get_ref().leader != 0 {
                        return;
                    }
                }
            }
            assert!(Instant::now() < deadline, "etcd did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

//! The keyspace as a bbolt snapshot file: restored as it was written, laid
//! out as etcd's backend, read by `etcdctl snapshot status` (etcd 3.4.23)
//! as it reads an etcd snapshot, and with the same `key` bucket as the one
//! in a snapshot of etcd 3.4.23 after the same writes.

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use concord_mvcc::bbolt::{self, Reader, PAGE_SIZE};
use concord_mvcc::*;
use support::*;

/// Puts, an overwrite, a delete, a lease with a key, and a compaction.
fn sample() -> Keyspace {
    let mut ks = Keyspace::default();
    put(&mut ks, "a", "1"); // 2
    put(&mut ks, "b", "2"); // 3
    put(&mut ks, "a", "3"); // 4
    ks.delete_range(&del_req("b", "")).unwrap(); // 5
    let lease = ks
        .lease_grant(
            &LeaseGrantRequest {
                ttl: 60,
                id: 0x1234,
            },
            0,
        )
        .unwrap();
    ks.put(&PutRequest {
        lease: lease.id,
        ..put_req("c", "with lease")
    })
    .unwrap(); // 6
    put(&mut ks, "b", "again"); // 7
    ks.compact(&CompactionRequest {
        revision: 4,
        physical: true,
    })
    .unwrap();
    ks
}

#[test]
fn restores_the_keyspace_it_was_written_from() {
    let ks = sample();
    let image = bbolt::write(&ks, 42).unwrap();
    assert_eq!(Keyspace::from_bbolt(&image).unwrap(), ks);
    // As `etcdctl snapshot save` stores it: etcd's sha256 appended.
    let mut saved = image.clone();
    saved.extend_from_slice(&[0xAB; 32]);
    assert_eq!(Keyspace::from_bbolt(&saved).unwrap(), ks);
    let empty = Keyspace::default();
    assert_eq!(
        Keyspace::from_bbolt(&bbolt::write(&empty, 0).unwrap()).unwrap(),
        empty
    );
}

#[test]
fn refuses_what_is_not_a_bbolt_file() {
    assert_eq!(
        Keyspace::from_bbolt(&[0u8; 3 * PAGE_SIZE]).unwrap_err(),
        bbolt::BboltError::NoMeta
    );
    let mut image = bbolt::write(&sample(), 1).unwrap();
    // Both metas' checksums broken.
    image[PAGE_SIZE - 1 + 40] ^= 1;
    image[16 + 40] ^= 1;
    image[PAGE_SIZE + 16 + 40] ^= 1;
    assert_eq!(
        Keyspace::from_bbolt(&image).unwrap_err(),
        bbolt::BboltError::NoMeta
    );
    // One meta broken: bbolt falls back on the other, so does the reader.
    let mut image = bbolt::write(&sample(), 1).unwrap();
    image[PAGE_SIZE + 16 + 40] ^= 1;
    assert_eq!(Keyspace::from_bbolt(&image).unwrap(), sample());
}

#[test]
fn laid_out_as_etcds_backend() {
    let ks = sample();
    let image = bbolt::write(&ks, 42).unwrap();
    assert_eq!(image.len() % PAGE_SIZE, 0);
    let r = Reader::new(&image).unwrap();
    let meta = r.meta();
    assert_eq!(meta.page_size as usize, PAGE_SIZE);
    assert_eq!(meta.high_water as usize, image.len() / PAGE_SIZE);
    assert_eq!(meta.txid, 1);
    // The freelist page: flag 0x10, no free pages.
    let free = r.page(meta.freelist).unwrap();
    assert_eq!(u16::from_le_bytes([free[8], free[9]]), 0x10);
    assert_eq!(u16::from_le_bytes([free[10], free[11]]), 0);

    let buckets: Vec<_> = r.buckets().unwrap().into_iter().map(s).collect();
    assert_eq!(buckets, ["concord", "key", "lease", "meta"]);

    // Compacted at 4: "a"@2 is gone, "a"@4 kept, "b"'s put@3 kept (what a
    // read at 4 sees; etcd 3.4 keeps it too, see the etcd test below), its
    // tombstone@5, then c@6 and b@7.
    let key = r.entries(b"key").unwrap();
    let revs: Vec<(i64, i64, bool)> = key
        .iter()
        .map(|(k, _)| {
            (
                i64::from_be_bytes(k[0..8].try_into().unwrap()),
                i64::from_be_bytes(k[9..17].try_into().unwrap()),
                k.len() == 18 && k[17] == b't',
            )
        })
        .collect();
    assert_eq!(
        revs,
        [
            (3, 0, false),
            (4, 0, false),
            (5, 0, true),
            (6, 0, false),
            (7, 0, false)
        ]
    );
    assert!(key.iter().all(|(k, _)| k[8] == b'_'));
    // mvccpb.KeyValue{key:"a", create_revision:2, mod_revision:4,
    // version:2, value:"3"} as protobuf.
    assert_eq!(
        key[1].1,
        [0x0a, 1, b'a', 0x10, 2, 0x18, 4, 0x20, 2, 0x2a, 1, b'3']
    );
    // A tombstone holds only its key.
    assert_eq!(key[2].1, [0x0a, 1, b'b']);
    // The lease is a field 6 varint of the value with a lease.
    assert!(key[3].1.ends_with(&[0x30, 0xb4, 0x24]));

    let lease = r.entries(b"lease").unwrap();
    assert_eq!(lease.len(), 1);
    assert_eq!(lease[0].0, 0x1234i64.to_be_bytes());
    assert_eq!(lease[0].1, [0x08, 0xb4, 0x24, 0x10, 60]);

    let mut compact_rev = 4i64.to_be_bytes().to_vec();
    compact_rev.push(b'_');
    compact_rev.extend_from_slice(&0i64.to_be_bytes());
    let meta_bucket: Vec<(String, Vec<u8>)> = r
        .entries(b"meta")
        .unwrap()
        .into_iter()
        .map(|(k, v)| (s(k), v.to_vec()))
        .collect();
    assert_eq!(
        meta_bucket,
        [
            ("consistent_index".to_string(), 42u64.to_be_bytes().to_vec()),
            ("finishedCompactRev".to_string(), compact_rev.clone()),
            ("scheduledCompactRev".to_string(), compact_rev),
        ]
    );
}

/// Enough data for branch pages (several levels) and a value that
/// overflows its page.
fn big() -> Keyspace {
    let mut ks = Keyspace::default();
    for i in 0..20_000 {
        put(&mut ks, &format!("key/{i:06}"), &"v".repeat(i % 300));
    }
    put(&mut ks, "huge", &"x".repeat(3 * PAGE_SIZE + 5));
    for i in (0..20_000).step_by(7) {
        ks.delete_range(&del_req(&format!("key/{i:06}"), ""))
            .unwrap();
    }
    ks
}

#[test]
fn large_keyspaces_take_branch_and_overflow_pages() {
    let ks = big();
    let image = bbolt::write(&ks, 7).unwrap();
    let r = Reader::new(&image).unwrap();
    let key = r.entries(b"key").unwrap();
    assert_eq!(key.len(), 20_001 + 20_000usize.div_ceil(7));
    assert!(key.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(
        i64::from_be_bytes(key.last().unwrap().0[0..8].try_into().unwrap()),
        ks.revision()
    );
    // Some page is a branch page, and some leaf has overflow pages.
    let pages: Vec<(u16, u32)> = (0..r.meta().high_water as usize)
        .map(|i| &image[i * PAGE_SIZE..])
        .map(|p| {
            (
                u16::from_le_bytes([p[8], p[9]]),
                u32::from_le_bytes(p[12..16].try_into().unwrap()),
            )
        })
        .collect();
    assert!(pages.iter().any(|&(flags, _)| flags == 0x01));
    assert!(pages
        .iter()
        .any(|&(flags, overflow)| flags == 0x02 && overflow > 0));
    assert_eq!(Keyspace::from_bbolt(&image).unwrap(), ks);
}

/// Whether `tool` runs (`version` is etcdctl's v3 spelling, etcd takes
/// `--version`).
fn have(tool: &str) -> bool {
    let arg = if tool == "etcdctl" {
        "version"
    } else {
        "--version"
    };
    Command::new(tool)
        .env("ETCDCTL_API", "3")
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `etcdctl -w json snapshot status FILE`: (revision, totalKey, totalSize).
fn snapshot_status(file: &Path) -> (i64, i64, i64) {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["-w", "json", "snapshot", "status"])
        .arg(file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "etcdctl snapshot status: {stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    (
        v["revision"].as_i64().unwrap(),
        v["totalKey"].as_i64().unwrap(),
        v["totalSize"].as_i64().unwrap(),
    )
}

/// A fresh directory of its own: tests run in parallel in one process.
fn temp_dir(name: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("concord-bbolt-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keys in the image: every bucket's, as `snapshot status` counts them.
fn total_keys(image: &[u8]) -> i64 {
    let r = Reader::new(image).unwrap();
    r.buckets()
        .unwrap()
        .iter()
        .map(|b| r.entries(b).unwrap().len() as i64)
        .sum()
}

#[test]
fn etcdctl_snapshot_status_reads_it() {
    if !have("etcdctl") {
        eprintln!("skipped: no etcdctl on PATH");
        return;
    }
    let dir = temp_dir("status");
    for (name, ks) in [
        ("sample", sample()),
        ("big", big()),
        ("empty", Keyspace::default()),
    ] {
        let image = bbolt::write(&ks, 9).unwrap();
        let file = dir.join(format!("{name}.db"));
        std::fs::write(&file, &image).unwrap();
        let (revision, total_key, total_size) = snapshot_status(&file);
        // etcdctl's revision is the last key of `key`: none when empty.
        let expected_rev = if ks.key_count() == 0 && name == "empty" {
            0
        } else {
            ks.revision()
        };
        assert_eq!(revision, expected_rev, "{name}");
        assert_eq!(total_key, total_keys(&image), "{name}");
        assert_eq!(total_size as usize, image.len(), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A single-member etcd on fresh ports and a temp data dir, killed on drop.
struct Etcd {
    child: Child,
    endpoint: String,
    dir: PathBuf,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Etcd {
    fn start() -> Etcd {
        let dir = temp_dir("etcd");
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .arg("--name=bbolt-test")
            .arg(format!("--data-dir={}", dir.join("data").display()))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=bbolt-test={peer_url}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let etcd = Etcd {
            child,
            endpoint,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !etcd.ctl(&["endpoint", "health"]).0 {
            assert!(Instant::now() < deadline, "etcd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        etcd
    }

    fn ctl(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.endpoint))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn must(&self, args: &[&str]) {
        let (ok, out) = self.ctl(args);
        assert!(ok, "etcdctl {args:?}: {out}");
    }
}

#[test]
fn key_bucket_and_status_as_etcds_snapshot_after_the_same_writes() {
    if !have("etcd") || !have("etcdctl") {
        eprintln!("skipped: etcd or etcdctl not on PATH");
        return;
    }
    let etcd = Etcd::start();
    // The writes of `sample()` but the lease (etcd picks its ids).
    etcd.must(&["put", "a", "1"]);
    etcd.must(&["put", "b", "2"]);
    etcd.must(&["put", "a", "3"]);
    etcd.must(&["del", "b"]);
    etcd.must(&["put", "c", "with lease"]);
    etcd.must(&["put", "b", "again"]);
    etcd.must(&["compaction", "--physical", "4"]);
    let theirs_file = etcd.dir.join("etcd.db");
    etcd.must(&["snapshot", "save", theirs_file.to_str().unwrap()]);

    let mut ks = Keyspace::default();
    put(&mut ks, "a", "1");
    put(&mut ks, "b", "2");
    put(&mut ks, "a", "3");
    ks.delete_range(&del_req("b", "")).unwrap();
    put(&mut ks, "c", "with lease");
    put(&mut ks, "b", "again");
    ks.compact(&CompactionRequest {
        revision: 4,
        physical: true,
    })
    .unwrap();
    let ours = bbolt::write(&ks, 9).unwrap();
    let ours_file = etcd.dir.join("concord.db");
    std::fs::write(&ours_file, &ours).unwrap();

    let theirs = std::fs::read(&theirs_file).unwrap();
    let (their_rev, their_total, _) = snapshot_status(&theirs_file);
    let (our_rev, our_total, _) = snapshot_status(&ours_file);
    assert_eq!(our_rev, their_rev);

    // The same `key` bucket, byte for byte, and the same compaction marks.
    let (tr, or) = (Reader::new(&theirs).unwrap(), Reader::new(&ours).unwrap());
    assert_eq!(or.entries(b"key").unwrap(), tr.entries(b"key").unwrap());
    for mark in [&b"scheduledCompactRev"[..], b"finishedCompactRev"] {
        assert_eq!(
            or.get(b"meta", mark).unwrap(),
            tr.get(b"meta", mark).unwrap()
        );
    }
    // totalKey differs by the buckets each has beside `key`: etcd's
    // cluster, members and auth data, Concord's own keyspace.
    let beside_key = |r: &Reader| -> i64 {
        r.buckets()
            .unwrap()
            .iter()
            .filter(|b| **b != b"key")
            .map(|b| r.entries(b).unwrap().len() as i64)
            .sum()
    };
    assert_eq!(our_total - beside_key(&or), their_total - beside_key(&tr));
}

/// A file saved from etcd 3.4.23 restores as the keyspace etcd held: the
/// same keys, revisions, versions and leases, the same compaction, and the
/// same HashKV as etcd printed for it.
#[test]
fn an_etcd_snapshot_restores_as_etcds_keyspace() {
    if !have("etcd") || !have("etcdctl") {
        eprintln!("skipped: etcd or etcdctl not on PATH");
        return;
    }
    let etcd = Etcd::start();
    etcd.must(&["put", "a", "1"]); // 2
    etcd.must(&["put", "b", "2"]); // 3
    etcd.must(&["put", "a", "3"]); // 4
    etcd.must(&["del", "b"]); // 5
    let (_, granted) = etcd.ctl(&["lease", "grant", "600"]);
    let lease = i64::from_str_radix(granted.split_whitespace().nth(1).unwrap(), 16).unwrap();
    etcd.must(&["put", "c", "with lease", &format!("--lease={lease:x}")]); // 6
    etcd.must(&["put", "b", "again"]); // 7
    etcd.must(&["put", "d", "gone"]); // 8
    etcd.must(&["del", "d"]); // 9
    etcd.must(&["compaction", "--physical", "4"]);
    let (_, hashkv) = etcd.ctl(&["endpoint", "hashkv", "-w", "json"]);
    let hashkv: serde_json::Value = serde_json::from_str(hashkv.trim()).unwrap();
    let file = etcd.dir.join("etcd.db");
    etcd.must(&["snapshot", "save", file.to_str().unwrap()]);

    let restored = Keyspace::from_bbolt(&std::fs::read(&file).unwrap()).unwrap();
    // The same writes here, the lease with etcd's id.
    let mut ks = Keyspace::default();
    put(&mut ks, "a", "1");
    put(&mut ks, "b", "2");
    put(&mut ks, "a", "3");
    ks.delete_range(&del_req("b", "")).unwrap();
    ks.lease_grant(
        &LeaseGrantRequest {
            ttl: 600,
            id: lease,
        },
        0,
    )
    .unwrap();
    ks.put(&PutRequest {
        lease,
        ..put_req("c", "with lease")
    })
    .unwrap();
    put(&mut ks, "b", "again");
    put(&mut ks, "d", "gone");
    ks.delete_range(&del_req("d", "")).unwrap();
    ks.compact(&CompactionRequest {
        revision: 4,
        physical: true,
    })
    .unwrap();

    assert_eq!(restored.revision(), 9);
    assert_eq!(restored.compact_revision(), 4);
    let all = |k: &Keyspace, revision: i64| {
        k.range(&RangeRequest {
            revision,
            ..range_req("\0", "\0")
        })
        .unwrap()
        .kvs
    };
    for rev in [0, 4, 5, 6, 8] {
        assert_eq!(all(&restored, rev), all(&ks, rev), "at revision {rev}");
    }
    assert_eq!(restored.hash_kv(0), ks.hash_kv(0));
    assert_eq!(
        restored.hash_kv(0).unwrap().0 as u64,
        hashkv[0]["HashKV"]["hash"].as_u64().unwrap(),
        "etcd's HashKV: {hashkv}"
    );
    let leases: Vec<(i64, i64, Vec<Vec<u8>>)> = restored
        .leases()
        .iter()
        .map(|l| (l.id, l.ttl, l.keys.iter().cloned().collect()))
        .collect();
    assert_eq!(leases, [(lease, 600, vec![b("c")])]);
    // The history since the compaction, as watchers read it.
    assert_eq!(
        restored.events_since(b"\0", b"\0", 5, 100),
        ks.events_since(b"\0", b"\0", 5, 100)
    );
}

//! `snapshot status <filename>` (`snapshot_command.go`, clientv3's
//! `snapshot.Status`): the file opened as a bbolt database (through
//! `concord-mvcc`'s reader, which reads etcd's files as well as
//! Concord's), then etcd's figures: a CRC-32C (Castagnoli) over every
//! top-level bucket's name and each of its keys and values in order, the
//! revision of the last key of the `key` bucket, the number of keys in
//! all buckets, and the database's size (its high-water mark in pages).
//!
//! A file saved from Concord holds a `concord` bucket besides etcd's, and
//! none of etcd's membership, alarm or auth buckets, so its hash and key
//! count differ from what etcd's snapshot of the same keyspace would give;
//! etcdctl computes the same figures as this on either file.

use concord_mvcc::bbolt::{BboltError, Reader, KEY_BUCKET};

use crate::v3::cli::Parsed;
use crate::v3::exit::{Fail, Outcome, EXIT_BAD_ARGS, EXIT_ERROR};
use crate::v3::globals::writer;
use crate::v3::printer::{self, DbStatus};

pub fn status(p: Parsed) -> Outcome {
    let [path] = p.args.as_slice() else {
        return Err(Fail::new(
            EXIT_BAD_ARGS,
            "snapshot status requires exactly one argument",
        ));
    };
    let path = path.clone();
    // `initDisplayFromCmd` alone: etcdctl reads no ETCDCTL_* variable here.
    let w = writer(&p)?;
    let data = read_db(&path).map_err(|e| Fail::new(EXIT_ERROR, e))?;
    let s = db_status(&data).map_err(|e| Fail::new(EXIT_ERROR, bbolt_text(&e)))?;
    printer::db_status(w, &s)
}

/// The file's bytes, with the errors Go's `os.Stat` and `bolt.Open` give.
pub fn read_db(path: &str) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("stat {path}: {}", super::go_os_error(&e)))?;
    if meta.is_dir() {
        return Err(format!("open {path}: is a directory"));
    }
    std::fs::read(path).map_err(|e| format!("open {path}: {}", super::go_os_error(&e)))
}

/// bbolt's word for a file without a valid meta page; the reader's own
/// text for the rest (a tree that leaves the file, a bad page).
fn bbolt_text(e: &BboltError) -> String {
    match e {
        BboltError::NoMeta => "invalid database".to_string(),
        other => other.to_string(),
    }
}

/// clientv3's `Status` over a bbolt image.
pub fn db_status(data: &[u8]) -> Result<DbStatus, BboltError> {
    let db = Reader::new(data)?;
    let meta = db.meta();
    let mut hash = 0u32;
    let mut revision = 0i64;
    let mut total_key = 0i64;
    for name in db.buckets()? {
        hash = crc32c(hash, name);
        let is_key = name == KEY_BUCKET;
        for (k, v) in db.entries(name)? {
            hash = crc32c(hash, k);
            hash = crc32c(hash, v);
            // etcd's `bytesToRev`: the main revision leads the key.
            if is_key {
                if let Some(main) = k.get(..8) {
                    revision = i64::from_be_bytes(main.try_into().expect("8 bytes"));
                }
            }
            total_key += 1;
        }
    }
    Ok(DbStatus {
        hash,
        revision,
        total_key,
        total_size: (meta.high_water * u64::from(meta.page_size)) as i64,
    })
}

/// CRC-32C (Castagnoli), continuing from `crc` as Go's `hash/crc32`
/// digest does over successive writes.
fn crc32c(crc: u32, bytes: &[u8]) -> u32 {
    crc32c::crc32c_append(crc, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_mvcc::{Command, Keyspace};

    #[test]
    fn crc32c_is_castagnolis() {
        // The standard check value, in one write and in two.
        assert_eq!(crc32c(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(crc32c(0, b"1234"), b"56789"), 0xE306_9283);
    }

    #[test]
    fn a_concord_snapshot_counts_every_bucket() {
        let mut ks = Keyspace::default();
        for (k, v) in [("a", "1"), ("b", "2"), ("a", "3")] {
            let put = concord_mvcc::PutRequest {
                key: k.into(),
                value: v.into(),
                ..Default::default()
            };
            ks.apply(&Command::Put(put)).unwrap();
        }
        let image = concord_mvcc::bbolt::write(&ks, 9).unwrap();
        let s = db_status(&image).unwrap();
        assert_eq!(s.revision, 4);
        // concord 1 + key 3 + lease 0 + meta 1 (consistent_index).
        assert_eq!(s.total_key, 5);
        assert_eq!(s.total_size as usize, image.len());
        assert!(matches!(db_status(b"not a db"), Err(BboltError::NoMeta)));
    }
}

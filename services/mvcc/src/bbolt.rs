//! The keyspace as a bbolt database file: what `Maintenance.Snapshot`
//! streams, so that `etcdctl snapshot status` (which opens the file with
//! go.etcd.io/bbolt 1.3.x, checks it and walks every bucket) reads it as
//! it reads an etcd 3.4 snapshot.
//!
//! Layout, as etcd's backend:
//! - bucket `key`: every revision in the history; key = etcd's `revToBytes`
//!   (8-byte big-endian main, `_`, 8-byte big-endian sub, plus `t` for a
//!   tombstone as `markTombstone`), value = the `mvccpb.KeyValue` protobuf
//!   (a tombstone's holds only the key, as etcd writes it);
//! - bucket `lease`: 8-byte big-endian lease id to `leasepb.Lease{ID, TTL}`;
//! - bucket `meta`: `consistent_index` (8-byte big-endian), and once
//!   compacted `scheduledCompactRev`/`finishedCompactRev` (revision bytes);
//! - bucket `concord`: key `keyspace`, Concord's own full serialisation
//!   (the serde snapshot, bincode), which [`Keyspace::from_bbolt`] restores
//!   from: the etcd buckets are for etcd's tools, this one loses nothing
//!   (settings, lease expiries and keys, id seed).
//!
//! The file (bbolt's format, little-endian as bbolt writes it on x86):
//! pages of [`PAGE_SIZE`]; pages 0 and 1 the two meta pages; page 2 an
//! empty freelist; then each bucket's B+tree and last the root bucket's.
//! Trees are built as bbolt would hold them after a commit: leaves filled
//! up to one page, branch pages above them when a bucket needs more than
//! one leaf. A single element larger than a page gets a leaf of its own
//! with `overflow` pages, as bbolt stores large values. Branch pages (not
//! one huge overflowing leaf) because a page header counts its elements
//! in 16 bits, and because that is the shape `tx.Check` and bbolt's
//! cursor are written for. Every bucket has its own root page (no inline
//! buckets): one code path, and the few extra pages cost nothing.

use crate::key_index::Revision;
use crate::store::Keyspace;
use crate::types::KeyValue;

/// bbolt's page size in the files written here (etcd's on Linux x86).
pub const PAGE_SIZE: usize = 4096;
/// bbolt's meta magic.
pub const MAGIC: u32 = 0xED0C_DAED;
/// bbolt's data file format version.
pub const VERSION: u32 = 2;

/// Bucket names, as etcd's backend names them.
pub const KEY_BUCKET: &[u8] = b"key";
pub const LEASE_BUCKET: &[u8] = b"lease";
pub const META_BUCKET: &[u8] = b"meta";
/// Concord's own bucket and the one key in it.
pub const CONCORD_BUCKET: &[u8] = b"concord";
pub const CONCORD_KEY: &[u8] = b"keyspace";

const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
const FREELIST_PAGE: u16 = 0x10;
/// A leaf element that is a sub-bucket.
const BUCKET_LEAF: u32 = 0x01;
const PAGE_HEADER: usize = 16;
/// Leaf and branch element headers are both 16 bytes.
const ELEMENT: usize = 16;
/// The meta's bytes covered by its checksum (everything before it).
const META_CHECKED: usize = 56;

/// Why a file is not a snapshot Concord can restore from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BboltError {
    #[error("invalid database: no valid meta page")]
    NoMeta,
    #[error("invalid database: page {0} is out of the file")]
    PageOutOfFile(u64),
    #[error("invalid database: page {page} has flags {flags:#x}, not a branch or leaf")]
    BadPage { page: u64, flags: u16 },
    #[error("invalid database: element {index} of page {page} is out of the page")]
    BadElement { page: u64, index: usize },
    #[error("invalid database: tree deeper than {0} levels")]
    TooDeep(usize),
    #[error("no bucket {0:?} in the database")]
    NoBucket(String),
    #[error("no key {key:?} in bucket {bucket:?}")]
    NoKey { bucket: String, key: String },
    #[error("the keyspace in the `concord` bucket does not decode: {0}")]
    Decode(String),
    #[error("the keyspace does not encode: {0}")]
    Encode(String),
}

/// etcd's `revToBytes`: 8-byte big-endian main, `_`, 8-byte big-endian sub.
pub fn rev_bytes(rev: Revision) -> Vec<u8> {
    let mut b = Vec::with_capacity(18);
    b.extend_from_slice(&rev.main.to_be_bytes());
    b.push(b'_');
    b.extend_from_slice(&rev.sub.to_be_bytes());
    b
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A proto3 int64 field (omitted when zero; negatives as 10-byte varints).
fn int_field(out: &mut Vec<u8>, field: u64, v: i64) {
    if v != 0 {
        put_varint(out, field << 3);
        put_varint(out, v as u64);
    }
}

/// A proto3 bytes field (omitted when empty).
fn bytes_field(out: &mut Vec<u8>, field: u64, b: &[u8]) {
    if !b.is_empty() {
        put_varint(out, (field << 3) | 2);
        put_varint(out, b.len() as u64);
        out.extend_from_slice(b);
    }
}

/// `mvccpb.KeyValue` in protobuf, fields in number order as gogoproto
/// writes them.
pub fn encode_key_value(kv: &KeyValue) -> Vec<u8> {
    let mut out = Vec::with_capacity(kv.key.len() + kv.value.len() + 32);
    bytes_field(&mut out, 1, &kv.key);
    int_field(&mut out, 2, kv.create_revision);
    int_field(&mut out, 3, kv.mod_revision);
    int_field(&mut out, 4, kv.version);
    bytes_field(&mut out, 5, &kv.value);
    int_field(&mut out, 6, kv.lease);
    out
}

/// `leasepb.Lease{ID, TTL}` in protobuf.
pub fn encode_lease(id: i64, ttl: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(22);
    int_field(&mut out, 1, id);
    int_field(&mut out, 2, ttl);
    out
}

/// One element of a page being built: a key, its value, its leaf flags
/// (or, on a branch page, the child's page id in `child`).
struct Item {
    key: Vec<u8>,
    value: Vec<u8>,
    flags: u32,
    child: u64,
}

/// The file image under construction: whole pages, appended in order.
struct Builder {
    image: Vec<u8>,
}

impl Builder {
    fn next_page(&self) -> u64 {
        (self.image.len() / PAGE_SIZE) as u64
    }

    /// Appends one page (with overflow pages when `body` needs them)
    /// holding a header and `body`; returns its id.
    fn push_page(&mut self, flags: u16, count: u16, body: &[u8]) -> u64 {
        let id = self.next_page();
        let pages = (PAGE_HEADER + body.len()).div_ceil(PAGE_SIZE).max(1);
        let start = self.image.len();
        self.image.resize(start + pages * PAGE_SIZE, 0);
        let page = &mut self.image[start..];
        page[0..8].copy_from_slice(&id.to_le_bytes());
        page[8..10].copy_from_slice(&flags.to_le_bytes());
        page[10..12].copy_from_slice(&count.to_le_bytes());
        page[12..16].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
        page[PAGE_HEADER..PAGE_HEADER + body.len()].copy_from_slice(body);
        id
    }

    /// Writes a page of `items` (leaf or branch elements); returns its id.
    fn write_node(&mut self, branch: bool, items: &[Item]) -> u64 {
        let mut body = vec![0u8; items.len() * ELEMENT];
        for (i, item) in items.iter().enumerate() {
            let at = i * ELEMENT;
            // `pos` is counted from the element's own header.
            let pos = (body.len() - at) as u32;
            let e = &mut body[at..at + ELEMENT];
            if branch {
                e[0..4].copy_from_slice(&pos.to_le_bytes());
                e[4..8].copy_from_slice(&(item.key.len() as u32).to_le_bytes());
                e[8..16].copy_from_slice(&item.child.to_le_bytes());
                body.extend_from_slice(&item.key);
            } else {
                e[0..4].copy_from_slice(&item.flags.to_le_bytes());
                e[4..8].copy_from_slice(&pos.to_le_bytes());
                e[8..12].copy_from_slice(&(item.key.len() as u32).to_le_bytes());
                e[12..16].copy_from_slice(&(item.value.len() as u32).to_le_bytes());
                body.extend_from_slice(&item.key);
                body.extend_from_slice(&item.value);
            }
        }
        let flags = if branch { BRANCH_PAGE } else { LEAF_PAGE };
        self.push_page(flags, items.len() as u16, &body)
    }

    /// Writes a B+tree of `items` (sorted by key); returns its root page.
    fn write_tree(&mut self, mut items: Vec<Item>) -> u64 {
        let mut branch = false;
        loop {
            let mut parents = Vec::new();
            let mut rest = items.as_slice();
            loop {
                let n = fill(rest, branch);
                let first = rest.first().map(|i| i.key.clone()).unwrap_or_default();
                let child = self.write_node(branch, &rest[..n]);
                parents.push(Item {
                    key: first,
                    value: Vec::new(),
                    flags: 0,
                    child,
                });
                rest = &rest[n..];
                if rest.is_empty() {
                    break;
                }
            }
            if parents.len() == 1 {
                return parents[0].child;
            }
            items = parents;
            branch = true;
        }
    }
}

/// How many of `items` go on the next page: as many as fit in one page,
/// at least one (a large one then overflows), at most what a 16-bit
/// count holds.
fn fill(items: &[Item], branch: bool) -> usize {
    let mut size = PAGE_HEADER;
    let mut n = 0;
    for item in items {
        let value = if branch { 0 } else { item.value.len() };
        size += ELEMENT + item.key.len() + value;
        if n > 0 && (size > PAGE_SIZE || n == usize::from(u16::MAX)) {
            break;
        }
        n += 1;
    }
    n
}

/// A leaf item for a plain key-value.
fn kv_item(key: Vec<u8>, value: Vec<u8>) -> Item {
    Item {
        key,
        value,
        flags: 0,
        child: 0,
    }
}

/// A bucket's value in its parent: bbolt's bucket header (root page id,
/// sequence 0), not inline.
fn bucket_item(name: &[u8], root: u64) -> Item {
    let mut value = Vec::with_capacity(16);
    value.extend_from_slice(&root.to_le_bytes());
    value.extend_from_slice(&0u64.to_le_bytes());
    Item {
        key: name.to_vec(),
        value,
        flags: BUCKET_LEAF,
        child: 0,
    }
}

/// FNV-1a 64, bbolt's meta checksum.
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Meta page `id` (0 or 1), transaction `txid`.
fn meta_page(id: u64, root: u64, freelist: u64, high_water: u64, txid: u64) -> Vec<u8> {
    let mut page = vec![0u8; PAGE_SIZE];
    page[0..8].copy_from_slice(&id.to_le_bytes());
    page[8..10].copy_from_slice(&META_PAGE.to_le_bytes());
    let m = &mut page[PAGE_HEADER..PAGE_HEADER + META_CHECKED + 8];
    m[0..4].copy_from_slice(&MAGIC.to_le_bytes());
    m[4..8].copy_from_slice(&VERSION.to_le_bytes());
    m[8..12].copy_from_slice(&(PAGE_SIZE as u32).to_le_bytes());
    // m[12..16]: flags, none; m[24..32]: the root bucket's sequence, 0.
    m[16..24].copy_from_slice(&root.to_le_bytes());
    m[32..40].copy_from_slice(&freelist.to_le_bytes());
    m[40..48].copy_from_slice(&high_water.to_le_bytes());
    m[48..56].copy_from_slice(&txid.to_le_bytes());
    let sum = fnv1a64(&m[..META_CHECKED]);
    m[56..64].copy_from_slice(&sum.to_le_bytes());
    page
}

/// etcd's key bucket: one row per change held (back to the last
/// compaction), keyed by its revision (`revToBytes`, with a `t` after a
/// tombstone's), the `mvccpb.KeyValue` as value (a tombstone's holds the
/// key alone), in bolt's key order.
pub fn key_bucket_rows(ks: &Keyspace) -> Vec<(Revision, Vec<u8>, Vec<u8>)> {
    let mut rows = Vec::with_capacity(ks.log.len());
    for (key, history) in &ks.keys {
        for entry in history.entries() {
            let mut rev = rev_bytes(entry.rev);
            let value = match &entry.kv {
                Some(kv) => encode_key_value(kv),
                None => {
                    rev.push(b't');
                    encode_key_value(&KeyValue {
                        key: key.clone(),
                        ..KeyValue::default()
                    })
                }
            };
            rows.push((entry.rev, rev, value));
        }
    }
    // The revision's bytes sort as the revision: big-endian main, then sub.
    rows.sort_unstable_by_key(|row| row.0);
    rows
}

/// The keyspace as a bbolt file image; `consistent_index` is the raft
/// index of the last entry applied to it (etcd's `consistent_index`).
pub fn write(ks: &Keyspace, consistent_index: u64) -> Result<Vec<u8>, BboltError> {
    let own = bincode::serialize(ks).map_err(|e| BboltError::Encode(e.to_string()))?;

    let revisions: Vec<Item> = key_bucket_rows(ks)
        .into_iter()
        .map(|(_, key, value)| kv_item(key, value))
        .collect();

    let mut leases: Vec<Item> = ks
        .leases
        .iter()
        .map(|l| kv_item(l.id.to_be_bytes().to_vec(), encode_lease(l.id, l.ttl)))
        .collect();
    leases.sort_by(|a, b| a.key.cmp(&b.key));

    let mut meta = vec![kv_item(
        b"consistent_index".to_vec(),
        consistent_index.to_be_bytes().to_vec(),
    )];
    if ks.compact_revision > 0 {
        let rev = rev_bytes(Revision {
            main: ks.compact_revision,
            sub: 0,
        });
        meta.push(kv_item(b"finishedCompactRev".to_vec(), rev.clone()));
        meta.push(kv_item(b"scheduledCompactRev".to_vec(), rev));
    }
    meta.sort_by(|a, b| a.key.cmp(&b.key));

    // Pages 0 and 1 (metas) are written last; page 2 is the freelist.
    let mut b = Builder {
        image: vec![0u8; 2 * PAGE_SIZE],
    };
    let freelist = b.push_page(FREELIST_PAGE, 0, &[]);
    let mut buckets = vec![
        bucket_item(
            CONCORD_BUCKET,
            b.write_tree(vec![kv_item(CONCORD_KEY.to_vec(), own)]),
        ),
        bucket_item(KEY_BUCKET, b.write_tree(revisions)),
        bucket_item(LEASE_BUCKET, b.write_tree(leases)),
        bucket_item(META_BUCKET, b.write_tree(meta)),
    ];
    buckets.sort_by(|a, b| a.key.cmp(&b.key));
    let root = b.write_tree(buckets);
    let high_water = b.next_page();
    for txid in 0..2u64 {
        let page = meta_page(txid, root, freelist, high_water, txid);
        let at = txid as usize * PAGE_SIZE;
        b.image[at..at + PAGE_SIZE].copy_from_slice(&page);
    }
    Ok(b.image)
}

/// A bbolt meta page's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub page_size: u32,
    pub flags: u32,
    pub root: u64,
    pub freelist: u64,
    /// The high-water mark: pages in use, the file's length in pages.
    pub high_water: u64,
    pub txid: u64,
}

/// Where a bucket's tree is: a root page, or an inline page (its bytes).
#[derive(Clone, Copy)]
enum Root<'a> {
    Page(u64),
    Inline(&'a [u8]),
}

/// A bucket's key-values, in key order, borrowed from the image.
pub type Entries<'a> = Vec<(&'a [u8], &'a [u8])>;

/// A read-only view of a bbolt file image (trailing bytes after the last
/// page, such as the sha256 etcd appends to a snapshot, are ignored).
pub struct Reader<'a> {
    data: &'a [u8],
    meta: Meta,
}

/// Nesting deeper than this is a corrupt file, not a big one.
const MAX_DEPTH: usize = 64;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The meta at `offset`, if it is one with a valid checksum.
fn read_meta(data: &[u8], offset: usize) -> Option<Meta> {
    let m = data.get(offset + PAGE_HEADER..offset + PAGE_HEADER + META_CHECKED + 8)?;
    if u16_at(data, offset + 8) & META_PAGE == 0
        || u32_at(m, 0) != MAGIC
        || u32_at(m, 4) != VERSION
        || u64_at(m, 56) != fnv1a64(&m[..META_CHECKED])
    {
        return None;
    }
    Some(Meta {
        page_size: u32_at(m, 8),
        flags: u32_at(m, 12),
        root: u64_at(m, 16),
        freelist: u64_at(m, 32),
        high_water: u64_at(m, 40),
        txid: u64_at(m, 48),
    })
}

impl<'a> Reader<'a> {
    /// Opens an image: the valid meta with the highest txid, as bbolt does.
    pub fn new(data: &'a [u8]) -> Result<Self, BboltError> {
        let first = read_meta(data, 0);
        let size = first.map_or(PAGE_SIZE, |m| m.page_size as usize);
        let second = if size >= PAGE_HEADER + META_CHECKED + 8 {
            read_meta(data, size)
        } else {
            None
        };
        let meta = match (first, second) {
            (Some(a), Some(b)) => {
                if b.txid > a.txid {
                    b
                } else {
                    a
                }
            }
            (Some(m), None) | (None, Some(m)) => m,
            (None, None) => return Err(BboltError::NoMeta),
        };
        if (meta.page_size as usize) < PAGE_HEADER + META_CHECKED + 8 {
            return Err(BboltError::NoMeta);
        }
        Ok(Reader { data, meta })
    }

    pub fn meta(&self) -> Meta {
        self.meta
    }

    /// Page `id` with its overflow pages.
    pub fn page(&self, id: u64) -> Result<&'a [u8], BboltError> {
        let size = self.meta.page_size as usize;
        let start = usize::try_from(id)
            .ok()
            .and_then(|i| i.checked_mul(size))
            .ok_or(BboltError::PageOutOfFile(id))?;
        let head = self
            .data
            .get(start..start.saturating_add(PAGE_HEADER))
            .ok_or(BboltError::PageOutOfFile(id))?;
        let pages = u32_at(head, 12) as usize + 1;
        let end = pages
            .checked_mul(size)
            .and_then(|n| n.checked_add(start))
            .ok_or(BboltError::PageOutOfFile(id))?;
        self.data
            .get(start..end)
            .ok_or(BboltError::PageOutOfFile(id))
    }

    /// Every key-value of the tree at `root`, in order (a sub-bucket's
    /// value is its bucket header), with its leaf flags.
    fn walk(
        &self,
        root: Root<'a>,
        depth: usize,
        out: &mut Vec<(&'a [u8], &'a [u8], u32)>,
    ) -> Result<(), BboltError> {
        if depth > MAX_DEPTH {
            return Err(BboltError::TooDeep(MAX_DEPTH));
        }
        let (id, page) = match root {
            Root::Page(id) => (id, self.page(id)?),
            Root::Inline(bytes) => (0, bytes),
        };
        if page.len() < PAGE_HEADER {
            return Err(BboltError::PageOutOfFile(id));
        }
        let flags = u16_at(page, 8);
        let count = usize::from(u16_at(page, 10));
        let bad = |index| BboltError::BadElement { page: id, index };
        for i in 0..count {
            let at = PAGE_HEADER + i * ELEMENT;
            let e = page.get(at..at + ELEMENT).ok_or_else(|| bad(i))?;
            if flags & BRANCH_PAGE != 0 {
                let child = u64_at(e, 8);
                self.walk(Root::Page(child), depth + 1, out)?;
            } else if flags & LEAF_PAGE != 0 {
                let pos = at + u32_at(e, 4) as usize;
                let ksize = u32_at(e, 8) as usize;
                let vsize = u32_at(e, 12) as usize;
                let key = page.get(pos..pos + ksize).ok_or_else(|| bad(i))?;
                let value = page
                    .get(pos + ksize..pos + ksize + vsize)
                    .ok_or_else(|| bad(i))?;
                out.push((key, value, u32_at(e, 0)));
            } else {
                return Err(BboltError::BadPage { page: id, flags });
            }
        }
        Ok(())
    }

    /// The names of the top-level buckets, in order.
    pub fn buckets(&self) -> Result<Vec<&'a [u8]>, BboltError> {
        let mut all = Vec::new();
        self.walk(Root::Page(self.meta.root), 0, &mut all)?;
        Ok(all
            .into_iter()
            .filter(|(_, _, f)| f & BUCKET_LEAF != 0)
            .map(|(k, _, _)| k)
            .collect())
    }

    /// Every key-value of top-level bucket `name`, in key order.
    pub fn entries(&self, name: &[u8]) -> Result<Entries<'a>, BboltError> {
        let mut top = Vec::new();
        self.walk(Root::Page(self.meta.root), 0, &mut top)?;
        let header = top
            .into_iter()
            .find(|(k, _, f)| *k == name && f & BUCKET_LEAF != 0)
            .map(|(_, v, _)| v)
            .ok_or_else(|| BboltError::NoBucket(String::from_utf8_lossy(name).into_owned()))?;
        let short = || BboltError::NoBucket(String::from_utf8_lossy(name).into_owned());
        let root = u64_at(header.get(..16).ok_or_else(short)?, 0);
        // Root 0: an inline bucket, its page right after the header.
        let root = if root == 0 {
            Root::Inline(&header[16..])
        } else {
            Root::Page(root)
        };
        let mut all = Vec::new();
        self.walk(root, 0, &mut all)?;
        Ok(all.into_iter().map(|(k, v, _)| (k, v)).collect())
    }

    /// The value of `key` in top-level bucket `bucket`.
    pub fn get(&self, bucket: &[u8], key: &[u8]) -> Result<&'a [u8], BboltError> {
        self.entries(bucket)?
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .ok_or_else(|| BboltError::NoKey {
                bucket: String::from_utf8_lossy(bucket).into_owned(),
                key: String::from_utf8_lossy(key).into_owned(),
            })
    }
}

impl Keyspace {
    /// Restores a keyspace from a snapshot file (as `etcdctl snapshot save`
    /// stores it; the sha256 etcd appends may stay): one written by
    /// [`write`] from its `concord` bucket, one saved from etcd (no such
    /// bucket) from etcd's own ([`Keyspace::from_etcd_backend`]).
    pub fn from_bbolt(bytes: &[u8]) -> Result<Keyspace, BboltError> {
        let db = Reader::new(bytes)?;
        if !db.buckets()?.contains(&CONCORD_BUCKET) {
            return Keyspace::from_etcd_backend(bytes);
        }
        let own = db.get(CONCORD_BUCKET, CONCORD_KEY)?;
        bincode::deserialize(own).map_err(|e| BboltError::Decode(e.to_string()))
    }
}

//! The crash-safe files behind Durable Streams on a directory store (`<dir>/durable/`).
//!
//! One file per stream, `<generation>.ds`: named by the stream's creation number, never by
//! its path (the path is user text; it is stored inside the file), so no request can name a
//! file. Each file is a sequence of records framed as the message log's
//! (`host/src/log/file.rs`):
//! ```text
//! ┌────────────┬─────────────┬─────────────┬──────────────────────────────────────────┐
//! │ magic (4)  │ len: u32 LE │ crc: u32 LE │ payload: hlen u32 LE, header JSON, data  │
//! │ FF 44 53 31│             │ of len‖pay. │                                          │
//! └────────────┴─────────────┴─────────────┴──────────────────────────────────────────┘
//! ```
//! The first record is the stream's creation: path, configuration, generation, tail,
//! write boundaries, and its data (for a fork, the copied prefix). It is written to
//! `<generation>.ds.tmp`, fsynced, renamed into place, and the directory fsynced, so a file
//! exists whole or not at all. Then one record per admitted append (the item lengths, the
//! tail after it, `Stream-Seq`, producer, close), appended with one `write` and `fdatasync`
//! *before* the append is acknowledged; a soft delete (deleted while forks read it) is a
//! record too; a delete or an expiry removes the file and fsyncs the directory.
//!
//! **At open** every file is read back: the creation, then each append replayed by the same
//! rules as the memory store. An interrupted append (a record cut short at the end of the
//! file, or a last record whose CRC fails: it was never acknowledged) is cut off, with a
//! WARN. A bad record followed by more data is damage: the open fails naming the file, and
//! nothing is changed. Leftover `*.tmp` files (a creation interrupted before its rename) are
//! removed. A second process on the same directory is already refused by the message log's
//! lock on the data directory.

use super::store::{Append, Config, ForkSpec, Lifetime, Meta, Producer};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sse_core::durable::{Offset, Tail};
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: [u8; 4] = [0xFF, b'D', b'S', b'1'];
/// Magic, len, crc.
const HEADER: usize = 12;
const EXT: &str = "ds";
/// Largest stream file read back (a stream is bounded far below this).
const MAX_FILE: u64 = 4 << 30;

/// Why the durable files cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// An I/O error.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A stream file is damaged before its end.
    #[error("Durable Streams file {file} is damaged at byte {offset}: {why} (not changed)")]
    Corrupt {
        /// The file.
        file: PathBuf,
        /// Where.
        offset: u64,
        /// What.
        why: String,
    },
}

/// The stream files in one directory.
#[derive(Debug)]
pub(super) struct Journal {
    dir: PathBuf,
}

/// A stream read back at open.
pub(super) struct Recovered {
    pub path: String,
    pub meta: Meta,
    pub bytes: Vec<u8>,
    pub messages: Vec<Bytes>,
    pub boundaries: Vec<u64>,
    pub soft_deleted: bool,
}

/// What opening the stream files found.
#[derive(Debug, Default, Clone, Copy)]
pub struct OpenReport {
    /// Streams read back.
    pub streams: usize,
    /// Files whose torn tail was cut.
    pub truncated: usize,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ConfigRec {
    content_type: String,
    json: bool,
    ttl: Option<u64>,
    /// Seconds and nanoseconds since the Unix epoch.
    expires_at: Option<(u64, u32)>,
    expires_at_text: Option<String>,
    fork: Option<ForkRec>,
}

#[derive(Serialize, Deserialize)]
struct ForkRec {
    source: String,
    offset: Option<(u64, u64)>,
    sub: u64,
}

#[derive(Serialize, Deserialize)]
pub(super) struct ProducerRec {
    pub(super) id: String,
    pub(super) epoch: u64,
    pub(super) seq: u64,
}

#[derive(Serialize, Deserialize)]
struct CreateRec {
    path: String,
    generation: u64,
    config: ConfigRec,
    requested: ConfigRec,
    next: (u64, u64),
    closed: bool,
    boundaries: Vec<u64>,
    /// Length of each data item that follows the header.
    items: Vec<u64>,
}

/// One record's header: what the record is (its data follows it).
type Parsed<'a> = (Head, &'a [u8], usize);

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Head {
    Create(Box<CreateRec>),
    Append {
        items: Vec<u64>,
        next: (u64, u64),
        close: bool,
        seq: Option<String>,
        producer: Option<ProducerRec>,
    },
    SoftDelete,
}

pub(super) fn config_rec(c: &Config) -> ConfigRec {
    let (ttl, expires_at) = match c.lifetime {
        Lifetime::Forever => (None, None),
        Lifetime::Ttl(s) => (Some(s), None),
        Lifetime::ExpiresAt(at) => {
            let d = at.duration_since(UNIX_EPOCH).unwrap_or_default();
            (None, Some((d.as_secs(), d.subsec_nanos())))
        }
    };
    ConfigRec {
        content_type: c.content_type.clone(),
        json: c.json,
        ttl,
        expires_at,
        expires_at_text: c.expires_at_text.clone(),
        fork: c.fork.as_ref().map(|f| ForkRec {
            source: f.source.clone(),
            offset: f.offset.map(|o| (o.segment(), o.position())),
            sub: f.sub,
        }),
    }
}

fn offset(o: (u64, u64)) -> Option<Offset> {
    Offset::new(o.0, o.1).ok()
}

pub(super) fn config_of(r: ConfigRec) -> Option<Config> {
    let lifetime = match (r.ttl, r.expires_at) {
        (Some(s), _) => Lifetime::Ttl(s),
        (None, Some((s, n))) => {
            Lifetime::ExpiresAt(UNIX_EPOCH.checked_add(Duration::new(s, n.min(999_999_999)))?)
        }
        (None, None) => Lifetime::Forever,
    };
    let fork = match r.fork {
        None => None,
        Some(f) => Some(ForkSpec {
            source: f.source,
            offset: match f.offset {
                None => None,
                Some(o) => Some(offset(o)?),
            },
            sub: f.sub,
        }),
    };
    Some(Config {
        content_type: r.content_type,
        json: r.json,
        lifetime,
        expires_at_text: r.expires_at_text,
        fork,
    })
}

fn record(head: &Head, items: &[&[u8]]) -> Vec<u8> {
    // A header of strings and numbers always serialises.
    let h = serde_json::to_vec(head).unwrap_or_default();
    let data: usize = items.iter().map(|i| i.len()).sum();
    let len = 4 + h.len() + data;
    let mut out = Vec::with_capacity(HEADER + len);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&u32::try_from(h.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&h);
    for i in items {
        out.extend_from_slice(i);
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(&out[4..8]);
    crc.update(&out[HEADER..]);
    out[8..12].copy_from_slice(&crc.finalize().to_le_bytes());
    out
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One record parsed from `buf` at `at`: `Ok(None)` when the bytes from `at` to the end are
/// an interrupted write (a prefix of a record, or a last record failing its CRC).
fn parse(buf: &[u8], at: usize) -> Result<Option<Parsed<'_>>, String> {
    let rest = buf.len() - at;
    if rest < HEADER {
        return if MAGIC.starts_with(&buf[at..at + rest.min(4)]) || buf[at..].iter().all(|b| *b == 0)
        {
            Ok(None)
        } else {
            Err("not a record".into())
        };
    }
    if buf[at..at + 4] != MAGIC {
        return if buf[at..].iter().all(|b| *b == 0) {
            Ok(None)
        } else {
            Err("not a record".into())
        };
    }
    let len = u32_at(buf, at + 4).unwrap_or(0) as usize;
    let crc = u32_at(buf, at + 8).unwrap_or(0);
    let end = at + HEADER + len;
    if end > buf.len() {
        // Cut short, unless its length was hit and intact records follow: damage.
        return if intact_after(buf, at + 4) {
            Err("a record's length runs past the end, yet intact records follow".into())
        } else {
            Ok(None)
        };
    }
    let payload = &buf[at + HEADER..end];
    let mut h = crc32fast::Hasher::new();
    h.update(&buf[at + 4..at + 8]);
    h.update(payload);
    if h.finalize() != crc {
        return if end == buf.len() {
            Ok(None)
        } else {
            Err("CRC mismatch".into())
        };
    }
    let hlen = u32_at(payload, 0).ok_or("short payload")? as usize;
    let head = payload.get(4..4 + hlen).ok_or("short header")?;
    let head: Head = serde_json::from_slice(head).map_err(|e| format!("header: {e}"))?;
    Ok(Some((head, &payload[4 + hlen..], end)))
}

/// Whether an intact record (magic, length within the file, CRC) starts after `from`.
fn intact_after(buf: &[u8], from: usize) -> bool {
    let mut at = from;
    while let Some(i) = buf
        .get(at..)
        .and_then(|b| b.windows(4).position(|w| w == MAGIC))
    {
        let start = at + i;
        if let (Some(len), Some(crc)) = (u32_at(buf, start + 4), u32_at(buf, start + 8))
            && let Some(payload) = buf.get(start + HEADER..start + HEADER + len as usize)
        {
            let mut h = crc32fast::Hasher::new();
            h.update(&buf[start + 4..start + 8]);
            h.update(payload);
            if h.finalize() == crc {
                return true;
            }
        }
        at = start + 1;
    }
    false
}

/// Splits `data` by `lens`.
fn split(data: &[u8], lens: &[u64]) -> Option<Vec<Bytes>> {
    let mut out = Vec::with_capacity(lens.len());
    let mut at = 0usize;
    for l in lens {
        let l = usize::try_from(*l).ok()?;
        out.push(Bytes::copy_from_slice(data.get(at..at.checked_add(l)?)?));
        at += l;
    }
    (at == data.len()).then_some(out)
}

impl Journal {
    /// Opens (creating) `dir` and reads every stream back, cutting torn tails.
    ///
    /// # Errors
    /// I/O errors, or a damaged file ([`FileError::Corrupt`]).
    pub(super) fn open(
        dir: &Path,
        now: SystemTime,
    ) -> Result<(Journal, Vec<Recovered>, OpenReport), FileError> {
        let created = !dir.exists();
        fs::create_dir_all(dir)?;
        if created && let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        let mut found: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".tmp") {
                fs::remove_file(entry.path())?;
                continue;
            }
            if let Some(g) = name.strip_suffix(".ds").and_then(|g| g.parse::<u64>().ok()) {
                found.push((g, entry.path()));
            }
        }
        found.sort_unstable();
        let mut report = OpenReport::default();
        let mut by_path: HashMap<String, (Recovered, PathBuf)> = HashMap::new();
        for (_, file) in found {
            let (rec, truncated) = read_stream(&file, now)?;
            if truncated {
                report.truncated += 1;
            }
            // Two files for one path (not written by this store): the newer creation wins.
            if let Some((_, old)) = by_path.insert(rec.path.clone(), (rec, file)) {
                fs::remove_file(old)?;
            }
        }
        sync_dir(dir)?;
        report.streams = by_path.len();
        let streams = by_path.into_values().map(|(r, _)| r).collect();
        Ok((
            Journal {
                dir: dir.to_path_buf(),
            },
            streams,
            report,
        ))
    }

    fn file(&self, generation: u64) -> PathBuf {
        self.dir.join(format!("{generation}.{EXT}"))
    }

    /// Writes a new stream's file whole (tmp, fsync, rename, fsync of the directory).
    pub(super) fn create(
        &self,
        path: &str,
        meta: &Meta,
        items: &[&[u8]],
        boundaries: &[u64],
    ) -> io::Result<()> {
        let head = Head::Create(Box::new(CreateRec {
            path: path.to_owned(),
            generation: meta.generation,
            config: config_rec(&meta.config),
            requested: config_rec(&meta.requested),
            next: (meta.tail.next.segment(), meta.tail.next.position()),
            closed: meta.tail.closed,
            boundaries: boundaries.to_vec(),
            items: items.iter().map(|i| i.len() as u64).collect(),
        }));
        let bytes = record(&head, items);
        let target = self.file(meta.generation);
        let tmp = target.with_extension("ds.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, &target)?;
        sync_dir(&self.dir)
    }

    /// Appends one record durably (one `write`, `fdatasync`); on failure the file is cut back.
    fn push(&self, generation: u64, bytes: &[u8]) -> io::Result<()> {
        let mut f = OpenOptions::new()
            .append(true)
            .open(self.file(generation))?;
        let len = f.metadata()?.len();
        let written = f.write_all(bytes).and_then(|()| f.sync_data());
        if written.is_err() {
            let _ = f.set_len(len);
        }
        written
    }

    /// Records an admitted append that moved the tail to `next`.
    pub(super) fn append(&self, generation: u64, req: &Append, next: Offset) -> io::Result<()> {
        let head = Head::Append {
            items: req.items.iter().map(|i| i.len() as u64).collect(),
            next: (next.segment(), next.position()),
            close: req.close,
            seq: req.seq.clone(),
            producer: req.producer.as_ref().map(|p| ProducerRec {
                id: p.id.clone(),
                epoch: p.epoch,
                seq: p.seq,
            }),
        };
        let items: Vec<&[u8]> = req.items.iter().map(AsRef::as_ref).collect();
        self.push(generation, &record(&head, &items))
    }

    /// Records that the stream was deleted while forks still read it.
    pub(super) fn soft_delete(&self, generation: u64) -> io::Result<()> {
        self.push(generation, &record(&Head::SoftDelete, &[]))
    }

    /// Removes a stream's file.
    pub(super) fn remove(&self, generation: u64) -> io::Result<()> {
        match fs::remove_file(self.file(generation)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        sync_dir(&self.dir)
    }
}

/// Reads one stream file back; cuts a torn tail (returns `true` then).
fn read_stream(file: &Path, now: SystemTime) -> Result<(Recovered, bool), FileError> {
    let corrupt = |offset: usize, why: String| FileError::Corrupt {
        file: file.to_path_buf(),
        offset: offset as u64,
        why,
    };
    let size = fs::metadata(file)?.len();
    if size > MAX_FILE {
        return Err(corrupt(
            0,
            format!("{size} bytes is more than a stream holds"),
        ));
    }
    let buf = fs::read(file)?;
    let (head, data, mut at) = parse(&buf, 0)
        .map_err(|e| corrupt(0, e))?
        .ok_or_else(|| corrupt(0, "no complete creation record".into()))?;
    let Head::Create(create) = head else {
        return Err(corrupt(0, "the first record is not a creation".into()));
    };
    let CreateRec {
        path,
        generation,
        config,
        requested,
        next,
        closed,
        boundaries,
        items,
    } = *create;
    let bad = |at: usize, what: &str| corrupt(at, what.to_owned());
    let config = config_of(config).ok_or_else(|| bad(0, "bad configuration"))?;
    let requested = config_of(requested).ok_or_else(|| bad(0, "bad configuration"))?;
    let items = split(data, &items).ok_or_else(|| bad(0, "item lengths"))?;
    let next = offset(next).ok_or_else(|| bad(0, "bad offset"))?;
    let json = config.json;
    let mut rec = Recovered {
        path,
        meta: Meta {
            config,
            requested,
            generation,
            tail: Tail { next, closed },
            last_seq: None,
            producers: HashMap::new(),
            closed_by: None,
            touched: now,
        },
        bytes: Vec::new(),
        messages: Vec::new(),
        boundaries,
        soft_deleted: false,
    };
    if json {
        rec.messages = items;
    } else {
        for i in &items {
            rec.bytes.extend_from_slice(i);
        }
    }
    let mut truncated = false;
    while at < buf.len() {
        let Some((head, data, end)) = parse(&buf, at).map_err(|e| corrupt(at, e))? else {
            tracing::warn!(
                file = %file.display(),
                offset = at,
                cut_bytes = buf.len() - at,
                "Durable Streams: cutting an interrupted (never acknowledged) append"
            );
            let f = OpenOptions::new().write(true).open(file)?;
            f.set_len(at as u64)?;
            f.sync_all()?;
            truncated = true;
            break;
        };
        match head {
            Head::Create { .. } => return Err(bad(at, "a second creation record")),
            Head::SoftDelete => rec.soft_deleted = true,
            Head::Append {
                items,
                next,
                close,
                seq,
                producer,
            } => {
                let items = split(data, &items).ok_or_else(|| bad(at, "item lengths"))?;
                let next = offset(next).ok_or_else(|| bad(at, "bad offset"))?;
                let count = if json {
                    items.len() as u64
                } else {
                    items.iter().map(|i| i.len() as u64).sum()
                };
                if rec.meta.tail.next.advance(count).ok() != Some(next) {
                    return Err(bad(at, "the append's offset does not follow the stream's"));
                }
                if count > 0 {
                    rec.boundaries.push(next.position());
                }
                if json {
                    rec.messages.extend(items.iter().cloned());
                } else {
                    for i in &items {
                        rec.bytes.extend_from_slice(i);
                    }
                }
                let req = Append {
                    content_type: None,
                    items,
                    close,
                    seq,
                    producer: producer.map(|p| Producer {
                        id: p.id,
                        epoch: p.epoch,
                        seq: p.seq,
                    }),
                };
                rec.meta.commit(&req, next);
            }
        }
        at = end;
    }
    Ok((rec, truncated))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

//! The durable file log (the default store, `--data-dir`, default `./sse-data`).
//!
//! Files in the data directory:
//! - `meta.json`: `{"format":2,"epoch":"…"}`, written when the log is created (and when a
//!   repair starts a new epoch or a migration bumps the format), atomically (write
//!   `meta.json.tmp`, fsync it, rename over `meta.json`, fsync the directory).
//! - `messages.log`: append-only records, one per message, index = record number:
//!   ```text
//!   ┌────────────┬─────────────┬─────────────┬─────────────┬─────────────────────┐
//!   │ magic (4)  │ len: u32 LE │ idx: u64 LE │ crc: u32 LE │ payload: len bytes  │
//!   │ FF 53 53 45│   1..=64 Mi │ record no.  │             │ the message JSON    │
//!   └────────────┴─────────────┴─────────────┴─────────────┴─────────────────────┘
//!   crc = CRC-32 (IEEE) of len ‖ idx ‖ payload
//!   ```
//!   Records are self-identifying: the magic starts with `0xFF`, a byte UTF-8 (hence JSON)
//!   never contains, so it cannot occur inside an intact payload; the CRC covers the length and
//!   the index, so a record that checks out cannot be a stray copy at the wrong place; an empty
//!   payload is invalid (zeros are never a record); and the `idx` of record *n* must be *n*.
//! - `state.json`: the latest state object, replaced atomically (tmp + rename).
//! - `lock`: empty. While the log is open an exclusive advisory lock (`flock`) is held on the
//!   data directory itself (an fd that cannot be deleted away) and, for older `sse-host`
//!   versions, on `lock`; so a second process on the same directory fails at start with a clear
//!   error instead of interleaving records, even when `lock` was deleted. Locks go with the
//!   process, even on a crash.
//! - `messages.log.damaged-<unix time>` (only after a repair): the complete log as it was
//!   before the repair, damage included (a hard link, so no copy), and `….json` beside it
//!   listing the damaged byte ranges. Nothing is ever deleted; remove them when done.
//!
//! **What is checked at open.** The log is scanned from the start. Where a record does not
//! check out, the scan resynchronises on the next valid record (the next magic whose record has
//! a valid CRC) and goes on, so every valid record and every damaged byte range is known:
//! - *Clean*: served as is.
//! - *Torn tail*: the only damage reaches the end of the file, no valid record follows, and it
//!   looks like an interrupted append: a prefix of a record (the magic, then a header or
//!   payload cut short), possibly followed by zeros, or only zeros (blocks preallocated or never
//!   written before a crash; a complete record whose payload holds a NUL byte is one of those,
//!   since JSON never contains one). That record was never acknowledged (the append fsyncs
//!   before it replies), so the file is cut there (and fsynced), with a WARN, as before.
//! - *Damage*: anything else (a valid record after the damage, a complete non-zero record with
//!   a bad CRC at the tail, an index out of sequence). The open fails with
//!   [`LogError::Corrupt`] naming the file, the offset, and how many valid records follow, and
//!   nothing is changed: acknowledged messages are never dropped silently, and the next
//!   publishes never reuse indices that clients already saw.
//!
//! **Repair** ([`FileLog::open_with`] with `repair`, `sse-host serve --repair`) keeps every
//! valid record, in file order. A record whose header alone was hit (magic, length or index;
//! its CRC still verifies over the bytes up to the next valid record, with the index it should
//! have) is recovered whole. If that leaves every kept record at its old index and the damage
//! ends before the last record, nothing acknowledged was lost and the epoch is kept; otherwise
//! the kept records are renumbered (their JSON's `idx` rewritten), and a **new epoch** is
//! written, so every client gets `reset` and reloads instead of splicing two histories. The new
//! log is written atomically: `messages.log.tmp`, fsync, (new `meta.json`), rename, fsync of
//! the directory; the old file stays as the quarantine file. A crash during a repair leaves
//! either the old log (the next start refuses again) or the repaired one.
//!
//! **Format 1** (`len u32 | crc u32 | payload`, no magic or index; sse-host before format 2)
//! is migrated at open: the valid records are copied into a format-2 `messages.log.tmp`,
//! fsynced, renamed over `messages.log`, the directory fsynced, then `meta.json` says format 2;
//! the epoch is kept. The format is recognised from the file's first bytes, so a migration
//! interrupted between the two renames is finished at the next start. A format-1 log damaged
//! before its tail (records resynchronised on a `{…}` payload with a valid CRC) is refused
//! like a format-2 one, and `--repair` migrates what is valid (new epoch).
//!
//! **fsync policy.** Every append is written with one `write` and made durable with
//! `fdatasync` *before* the append returns, so the `{"idx":N}` an agent receives means the
//! message survives a power cut. Appends are serialised by the hub, so the cost is one
//! fdatasync per message: measured on the development VM, a 300-byte append costs ~1.2 µs
//! without and ~1.1 ms with `fdatasync`, so the file log takes ~900 messages/s (an agent
//! emits a few per second; `--memory` has no such cost). Creating `messages.log`, `meta.json`
//! or `lock` is followed by an fsync of the directory, so the files themselves survive a
//! power cut right after the first start. `state.json` is renamed into place without
//! an fsync per update (state is a snapshot the agent re-sends; losing the last update in a
//! power cut is acceptable, a torn state file is not, and rename gives that); [`FileLog::flush`]
//! at shutdown fsyncs it.

use super::{Extent, LogError, MAX_RECORD, Record};
use bytes::Bytes;
use serde_json::{Map, Value};
use sse_core::Seq;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// First bytes of every format-2 record. `0xFF` never occurs in UTF-8.
const MAGIC: [u8; 4] = [0xFF, b'S', b'S', b'E'];
/// Format-2 header: magic, len, idx, crc.
pub(super) const HEADER: usize = 20;
/// Format-1 header: len, crc.
const V1_HEADER: usize = 8;
const FORMAT: u64 = 2;
const LOG: &str = "messages.log";
/// Bytes read per step while looking for the next record after damage.
const CHUNK: usize = 1 << 16;

/// An append-only, CRC-framed file log in a directory.
#[derive(Debug, Clone)]
pub struct FileLog {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Hold the directory's locks for as long as the log is open.
    _locks: (File, File),
    dir: PathBuf,
    epoch: std::sync::Arc<str>,
    /// Serialises writers (the hub already does; this keeps the file consistent regardless).
    writer: Mutex<File>,
    reader: File,
    /// Start offset of every record, then the end of the last one.
    index: RwLock<Index>,
    state: Mutex<Map<String, Value>>,
}

#[derive(Debug)]
struct Index {
    starts: Vec<u64>,
    end: u64,
}

/// What [`FileLog::open_with`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Valid records kept.
    pub records: u64,
    /// Bytes cut from a torn tail (0 when the file was clean).
    pub truncated_bytes: u64,
    /// The log was created (new epoch) rather than reopened.
    pub created: bool,
    /// The log was in this older format and was migrated to the current one.
    pub migrated_from: Option<u64>,
    /// What a repair did (`None`: no repair was needed or asked for).
    pub repair: Option<RepairReport>,
}

/// What a repair of a damaged log did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// The log as it was, damage included (never deleted).
    pub quarantine: PathBuf,
    /// Damaged bytes left out of the repaired log.
    pub damaged_bytes: u64,
    /// Damaged byte ranges.
    pub damaged_ranges: usize,
    /// Valid records kept (renumbered `0..kept` in file order).
    pub kept: u64,
    /// Records whose header alone was damaged and that were recovered whole.
    pub recovered: u64,
    /// Records that got another index (their JSON's `idx` rewritten).
    pub renumbered: u64,
    /// A new epoch was started (some acknowledged record may be gone or moved): clients reset.
    pub new_epoch: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V1,
    V2,
}

impl Format {
    fn header(self) -> usize {
        match self {
            Format::V1 => V1_HEADER,
            Format::V2 => HEADER,
        }
    }

    fn number(self) -> u64 {
        match self {
            Format::V1 => 1,
            Format::V2 => 2,
        }
    }
}

/// One valid record found by the scan.
#[derive(Debug, Clone, Copy)]
struct Found {
    /// Offset of its header.
    off: u64,
    /// Bytes it occupies in the file (header included).
    size: u64,
    /// Payload length.
    len: usize,
    /// Its stored index (format 1: its position among the valid records).
    idx: u64,
    /// Its header was damaged and is rebuilt by a repair.
    recovered: bool,
}

/// What the scan of a log found.
#[derive(Debug)]
struct Survey {
    format: Format,
    records: Vec<Found>,
    /// Damaged byte ranges, in file order.
    damage: Vec<(u64, u64)>,
    /// The last damaged range reaches the end and is an interrupted append.
    torn_tail: bool,
    file_len: u64,
}

impl Survey {
    /// Nothing to do but (perhaps) cut a torn tail.
    fn sound(&self) -> bool {
        let torn = usize::from(self.torn_tail);
        self.damage.len() == torn
            && self
                .records
                .iter()
                .enumerate()
                .all(|(i, r)| r.idx == i as u64 && !r.recovered)
    }

    /// The first problem, for [`LogError::Corrupt`]: (offset, records after it, damaged bytes).
    fn first_problem(&self) -> (u64, u64, u64) {
        let damaged: u64 = self.damage.iter().map(|(a, b)| b - a).sum();
        let bad_record = self
            .records
            .iter()
            .enumerate()
            .find(|(i, r)| r.idx != *i as u64 || r.recovered)
            .map(|(_, r)| r.off);
        let offset = self
            .damage
            .first()
            .map(|d| d.0)
            .into_iter()
            .chain(bad_record)
            .min()
            .unwrap_or(0);
        let after = self.records.iter().filter(|r| r.off > offset).count() as u64;
        (offset, after, damaged)
    }

    /// Would keeping every valid record, renumbered, lose or move an acknowledged one?
    fn loses_acknowledged(&self) -> bool {
        let moved = self
            .records
            .iter()
            .enumerate()
            .any(|(i, r)| r.idx != i as u64);
        let untorn_damage = self.damage.len() > usize::from(self.torn_tail);
        match self.format {
            // Indices are stored: continuity proves nothing was dropped in the middle, and
            // only damage at the end (after the last valid record) can hide a lost one.
            Format::V2 => {
                let last_end = self.records.last().map_or(0, |r| r.off + r.size);
                moved
                    || self
                        .damage
                        .iter()
                        .any(|&(a, _)| a >= last_end && !self.torn_tail)
            }
            // No stored index: any damage but a torn tail may have held a record.
            Format::V1 => moved || untorn_damage,
        }
    }
}

impl FileLog {
    /// [`FileLog::open_with`] without repair.
    ///
    /// # Errors
    /// As [`FileLog::open_with`].
    pub fn open(dir: &Path) -> Result<(FileLog, OpenReport), LogError> {
        Self::open_with(dir, false)
    }

    /// Opens the log in `dir`, creating the directory and a new epoch if needed, migrating a
    /// format-1 log, and cutting a torn tail. With `repair`, a damaged log is repaired (see the
    /// module docs) instead of refused. Blocking: call at start-up.
    ///
    /// # Errors
    /// [`LogError::Corrupt`] when the log is damaged before its tail (and `repair` is off);
    /// [`LogError::Locked`]; I/O errors, or an unreadable `meta.json`.
    pub fn open_with(dir: &Path, repair: bool) -> Result<(FileLog, OpenReport), LogError> {
        let data_dir = |error| LogError::DataDir {
            dir: dir.to_owned(),
            error,
        };
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(data_dir)?;
            // Best effort: the new directory's entry in its parent.
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                let _ = sync_dir(parent);
            }
        }
        let locks = lock_dir(dir).map_err(|e| match e {
            LogError::Io(error) => data_dir(error),
            other => other,
        })?;
        let meta_path = dir.join("meta.json");
        let (mut epoch, meta_format, created) = match fs::read(&meta_path) {
            Ok(bytes) => {
                let (epoch, format) = parse_meta(&bytes)?;
                (epoch, format, false)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let epoch = super::new_epoch();
                write_meta(dir, &epoch)?;
                (epoch, FORMAT, true)
            }
            Err(e) => return Err(e.into()),
        };
        let log_path = dir.join(LOG);
        let mut migrated_from = None;
        let mut repair_report = None;
        let mut rewritten = false;
        let (writer, survey) = loop {
            let (writer, new_file) = open_log(&log_path)?;
            if new_file {
                sync_dir(dir)?;
            }
            let format = detect_format(&writer, meta_format)?;
            let survey = survey(&writer, format)?;
            if survey.format == Format::V2 && survey.sound() {
                if meta_format != FORMAT {
                    // A finished migration whose meta.json update was lost, or an empty log.
                    write_meta(dir, &epoch)?;
                }
                break (writer, survey);
            }
            // After one rewrite the log is sound; if not, refuse rather than loop.
            if !survey.sound() && (!repair || rewritten) {
                let (offset, records_after, damaged_bytes) = survey.first_problem();
                return Err(LogError::Corrupt {
                    path: log_path,
                    offset,
                    records_after,
                    damaged_bytes,
                });
            }
            // A sound format-1 log is migrated; a damaged log of either format is repaired.
            if survey.format == Format::V1 {
                migrated_from = Some(1);
            }
            let report = rewrite(dir, &writer, &survey, &mut epoch)?;
            drop(writer);
            rewritten = true;
            if let Some(r) = &report {
                tracing::warn!(
                    path = %log_path.display(),
                    quarantine = %r.quarantine.display(),
                    kept = r.kept,
                    recovered = r.recovered,
                    renumbered = r.renumbered,
                    damaged_bytes = r.damaged_bytes,
                    damaged_ranges = r.damaged_ranges,
                    new_epoch = r.new_epoch,
                    "repaired the damaged message log"
                );
            } else {
                tracing::info!(
                    records = survey.records.len(),
                    "migrated the message log from format 1 to format 2"
                );
            }
            repair_report = report.or(repair_report);
        };
        let mut truncated_bytes = 0;
        let end = survey.records.last().map_or(0, |r| r.off + r.size);
        if survey.torn_tail {
            truncated_bytes = survey.file_len - end;
            tracing::warn!(
                path = %log_path.display(),
                kept_records = survey.records.len(),
                truncated_bytes,
                "message log had a torn tail (an interrupted append); cut it"
            );
            writer.set_len(end)?;
            writer.sync_all()?;
        }
        let reader = File::open(&log_path)?;
        let state = match fs::read(dir.join("state.json")) {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                _ => {
                    tracing::warn!("state.json is not a JSON object; starting with an empty state");
                    Map::new()
                }
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(e.into()),
        };
        let starts: Vec<u64> = survey.records.iter().map(|r| r.off).collect();
        let report = OpenReport {
            records: starts.len() as u64,
            truncated_bytes,
            created,
            migrated_from,
            repair: repair_report,
        };
        let log = FileLog {
            inner: Arc::new(Inner {
                _locks: locks,
                dir: dir.to_owned(),
                epoch: epoch.into(),
                writer: Mutex::new(writer),
                reader,
                index: RwLock::new(Index { starts, end }),
                state: Mutex::new(state),
            }),
        };
        Ok((log, report))
    }

    pub(super) fn epoch(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.inner.epoch)
    }

    pub(super) fn extent(&self) -> Extent {
        let index = self
            .inner
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Extent {
            first: Seq::ZERO,
            end: Seq(index.starts.len() as u64),
        }
    }

    pub(super) async fn append(&self, idx: Seq, json: Bytes) -> Result<(), LogError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.append(idx, &json)).await
    }

    pub(super) async fn read(
        &self,
        from: Seq,
        max_count: usize,
        max_bytes: usize,
    ) -> Result<Vec<Record>, LogError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.read(from, max_count, max_bytes)).await
    }

    pub(super) fn state(&self) -> Map<String, Value> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub(super) async fn set_state(&self, state: Map<String, Value>) -> Result<(), LogError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let text = Value::Object(state.clone()).to_string();
            write_atomic(&inner.dir, "state.json", text.as_bytes(), false)?;
            *inner.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
            Ok(())
        })
        .await
    }

    pub(super) fn size_bytes(&self) -> u64 {
        self.inner
            .index
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .end
    }

    pub(super) async fn flush(&self) -> Result<(), LogError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            inner
                .writer
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .sync_all()?;
            if let Ok(f) = File::open(inner.dir.join("state.json")) {
                f.sync_all()?;
            }
            sync_dir(&inner.dir)
        })
        .await
    }
}

impl Inner {
    fn append(&self, idx: Seq, json: &[u8]) -> Result<(), LogError> {
        let mut file = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        let (expected, end) = {
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            (Seq(index.starts.len() as u64), index.end)
        };
        if idx != expected {
            return Err(LogError::Conflict { expected, got: idx });
        }
        if json.is_empty() {
            return Err(LogError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                "empty record",
            )));
        }
        if json.len() > MAX_RECORD {
            return Err(LogError::TooLarge {
                len: json.len(),
                max: MAX_RECORD,
            });
        }
        let record = encode(idx.0, json);
        let written = file.write_all(&record).and_then(|()| file.sync_data());
        if let Err(e) = written {
            // Cut whatever part of the record reached the file so the next append does not
            // land behind garbage; the open-time scan would see a torn tail anyway.
            let _ = file.set_len(end);
            return Err(e.into());
        }
        let mut index = self.index.write().unwrap_or_else(PoisonError::into_inner);
        index.starts.push(end);
        index.end = end + record.len() as u64;
        Ok(())
    }

    fn read(&self, from: Seq, max_count: usize, max_bytes: usize) -> Result<Vec<Record>, LogError> {
        // Copy the offsets we need, then read without holding the lock.
        let spans: Vec<(u64, u64, u64)> = {
            let index = self.index.read().unwrap_or_else(PoisonError::into_inner);
            let n = index.starts.len();
            let start = usize::try_from(from.0).unwrap_or(usize::MAX).min(n);
            let mut spans = Vec::new();
            let mut total = 0u64;
            for i in start..n.min(start.saturating_add(max_count)) {
                let begin = index.starts[i];
                let stop = index.starts.get(i + 1).copied().unwrap_or(index.end);
                let len = stop - begin - HEADER as u64;
                if !spans.is_empty() && total + len > max_bytes as u64 {
                    break;
                }
                total += len;
                spans.push((i as u64, begin + HEADER as u64, len));
            }
            spans
        };
        let mut out = Vec::with_capacity(spans.len());
        for (idx, offset, len) in spans {
            let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
            self.reader.read_exact_at(&mut buf, offset)?;
            out.push(Record {
                idx: Seq(idx),
                json: Bytes::from(buf),
            });
        }
        Ok(out)
    }
}

/// A format-2 record: header and payload (`payload` is non-empty and at most [`MAX_RECORD`]).
pub(super) fn encode(idx: u64, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut record = Vec::with_capacity(HEADER + payload.len());
    record.extend_from_slice(&MAGIC);
    record.extend_from_slice(&len.to_le_bytes());
    record.extend_from_slice(&idx.to_le_bytes());
    record.extend_from_slice(&crc(len, idx, payload).to_le_bytes());
    record.extend_from_slice(payload);
    record
}

/// The format-2 checksum: CRC-32 of len ‖ idx ‖ payload.
fn crc(len: u32, idx: u64, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&len.to_le_bytes());
    h.update(&idx.to_le_bytes());
    h.update(payload);
    h.finalize()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Opens (creating) `messages.log` for appending; `true` when it was created.
fn open_log(path: &Path) -> Result<(File, bool), LogError> {
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(path)?;
    Ok((file, !existed))
}

/// The format of the log's bytes: recognised from its first record when it has one (so a
/// migration interrupted between renaming the log and rewriting `meta.json` is recognised),
/// else what `meta.json` says.
fn detect_format(file: &File, meta_format: u64) -> Result<Format, LogError> {
    let file_len = file.metadata()?.len();
    let mut buf = Vec::new();
    if check(Format::V2, file, 0, file_len, &mut buf)?.is_some() {
        return Ok(Format::V2);
    }
    if check(Format::V1, file, 0, file_len, &mut buf)?.is_some() {
        return Ok(Format::V1);
    }
    Ok(if meta_format == 1 {
        Format::V1
    } else {
        Format::V2
    })
}

/// Reads `buf.len()` bytes at `off`; `false` if the file ends first.
fn read_at(file: &File, off: u64, buf: &mut [u8]) -> Result<bool, LogError> {
    match file.read_exact_at(buf, off) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The valid record at `off`, if there is one (`buf` is scratch space for its payload).
fn check(
    format: Format,
    file: &File,
    off: u64,
    file_len: u64,
    buf: &mut Vec<u8>,
) -> Result<Option<Found>, LogError> {
    let h = format.header();
    let mut header = [0u8; HEADER];
    let header = &mut header[..h];
    if off + h as u64 > file_len || !read_at(file, off, header)? {
        return Ok(None);
    }
    let (len, idx, stored) = match format {
        Format::V2 => {
            if header[..4] != MAGIC {
                return Ok(None);
            }
            (u32_at(header, 4), u64_at(header, 8), u32_at(header, 16))
        }
        Format::V1 => (u32_at(header, 0), 0, u32_at(header, 4)),
    };
    let n = len as usize;
    let size = (h + n) as u64;
    if n == 0 || n > MAX_RECORD || off + size > file_len {
        return Ok(None);
    }
    buf.resize(n, 0);
    if !read_at(file, off + h as u64, buf)? {
        return Ok(None);
    }
    let ok = match format {
        Format::V2 => crc(len, idx, buf) == stored,
        // Format 1 has no magic: a payload must also look like a JSON object.
        Format::V1 => buf[0] == b'{' && buf[n - 1] == b'}' && crc32fast::hash(buf) == stored,
    };
    Ok(ok.then_some(Found {
        off,
        size,
        len: n,
        idx,
        recovered: false,
    }))
}

/// The first valid record starting in `from..file_len`.
fn resync(
    format: Format,
    file: &File,
    from: u64,
    file_len: u64,
    buf: &mut Vec<u8>,
) -> Result<Option<Found>, LogError> {
    // Candidates: a magic's first byte (format 2), or a `{` where a payload would start
    // (format 1).
    let (marker, shift) = match format {
        Format::V2 => (MAGIC[0], 0u64),
        Format::V1 => (b'{', V1_HEADER as u64),
    };
    let mut chunk = vec![0u8; CHUNK];
    let mut pos = from + shift;
    while pos < file_len {
        let n = usize::try_from((file_len - pos).min(CHUNK as u64)).unwrap_or(CHUNK);
        file.read_exact_at(&mut chunk[..n], pos)?;
        for (i, &b) in chunk[..n].iter().enumerate() {
            if b == marker {
                let at = pos + i as u64 - shift;
                if let Some(found) = check(format, file, at, file_len, buf)? {
                    return Ok(Some(found));
                }
            }
        }
        pos += n as u64;
    }
    Ok(None)
}

/// A format-2 record at `start` whose header alone was damaged (magic, length or index): its
/// CRC verifies over all of `start..end` with the index `idx` it should have.
fn recover(
    format: Format,
    file: &File,
    (start, end): (u64, u64),
    idx: u64,
) -> Result<Option<Found>, LogError> {
    let size = end - start;
    if format != Format::V2 || size <= HEADER as u64 || size - (HEADER as u64) > MAX_RECORD as u64 {
        return Ok(None);
    }
    let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(0)];
    if !read_at(file, start, &mut bytes)? {
        return Ok(None);
    }
    let len = bytes.len() - HEADER;
    let stored = u32_at(&bytes, 16);
    let ok = crc(
        u32::try_from(len).unwrap_or(u32::MAX),
        idx,
        &bytes[HEADER..],
    ) == stored;
    Ok(ok.then_some(Found {
        off: start,
        size,
        len,
        idx,
        recovered: true,
    }))
}

/// Is `start..end` (the end of the file) an interrupted append? See the module docs.
fn is_torn(format: Format, file: &File, (start, end): (u64, u64)) -> Result<bool, LogError> {
    let size = end - start;
    let h = format.header();
    // A torn append is at most one record; anything longer may only add zeros.
    let limit = (h + MAX_RECORD) as u64 + (4 << 20);
    if size > limit {
        return all_zero(file, start, end);
    }
    let mut t = vec![0u8; usize::try_from(size).unwrap_or(0)];
    if !read_at(file, start, &mut t)? {
        return Ok(false);
    }
    if t.iter().all(|&b| b == 0) {
        return Ok(true);
    }
    if format == Format::V2 {
        let m = t.len().min(MAGIC.len());
        if t[..m] != MAGIC[..m] {
            return Ok(false);
        }
    }
    if t.len() < h {
        return Ok(true);
    }
    let len = match format {
        Format::V2 => u32_at(&t, 4),
        Format::V1 => u32_at(&t, 0),
    } as usize;
    if len == 0 || len > MAX_RECORD {
        // A header whose length is garbage: only if nothing after it was written.
        return Ok(t[h..].iter().all(|&b| b == 0));
    }
    let record_end = h + len;
    if record_end > t.len() {
        return Ok(true); // cut short
    }
    // Complete but its checksum fails: only blocks that never reached the disk (zeros; JSON
    // never holds a NUL) explain that after a crash.
    Ok(t[h..record_end].contains(&0) && t[record_end..].iter().all(|&b| b == 0))
}

fn all_zero(file: &File, start: u64, end: u64) -> Result<bool, LogError> {
    let mut chunk = vec![0u8; CHUNK];
    let mut pos = start;
    while pos < end {
        let n = usize::try_from((end - pos).min(CHUNK as u64)).unwrap_or(CHUNK);
        file.read_exact_at(&mut chunk[..n], pos)?;
        if chunk[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        pos += n as u64;
    }
    Ok(true)
}

/// Scans the whole log: every valid record, every damaged range (resynchronising on the next
/// valid record after each).
fn survey(file: &File, format: Format) -> Result<Survey, LogError> {
    let file_len = file.metadata()?.len();
    let mut buf = Vec::new();
    let mut records: Vec<Found> = Vec::new();
    let mut damage = Vec::new();
    let mut torn_tail = false;
    let mut pos = 0u64;
    while pos < file_len {
        if let Some(mut r) = check(format, file, pos, file_len, &mut buf)? {
            if format == Format::V1 {
                r.idx = records.len() as u64;
            }
            records.push(r);
            pos += r.size;
            continue;
        }
        let next = resync(format, file, pos + 1, file_len, &mut buf)?;
        let span = (pos, next.map_or(file_len, |r| r.off));
        let expected = records.last().map_or(0, |r| r.idx + 1);
        if let Some(r) = recover(format, file, span, expected)? {
            records.push(r);
        } else if next.is_none() && is_torn(format, file, span)? {
            torn_tail = true;
            damage.push(span);
        } else {
            damage.push(span);
        }
        let Some(mut r) = next else { break };
        if format == Format::V1 {
            r.idx = records.len() as u64;
        }
        records.push(r);
        pos = r.off + r.size;
    }
    Ok(Survey {
        format,
        records,
        damage,
        torn_tail,
        file_len,
    })
}

/// Writes the survey's valid records as a clean format-2 log and puts it in place of
/// `messages.log` (module docs: migration and repair). Returns what a repair did, or `None`
/// for a plain migration (nothing damaged but a torn tail).
fn rewrite(
    dir: &Path,
    old: &File,
    survey: &Survey,
    epoch: &mut String,
) -> Result<Option<RepairReport>, LogError> {
    let tmp_path = dir.join(format!("{LOG}.tmp"));
    let mut renumbered = 0u64;
    {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(&tmp_path)?);
        let mut buf = Vec::new();
        for (i, r) in survey.records.iter().enumerate() {
            let i = i as u64;
            buf.resize(r.len, 0);
            old.read_exact_at(&mut buf, r.off + r.size - r.len as u64)?;
            let payload = match with_idx(&buf, i) {
                Some(rewritten) => {
                    renumbered += 1;
                    rewritten
                }
                None => std::mem::take(&mut buf),
            };
            out.write_all(&encode(i, &payload))?;
            buf = payload;
        }
        let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.sync_all()?;
    }
    let repaired = !survey.sound();
    let mut report = None;
    if repaired {
        let new_epoch = survey.loses_acknowledged();
        let quarantine = quarantine(dir, survey)?;
        if new_epoch {
            // Before the new log is in place: a crash in between leaves the damaged log,
            // refused again at the next start, never renumbered records under the old epoch.
            *epoch = super::new_epoch();
            // In the format of the log still in place (the rename below may not happen).
            write_meta_format(dir, epoch, survey.format.number())?;
        }
        report = Some(RepairReport {
            quarantine,
            damaged_bytes: survey.damage.iter().map(|(a, b)| b - a).sum(),
            damaged_ranges: survey.damage.len(),
            kept: survey.records.len() as u64,
            recovered: survey.records.iter().filter(|r| r.recovered).count() as u64,
            renumbered,
            new_epoch,
        });
    }
    fs::rename(&tmp_path, dir.join(LOG))?;
    sync_dir(dir)?;
    // Now the log is format 2 (with the epoch meta.json already holds).
    write_meta(dir, epoch)?;
    Ok(report)
}

/// `json` with its `"idx"` set to `idx`, or `None` when it already says so (or is not an
/// object, which a valid record never is).
fn with_idx(json: &[u8], idx: u64) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(json) else {
        return None;
    };
    if map.get("idx").and_then(Value::as_u64) == Some(idx) {
        return None;
    }
    map.insert("idx".into(), Value::from(idx));
    Some(Value::Object(map).to_string().into_bytes())
}

/// Keeps the damaged log as `messages.log.damaged-<unix time>` (a hard link, or a copy where
/// links are not supported) with a `.json` listing the damaged ranges.
fn quarantine(dir: &Path, survey: &Survey) -> Result<PathBuf, LogError> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let src = dir.join(LOG);
    let mut n = 0u32;
    let path = loop {
        let name = if n == 0 {
            format!("{LOG}.damaged-{secs}")
        } else {
            format!("{LOG}.damaged-{secs}-{n}")
        };
        let path = dir.join(name);
        match fs::hard_link(&src, &path) {
            Ok(()) => break path,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e.into()),
            Err(_) => {
                if path.exists() {
                    n += 1;
                    continue;
                }
                fs::copy(&src, &path)?;
                File::open(&path)?.sync_all()?;
                break path;
            }
        }
    };
    let ranges: Vec<Value> = survey
        .damage
        .iter()
        .map(|&(a, b)| serde_json::json!({"offset": a, "len": b - a}))
        .collect();
    let info = serde_json::json!({
        "format": survey.format.number(),
        "damaged": ranges,
        "valid_records": survey.records.len(),
    });
    let mut info_name = path.file_name().unwrap_or_default().to_os_string();
    info_name.push(".json");
    let mut f = File::create(dir.join(info_name))?;
    f.write_all(info.to_string().as_bytes())?;
    f.sync_all()?;
    sync_dir(dir)?;
    Ok(path)
}

/// Takes the exclusive locks on the directory itself and on `dir/lock` (for older versions),
/// or says who holds the directory.
fn lock_dir(dir: &Path) -> Result<(File, File), LogError> {
    use rustix::fs::{FlockOperation, flock};
    let take = |file: &File| match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::WOULDBLOCK) => Err(LogError::Locked {
            dir: dir.to_owned(),
        }),
        Err(e) => Err(LogError::Io(e.into())),
    };
    let dir_fd = File::open(dir)?;
    take(&dir_fd)?;
    let path = dir.join("lock");
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    if !existed {
        sync_dir(dir)?;
    }
    take(&file)?;
    Ok((dir_fd, file))
}

/// The epoch and format in `meta.json`.
fn parse_meta(bytes: &[u8]) -> Result<(String, u64), LogError> {
    let v: Value =
        serde_json::from_slice(bytes).map_err(|e| LogError::Metadata(format!("meta.json: {e}")))?;
    let format = match v.get("format").and_then(Value::as_u64) {
        Some(f @ (1 | FORMAT)) => f,
        _ => return Err(LogError::Metadata("meta.json: unknown format".into())),
    };
    match v.get("epoch").and_then(Value::as_str) {
        Some(e) if !e.is_empty() => Ok((e.to_owned(), format)),
        _ => Err(LogError::Metadata("meta.json: no epoch".into())),
    }
}

fn write_meta(dir: &Path, epoch: &str) -> Result<(), LogError> {
    write_meta_format(dir, epoch, FORMAT)
}

fn write_meta_format(dir: &Path, epoch: &str, format: u64) -> Result<(), LogError> {
    let meta = serde_json::json!({"format": format, "epoch": epoch});
    write_atomic(dir, "meta.json", meta.to_string().as_bytes(), true)
}

/// Replaces `dir/name` atomically: write a temporary file, optionally fsync it, rename it
/// over the target, and (when `durable`) fsync the directory so the rename itself persists.
fn write_atomic(dir: &Path, name: &str, bytes: &[u8], durable: bool) -> Result<(), LogError> {
    let tmp = dir.join(format!("{name}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
    }
    fs::rename(&tmp, dir.join(name))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, LogError> + Send + 'static,
) -> Result<T, LogError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| LogError::Cancelled)?
}

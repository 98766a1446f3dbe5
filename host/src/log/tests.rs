use super::*;
use std::io::Write;

fn msg(i: u64) -> Bytes {
    Bytes::from(format!(r#"{{"type":"agent","content":"m{i}","idx":{i}}}"#))
}

async fn fill(log: &Log, n: u64) {
    for i in 0..n {
        log.append(Seq(i), msg(i)).await.unwrap();
    }
}

async fn all(log: &Log) -> Vec<Bytes> {
    log.read(Seq::ZERO, usize::MAX, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.json)
        .collect()
}

fn open(dir: &std::path::Path) -> (Log, file::OpenReport) {
    let (l, r) = FileLog::open(dir).unwrap();
    (Log::File(l), r)
}

fn log_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("messages.log")
}

/// Offset of record `i` in a log of `msg(0..)` records.
fn offset_of(i: u64) -> usize {
    (0..i).map(|j| file::HEADER + msg(j).len()).sum()
}

fn epoch_in_meta(dir: &std::path::Path) -> (u64, String) {
    let v: Value = serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
    (
        v["format"].as_u64().unwrap(),
        v["epoch"].as_str().unwrap().to_owned(),
    )
}

/// A log of `n` messages written through the log and closed; returns its epoch.
async fn written(dir: &std::path::Path, n: u64) -> String {
    let (log, _) = open(dir);
    fill(&log, n).await;
    let epoch = log.epoch().to_string();
    log.flush().await.unwrap();
    epoch
}

fn corrupt(dir: &std::path::Path) -> (u64, u64, u64) {
    match FileLog::open(dir) {
        Err(LogError::Corrupt {
            path,
            offset,
            records_after,
            damaged_bytes,
        }) => {
            assert_eq!(path, log_path(dir));
            (offset, records_after, damaged_bytes)
        }
        Ok((_, report)) => panic!("opened a damaged log: {report:?}"),
        Err(e) => panic!("{e}"),
    }
}

fn repair(dir: &std::path::Path) -> (Log, file::OpenReport, RepairReport) {
    let (l, r) = FileLog::open_with(dir, true).unwrap();
    let repair = r.repair.clone().expect("a repair");
    (Log::File(l), r, repair)
}

fn json_idx(records: &[Bytes]) -> Vec<u64> {
    records
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(r).unwrap()["idx"]
                .as_u64()
                .unwrap()
        })
        .collect()
}

#[tokio::test]
async fn file_log_restart_keeps_messages_epoch_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let (log, report) = open(dir.path());
    assert!(report.created);
    fill(&log, 5).await;
    let mut state = Map::new();
    state.insert("title".into(), "t".into());
    log.set_state(state.clone()).await.unwrap();
    let epoch = log.epoch().to_owned();
    log.flush().await.unwrap();
    drop(log);

    let (log, report) = open(dir.path());
    assert_eq!(
        report,
        file::OpenReport {
            records: 5,
            truncated_bytes: 0,
            created: false,
            migrated_from: None,
            repair: None,
        }
    );
    assert_eq!(log.epoch(), epoch);
    assert_eq!(epoch_in_meta(dir.path()).0, 2);
    assert_eq!(
        log.extent(),
        Extent {
            first: Seq(0),
            end: Seq(5)
        }
    );
    assert_eq!(all(&log).await, (0..5).map(msg).collect::<Vec<_>>());
    assert_eq!(log.state(), state);
    log.append(Seq(5), msg(5)).await.unwrap();
    assert_eq!(log.extent().end, Seq(6));
}

#[tokio::test]
async fn torn_tail_is_cut_at_start_and_the_log_stays_appendable() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path(), 3).await;
    let path = log_path(dir.path());
    let good_len = std::fs::metadata(&path).unwrap().len();
    // A crash in the middle of the fourth append: every prefix of it is a torn tail, alone
    // or followed by zeros (blocks allocated but never written).
    let fourth = file::encode(3, &msg(3));
    for (cut, zeros) in [
        (1, 0),
        (4, 0),
        (9, 0),
        (file::HEADER, 0),
        (fourth.len() - 1, 0),
        (12, 100),
    ] {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&fourth[..cut]).unwrap();
        f.write_all(&vec![0; zeros]).unwrap();
        drop(f);
        let (log, report) = open(dir.path());
        assert_eq!(report.records, 3, "cut at {cut}");
        assert_eq!(report.truncated_bytes, (cut + zeros) as u64);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
        drop(log);
    }
    // A complete record whose payload never reached the disk (zeros) is torn too.
    let mut unwritten = fourth.clone();
    unwritten[file::HEADER + 5..].fill(0);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(&unwritten)
        .unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, fourth.len() as u64);
    log.append(Seq(3), msg(3)).await.unwrap();
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(all(&log).await, (0..4).map(msg).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_zero_tail_is_torn_not_records() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = written(dir.path(), 10).await;
    std::fs::OpenOptions::new()
        .append(true)
        .open(log_path(dir.path()))
        .unwrap()
        .write_all(&[0; 4096])
        .unwrap();
    let (log, report) = open(dir.path());
    assert_eq!((report.records, report.truncated_bytes), (10, 4096));
    assert_eq!(log.epoch().to_string(), epoch);
    assert_eq!(all(&log).await, (0..10).map(msg).collect::<Vec<_>>());
}

#[tokio::test]
async fn damage_before_the_tail_is_refused_untouched_then_repaired_with_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = written(dir.path(), 4).await;
    let path = log_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip one payload byte of the third record.
    bytes[offset_of(2) + file::HEADER + 3] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let (offset, after, damaged) = corrupt(dir.path());
    assert_eq!((offset, after), (offset_of(2) as u64, 1));
    assert_eq!(damaged, (file::HEADER + msg(2).len()) as u64);
    let text = FileLog::open(dir.path()).unwrap_err().to_string();
    assert!(
        text.contains("--repair") && text.contains("messages.log"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "a refused log is not changed"
    );

    let (log, report, r) = repair(dir.path());
    assert_eq!(report.records, 3);
    assert_eq!(
        (r.kept, r.recovered, r.renumbered, r.damaged_ranges),
        (3, 0, 1, 1)
    );
    assert!(r.new_epoch);
    assert_ne!(log.epoch().to_string(), epoch);
    assert_eq!(epoch_in_meta(dir.path()).1, log.epoch().to_string());
    let kept = all(&log).await;
    assert_eq!(json_idx(&kept), [0, 1, 2], "renumbered densely");
    assert!(kept[2].starts_with(b"{\"type\":\"agent\",\"content\":\"m3\""));
    assert_eq!(
        std::fs::read(&r.quarantine).unwrap(),
        bytes,
        "the damaged log is kept whole"
    );
    assert!(
        r.quarantine
            .with_extension(format!(
                "{}.json",
                r.quarantine.extension().unwrap().to_str().unwrap()
            ))
            .exists()
    );
    log.append(Seq(3), msg(3)).await.unwrap();
    let new_epoch = log.epoch().to_string();
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!((report.records, report.repair), (4, None));
    assert_eq!(log.epoch().to_string(), new_epoch);
}

#[tokio::test]
async fn a_damaged_header_is_recovered_and_keeps_the_epoch() {
    let dir = tempfile::tempdir().unwrap();
    // (record, byte in its header) : magic, length up, length down, index.
    for (record, byte, flip) in [
        (1u64, 1, 0x01u8),
        (3, 4, 0x40),
        (3, 4, 0x01),
        (2, 8, 0x01),
        (3, 6, 0x80),
    ] {
        let _ = std::fs::remove_dir_all(dir.path());
        let epoch = written(dir.path(), 4).await;
        let path = log_path(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[offset_of(record) + byte] ^= flip;
        std::fs::write(&path, &bytes).unwrap();
        let (offset, _, _) = corrupt(dir.path());
        assert_eq!(
            offset,
            offset_of(record) as u64,
            "record {record} byte {byte}"
        );
        let (log, _, r) = repair(dir.path());
        assert_eq!((r.kept, r.recovered, r.new_epoch), (4, 1, false));
        assert_eq!(log.epoch().to_string(), epoch);
        assert_eq!(all(&log).await, (0..4).map(msg).collect::<Vec<_>>());
    }
}

#[tokio::test]
async fn a_damaged_last_record_is_not_cut_as_torn() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = written(dir.path(), 4).await;
    let path = log_path(dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let last = offset_of(3);
    bytes[last + file::HEADER + 4] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        corrupt(dir.path()),
        (last as u64, 0, (bytes.len() - last) as u64)
    );
    let (log, _, r) = repair(dir.path());
    assert_eq!(r.kept, 3);
    assert!(r.new_epoch, "an acknowledged record may be gone");
    assert_ne!(log.epoch().to_string(), epoch);
}

#[tokio::test]
async fn zeros_inside_the_log_are_damage_and_repair_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let epoch = written(dir.path(), 6).await;
    let path = log_path(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    let cut = offset_of(3);
    let spliced = [&bytes[..cut], &[0; 4096][..], &bytes[cut..]].concat();
    std::fs::write(&path, &spliced).unwrap();
    assert_eq!(corrupt(dir.path()), (cut as u64, 3, 4096));
    let (log, _, r) = repair(dir.path());
    // The stored indices run on across the zeros: nothing was lost, the epoch stays.
    assert_eq!((r.kept, r.renumbered, r.new_epoch), (6, 0, false));
    assert_eq!(log.epoch().to_string(), epoch);
    assert_eq!(all(&log).await, (0..6).map(msg).collect::<Vec<_>>());
}

#[tokio::test]
async fn records_out_of_sequence_are_damage() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path(), 3).await;
    let path = log_path(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    // Record 1 twice: every byte checks out, but the index does not run on.
    let dup = &bytes[offset_of(1)..offset_of(2)];
    let spliced = [&bytes[..offset_of(2)], dup, &bytes[offset_of(2)..]].concat();
    std::fs::write(&path, &spliced).unwrap();
    let (offset, after, damaged) = corrupt(dir.path());
    assert_eq!((offset, after, damaged), (offset_of(2) as u64, 1, 0));
    let (log, _, r) = repair(dir.path());
    assert_eq!((r.kept, r.new_epoch), (4, true));
    assert_eq!(json_idx(&all(&log).await), [0, 1, 2, 3]);
}

#[tokio::test]
async fn absurd_length_prefix_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    written(dir.path(), 1).await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log_path(dir.path()))
        .unwrap();
    f.write_all(&[0xFF, b'S', b'S', b'E']).unwrap();
    f.write_all(&u32::MAX.to_le_bytes()).unwrap();
    f.write_all(&[0; 12]).unwrap();
    drop(f);
    let (log, report) = open(dir.path());
    assert_eq!((report.records, report.truncated_bytes), (1, 20));
    assert_eq!(log.extent().end, Seq(1));
}

/// A format-1 log as sse-host wrote it before format 2: `len | crc | payload`.
fn v1_log(dir: &std::path::Path, payloads: &[Bytes], tail: &[u8]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("meta.json"), r#"{"format":1,"epoch":"e1"}"#).unwrap();
    let mut bytes = Vec::new();
    for p in payloads {
        bytes.extend_from_slice(&(p.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(p).to_le_bytes());
        bytes.extend_from_slice(p);
    }
    bytes.extend_from_slice(tail);
    std::fs::write(log_path(dir), bytes).unwrap();
}

#[tokio::test]
async fn a_format_1_log_is_migrated_with_its_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let msgs: Vec<Bytes> = (0..5).map(msg).collect();
    v1_log(dir.path(), &msgs, &[40, 0, 0, 0, 1, 2]);
    let (log, report) = open(dir.path());
    assert_eq!(
        (report.records, report.migrated_from, report.repair),
        (5, Some(1), None)
    );
    assert_eq!(log.epoch().as_ref(), "e1");
    assert_eq!(epoch_in_meta(dir.path()), (2, "e1".to_owned()));
    assert!(
        std::fs::read(log_path(dir.path()))
            .unwrap()
            .starts_with(&[0xFF, b'S'])
    );
    assert_eq!(all(&log).await, msgs);
    log.append(Seq(5), msg(5)).await.unwrap();
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!((report.records, report.migrated_from), (6, None));
    assert_eq!(log.epoch().as_ref(), "e1");

    // A migration interrupted after the new log was renamed in: finished at the next start.
    drop(log);
    std::fs::write(dir.path().join("meta.json"), r#"{"format":1,"epoch":"e1"}"#).unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(report.records, 6);
    assert_eq!(log.epoch().as_ref(), "e1");
    assert_eq!(epoch_in_meta(dir.path()).0, 2);
}

#[tokio::test]
async fn a_format_1_log_with_zero_records_inside_is_refused_then_repaired() {
    // What the old reader did with 4 KiB of zeros: 512 "records", and later messages after them.
    let dir = tempfile::tempdir().unwrap();
    let mut first: Vec<Bytes> = (0..3).map(msg).collect();
    v1_log(dir.path(), &first, &[0; 4096]);
    let mut bytes = std::fs::read(log_path(dir.path())).unwrap();
    for i in [515, 516] {
        let p = msg(i);
        bytes.extend_from_slice(&(p.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
        bytes.extend_from_slice(&p);
    }
    std::fs::write(log_path(dir.path()), &bytes).unwrap();
    let (offset, after, damaged) = corrupt(dir.path());
    assert_eq!(
        (offset, after, damaged),
        (offset_of(3) as u64 - 36, 2, 4096)
    );
    let (log, report, r) = repair(dir.path());
    assert_eq!(
        (report.migrated_from, r.kept, r.renumbered, r.new_epoch),
        (Some(1), 5, 2, true)
    );
    assert_ne!(log.epoch().as_ref(), "e1");
    first.extend([msg(515), msg(516)]);
    assert_eq!(json_idx(&all(&log).await), [0, 1, 2, 3, 4]);
}

#[test]
fn a_format_1_zero_tail_is_cut_at_migration() {
    let dir = tempfile::tempdir().unwrap();
    v1_log(dir.path(), &[msg(0), msg(1)], &[0; 4096]);
    let (_, report) = open(dir.path());
    assert_eq!((report.records, report.migrated_from), (2, Some(1)));
}

#[tokio::test]
async fn appends_at_the_wrong_index_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for log in [Log::Memory(MemoryLog::new()), open(dir.path()).0] {
        fill(&log, 2).await;
        assert!(matches!(
            log.append(Seq(5), msg(5)).await,
            Err(LogError::Conflict {
                expected: Seq(2),
                got: Seq(5)
            })
        ));
        assert!(matches!(
            log.append(Seq(1), msg(1)).await,
            Err(LogError::Conflict {
                expected: Seq(2),
                got: Seq(1)
            })
        ));
        assert_eq!(log.extent().end, Seq(2));
    }
}

#[tokio::test]
async fn reads_honour_count_and_byte_bounds_but_always_progress() {
    let dir = tempfile::tempdir().unwrap();
    for log in [Log::Memory(MemoryLog::new()), open(dir.path()).0] {
        fill(&log, 10).await;
        let r = log.read(Seq(3), 4, usize::MAX).await.unwrap();
        assert_eq!(r.iter().map(|r| r.idx.0).collect::<Vec<_>>(), [3, 4, 5, 6]);
        let r = log.read(Seq(3), 100, 1).await.unwrap();
        assert_eq!(
            r.len(),
            1,
            "one record even when it alone exceeds max_bytes"
        );
        let r = log.read(Seq(3), 100, 2 * msg(3).len()).await.unwrap();
        assert_eq!(r.len(), 2);
        assert!(log.read(Seq(10), 100, 100).await.unwrap().is_empty());
        assert!(log.read(Seq(u64::MAX), 100, 100).await.unwrap().is_empty());
    }
}

#[test]
fn memory_logs_get_a_new_epoch_each_time() {
    let a = MemoryLog::new();
    let b = MemoryLog::new();
    assert_eq!(a.epoch().len(), 32);
    assert_ne!(a.epoch(), b.epoch());
}

#[test]
fn unreadable_meta_is_an_error_not_a_new_epoch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("meta.json"), b"{garbage").unwrap();
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::Metadata(_))
    ));
}

#[tokio::test]
async fn memory_retention_keeps_the_newest_and_moves_first() {
    let log = Log::Memory(MemoryLog::with_max_messages(Some(5)));
    fill(&log, 8).await;
    assert_eq!(
        log.extent(),
        Extent {
            first: Seq(3),
            end: Seq(8)
        }
    );
    // Reads below `first` start at `first`; indices stay the messages' own.
    let got = log.read(Seq(1), usize::MAX, usize::MAX).await.unwrap();
    let idx: Vec<u64> = got.iter().map(|r| r.idx.0).collect();
    assert_eq!(idx, [3, 4, 5, 6, 7]);
    assert_eq!(got[0].json, msg(3));
    assert_eq!(
        log.size_bytes(),
        (3..8).map(|i| msg(i).len() as u64).sum::<u64>()
    );
    // Appends still take the next index only.
    assert!(matches!(
        log.append(Seq(5), msg(5)).await,
        Err(LogError::Conflict { .. })
    ));
    log.append(Seq(8), msg(8)).await.unwrap();
    assert_eq!(log.extent().first, Seq(4));
}

#[tokio::test]
async fn a_data_dir_is_locked_while_its_log_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    fill(&log, 2).await;
    let err = FileLog::open(dir.path()).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("in use by another sse-host"), "{text}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    // Nothing was touched, and the lock goes with the log.
    assert_eq!(all(&log).await, [msg(0), msg(1)]);
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!(report.records, 2);
    assert_eq!(all(&log).await.len(), 2);
}

#[tokio::test]
async fn deleting_the_lock_file_does_not_let_a_second_log_open() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    std::fs::remove_file(dir.path().join("lock")).unwrap();
    assert!(matches!(
        FileLog::open(dir.path()),
        Err(LogError::Locked { .. })
    ));
    fill(&log, 1).await;
    drop(log);
    assert_eq!(open(dir.path()).1.records, 1);
}

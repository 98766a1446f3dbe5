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
            created: false
        }
    );
    assert_eq!(log.epoch(), epoch);
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
    let (log, _) = open(dir.path());
    fill(&log, 3).await;
    let good_len = log.size_bytes();
    drop(log);
    // A crash in the middle of the fourth append: header and half a payload.
    let path = dir.path().join("messages.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&100u32.to_le_bytes()).unwrap();
    f.write_all(&0u32.to_le_bytes()).unwrap();
    f.write_all(b"{\"type\":").unwrap();
    drop(f);

    let (log, report) = open(dir.path());
    assert_eq!(report.records, 3);
    assert_eq!(report.truncated_bytes, 8 + 8);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), good_len);
    log.append(Seq(3), msg(3)).await.unwrap();
    drop(log);
    let (log, report) = open(dir.path());
    assert_eq!(report.truncated_bytes, 0);
    assert_eq!(all(&log).await, (0..4).map(msg).collect::<Vec<_>>());
}

#[tokio::test]
async fn corrupt_record_ends_the_log_there() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open(dir.path());
    fill(&log, 4).await;
    drop(log);
    let path = dir.path().join("messages.log");
    let mut bytes = std::fs::read(&path).unwrap();
    // Flip one payload byte of the third record: it and everything after are dropped.
    let third = 2 * (8 + msg(0).len()) + 8 + 3;
    bytes[third] ^= 0x20;
    std::fs::write(&path, &bytes).unwrap();
    let (log, report) = open(dir.path());
    assert_eq!(report.records, 2);
    assert_eq!(all(&log).await, (0..2).map(msg).collect::<Vec<_>>());
}

#[tokio::test]
async fn absurd_length_prefix_is_treated_as_corruption() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    let (log, _) = open(dir.path());
    fill(&log, 1).await;
    drop(log);
    let path = dir.path().join("messages.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(&u32::MAX.to_le_bytes()).unwrap();
    f.write_all(&[0; 12]).unwrap();
    drop(f);
    let (log, report) = open(dir.path());
    assert_eq!((report.records, report.truncated_bytes), (1, 16));
    assert_eq!(log.extent().end, Seq(1));
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

use super::MemoryStreams;
use super::store::{Append, Appended, Config, ForkSpec, Lifetime, Producer, StoreError};
use bytes::Bytes;
use sse_core::durable::Offset;
use std::time::{Duration, SystemTime};

fn text() -> Config {
    Config {
        content_type: "text/plain".into(),
        json: false,
        lifetime: Lifetime::Forever,
        expires_at_text: None,
        fork: None,
    }
}

fn fork_of(source: &str, offset: Option<u64>, sub: u64) -> Config {
    Config {
        content_type: String::new(),
        fork: Some(ForkSpec {
            source: source.into(),
            offset: offset.map(|p| Offset::at(p).unwrap()),
            sub,
        }),
        ..text()
    }
}

fn append(data: &str) -> Append {
    Append {
        content_type: Some("text/plain".into()),
        items: vec![Bytes::copy_from_slice(data.as_bytes())],
        close: false,
        seq: None,
        producer: None,
    }
}

fn read_all(store: &MemoryStreams, path: &str, now: SystemTime) -> Result<String, StoreError> {
    let c = store.read(path, Offset::ZERO, 1 << 20, now)?;
    Ok(c.items
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect())
}

#[test]
fn appends_are_checked_closed_first_then_content_type_then_seq() {
    let s = MemoryStreams::new(10, 1 << 20);
    let now = SystemTime::now();
    s.create("a", text(), vec![], false, now).unwrap();
    let mut wrong = append("x");
    wrong.content_type = Some("application/json".into());
    assert!(matches!(
        s.append("a", wrong.clone(), now),
        Err(StoreError::ContentTypeMismatch { .. })
    ));
    let mut first = append("1");
    first.seq = Some("b".into());
    s.append("a", first, now).unwrap();
    let mut regress = append("2");
    regress.seq = Some("a".into());
    assert!(matches!(
        s.append("a", regress, now),
        Err(StoreError::SeqRegression { .. })
    ));
    let mut close = append("");
    close.items.clear();
    close.close = true;
    s.append("a", close.clone(), now).unwrap();
    assert!(matches!(
        s.append("a", wrong, now),
        Err(StoreError::Closed { .. })
    ));
    assert!(matches!(
        s.append("a", close, now),
        Ok(Appended::Duplicate { .. })
    ));
}

#[test]
fn a_producer_retry_is_a_duplicate_even_after_the_stream_closed() {
    let s = MemoryStreams::new(10, 1 << 20);
    let now = SystemTime::now();
    s.create("p", text(), vec![], false, now).unwrap();
    let mut last = append("end");
    last.close = true;
    last.producer = Some(Producer {
        id: "w".into(),
        epoch: 0,
        seq: 0,
    });
    assert!(matches!(
        s.append("p", last.clone(), now),
        Ok(Appended::Done { .. })
    ));
    assert!(matches!(
        s.append("p", last.clone(), now),
        Ok(Appended::Duplicate { .. })
    ));
    last.producer = Some(Producer {
        id: "w".into(),
        epoch: 0,
        seq: 1,
    });
    assert!(matches!(
        s.append("p", last, now),
        Err(StoreError::Closed { .. })
    ));
    assert_eq!(read_all(&s, "p", now).unwrap(), "end");
}

#[test]
fn forks_copy_the_prefix_and_keep_a_deleted_source_until_the_last_fork_ends() {
    let s = MemoryStreams::new(10, 1 << 20);
    let now = SystemTime::now();
    s.create("src", text(), vec![Bytes::from_static(b"abc")], false, now)
        .unwrap();
    s.append("src", append("def"), now).unwrap();
    // Anchored after "abc", one byte into the next write.
    s.create("f1", fork_of("src", Some(3), 1), vec![], false, now)
        .unwrap();
    assert_eq!(read_all(&s, "f1", now).unwrap(), "abcd");
    assert_eq!(
        s.create("bad", fork_of("src", Some(3), 4), vec![], false, now)
            .unwrap_err(),
        StoreError::SubOffsetOvershoot
    );
    assert_eq!(
        s.create("bad", fork_of("src", Some(7), 0), vec![], false, now)
            .unwrap_err(),
        StoreError::ForkBeyondTail
    );
    s.create("f2", fork_of("f1", None, 0), vec![], false, now)
        .unwrap();
    s.append("f1", append("!"), now).unwrap();
    assert_eq!(
        read_all(&s, "src", now).unwrap(),
        "abcdef",
        "the source is untouched"
    );
    assert_eq!(read_all(&s, "f2", now).unwrap(), "abcd");

    s.delete("src", now).unwrap();
    assert_eq!(s.meta("src", now).unwrap_err(), StoreError::Gone);
    assert_eq!(
        s.create("src", text(), vec![], false, now).unwrap_err(),
        StoreError::ConfigMismatch,
        "a soft-deleted path is not re-created"
    );
    s.delete("f1", now).unwrap();
    assert_eq!(
        s.meta("f1", now).unwrap_err(),
        StoreError::Gone,
        "f2 still reads f1"
    );
    s.delete("f2", now).unwrap();
    for p in ["f2", "f1", "src"] {
        assert_eq!(
            s.meta(p, now).unwrap_err(),
            StoreError::NotFound,
            "{p}: cascade"
        );
    }
}

#[test]
fn ttl_slides_on_reads_and_writes_and_expiry_frees_the_slot() {
    let s = MemoryStreams::new(1, 1 << 20);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let config = Config {
        lifetime: Lifetime::Ttl(10),
        ..text()
    };
    s.create("t", config, vec![], false, t0).unwrap();
    read_all(&s, "t", t0 + Duration::from_secs(9)).unwrap();
    // HEAD (meta) does not slide it.
    s.meta("t", t0 + Duration::from_secs(18)).unwrap();
    assert_eq!(
        s.meta("t", t0 + Duration::from_secs(19)).unwrap_err(),
        StoreError::NotFound
    );
    s.create("u", text(), vec![], false, t0 + Duration::from_secs(20))
        .unwrap();
    assert!(matches!(
        s.create("v", text(), vec![], false, t0 + Duration::from_secs(20)),
        Err(StoreError::TooManyStreams { max: 1 })
    ));
}

#[test]
fn a_stream_remembers_a_bounded_number_of_producers() {
    let s = MemoryStreams::new(10, 1 << 30);
    let now = SystemTime::now();
    s.create("p", text(), vec![], false, now).unwrap();
    let by = |id: String| {
        let mut a = append("x");
        a.producer = Some(Producer {
            id,
            epoch: 0,
            seq: 0,
        });
        a
    };
    for i in 0..super::store::MAX_PRODUCERS {
        s.append("p", by(format!("w{i}")), now).unwrap();
    }
    assert_eq!(
        s.append("p", by("one-too-many".into()), now).unwrap_err(),
        StoreError::TooManyProducers
    );
    // A known producer still writes (its retry is a duplicate).
    assert!(matches!(
        s.append("p", by("w0".into()), now),
        Ok(Appended::Duplicate { .. })
    ));
}

#[test]
fn all_streams_together_are_bounded_and_ending_one_frees_its_bytes() {
    let s = MemoryStreams::new(10, 1 << 20).with_max_total(10);
    let now = SystemTime::now();
    s.create("a", text(), vec![Bytes::from_static(b"123456")], false, now)
        .unwrap();
    s.create("b", text(), vec![], false, now).unwrap();
    assert!(matches!(
        s.append("b", append("12345"), now),
        Err(StoreError::StoreFull { max: 10 })
    ));
    s.append("b", append("1234"), now).unwrap();
    // A fork's copy counts too.
    assert!(matches!(
        s.create("f", fork_of("a", None, 0), vec![], false, now),
        Err(StoreError::StoreFull { .. })
    ));
    s.delete("a", now).unwrap();
    s.create("f", fork_of("b", None, 0), vec![], false, now)
        .unwrap();
    assert_eq!(read_all(&s, "f", now).unwrap(), "1234");
}

fn open_dir(dir: &std::path::Path, now: SystemTime) -> MemoryStreams {
    MemoryStreams::open_dir(dir, 10, 1 << 20, now).unwrap().0
}

/// Where each record of a stream file starts.
fn records(file: &[u8]) -> Vec<usize> {
    file.windows(4)
        .enumerate()
        .filter(|(_, w)| *w == [0xFF, b'D', b'S', b'1'])
        .map(|(i, _)| i)
        .collect()
}

fn stream_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn a_torn_last_append_is_cut_at_open_and_the_stream_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    {
        let s = open_dir(tmp.path(), now);
        s.create("a/../../x", text(), vec![], false, now).unwrap();
        s.append("a/../../x", append("hello "), now).unwrap();
        s.append("a/../../x", append("world"), now).unwrap();
    }
    let files = stream_files(tmp.path());
    assert_eq!(files.len(), 1, "one file, named by number: {files:?}");
    let file = &files[0];
    let full = std::fs::read(file).unwrap();
    // Every cut inside the last record (an interrupted append) loses that append only.
    let last = records(&full)[2];
    for cut in [1, 6, 13, full.len() - last - 1] {
        std::fs::write(file, &full[..last + cut]).unwrap();
        let (s, report) = MemoryStreams::open_dir(tmp.path(), 10, 1 << 20, now).unwrap();
        assert_eq!(report.truncated, 1, "cut at {cut}");
        assert_eq!(
            read_all(&s, "a/../../x", now).unwrap(),
            "hello ",
            "cut at {cut}"
        );
        assert_eq!(std::fs::metadata(file).unwrap().len(), last as u64);
        std::fs::write(file, &full).unwrap();
    }
    // A flipped byte in the last record is a torn write too; zeros after the end as well.
    let mut flipped = full.clone();
    flipped[full.len() - 2] ^= 1;
    std::fs::write(file, &flipped).unwrap();
    assert_eq!(
        read_all(&open_dir(tmp.path(), now), "a/../../x", now).unwrap(),
        "hello "
    );
    let mut zeros = full.clone();
    zeros.extend_from_slice(&[0; 100]);
    std::fs::write(file, &zeros).unwrap();
    let s = open_dir(tmp.path(), now);
    assert_eq!(read_all(&s, "a/../../x", now).unwrap(), "hello world");
    s.append("a/../../x", append("!"), now).unwrap();
    drop(s);
    let s = open_dir(tmp.path(), now);
    assert_eq!(read_all(&s, "a/../../x", now).unwrap(), "hello world!");
}

#[test]
fn damage_before_the_last_record_refuses_to_open_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    {
        let s = open_dir(tmp.path(), now);
        s.create("a", text(), vec![], false, now).unwrap();
        s.append("a", append("one"), now).unwrap();
        s.append("a", append("two"), now).unwrap();
    }
    let file = stream_files(tmp.path()).remove(0);
    let mut bytes = std::fs::read(&file).unwrap();
    // A byte of the middle record ("one").
    let at = records(&bytes)[2] - 2;
    bytes[at] ^= 1;
    std::fs::write(&file, &bytes).unwrap();
    let err = MemoryStreams::open_dir(tmp.path(), 10, 1 << 20, now).unwrap_err();
    assert!(err.to_string().contains("damaged"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "untouched");
    // A length hit so that the record seems to run past the end, with the last one intact.
    bytes[at] ^= 1;
    let len_at = records(&bytes)[1] + 7;
    bytes[len_at] = 0x7F;
    std::fs::write(&file, &bytes).unwrap();
    let err = MemoryStreams::open_dir(tmp.path(), 10, 1 << 20, now).unwrap_err();
    assert!(err.to_string().contains("intact records follow"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "untouched");
}

#[test]
fn json_messages_producers_and_expiry_survive_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let json = Config {
        content_type: "application/json".into(),
        json: true,
        ..text()
    };
    let ttl = Config {
        lifetime: Lifetime::Ttl(60),
        ..text()
    };
    {
        let s = open_dir(tmp.path(), now);
        let msgs = vec![Bytes::from_static(b"{\"a\":1}"), Bytes::from_static(b"[2]")];
        s.create("j", json.clone(), msgs, false, now).unwrap();
        s.create("t", ttl.clone(), vec![], false, now).unwrap();
        let mut p = append("x");
        p.producer = Some(Producer {
            id: "w".into(),
            epoch: 3,
            seq: 0,
        });
        s.append("t", p, now).unwrap();
    }
    let s = open_dir(tmp.path(), now);
    let c = s.read("j", Offset::ZERO, 1 << 20, now).unwrap();
    assert_eq!(c.items.len(), 2);
    assert_eq!(c.next, Offset::at(2).unwrap());
    let m = s.meta("t", now).unwrap();
    assert_eq!(m.producers["w"].epoch, 3);
    assert!(
        s.create("t", ttl, vec![], false, now).is_ok(),
        "same config"
    );
    // Expiry removes the stream's file.
    let later = now + Duration::from_secs(120);
    assert_eq!(s.meta("t", later).unwrap_err(), StoreError::NotFound);
    assert_eq!(stream_files(tmp.path()).len(), 1);
    drop(s);
    let s = open_dir(tmp.path(), later);
    assert_eq!(s.meta("t", later).unwrap_err(), StoreError::NotFound);
    assert!(s.meta("j", later).is_ok());
}

//! What stream entries and replies decode to: `<idx>-1` entry IDs, message records, fields.

use bytes::Bytes;
use redis::Value as RValue;
use redis::streams::StreamId;
use serde_json::{Map, Value};
use sse_core::Seq;

use crate::log::Record;

/// `<idx>-1` → idx.
pub(super) fn entry_index(id: &str) -> Option<u64> {
    let (ms, seq) = id.split_once('-')?;
    (seq == "1").then_some(())?;
    ms.parse().ok()
}

pub(super) fn record(mut entry: StreamId) -> Option<Record> {
    let idx = entry_index(&entry.id)?;
    match entry.map.remove("m") {
        Some(RValue::BulkString(b)) => Some(Record {
            idx: Seq(idx),
            json: Bytes::from(b),
        }),
        _ => None,
    }
}

pub(super) fn str_field(v: &RValue) -> Option<&str> {
    match v {
        RValue::BulkString(b) => std::str::from_utf8(b).ok(),
        RValue::SimpleString(s) => Some(s),
        _ => None,
    }
}

pub(super) fn int_field(v: &RValue) -> Option<u64> {
    match v {
        RValue::Int(n) => u64::try_from(*n).ok(),
        other => str_field(other)?.parse().ok(),
    }
}

pub(super) fn parse_state(json: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str(json) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

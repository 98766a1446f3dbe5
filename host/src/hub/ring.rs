//! The window of recent encoded `message` frames every subscriber pulls from.

use bytes::Bytes;
use sse_core::Seq;
use std::collections::VecDeque;

/// Frames `first..first+len`, bounded both in count and in bytes (whichever is hit first
/// evicts the oldest frame; the newest frame is always kept even if alone it is larger).
#[derive(Debug)]
pub(crate) struct Ring {
    first: Seq,
    frames: VecDeque<Bytes>,
    bytes: usize,
    max_frames: usize,
    max_bytes: usize,
}

impl Ring {
    pub(crate) fn new(start: Seq, max_frames: usize, max_bytes: usize) -> Self {
        Ring {
            first: start,
            frames: VecDeque::new(),
            bytes: 0,
            max_frames: max_frames.max(1),
            max_bytes,
        }
    }

    /// Adds frame `idx`. An index that does not follow the last one restarts the window.
    pub(crate) fn push(&mut self, idx: Seq, frame: Bytes) {
        if idx.0 != self.first.0 + self.frames.len() as u64 {
            self.frames.clear();
            self.bytes = 0;
            self.first = idx;
        }
        self.bytes += frame.len();
        self.frames.push_back(frame);
        while self.frames.len() > 1
            && (self.frames.len() > self.max_frames || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.frames.pop_front() {
                self.bytes -= old.len();
                self.first = self.first.next();
            }
        }
    }

    /// Appends clones of frames `pos..end` to `out` while `budget(out)` allows; returns how
    /// many, or `None` when `pos` is older than the window (read the log instead).
    pub(crate) fn copy_from(
        &self,
        pos: Seq,
        end: Seq,
        out: &mut super::subscription::Batch,
    ) -> Option<u64> {
        if pos < self.first {
            return None;
        }
        let start = usize::try_from(pos.0 - self.first.0).unwrap_or(usize::MAX);
        let stop = usize::try_from(end.0.saturating_sub(self.first.0))
            .unwrap_or(usize::MAX)
            .min(self.frames.len());
        let mut n = 0;
        for frame in self.frames.range(start.min(stop)..stop) {
            if out.is_full() {
                break;
            }
            out.push(frame.clone());
            n += 1;
        }
        Some(n)
    }

    pub(crate) fn first(&self) -> Seq {
        self.first
    }
}

//! The parser's fixed-capacity text buffers and the sinks decoded text is written to.

/// A fixed-capacity text buffer: valid UTF-8 by construction, so handing it out as `&str`
/// costs nothing. It holds at most `max` bytes (`N` unless [`Parser::set_limits`](super::Parser::set_limits) lowered it).
#[derive(Clone)]
pub(super) struct Text<const N: usize> {
    text: heapless::String<N>,
    #[cfg(feature = "std")]
    pub(super) max: usize,
}

impl<const N: usize> Text<N> {
    pub(super) const fn new() -> Self {
        Text {
            text: heapless::String::new(),
            #[cfg(feature = "std")]
            max: N,
        }
    }

    /// The bound in force: `N`, or lower after [`Parser::set_limits`](super::Parser::set_limits) (hosts only).
    #[inline(always)]
    pub(super) fn max(&self) -> usize {
        #[cfg(feature = "std")]
        {
            self.max.min(N)
        }
        #[cfg(not(feature = "std"))]
        {
            N
        }
    }

    pub(super) fn as_str(&self) -> &str {
        self.text.as_str()
    }

    pub(super) fn len(&self) -> usize {
        self.text.len()
    }

    pub(super) fn clear(&mut self) {
        self.text.clear();
    }

    pub(super) fn room(&self) -> usize {
        self.max().saturating_sub(self.text.len())
    }

    /// Appends all of `more`, or nothing if it does not fit (`false`).
    pub(super) fn push(&mut self, more: &str) -> bool {
        more.len() <= self.room() && self.text.push_str(more).is_ok()
    }

    /// Replaces the contents with `other`'s (without copying the whole capacity).
    pub(super) fn copy_from(&mut self, other: &Self) {
        self.text.clear();
        let _fits = self.push(other.as_str());
    }
}

/// Where decoded text goes.
pub(super) trait Sink {
    /// Appends `s`; `false` once full (the sink decides what a partial write means).
    fn put(&mut self, s: &str) -> bool;
}

/// A `LINE`-bounded value: all or nothing.
pub(super) struct Bounded<'a, const N: usize>(pub(super) &'a mut Text<N>);

impl<const N: usize> Sink for Bounded<'_, N> {
    fn put(&mut self, s: &str) -> bool {
        self.0.push(s)
    }
}

/// The data buffer: on overflow, keep the longest prefix that ends at a character boundary
/// and ignore everything after it.
pub(super) struct Truncating<'a, const N: usize> {
    pub(super) buf: &'a mut Text<N>,
    pub(super) truncated: &'a mut bool,
}

impl<const N: usize> Sink for Truncating<'_, N> {
    fn put(&mut self, s: &str) -> bool {
        if *self.truncated {
            return false;
        }
        if self.buf.push(s) {
            return true;
        }
        let mut cut = self.buf.room().min(s.len());
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.buf.push(s.get(..cut).unwrap_or_default());
        *self.truncated = true;
        false
    }
}

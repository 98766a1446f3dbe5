//! A tiny seeded PCG32 (O'Neill's `pcg32`, XSH-RR output) for backoff jitter.
//!
//! Not cryptographic and not meant to be: it only spreads reconnects of many clients over time.
//! The seed is passed in (smoltcp's `rand_seed`), so the core reads no entropy source and a test
//! with a fixed seed is deterministic.

/// The PCG32 state. 16 bytes, `Copy`-cheap, no allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rand {
    state: u64,
    inc: u64,
}

/// The LCG multiplier of the reference implementation.
const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
/// The reference stream selector (any odd number works).
const STREAM: u64 = 1_442_695_040_888_963_407;

impl Rand {
    /// A generator seeded with `seed` (the reference `pcg32_srandom_r` with a fixed stream).
    pub(crate) const fn new(seed: u64) -> Self {
        let inc = STREAM | 1;
        let mut rng = Rand { state: 0, inc };
        rng.step();
        rng.state = rng.state.wrapping_add(seed);
        rng.step();
        rng
    }

    const fn step(&mut self) {
        self.state = self.state.wrapping_mul(MULTIPLIER).wrapping_add(self.inc);
    }

    /// The next 32 uniformly distributed bits.
    pub(crate) const fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.step();
        // XSH-RR: xorshift high, then a random rotation. The truncating casts are the algorithm.
        #[allow(clippy::cast_possible_truncation)]
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        #[allow(clippy::cast_possible_truncation)]
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// The next 64 bits (two 32-bit outputs).
    pub(crate) const fn next_u64(&mut self) -> u64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (hi << 32) | lo
    }

    /// A number in `0..=max`. Uses a modulo reduction; the bias is below `max / 2⁶⁴`, far too
    /// small to matter for jitter.
    pub(crate) const fn up_to(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let x = self.next_u64();
        match max.checked_add(1) {
            Some(n) => x % n,
            None => x,
        }
    }
}

#[cfg(test)]
mod tests;

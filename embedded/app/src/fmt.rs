//! Logging shim (embassy style): the same `info!`/`warn!`/`debug!` calls go to `defmt` on
//! firmware, to `log` on the desktop runner, or nowhere. The app picks no logger itself.
//!
//! `defmt` and `log` are exclusive in spirit, but `cargo test --workspace --all-features` turns
//! both on for a host build, where defmt has no global logger to link against; so rather than a
//! `compile_error!`, `log` takes precedence when both are enabled.
#![allow(unused_macros)]

macro_rules! debug {
    ($($x:tt)*) => {{
        #[cfg(all(feature = "defmt", not(feature = "log")))]
        ::defmt::debug!($($x)*);
        #[cfg(feature = "log")]
        ::log::debug!($($x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($($x)*);
    }};
}

macro_rules! info {
    ($($x:tt)*) => {{
        #[cfg(all(feature = "defmt", not(feature = "log")))]
        ::defmt::info!($($x)*);
        #[cfg(feature = "log")]
        ::log::info!($($x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($($x)*);
    }};
}

macro_rules! warn {
    ($($x:tt)*) => {{
        #[cfg(all(feature = "defmt", not(feature = "log")))]
        ::defmt::warn!($($x)*);
        #[cfg(feature = "log")]
        ::log::warn!($($x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($($x)*);
    }};
}

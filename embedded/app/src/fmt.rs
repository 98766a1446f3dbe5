//! Logging shim (embassy style): the same `info!`/`warn!`/`debug!` calls go to `defmt` on
//! firmware, to `log` on the desktop runner, or nowhere. The app picks no logger itself.
#![allow(unused_macros)]

#[cfg(all(feature = "defmt", feature = "log"))]
compile_error!("features `defmt` and `log` are mutually exclusive: pick one logger");

macro_rules! debug {
    ($($x:tt)*) => {{
        #[cfg(feature = "defmt")]
        ::defmt::debug!($($x)*);
        #[cfg(feature = "log")]
        ::log::debug!($($x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($($x)*);
    }};
}

macro_rules! info {
    ($($x:tt)*) => {{
        #[cfg(feature = "defmt")]
        ::defmt::info!($($x)*);
        #[cfg(feature = "log")]
        ::log::info!($($x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($($x)*);
    }};
}

macro_rules! warn {
    ($($x:tt)*) => {{
        #[cfg(feature = "defmt")]
        ::defmt::warn!($($x)*);
        #[cfg(feature = "log")]
        ::log::warn!($($x)*);
        #[cfg(not(any(feature = "defmt", feature = "log")))]
        let _ = ($($x)*);
    }};
}

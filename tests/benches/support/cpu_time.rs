//! A criterion measurement of the benchmark thread's own CPU time (Linux
//! `CLOCK_THREAD_CPUTIME_ID`, wall clock elsewhere): it stays meaningful when the machine is
//! shared and the thread is descheduled. Included by the benches with `#[path]`.

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// CPU time of the calling thread, in nanoseconds.
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> Option<u64> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    let secs = u64::try_from(t.tv_sec).ok()?;
    let nanos = u64::try_from(t.tv_nsec).ok()?;
    Some(secs * 1_000_000_000 + nanos)
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

/// A criterion measurement of thread CPU time, falling back to wall time elsewhere.
pub struct ThreadCpuTime;

pub enum Start {
    Cpu(u64),
    Wall(std::time::Instant),
}

impl Measurement for ThreadCpuTime {
    type Intermediate = Start;
    type Value = u64;

    fn start(&self) -> Start {
        thread_cpu_ns().map_or_else(|| Start::Wall(std::time::Instant::now()), Start::Cpu)
    }
    fn end(&self, start: Start) -> u64 {
        match start {
            Start::Cpu(t0) => thread_cpu_ns().unwrap_or(t0).saturating_sub(t0),
            Start::Wall(t0) => u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX),
        }
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        static WALL: WallTime = WallTime;
        WALL.formatter()
    }
}

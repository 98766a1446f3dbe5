//! The on-board LED (a CYW43 GPIO, not an RP GPIO). The CYW43 control handle is owned by one
//! task, which keeps Wi-Fi joined and plays the blink patterns: "connecting" while it joins or
//! re-joins, otherwise the app's latest pattern. The display hands patterns over through a
//! signal, so a change shows at once.

use defmt::{info, warn};
use embassy_futures::select::{Either, select};
use embassy_net::Stack;
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::Timer;
use sse_embedded_app::led::Pattern;
use sse_embedded_app::{Note, StatusDisplay, View, activity_name};

static PATTERN: Signal<CriticalSectionRawMutex, Pattern> = Signal::new();

/// Plays `pattern` in a loop, forever (callers cut it short with `select` or a timeout).
pub async fn play(control: &mut cyw43::Control<'static>, pattern: Pattern) -> ! {
    let timings = pattern.timings();
    loop {
        for (i, ms) in timings.iter().enumerate() {
            control.gpio_set(0, i % 2 == 0 && *ms != 0).await;
            if timings.len() == 1 {
                core::future::pending::<()>().await; // steady
            }
            Timer::after_millis(u64::from(*ms)).await;
        }
    }
}

/// Wi-Fi and the status light: joins (LED "connecting"), then plays the app's patterns until
/// the link drops, then joins again. The last pattern survives a re-join.
#[embassy_executor::task]
pub async fn wifi_led_task(mut control: cyw43::Control<'static>, stack: Stack<'static>) -> ! {
    let mut current = Pattern::Connecting;
    crate::keep_joined(
        &mut control,
        stack,
        async |control: &mut cyw43::Control<'static>| {
            loop {
                let Either::Second(next) = select(play(control, current), PATTERN.wait()).await;
                current = next;
            }
        },
    )
    .await
}

/// Shows the status on the LED and in the defmt log.
pub struct LedDisplay;

impl StatusDisplay for LedDisplay {
    fn show(&mut self, view: &View) {
        let (dollars, frac) = view.cost_fixed4();
        info!(
            "status link={} reason={} activity={} messages={} oversized={} next={} cost={}.{=u32:04}",
            view.link(),
            view.status.reason,
            activity_name(view.activity),
            view.messages,
            view.oversized,
            view.next.0,
            dollars,
            frac
        );
        PATTERN.signal(view.pattern());
    }

    fn note(&mut self, note: &Note<'_>) {
        match *note {
            Note::Connect {
                from,
                last_event_id,
            } => {
                info!(
                    "connect from={} last_event_id={}",
                    from.0,
                    last_event_id.unwrap_or("none")
                );
            }
            Note::Response { status } => info!("response status={}", status),
            Note::Message {
                idx,
                bytes,
                truncated,
            } => {
                info!(
                    "message idx={} bytes={} truncated={}",
                    idx.0, bytes, truncated
                );
            }
            Note::BadState => warn!("state unparsed"),
            Note::Heartbeat => {}
            Note::StartOver => info!("start_over"),
            Note::SessionEnded => info!("session_ended"),
        }
    }
}

//! The on-board LED (a CYW43 GPIO, not an RP GPIO) plays the app's blink pattern; the display
//! hands patterns over through a signal, so a change shows at once.

use defmt::{info, warn};
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::Timer;
use sse_embedded_app::led::Pattern;
use sse_embedded_app::{Note, StatusDisplay, View, activity_name};

static PATTERN: Signal<CriticalSectionRawMutex, Pattern> = Signal::new();

/// Plays the latest pattern forever.
#[embassy_executor::task]
pub async fn led_task(mut control: cyw43::Control<'static>) -> ! {
    let mut pattern = Pattern::Connecting;
    loop {
        let timings = pattern.timings();
        if let [steady] = timings {
            control.gpio_set(0, *steady != 0).await;
            pattern = PATTERN.wait().await;
            continue;
        }
        'play: loop {
            for (i, ms) in timings.iter().enumerate() {
                control.gpio_set(0, i % 2 == 0).await;
                if let Either::Second(next) =
                    select(Timer::after_millis(u64::from(*ms)), PATTERN.wait()).await
                {
                    pattern = next;
                    break 'play;
                }
            }
        }
    }
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

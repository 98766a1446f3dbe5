//! The on-board LED (a CYW43 GPIO, not an RP GPIO) plays the app's blink pattern; the display
//! hands patterns over through a signal, so a change shows at once.

use defmt::info;
use embassy_futures::select::{Either, select};
use embassy_sync::blocking_mutex::raw::CriticalSectionRawMutex;
use embassy_sync::signal::Signal;
use embassy_time::Timer;
use sse_embedded_app::led::Pattern;
use sse_embedded_app::{StatusDisplay, View};

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
                if let Either::Second(next) = select(Timer::after_millis(u64::from(*ms)), PATTERN.wait()).await {
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
        info!("{}", defmt::Display2Format(view));
        PATTERN.signal(view.pattern());
    }
}

//! What the status light shows, and the trait a board implements to show it.

/// Connection as shown (provisional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Link {
    /// Opening a connection.
    Connecting,
    /// Stream open.
    Connected,
    /// Waiting to retry.
    Offline,
}

/// A snapshot for displays.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Connection.
    pub link: Link,
}

impl View {
    /// The LED pattern for this view.
    pub fn pattern(&self) -> crate::led::Pattern {
        match self.link {
            Link::Connecting => crate::led::Pattern::Connecting,
            Link::Connected => crate::led::Pattern::Idle,
            Link::Offline => crate::led::Pattern::Offline,
        }
    }
}

impl core::fmt::Display for View {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "status {:?}", self.link)
    }
}

/// Why [`crate::run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum End {
    /// The server said the session ended.
    SessionEnded,
    /// The server refused the stream for good.
    Stopped,
}

/// Implemented by each board: how status reaches a human (LED, display, log, semihosting).
pub trait StatusDisplay {
    /// The view changed.
    fn show(&mut self, view: &View);
}

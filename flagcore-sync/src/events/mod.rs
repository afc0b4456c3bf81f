//! What the event logger does besides logging exposures as they happen: custom events,
//! manual exposures, its status and its options' setters.

mod custom;
mod manual;
mod options;
pub(crate) mod status;

pub use custom::EventValue;
pub use status::LoggerStatus;

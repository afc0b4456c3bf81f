//! What the event logger does besides logging exposures as they happen: custom events and
//! manual exposures.

mod custom;
mod manual;

pub use custom::EventValue;

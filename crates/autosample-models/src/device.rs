//! Which burn backend runs the loss graph.
//!
//! `flex` (pure-Rust CPU) is the default: burn 0.22 deprecates `ndarray`, and flex is faster on
//! the small gathered-row graphs we build. The `ndarray` cargo feature switches to burn's
//! ndarray backend, kept available for comparison.

use burn::tensor::Device;

/// The autodiff device the loss graph is built on.
pub fn training_device() -> Device {
    #[cfg(feature = "ndarray")]
    #[allow(deprecated)]
    let device = Device::ndarray();
    #[cfg(not(feature = "ndarray"))]
    let device = Device::flex();
    device.autodiff()
}

/// The plain (non-autodiff) device for checkpoint I/O.
pub fn plain_device() -> Device {
    training_device().without_autodiff()
}

/// Name of the compiled-in backend, recorded in run summaries.
pub fn backend_name() -> &'static str {
    if cfg!(feature = "ndarray") {
        "burn-ndarray"
    } else {
        "burn-flex"
    }
}

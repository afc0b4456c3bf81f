//! Keeps a flagcore store fresh from Statsig or a file, and ships exposures (work in progress).

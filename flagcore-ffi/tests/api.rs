//! Tests of the C ABI, in one test binary: the header is current, and C programs (and a
//! Python ctypes program) using the library behave.

mod api {
    mod c_programs;
    mod header;
}

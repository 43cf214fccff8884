//! Engine tests live in `tests/`; this module keeps unit tests of private helpers.

//! Nothing here: this package only carries the examples and the cross-crate tests.

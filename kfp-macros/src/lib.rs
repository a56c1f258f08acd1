//! kfp-macros

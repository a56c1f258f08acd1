//! The attribute macros of kfp-rs. Use them through `kfp-sdk`, which re-exports them and
//! documents them in full (`kfp_sdk::component`, `kfp_sdk::pipeline`).
//!
//! Each macro parses its input into a checked definition, then generates calls into
//! `kfp-sdk`'s plain API; errors point at the user's tokens.
use proc_macro::TokenStream;

mod attr;
mod component;
mod derive_outputs;
mod pipeline;
mod signature;

/// Turns a function into a pipeline component. See `kfp_sdk::component`.
#[proc_macro_attribute]
pub fn component(args: TokenStream, item: TokenStream) -> TokenStream {
    component::expand(args.into(), item.into()).into()
}

/// Turns a function into a pipeline. See `kfp_sdk::pipeline`.
#[proc_macro_attribute]
pub fn pipeline(args: TokenStream, item: TokenStream) -> TokenStream {
    pipeline::expand(args.into(), item.into()).into()
}

/// Named outputs of a component: one output per field. See `kfp_sdk::ComponentOutputs`.
#[proc_macro_derive(ComponentOutputs, attributes(kfp))]
pub fn derive_component_outputs(input: TokenStream) -> TokenStream {
    derive_outputs::expand(input.into()).into()
}

//! `#[pipeline]`: parse the function into a [`PipelineDef`], then generate its module.
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{FnArg, ItemFn};

use crate::attr::{Args, Errors, PIPELINE_KEYS};
use crate::signature::{self, Param, ParamKind, Returns};

/// A validated pipeline definition.
struct PipelineDef {
    function: ItemFn,
    args: Args,
    name: String,
    description: Option<String>,
    params: Vec<Param>,
    returns: Returns,
}

/// The default pipeline name of a function: `kfp_sdk::names::kebab`'s rule (this crate,
/// a proc-macro crate, cannot depend on kfp-sdk, so the rule is written twice; the test
/// `kfp-sdk/tests/names.rs` checks that both give the same names).
fn kebab(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn parse(args: TokenStream, item: TokenStream) -> syn::Result<PipelineDef> {
    let mut errors = Errors::default();
    let args = match Args::parse(args, PIPELINE_KEYS, "#[pipeline]") {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            Args::default()
        }
    };
    let mut function: ItemFn = syn::parse2(item)?;
    let params = signature::params(&mut function.sig, "pipeline", true, &mut errors);
    let returns = signature::returns(&function.sig, &mut errors);
    if returns.fallible
        && let syn::ReturnType::Type(_, returned) = &function.sig.output
    {
        errors.spanned(
            returned,
            "a pipeline function wires tasks and returns handles, not a `Result`",
        );
    }
    for param in &params {
        if let ParamKind::Output(_) = param.kind {
            errors.at(
                param.ident.span(),
                "a pipeline has no `Output<..>` parameters: return the task output instead",
            );
        }
    }
    let name = match &args.name {
        Some(lit) => {
            let value = lit.value();
            if kebab(&value) != value || value.is_empty() || value.len() > 57 {
                errors.at(
                    lit.span(),
                    "a pipeline name is a DNS label of at most 57 characters: lowercase letters, digits and '-'",
                );
            }
            value
        }
        None => kebab(&function.sig.ident.to_string()),
    };
    let description = args.description_or_doc(&function.attrs);
    errors.finish()?;
    Ok(PipelineDef {
        function,
        args,
        name,
        description,
        params,
        returns,
    })
}

/// The whole expansion, or the function unchanged plus the errors.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match parse(args.clone(), item.clone()) {
        Ok(def) => generate(def),
        Err(error) => {
            let compile_errors = error.to_compile_error();
            let krate = Args::parse(args, PIPELINE_KEYS, "#[pipeline]")
                .map(|a| a.crate_path())
                .unwrap_or_else(|_| quote!(::kfp_sdk));
            let mut item = item;
            if let Ok(mut function) = syn::parse2::<ItemFn>(item.clone()) {
                for input in function.sig.inputs.iter_mut() {
                    if let FnArg::Typed(t) = input {
                        t.attrs.retain(|a| !a.path().is_ident("default"));
                        // The handle types the body is written against, as `generate` gives
                        // them, so that a correct body reports nothing spurious.
                        *t.ty = match signature::classify(&t.ty) {
                            ParamKind::Value(ty) => syn::parse_quote!(#krate::ParamRef<#ty>),
                            ParamKind::Input(kind) | ParamKind::Output(kind) => {
                                syn::parse_quote!(#krate::ArtifactRef<#kind>)
                            }
                            ParamKind::InputList(kind) => {
                                syn::parse_quote!(#krate::ArtifactRef<::std::vec::Vec<#kind>>)
                            }
                        };
                    }
                }
                item = quote!(#function);
            }
            quote!(#item #compile_errors)
        }
    }
}

/// The names the generated module defines; user paths starting with them need `super::`.
const GENERATED: &[&str] = &["NAME", "graph", "Outputs", "task"];

fn generate(def: PipelineDef) -> TokenStream {
    let krate = def.args.crate_path();
    let mut function = def.function;
    let span = signature::name_span(&function.sig);
    let vis = function.vis.clone();
    let inner = signature::inner_visibility(&vis);
    let fn_name = function.sig.ident.clone();
    let name = &def.name;
    // The user's types and defaults, as they must be written inside the generated module.
    let reroot = |ty: &syn::Type| signature::reroot_type(ty, GENERATED);
    let returned = &reroot(&def.returns.ty);

    let mut declarations = Vec::new();
    let mut call_args = Vec::new();
    let mut task_params = Vec::new();
    let mut task_wiring = Vec::new();
    // The function keeps its body; its parameters become handles.
    for (param, input) in def.params.iter().zip(function.sig.inputs.iter_mut()) {
        let ident = &param.ident;
        let key = ident.to_string();
        let key = key.strip_prefix("r#").unwrap_or(&key).to_owned();
        let FnArg::Typed(typed) = input else { continue };
        call_args.push(quote!(#ident));
        match &param.kind {
            ParamKind::Value(ty) => {
                *typed.ty = syn::parse_quote!(#krate::ParamRef<#ty>);
                let ty = &reroot(ty);
                let declare = match &param.default {
                    Some(default) => {
                        let rerooted_default = signature::reroot_expr(default, GENERATED);
                        quote_spanned! {default.span()=>
                            let #ident = __kfp_builder.input_with_default::<#ty>(
                                #key,
                                #rerooted_default,
                            );
                        }
                    }
                    None => quote!(let #ident = __kfp_builder.input::<#ty>(#key);),
                };
                declarations.push(declare);
                task_params.push(quote!(#ident: impl #krate::dsl::IntoParamRef<#ty>));
                task_wiring.push(quote!(.param::<#ty>(#key, #ident)));
            }
            ParamKind::Input(kind) => {
                *typed.ty = syn::parse_quote!(#krate::ArtifactRef<#kind>);
                let kind = &reroot(kind);
                declarations
                    .push(quote!(let #ident = __kfp_builder.artifact_input::<#kind>(#key);));
                task_params.push(quote!(#ident: impl #krate::dsl::IntoArtifactRef<#kind>));
                task_wiring.push(quote!(.artifact::<#kind>(#key, #ident)));
            }
            ParamKind::InputList(kind) => {
                *typed.ty = syn::parse_quote!(#krate::ArtifactRef<::std::vec::Vec<#kind>>);
                let kind = &reroot(kind);
                declarations
                    .push(quote!(let #ident = __kfp_builder.artifact_list_input::<#kind>(#key);));
                task_params.push(quote!(#ident: impl #krate::dsl::IntoArtifactList<#kind>));
                task_wiring.push(quote!(.artifact_list::<#kind>(#key, #ident)));
            }
            ParamKind::Output(_) => {}
        }
    }
    let description = def.description.as_ref().map(|d| quote!(.description(#d)));
    let module_doc = format!(
        "The `{name}` pipeline: [`graph`] builds it, [`task`] uses it as one step of another pipeline."
    );
    let task_doc =
        format!("Adds the whole `{name}` pipeline as one task of the pipeline being built.");
    quote_spanned! {span=>
        #function

        #[allow(clippy::module_name_repetitions, clippy::redundant_closure, unused_imports, non_snake_case, dead_code)]
        #vis mod #fn_name {
            #![doc = #module_doc]
            use super::*;

            /// The pipeline's name.
            #inner const NAME: &'static ::core::primitive::str = #name;

            /// Builds and validates the pipeline graph.
            #inner fn graph() -> ::core::result::Result<#krate::PipelineGraph, #krate::dsl::BuildError> {
                let __kfp_builder = #krate::dsl::PipelineBuilder::new(NAME) #description;
                #(#declarations)*
                __kfp_builder.build(move || super::#fn_name(#(#call_args),*))
            }

            /// The outputs of a task running this pipeline.
            #inner struct Outputs {
                __kfp_returned: <#returned as #krate::dsl::PipelineReturn>::Refs,
            }

            impl ::core::ops::Deref for Outputs {
                type Target = <#returned as #krate::dsl::PipelineReturn>::Refs;
                fn deref(&self) -> &Self::Target {
                    &self.__kfp_returned
                }
            }

            #[doc = #task_doc]
            #inner fn task(#(#task_params),*) -> #krate::TaskRef<Outputs> {
                let __kfp_handle = #krate::dsl::TaskBuilder::nested(graph())
                    #(#task_wiring)*
                    .add();
                let __kfp_outputs = Outputs {
                    __kfp_returned: <#returned as #krate::dsl::PipelineReturn>::refs(&__kfp_handle),
                };
                #krate::TaskRef::new(__kfp_handle, __kfp_outputs)
            }

            #krate::__private::inventory::submit! {
                #krate::runtime::registry::PipelineEntry {
                    name: NAME,
                    module: ::core::module_path!(),
                    graph,
                }
            }
        }
    }
}

use syn::spanned::Spanned;

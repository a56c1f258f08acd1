//! `#[component]`: parse the function into a [`ComponentDef`], then generate its module.
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::{ItemFn, LitStr};

use crate::attr::{Args, COMPONENT_KEYS, Errors};
use crate::signature::{self, Param, ParamKind, Returns};

/// A validated component definition: everything the expansion needs.
struct ComponentDef {
    function: ItemFn,
    args: Args,
    name: String,
    description: Option<String>,
    params: Vec<Param>,
    returns: Returns,
}

fn parse(args: TokenStream, item: TokenStream) -> syn::Result<ComponentDef> {
    let mut errors = Errors::default();
    let args = match Args::parse(args, COMPONENT_KEYS, "#[component]") {
        Ok(a) => a,
        Err(e) => {
            errors.push(e);
            Args::default()
        }
    };
    let mut function: ItemFn = syn::parse2(item)?;
    let params = signature::params(&mut function.sig, "component", false, &mut errors);
    let returns = signature::returns(&function.sig, &mut errors);
    let name = args
        .name
        .as_ref()
        .map(LitStr::value)
        .unwrap_or_else(|| function.sig.ident.to_string());
    if let Some(lit) = &args.name
        && !is_component_name(&name)
    {
        errors.at(
            lit.span(),
            "a component name holds letters, digits, '_' and '-', and starts with a letter",
        );
    }
    let description = args.description_or_doc(&function.attrs);
    errors.finish()?;
    Ok(ComponentDef {
        function,
        args,
        name,
        description,
        params,
        returns,
    })
}

fn is_component_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The whole expansion, or the function unchanged plus the errors.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    match parse(args, item.clone()) {
        Ok(def) => generate(&def),
        Err(error) => {
            let compile_errors = error.to_compile_error();
            // Keep the function so that other code that calls it reports nothing spurious.
            let mut item = item;
            if let Ok(mut function) = syn::parse2::<ItemFn>(item.clone()) {
                for input in function.sig.inputs.iter_mut() {
                    if let syn::FnArg::Typed(t) = input {
                        t.attrs.retain(|a| !a.path().is_ident("default"));
                    }
                }
                item = quote!(#function);
            }
            quote!(#item #compile_errors)
        }
    }
}

/// The names the generated module defines; user paths starting with them need `super::`.
const GENERATED: &[&str] = &["Outputs", "spec", "task", "__exec"];

fn generate(def: &ComponentDef) -> TokenStream {
    let krate = def.args.crate_path();
    let function = &def.function;
    let vis = &function.vis;
    let inner = signature::inner_visibility(vis);
    let fn_name = &function.sig.ident;
    let span = signature::name_span(&function.sig);
    let name = &def.name;
    // The user's types, as they must be written inside the generated module.
    let reroot = |ty: &syn::Type| signature::reroot_type(ty, GENERATED);
    let returned = &reroot(&def.returns.ty);

    let mut spec_inputs = Vec::new();
    let mut spec_outputs = Vec::new();
    let mut task_params = Vec::new();
    let mut task_wiring = Vec::new();
    let mut output_fields = Vec::new();
    let mut output_values = Vec::new();
    let mut exec_reads = Vec::new();
    let mut call_args = Vec::new();
    for param in &def.params {
        let ident = &param.ident;
        let key = ident.to_string();
        let key = key.strip_prefix("r#").unwrap_or(&key);
        call_args.push(quote!(#ident));
        match &param.kind {
            ParamKind::Value(ty) => {
                let ty = &reroot(ty);
                spec_inputs.push(quote_spanned! {ty.span()=>
                    .input(#key, #krate::IoType::Parameter(<#ty as #krate::ParamValue>::TYPE))
                });
                // Spanned at the type, so that a wrongly wired task points at this input.
                task_params
                    .push(quote_spanned!(ty.span()=> #ident: impl #krate::dsl::IntoParamRef<#ty>));
                task_wiring.push(quote!(.param::<#ty>(#key, #ident)));
                exec_reads.push(quote!(let #ident = __kfp_ctx.param::<#ty>(#key)?;));
            }
            ParamKind::Input(kind) => {
                let kind = &reroot(kind);
                spec_inputs.push(quote!(.input(#key, #krate::IoType::artifact::<#kind>())));
                task_params.push(
                    quote_spanned!(kind.span()=> #ident: impl #krate::dsl::IntoArtifactRef<#kind>),
                );
                task_wiring.push(quote!(.artifact::<#kind>(#key, #ident)));
                exec_reads.push(quote!(let #ident = __kfp_ctx.input::<#kind>(#key)?;));
            }
            ParamKind::InputList(kind) => {
                let kind = &reroot(kind);
                spec_inputs.push(quote!(.input(#key, #krate::IoType::artifact_list::<#kind>())));
                task_params.push(
                    quote_spanned!(kind.span()=> #ident: impl #krate::dsl::IntoArtifactList<#kind>),
                );
                task_wiring.push(quote!(.artifact_list::<#kind>(#key, #ident)));
                exec_reads.push(quote!(let #ident = __kfp_ctx.input_list::<#kind>(#key)?;));
            }
            ParamKind::Output(kind) => {
                let kind = &reroot(kind);
                spec_outputs.push(quote!(.output(#key, #krate::IoType::artifact::<#kind>())));
                let doc = format!("The `{key}` artifact this task writes.");
                output_fields.push(quote! {
                    #[doc = #doc]
                    pub #ident: #krate::ArtifactRef<#kind>
                });
                output_values.push(quote!(#ident: __kfp_handle.output(#key)));
                exec_reads.push(quote!(let #ident = __kfp_ctx.output::<#kind>(#key)?;));
            }
        }
    }

    let description = def.description.as_ref().map(|d| quote!(.description(#d)));
    let mut config = Vec::new();
    let a = &def.args;
    if let Some(image) = &a.image {
        config.push(quote!(.image(#image)));
    }
    let resource_setters = [
        ("cpu_request", &a.cpu_request),
        ("cpu_limit", &a.cpu_limit),
        ("memory_request", &a.memory_request),
        ("memory_limit", &a.memory_limit),
        ("accelerator", &a.accelerator),
    ];
    let mut resources = Vec::new();
    for (field, value) in resource_setters {
        if let Some(value) = value {
            let field = format_ident!("{field}");
            resources.push(
                quote!(#field: ::core::option::Option::Some(::std::string::String::from(#value)),),
            );
        }
    }
    if let Some(gpus) = &a.gpus {
        resources.push(quote!(gpus: ::core::option::Option::Some(#gpus),));
    }
    if !resources.is_empty() {
        config.push(quote! {
            .resources(#krate::Resources { #(#resources)* ..::core::default::Default::default() })
        });
    }
    if let Some(retries) = &a.retries {
        config.push(quote!(.retries(#retries)));
    }
    if let Some(seconds) = &a.timeout_seconds {
        config.push(quote!(.timeout_seconds(#seconds)));
    }
    for (key, value) in &a.env {
        config.push(quote!(.env(#key, #value)));
    }
    if let Some(cache) = &a.cache {
        config.push(quote!(.caching(#cache)));
    }

    let call = if def.returns.fallible {
        quote! {
            let __kfp_returned = match super::#fn_name(#(#call_args),*) {
                ::core::result::Result::Ok(value) => value,
                ::core::result::Result::Err(error) => {
                    return ::core::result::Result::Err(__kfp_ctx.failed(error));
                }
            };
        }
    } else {
        quote!(let __kfp_returned = super::#fn_name(#(#call_args),*);)
    };

    let module_doc = format!(
        "The `{name}` component as a pipeline step: [`task`] adds it to a pipeline, [`spec`] describes it."
    );
    let task_doc =
        format!("Adds a `{name}` task to the pipeline being built; its inputs are type-checked.");
    let outputs_doc = format!(
        "The outputs of a `{name}` task: artifact outputs as fields, returned values through `Deref`."
    );
    quote_spanned! {span=>
        #function

        #[allow(clippy::module_name_repetitions, clippy::too_many_arguments, unused_imports, non_snake_case, dead_code)]
        #vis mod #fn_name {
            #![doc = #module_doc]
            use super::*;

            #[doc = #outputs_doc]
            #inner struct Outputs {
                #(#output_fields,)*
                __kfp_returned: <#returned as #krate::ComponentReturn>::Refs,
            }

            impl ::core::ops::Deref for Outputs {
                type Target = <#returned as #krate::ComponentReturn>::Refs;
                fn deref(&self) -> &Self::Target {
                    &self.__kfp_returned
                }
            }

            /// The component's specification (built once).
            #inner fn spec() -> ::std::sync::Arc<#krate::ComponentSpec> {
                static SPEC: ::std::sync::OnceLock<::std::sync::Arc<#krate::ComponentSpec>> =
                    ::std::sync::OnceLock::new();
                SPEC.get_or_init(|| {
                    ::std::sync::Arc::new(
                        #krate::ComponentSpec::new(#name)
                            #description
                            #(#spec_inputs)*
                            #(#spec_outputs)*
                            .outputs(<#returned as #krate::ComponentReturn>::output_specs())
                            #(#config)*
                    )
                })
                .clone()
            }

            #[doc = #task_doc]
            #inner fn task(#(#task_params),*) -> #krate::TaskRef<Outputs> {
                let __kfp_handle = #krate::dsl::TaskBuilder::new(spec())
                    #(#task_wiring)*
                    .add();
                let __kfp_outputs = Outputs {
                    #(#output_values,)*
                    __kfp_returned: <#returned as #krate::ComponentReturn>::refs(&__kfp_handle),
                };
                #krate::TaskRef::new(__kfp_handle, __kfp_outputs)
            }

            #[doc(hidden)]
            #inner fn __exec(
                __kfp_ctx: &mut #krate::runtime::executor::ExecContext,
            ) -> ::core::result::Result<(), #krate::runtime::executor::ExecError> {
                #(#exec_reads)*
                #call
                #krate::ComponentReturn::write(__kfp_returned, __kfp_ctx)
            }

            #krate::__private::inventory::submit! {
                #krate::runtime::registry::ComponentEntry {
                    name: #name,
                    module: ::core::module_path!(),
                    spec,
                    run: __exec,
                }
            }
        }
    }
}

use syn::spanned::Spanned;

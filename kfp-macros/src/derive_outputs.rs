//! `#[derive(ComponentOutputs)]`: a struct whose fields are a component's named outputs.
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields};

use crate::attr::Errors;

pub fn expand(input: TokenStream) -> TokenStream {
    match generate(input) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

fn generate(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut errors = Errors::default();
    let mut krate = quote!(::kfp_sdk);
    for attr in &input.attrs {
        if attr.path().is_ident("kfp") {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("crate") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    let path: syn::Path = lit.parse()?;
                    krate = quote!(#path);
                    Ok(())
                } else {
                    Err(meta.error("unknown #[kfp] argument; expected `crate`"))
                }
            })?;
        }
    }
    if !input.generics.params.is_empty() {
        errors.at(
            proc_macro2::Span::call_site(),
            "ComponentOutputs cannot be derived for a generic struct",
        );
    }
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named.named.iter().collect::<Vec<_>>(),
            _ => {
                errors.at(
                    input.ident.span(),
                    "ComponentOutputs needs named fields: each field is one named output",
                );
                Vec::new()
            }
        },
        _ => {
            errors.at(
                input.ident.span(),
                "ComponentOutputs can only be derived for a struct with named fields",
            );
            Vec::new()
        }
    };
    errors.finish()?;
    let name = &input.ident;
    let refs = format_ident!("__KfpRefsOf{}", name);
    let mut ref_fields = Vec::new();
    let mut specs = Vec::new();
    let mut refs_init = Vec::new();
    let mut writes = Vec::new();
    for field in fields {
        let ident = field.ident.as_ref().expect("named field");
        let key = ident.to_string();
        let key = key.strip_prefix("r#").unwrap_or(&key).to_owned();
        let ty = &field.ty;
        let doc = format!("The `{key}` output.");
        ref_fields.push(quote!(#[doc = #doc] pub #ident: #krate::ParamRef<#ty>));
        specs.push(quote! {
            #krate::OutputSpec::new(#key, #krate::IoType::Parameter(<#ty as #krate::ParamValue>::TYPE))
        });
        // Spanned at the field's type, so that a type that is not a parameter value is
        // reported there rather than at the derive.
        refs_init.push(quote_spanned!(ty.span()=> #ident: __kfp_task.output(#key)));
        writes.push(quote_spanned!(ty.span()=> __kfp_ctx.write_param(#key, &self.#ident)?;));
    }
    let refs_doc = format!("Typed handles of the outputs of a task returning `{name}`.");
    Ok(quote! {
        #[doc = #refs_doc]
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone)]
        pub struct #refs {
            #(#ref_fields,)*
        }

        impl #krate::ComponentReturn for #name {
            type Refs = #refs;
            fn output_specs() -> ::std::vec::Vec<#krate::OutputSpec> {
                ::std::vec![#(#specs),*]
            }
            fn refs(__kfp_task: &#krate::dsl::TaskHandle) -> #refs {
                #refs { #(#refs_init,)* }
            }
            fn write(
                self,
                __kfp_ctx: &mut #krate::runtime::executor::ExecContext,
            ) -> ::core::result::Result<(), #krate::runtime::executor::ExecError> {
                #(#writes)*
                ::core::result::Result::Ok(())
            }
        }
    })
}

//! Parsing the arguments of `#[component(..)]` and `#[pipeline(..)]`.
//!
//! Every accepted key is named once, in [`COMPONENT_KEYS`] or [`PIPELINE_KEYS`]; an unknown
//! key is an error at its span that lists the accepted ones. Problems are collected and
//! reported together.
use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::{Expr, LitBool, LitInt, LitStr, Path};

/// The keys `#[component]` accepts.
pub const COMPONENT_KEYS: &[&str] = &[
    "name",
    "description",
    "image",
    "cpu_request",
    "cpu_limit",
    "memory_request",
    "memory_limit",
    "gpus",
    "accelerator",
    "retries",
    "env",
    "cache",
    "crate",
];

/// The keys `#[pipeline]` accepts.
pub const PIPELINE_KEYS: &[&str] = &["name", "description", "crate"];

/// Arguments of `#[component(..)]` or `#[pipeline(..)]`, as written.
#[derive(Default)]
pub struct Args {
    pub name: Option<LitStr>,
    pub description: Option<LitStr>,
    pub image: Option<LitStr>,
    pub cpu_request: Option<LitStr>,
    pub cpu_limit: Option<LitStr>,
    pub memory_request: Option<LitStr>,
    pub memory_limit: Option<LitStr>,
    pub gpus: Option<LitInt>,
    pub accelerator: Option<LitStr>,
    pub retries: Option<LitInt>,
    pub env: Vec<(LitStr, LitStr)>,
    pub cache: Option<LitBool>,
    pub krate: Option<Path>,
}

/// Collects errors so that one expansion reports all of them.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(existing) => existing.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn at(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn set<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error("this key is given twice"));
    }
    *slot = Some(value);
    Ok(())
}

impl Args {
    /// Parses `args`, accepting only `allowed` keys.
    pub fn parse(args: TokenStream, allowed: &[&str], macro_name: &str) -> syn::Result<Args> {
        let mut parsed = Args::default();
        if args.is_empty() {
            return Ok(parsed);
        }
        let parser = syn::meta::parser(|meta| {
            let key = meta
                .path
                .get_ident()
                .map(|i| {
                    let s = i.to_string();
                    s.strip_prefix("r#").map(str::to_owned).unwrap_or(s)
                })
                .unwrap_or_default();
            if !allowed.contains(&key.as_str()) {
                return Err(meta.error(format!(
                    "unknown {macro_name} argument `{}`; expected one of: {}",
                    quote::ToTokens::to_token_stream(&meta.path)
                        .to_string()
                        .replace(' ', ""),
                    allowed.join(", ")
                )));
            }
            match key.as_str() {
                "name" => set(&mut parsed.name, meta.value()?.parse()?, &meta),
                "description" => set(&mut parsed.description, meta.value()?.parse()?, &meta),
                "image" => set(&mut parsed.image, meta.value()?.parse()?, &meta),
                "cpu_request" => set(&mut parsed.cpu_request, meta.value()?.parse()?, &meta),
                "cpu_limit" => set(&mut parsed.cpu_limit, meta.value()?.parse()?, &meta),
                "memory_request" => set(&mut parsed.memory_request, meta.value()?.parse()?, &meta),
                "memory_limit" => set(&mut parsed.memory_limit, meta.value()?.parse()?, &meta),
                "gpus" => set(&mut parsed.gpus, meta.value()?.parse()?, &meta),
                "accelerator" => set(&mut parsed.accelerator, meta.value()?.parse()?, &meta),
                "retries" => set(&mut parsed.retries, meta.value()?.parse()?, &meta),
                "cache" => set(&mut parsed.cache, meta.value()?.parse()?, &meta),
                "crate" => {
                    let lit: LitStr = meta.value()?.parse()?;
                    set(&mut parsed.krate, lit.parse()?, &meta)
                }
                "env" => meta.parse_nested_meta(|inner| {
                    let Some(ident) = inner.path.get_ident() else {
                        return Err(inner.error("expected NAME = \"value\""));
                    };
                    let value: LitStr = inner.value()?.parse()?;
                    parsed
                        .env
                        .push((LitStr::new(&ident.to_string(), ident.span()), value));
                    Ok(())
                }),
                _ => Err(meta.error("unhandled key")),
            }
        });
        syn::parse::Parser::parse2(parser, args)?;
        Ok(parsed)
    }
}

/// The doc comment of an item, lines joined, or `None`.
pub fn doc_comment(attrs: &[syn::Attribute]) -> Option<String> {
    let mut lines = Vec::new();
    for attr in attrs {
        if !attr.path().is_ident("doc") {
            continue;
        }
        if let syn::Meta::NameValue(nv) = &attr.meta
            && let Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
        {
            let value = s.value();
            lines.push(
                value
                    .strip_prefix(' ')
                    .unwrap_or(&value)
                    .trim_end()
                    .to_owned(),
            );
        }
    }
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

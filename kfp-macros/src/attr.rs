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
    "timeout_seconds",
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
    pub timeout_seconds: Option<LitInt>,
    pub env: Vec<(LitStr, LitStr)>,
    pub cache: Option<LitBool>,
    pub krate: Option<Path>,
}

impl Args {
    /// The path generated code names `kfp_sdk` by: `crate = "..."`, else `::kfp_sdk`.
    pub fn crate_path(&self) -> TokenStream {
        match &self.krate {
            Some(path) => quote::quote!(#path),
            None => quote::quote!(::kfp_sdk),
        }
    }

    /// `description = "..."`, else the item's doc comment.
    pub fn description_or_doc(&self, attrs: &[syn::Attribute]) -> Option<String> {
        self.description
            .as_ref()
            .map(LitStr::value)
            .or_else(|| doc_comment(attrs))
    }
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

    /// An error covering all of `tokens`. Prefer this to [`Errors::at`] for anything longer
    /// than one token: on stable Rust a node's `span()` is only its first token's.
    pub fn spanned(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn set<T>(
    slot: &mut Option<T>,
    value: T,
    meta: &ParseNestedMeta,
    problems: &mut Errors,
) -> syn::Result<()> {
    if slot.is_some() {
        problems.push(meta.error("this key is given twice"));
    } else {
        *slot = Some(value);
    }
    Ok(())
}

/// The value of `key = value`, with an error that says what `key` takes.
fn value<T: syn::parse::Parse>(meta: &ParseNestedMeta, key: &str) -> syn::Result<T> {
    let expected = match key {
        "gpus" | "retries" | "timeout_seconds" => "an integer, as in `retries = 3`",
        "cache" => "`true` or `false`",
        "crate" => "a path in a string, as in `crate = \"::kfp_sdk\"`",
        _ => "a string, as in `image = \"python:3.12\"`",
    };
    meta.value()?
        .parse()
        .map_err(|e| syn::Error::new(e.span(), format!("`{key}` takes {expected}")))
}

/// Skips the value of an unknown key (`= value` or `(..)`), so that parsing goes on.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
    }
    Ok(())
}

impl Args {
    /// Parses `args`, accepting only `allowed` keys.
    pub fn parse(args: TokenStream, allowed: &[&str], macro_name: &str) -> syn::Result<Args> {
        let mut parsed = Args::default();
        if args.is_empty() {
            return Ok(parsed);
        }
        // Unknown and repeated keys are collected; a malformed value stops parsing.
        let mut problems = Errors::default();
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
                problems.push(meta.error(format!(
                    "unknown {macro_name} argument `{}`; expected one of: {}",
                    quote::ToTokens::to_token_stream(&meta.path)
                        .to_string()
                        .replace(' ', ""),
                    allowed.join(", ")
                )));
                return skip_value(&meta);
            }
            let p = &mut problems;
            match key.as_str() {
                "name" => set(&mut parsed.name, value(&meta, &key)?, &meta, p),
                "description" => set(&mut parsed.description, value(&meta, &key)?, &meta, p),
                "image" => set(&mut parsed.image, value(&meta, &key)?, &meta, p),
                "cpu_request" => set(&mut parsed.cpu_request, value(&meta, &key)?, &meta, p),
                "cpu_limit" => set(&mut parsed.cpu_limit, value(&meta, &key)?, &meta, p),
                "memory_request" => set(&mut parsed.memory_request, value(&meta, &key)?, &meta, p),
                "memory_limit" => set(&mut parsed.memory_limit, value(&meta, &key)?, &meta, p),
                "gpus" => set(&mut parsed.gpus, value(&meta, &key)?, &meta, p),
                "accelerator" => set(&mut parsed.accelerator, value(&meta, &key)?, &meta, p),
                "retries" => set(&mut parsed.retries, value(&meta, &key)?, &meta, p),
                "timeout_seconds" => {
                    set(&mut parsed.timeout_seconds, value(&meta, &key)?, &meta, p)
                }
                "cache" => set(&mut parsed.cache, value(&meta, &key)?, &meta, p),
                "crate" => {
                    let lit: LitStr = value(&meta, &key)?;
                    set(&mut parsed.krate, lit.parse()?, &meta, p)
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
        if let Err(error) = syn::parse::Parser::parse2(parser, args) {
            problems.push(error);
        }
        problems.finish()?;
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

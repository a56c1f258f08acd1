//! Reading a component's or pipeline's function signature into a model.
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Type};

use crate::attr::Errors;

/// What one function parameter is.
pub enum ParamKind {
    /// A parameter value of this type.
    Value(Type),
    /// `Input<K>`: an artifact input of kind K.
    Input(Type),
    /// `Output<K>`: an artifact output of kind K.
    Output(Type),
    /// `Vec<Input<K>>`: a list of artifacts of kind K (the collected artifacts of a loop).
    InputList(Type),
}

/// One function parameter.
pub struct Param {
    pub ident: Ident,
    pub kind: ParamKind,
    /// `#[default(expr)]`, pipelines only.
    pub default: Option<syn::Expr>,
}

/// What the function returns.
pub struct Returns {
    /// The value type (inside `Result<..>` when fallible); `()` when there is none.
    pub ty: Type,
    /// Whether it is a `Result`.
    pub fallible: bool,
}

/// The generic argument of `Wrapper<K>` when the type's last path segment is `Wrapper`.
fn single_generic<'a>(ty: &'a Type, wrapper: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != wrapper {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}

/// What a parameter of this type is, by the type's last path segment.
pub fn classify(ty: &Type) -> ParamKind {
    if let Some(kind) = single_generic(ty, "Vec").and_then(|item| single_generic(item, "Input")) {
        ParamKind::InputList(kind.clone())
    } else if let Some(kind) = single_generic(ty, "Input") {
        ParamKind::Input(kind.clone())
    } else if let Some(kind) = single_generic(ty, "Output") {
        ParamKind::Output(kind.clone())
    } else {
        ParamKind::Value(ty.clone())
    }
}

/// Checks the parts of a signature that neither macro supports.
fn check_shape(sig: &Signature, what: &str, errors: &mut Errors) {
    if let Some(asyncness) = &sig.asyncness {
        errors.at(
            asyncness.span(),
            format!(
                "a {what} cannot be `async`; run async code inside with a runtime of your choice"
            ),
        );
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            format!("a {what} cannot be generic: its inputs and outputs need concrete types"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.at(variadic.span(), format!("a {what} cannot be variadic"));
    }
}

/// Reads the parameters, taking `#[default(..)]` attributes off them when `allow_defaults`.
pub fn params(
    sig: &mut Signature,
    what: &str,
    allow_defaults: bool,
    errors: &mut Errors,
) -> Vec<Param> {
    check_shape(sig, what, errors);
    let mut params = Vec::new();
    for input in sig.inputs.iter_mut() {
        let typed = match input {
            FnArg::Receiver(receiver) => {
                errors.spanned(
                    &*receiver,
                    format!("a {what} cannot take `self`; write a free function"),
                );
                continue;
            }
            FnArg::Typed(typed) => typed,
        };
        let mut default = None;
        let mut default_attr = None;
        let mut kept = Vec::new();
        for attr in typed.attrs.drain(..) {
            if attr.path().is_ident("default") {
                if !allow_defaults {
                    errors.spanned(
                        &attr,
                        "component inputs cannot have defaults here; give the value when wiring the task",
                    );
                } else if default.is_some() {
                    errors.spanned(&attr, "this parameter already has a default");
                } else {
                    match attr.parse_args::<syn::Expr>() {
                        Ok(expr) => {
                            default = Some(expr);
                            default_attr = Some(attr);
                        }
                        Err(e) => {
                            errors.push(syn::Error::new(e.span(), "expected #[default(value)]"))
                        }
                    }
                }
            } else {
                kept.push(attr);
            }
        }
        typed.attrs = kept;
        let ident = match &*typed.pat {
            Pat::Ident(p) if p.subpat.is_none() && p.by_ref.is_none() => p.ident.clone(),
            other => {
                errors.spanned(
                    other,
                    format!("{what} parameters must be plain names (`epochs: u32`), since each becomes a named input"),
                );
                continue;
            }
        };
        if let Type::Reference(reference) = &*typed.ty {
            errors.spanned(
                reference,
                format!(
                    "{what} inputs are owned values: use `String` for `&str`, `Vec<T>` for `&[T]`"
                ),
            );
            continue;
        }
        if matches!(&*typed.ty, Type::ImplTrait(_)) {
            errors.spanned(
                &typed.ty,
                format!("{what} inputs need concrete types, not `impl Trait`"),
            );
            continue;
        }
        if single_generic(&typed.ty, "Vec")
            .is_some_and(|item| single_generic(item, "Output").is_some())
        {
            errors.spanned(
                &typed.ty,
                format!(
                    "a {what} writes single artifacts: take one `Output<Kind>` per artifact \
                     (a list of artifacts comes from a loop whose body returns one)"
                ),
            );
            continue;
        }
        let kind = classify(&typed.ty);
        if let Some(attr) = &default_attr
            && !matches!(kind, ParamKind::Value(_))
        {
            errors.spanned(
                attr,
                "only parameter inputs can have a default, not artifacts",
            );
        }
        params.push(Param {
            ident,
            kind,
            default,
        });
    }
    params
}

/// Reads the return type.
pub fn returns(sig: &Signature, errors: &mut Errors) -> Returns {
    let ty = match &sig.output {
        ReturnType::Default => {
            return Returns {
                ty: syn::parse_quote!(()),
                fallible: false,
            };
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    if let Type::Path(path) = ty
        && let Some(last) = path.path.segments.last()
        && last.ident == "Result"
        && let PathArguments::AngleBracketed(args) = &last.arguments
        && let Some(GenericArgument::Type(ok)) = args.args.first()
    {
        check_not_output(ok, errors);
        return Returns {
            ty: ok.clone(),
            fallible: true,
        };
    }
    check_not_output(ty, errors);
    Returns {
        ty: ty.clone(),
        fallible: false,
    }
}

fn check_not_output(ty: &Type, errors: &mut Errors) {
    if single_generic(ty, "Output").is_some() || single_generic(ty, "Input").is_some() {
        errors.spanned(
            ty,
            "artifacts are not returned: take an `Output<Kind>` parameter and write to its path",
        );
    }
}

/// A span for generated items that should point at the function's name.
pub fn name_span(sig: &Signature) -> Span {
    sig.ident.span()
}

/// The visibility, seen from inside the generated module, that matches the function's
/// visibility outside it: a private function gives `pub(super)`, so that the module's items
/// are exactly as visible as the function (and may mention the parent's private types).
pub fn inner_visibility(vis: &syn::Visibility) -> proc_macro2::TokenStream {
    match vis {
        syn::Visibility::Inherited => quote::quote!(pub(super)),
        syn::Visibility::Public(_) => quote::quote!(pub),
        syn::Visibility::Restricted(r) if r.path.is_ident("crate") => quote::quote!(pub(crate)),
        syn::Visibility::Restricted(r) if r.path.is_ident("self") => quote::quote!(pub(super)),
        syn::Visibility::Restricted(_) => quote::quote!(pub(crate)),
    }
}

/// Rewrites tokens the user wrote in the function's module (a type, a default value) so that
/// they mean the same inside the generated `mod NAME { use super::*; .. }`.
///
/// The glob import makes most names resolve as before, but not paths that start with `self`
/// or `super`, nor names that the generated module itself defines (`generated`: `Outputs`,
/// `task`, ...), which shadow the user's items of the same name. Those paths get one more
/// `super`: `super::Outputs`, `super::super::Config`, `super::NAME`.
struct Reroot<'a> {
    generated: &'a [&'a str],
}

impl syn::visit_mut::VisitMut for Reroot<'_> {
    fn visit_path_mut(&mut self, path: &mut syn::Path) {
        if path.leading_colon.is_none()
            && let Some(first) = path.segments.first()
        {
            let name = first.ident.to_string();
            let span = first.ident.span();
            if name == "self" {
                path.segments[0].ident = Ident::new("super", span);
            } else if name == "super" || self.generated.contains(&name.as_str()) {
                path.segments.insert(0, Ident::new("super", span).into());
            }
        }
        syn::visit_mut::visit_path_mut(self, path);
    }
}

/// `ty` as it must be written inside the generated module (see [`Reroot`]).
pub fn reroot_type(ty: &Type, generated: &[&str]) -> Type {
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Reroot { generated }, &mut ty);
    ty
}

/// `expr` as it must be written inside the generated module (see [`Reroot`]).
pub fn reroot_expr(expr: &syn::Expr, generated: &[&str]) -> syn::Expr {
    let mut expr = expr.clone();
    syn::visit_mut::VisitMut::visit_expr_mut(&mut Reroot { generated }, &mut expr);
    expr
}

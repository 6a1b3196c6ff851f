//! `#[ktest]`: registers a function as an in-kernel test.
//!
//! ```text
//! #[ktest]
//! fn frames_are_unique() { ... }
//!
//! #[ktest(should_panic = "DOUBLE FAULT", timeout = 30)]
//! fn overflow_the_stack() { ... }
//! ```
//!
//! Options, comma-separated: `should_panic` (optionally `= "text the panic message must
//! contain"`), `timeout = SECONDS` (default 10), `ignore`. The function stays as written;
//! beside it the macro emits a `#[test_case]` static of type `kernel::ktest::Test`, which
//! `custom_test_frameworks` hands to the kernel's runner. Like `#[test_case]` itself, the
//! registration only exists in test builds.
use proc_macro::TokenStream;
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token, parse_macro_input};

#[proc_macro_attribute]
pub fn ktest(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as ItemFn);
    match expand(attr.into(), &function) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

fn expand(attr: proc_macro2::TokenStream, function: &ItemFn) -> syn::Result<proc_macro2::TokenStream> {
    let options = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    let mut should_panic = quote!(::kernel::ktest::ShouldPanic::No);
    let mut timeout_secs: u64 = 10;
    let mut ignore = false;
    for option in &options {
        match option {
            Meta::Path(path) if path.is_ident("should_panic") => {
                should_panic = quote!(::kernel::ktest::ShouldPanic::Yes);
            }
            Meta::NameValue(nv) if nv.path.is_ident("should_panic") => {
                let expected = string_literal(&nv.value)?;
                should_panic = quote!(::kernel::ktest::ShouldPanic::WithMessage(#expected));
            }
            Meta::NameValue(nv) if nv.path.is_ident("timeout") => {
                timeout_secs = integer_literal(&nv.value)?;
                if timeout_secs == 0 {
                    return Err(syn::Error::new_spanned(
                        &nv.value,
                        "a timeout of 0 seconds would fail every run",
                    ));
                }
            }
            Meta::Path(path) if path.is_ident("ignore") => ignore = true,
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "expected `should_panic`, `should_panic = \"text\"`, `timeout = SECONDS` or `ignore`",
                ));
            }
        }
    }

    let signature = &function.sig;
    if !signature.inputs.is_empty() || !matches!(signature.output, syn::ReturnType::Default) {
        return Err(syn::Error::new_spanned(
            signature,
            "a #[ktest] function takes no arguments and returns ()",
        ));
    }
    let name = &signature.ident;
    let registration = format_ident!("__KTEST_{}", name.to_string().to_uppercase());
    let name_text = name.to_string();
    Ok(quote! {
        #function

        #[test_case]
        #[allow(non_upper_case_globals)]
        static #registration: ::kernel::ktest::Test = ::kernel::ktest::Test {
            path: concat!(module_path!(), "::", #name_text),
            run: #name,
            should_panic: #should_panic,
            timeout_ms: #timeout_secs * 1000,
            ignore: #ignore,
        };
    })
}

fn string_literal(expr: &Expr) -> syn::Result<String> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Ok(text.value()),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

fn integer_literal(expr: &Expr) -> syn::Result<u64> {
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Int(value), .. }) => value.base10_parse(),
        other => Err(syn::Error::new_spanned(other, "expected a number of seconds")),
    }
}

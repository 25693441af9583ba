//! The SDK's macros: `#[asyncio::main]` (the entry point of a program),
//! and for plugins `asyncio::generate!` (their bindings, `generate.rs`) and
//! `#[asyncio::plugin]` (their exports on the instance's loop, `plugin.rs`).
//!
//! `#[asyncio::main]`:
//!
//! ```ignore
//! #[asyncio::main]                 // or #[asyncio::main(debug = true, eager_tasks = true)]
//! async fn main() -> asyncio::Result<()> { ... }
//! ```
//!
//! expands to: the user's function renamed; an implementation of the
//! `wasi:cli/run@0.3.0` export that runs it on a fresh loop (`Runner`), and
//! the export itself; the SDK's `aio:host/control` export (with its default
//! `host-control` feature), which reports on that loop while `main` runs
//! (`task-dump`, `task-table`: how `aio ps` sees a running program); and a plain `fn main` (the WASI 0.2 entry point that
//! Rust requires of a binary), which explains that a WASI 0.3 host is needed
//! (natively, it runs the program on a real-time loop).

mod generate;
mod plugin;

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, MetaNameValue, Token, parse_macro_input};

/// A plugin's bindings: see the `asyncio` crate's docs (`asyncio::generate!`).
#[proc_macro]
pub fn generate(input: TokenStream) -> TokenStream {
    match generate::expand(input.into()) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// A plugin's exports on its instance's loop: see the `asyncio` crate's
/// docs (`#[asyncio::plugin]`).
#[proc_macro_attribute]
pub fn plugin(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::ItemImpl);
    let options = match Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse(args) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    match plugin::expand(options, item) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as ItemFn);
    let options = match Punctuated::<MetaNameValue, Token![,]>::parse_terminated.parse(args) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error().into(),
    };
    match expand(function, options) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(
    mut function: ItemFn,
    options: Punctuated<MetaNameValue, Token![,]>,
) -> syn::Result<proc_macro2::TokenStream> {
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            function.sig.fn_token,
            "#[asyncio::main] needs an `async fn main`",
        ));
    }
    if function.sig.ident != "main" {
        return Err(syn::Error::new_spanned(
            &function.sig.ident,
            "#[asyncio::main] goes on `async fn main`",
        ));
    }
    if !function.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &function.sig.inputs,
            "`main` takes no arguments (read them with std::env::args())",
        ));
    }

    let options = LoopOptions::parse(options)?;
    let mut runner = quote!(::asyncio::Runner::new());
    if let Some(debug) = options.debug {
        runner = quote!(#runner.debug(#debug));
    }
    if options.eager_tasks {
        runner = quote!(#runner.eager_tasks(true));
    }

    function.sig.ident = syn::Ident::new("__asyncio_user_main", function.sig.ident.span());
    Ok(quote! {
        #function

        fn main() {
            ::asyncio::__private::main_entry(#runner, __asyncio_user_main())
        }

        #[doc(hidden)]
        struct __AsyncioMain;

        impl ::asyncio::__private::RunExport for __AsyncioMain {
            async fn run() -> ::core::result::Result<(), ()> {
                ::asyncio::__private::run_main(#runner, __asyncio_user_main()).await
            }
        }

        ::asyncio::__private::export!(__AsyncioMain with_types_in ::asyncio::bindings);

        // `aio:host/control` on the program's loop (`aio ps` asks it),
        // unless the SDK's `host-control` feature is off.
        ::asyncio::__export_program_control!();
    })
}

/// The loop options `#[asyncio::main(...)]` and `#[asyncio::plugin(...)]`
/// take: `debug = bool`, `eager_tasks = bool`.
#[derive(Default)]
struct LoopOptions {
    debug: Option<bool>,
    eager_tasks: bool,
}

impl LoopOptions {
    fn parse(options: Punctuated<MetaNameValue, Token![,]>) -> syn::Result<LoopOptions> {
        let mut parsed = LoopOptions::default();
        for option in options {
            let name = option
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let value = match &option.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => b.value,
                other => return Err(syn::Error::new_spanned(other, "expected `true` or `false`")),
            };
            match name.as_str() {
                "debug" => parsed.debug = Some(value),
                "eager_tasks" => parsed.eager_tasks = value,
                _ => {
                    return Err(syn::Error::new_spanned(
                        &option.path,
                        "unknown option: expected `debug` or `eager_tasks`",
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

//! `#[asyncio::plugin]`: runs each export of a plugin's impl on the
//! instance's loop.
//!
//! ```ignore
//! #[asyncio::plugin]                       // or #[asyncio::plugin(debug = true)]
//! impl exports::acme::greeter::greeter::Guest for Greeter {
//!     async fn greet(name: String) -> String { ... }
//!     fn count() -> u64 { ... }
//! }
//! ```
//!
//! Each `async fn f(args) -> R { body }` becomes
//! `async fn f(args) -> R { plugin::call::<_, R>(&OPTIONS, "iface.f", async move { body }).await }`,
//! so the body runs as a task named after the export; a plain `fn` runs
//! its body inside the loop (`plugin::call_sync`). The interface's name is
//! the path segment before `Guest`, in WIT's kebab case.

use heck::ToKebabCase;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ItemImpl, MetaNameValue, ReturnType, Token, parse_quote};

pub(crate) fn expand(
    options: Punctuated<MetaNameValue, Token![,]>,
    mut item: ItemImpl,
) -> syn::Result<TokenStream> {
    let parsed = crate::LoopOptions::parse(options)?;
    let debug = match parsed.debug {
        Some(on) => quote!(::core::option::Option::Some(#on)),
        None => quote!(::core::option::Option::None),
    };
    let eager = parsed.eager_tasks;
    let options = quote! {
        &::asyncio::__private::PluginOptions { debug: #debug, eager_tasks: #eager }
    };

    let Some((_, trait_path, _)) = &item.trait_ else {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "#[asyncio::plugin] goes on the impl of a generated `Guest` trait \
             (`impl exports::ns::pkg::iface::Guest for MyPlugin`)",
        ));
    };
    let segments: Vec<String> = trait_path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    let interface = match segments.as_slice() {
        [.., iface, last] if last == "Guest" => iface.to_kebab_case(),
        [last] if last == "Guest" => {
            return Err(syn::Error::new_spanned(
                trait_path,
                "#[asyncio::plugin]: write the trait's full path \
                 (`exports::ns::pkg::iface::Guest`): the export calls' task names come from it",
            ));
        }
        _ => {
            return Err(syn::Error::new_spanned(
                trait_path,
                "#[asyncio::plugin] goes on the impl of a generated `Guest` trait \
                 (resources' `GuestX` traits are not supported yet)",
            ));
        }
    };

    for impl_item in &mut item.items {
        let ImplItem::Fn(f) = impl_item else {
            continue;
        };
        if let Some(FnArg::Receiver(r)) = f.sig.inputs.first() {
            return Err(syn::Error::new_spanned(
                r,
                "#[asyncio::plugin]: methods with `self` are not supported (a call's \
                 body runs as a task and must own what it uses)",
            ));
        }
        let name = format!("{interface}.{}", f.sig.ident.to_string().to_kebab_case());
        let ret: syn::Type = match &f.sig.output {
            ReturnType::Default => parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        let block = &f.block;
        let span = block.span();
        let body = if f.sig.asyncness.is_some() {
            quote_spanned! {span=>
                {
                    ::asyncio::__private::plugin_call::<_, #ret>(#options, #name, async move #block)
                        .await
                }
            }
        } else {
            quote_spanned! {span=>
                {
                    ::asyncio::__private::plugin_call_sync::<#ret>(#options, move || #block)
                }
            }
        };
        f.block = syn::parse2(body)?;
    }
    Ok(quote!(#item))
}

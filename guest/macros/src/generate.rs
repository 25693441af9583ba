//! `asyncio::generate!`: a plugin's bindings, made by wit-bindgen through
//! the SDK's own copy of it, with every WASI and `aio:host` interface the
//! world imports mapped onto the SDK's bindings (no second copy of them),
//! and the SDK's `aio:host/control` export added.
//!
//! ```ignore
//! asyncio::generate!({ world: "acme:greeter/plugin" });          // WIT in ./wit
//! asyncio::generate!({ world: "plugin", path: "wit/greeter.wit", additional_derives: [Clone] });
//! ```
//!
//! Options are wit-bindgen's, passed through, except `runtime_path` (the
//! SDK's) and `inline` (not supported: the WIT must be in files). `with`
//! entries of the user's own are kept; `generate_all` is implied.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use heck::ToSnakeCase;
use proc_macro2::{Delimiter, Span, TokenStream, TokenTree};
use quote::quote;
use wit_parser::{Resolve, WorldItem, WorldKey};

/// Where the SDK's WIT is (its `aio:host` package and the vendored WASI):
/// `wit`, a link to the workspace's `wit/` that the packaged crate carries
/// as files.
fn sdk_wit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("wit")
}

/// One `key: value` (or bare `key`) of the options.
struct Opt {
    key: String,
    span: Span,
    /// The tokens after `:`, up to the next top-level comma.
    value: Option<TokenStream>,
}

pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let opts = parse_options(input)?;
    let mut world = None;
    let mut paths: Vec<String> = Vec::new();
    let mut user_with: Option<TokenStream> = None;
    let mut passed = TokenStream::new();
    for opt in opts {
        match opt.key.as_str() {
            "world" => world = Some(string_literal(&opt)?),
            "path" => paths = string_list(&opt)?,
            "with" => user_with = Some(braced(&opt)?),
            "generate_all" => {}
            "runtime_path"
            | "inline"
            | "export_macro_name"
            | "pub_export_macro"
            | "default_bindings_module" => {
                return Err(syn::Error::new(
                    opt.span,
                    format!("`{}` is not supported by asyncio::generate!", opt.key),
                ));
            }
            _ => {
                let key = syn::Ident::new(&opt.key, opt.span);
                passed.extend(match opt.value {
                    Some(v) => quote!(#key: #v,),
                    None => quote!(#key,),
                });
            }
        }
    }
    let Some(world) = world else {
        return Err(syn::Error::new(
            Span::call_site(),
            "asyncio::generate! needs `world: \"ns:pkg/world\"`",
        ));
    };
    if paths.is_empty() {
        paths.push("wit".to_owned());
    }
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".to_owned());
    let sdk = sdk_wit();
    let sdk = sdk.canonicalize().unwrap_or(sdk);
    let mapped = sdk_mappings(&sdk, &paths, Path::new(&manifest_dir), &world)
        .map_err(|e| syn::Error::new(Span::call_site(), format!("{e:#}")))?;

    // The user's own `with` entries win over ours.
    let user_keys = user_with.as_ref().map(string_keys).unwrap_or_default();
    let mut with = user_with.unwrap_or_default();
    if !with.is_empty() && !ends_with_comma(&with) {
        with.extend(quote!(,));
    }
    for (key, module) in mapped {
        if user_keys.contains(&key) {
            continue;
        }
        let path: syn::Path = syn::parse_str(&module)?;
        with.extend(quote!(#key: #path,));
    }

    let sdk_str = sdk.to_string_lossy().into_owned();
    Ok(quote! {
        ::asyncio::__plugin_feature_check!();

        ::asyncio::__private::wit_bindgen::generate!({
            path: [#sdk_str, #(#paths),*],
            world: #world,
            runtime_path: "::asyncio::__private::wit_bindgen::rt",
            with: { #with },
            generate_all,
            #passed
        });

        #[doc(hidden)]
        use ::asyncio::__private::Control as __AsyncioControl;
        ::asyncio::__private::export_control!(
            __AsyncioControl with_types_in ::asyncio::control_bindings
        );
    })
}

/// `(interface name, SDK module path)` for every interface `world` imports
/// that the SDK has bindings for (those of `aio:host/imports`).
fn sdk_mappings(
    sdk: &Path,
    paths: &[String],
    manifest_dir: &Path,
    world: &str,
) -> Result<Vec<(String, String)>, String> {
    let mut resolve = Resolve::default();
    let (sdk_pkg, _) = resolve
        .push_path(sdk)
        .map_err(|e| format!("the SDK's WIT at {}: {e:#}", sdk.display()))?;
    let mut main = Vec::new();
    for p in paths {
        let full = manifest_dir.join(p);
        let (pkg, _) = resolve
            .push_path(&full)
            .map_err(|e| format!("{}: {e:#}", full.display()))?;
        main.push(pkg);
    }
    let world_id = resolve
        .select_world(&main, Some(world))
        .map_err(|e| format!("{e:#}"))?;
    let sdk_world = resolve
        .select_world(&[sdk_pkg], Some("imports"))
        .map_err(|e| format!("{e:#}"))?;
    let sdk_ifaces: BTreeSet<_> = resolve.worlds[sdk_world]
        .imports
        .keys()
        .filter_map(|k| match k {
            WorldKey::Interface(id) => Some(*id),
            WorldKey::Name(_) => None,
        })
        .collect();
    let mut out = Vec::new();
    for (key, item) in &resolve.worlds[world_id].imports {
        let (WorldKey::Interface(id), WorldItem::Interface { .. }) = (key, item) else {
            continue;
        };
        if !sdk_ifaces.contains(id) {
            continue;
        }
        let iface = &resolve.interfaces[*id];
        let (Some(name), Some(pkg)) = (&iface.name, iface.package) else {
            continue;
        };
        let pkg = &resolve.packages[pkg].name;
        let module = format!(
            "::asyncio::bindings::{}::{}::{}",
            pkg.namespace.to_snake_case(),
            pkg.name.to_snake_case(),
            name.to_snake_case()
        );
        out.push((resolve.name_world_key(key), module));
    }
    Ok(out)
}

/// `{ key: value, key, ... }` (the braces are optional).
fn parse_options(input: TokenStream) -> syn::Result<Vec<Opt>> {
    let mut tokens: Vec<TokenTree> = input.into_iter().collect();
    if let [TokenTree::Group(g)] = tokens.as_slice()
        && g.delimiter() == Delimiter::Brace
    {
        tokens = g.stream().into_iter().collect();
    }
    let mut opts = Vec::new();
    let mut iter = tokens.into_iter().peekable();
    while let Some(tt) = iter.next() {
        let TokenTree::Ident(key) = tt else {
            return Err(syn::Error::new(tt.span(), "expected an option name"));
        };
        let mut value = None;
        if matches!(iter.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ':') {
            iter.next();
            let mut v = TokenStream::new();
            while let Some(tt) = iter.peek() {
                if matches!(tt, TokenTree::Punct(p) if p.as_char() == ',') {
                    break;
                }
                v.extend([iter.next().expect("peeked")]);
            }
            value = Some(v);
        }
        if matches!(iter.peek(), Some(TokenTree::Punct(p)) if p.as_char() == ',') {
            iter.next();
        }
        opts.push(Opt {
            key: key.to_string(),
            span: key.span(),
            value,
        });
    }
    Ok(opts)
}

fn value(opt: &Opt) -> syn::Result<&TokenStream> {
    opt.value
        .as_ref()
        .ok_or_else(|| syn::Error::new(opt.span, format!("`{}` needs a value", opt.key)))
}

fn string_literal(opt: &Opt) -> syn::Result<String> {
    let lit: syn::LitStr = syn::parse2(value(opt)?.clone())?;
    Ok(lit.value())
}

/// `"a"` or `["a", "b"]`.
fn string_list(opt: &Opt) -> syn::Result<Vec<String>> {
    let v = value(opt)?.clone();
    if let Ok(lit) = syn::parse2::<syn::LitStr>(v.clone()) {
        return Ok(vec![lit.value()]);
    }
    let array: syn::ExprArray = syn::parse2(v)?;
    array
        .elems
        .iter()
        .map(|e| match e {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Ok(s.value()),
            other => Err(syn::Error::new_spanned(other, "expected a string")),
        })
        .collect()
}

/// The inside of `{ ... }`.
fn braced(opt: &Opt) -> syn::Result<TokenStream> {
    let mut iter = value(opt)?.clone().into_iter();
    match (iter.next(), iter.next()) {
        (Some(TokenTree::Group(g)), None) if g.delimiter() == Delimiter::Brace => Ok(g.stream()),
        _ => Err(syn::Error::new(
            opt.span,
            "`with` takes `{ \"name\": path, ... }`",
        )),
    }
}

/// The string keys of a `with` map.
fn string_keys(map: &TokenStream) -> BTreeSet<String> {
    let tokens: Vec<TokenTree> = map.clone().into_iter().collect();
    tokens
        .windows(2)
        .filter_map(|w| match w {
            [TokenTree::Literal(l), TokenTree::Punct(p)] if p.as_char() == ':' => {
                syn::parse_str::<syn::LitStr>(&l.to_string())
                    .ok()
                    .map(|s| s.value())
            }
            _ => None,
        })
        .collect()
}

fn ends_with_comma(ts: &TokenStream) -> bool {
    matches!(ts.clone().into_iter().last(), Some(TokenTree::Punct(p)) if p.as_char() == ',')
}

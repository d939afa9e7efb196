//! Generates the raw FA (3) and FA_RR (1) invoice types from the pinned official XSDs into OUT_DIR.
//!
//! The schemas are found through `spec/ksef-schemas.lock` (see `ksef_codegen::schemas`); when they
//! are missing or do not match the lock, the build stops with one message naming the fix. The base
//! schemas are imported by `http://crd.gov.pl/...` URLs: an in-memory resolver serves them from the
//! pinned bytes by file name, so nothing is fetched and no XML catalog is needed.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use ksef_codegen::schemas::{self, SCHEMAS_ENV, SCHEMAS_LOCK_PATH};
use quote::ToTokens;
use xsd_parser::{
    Config,
    config::{GeneratorFlags, InterpreterFlags, Namespace, OptimizerFlags, RendererFlags},
    exec_generator_with_ident_cache, exec_interpreter_with_ident_cache, exec_optimizer,
    exec_render,
    models::{IdentType, meta::CustomMeta},
    pipeline::{
        generator::{Context as GeneratorContext, Error as GeneratorError, ValueGeneratorMode},
        parser::{
            Parser, Resolver,
            resolver::{ResolveRequest, ResolveResult},
        },
        renderer::{Context as RendererContext, NamespaceSerialization, ValueRendererBox},
    },
};

#[path = "src/patch.rs"]
mod patch;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let root = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
    println!("cargo::rerun-if-env-changed={SCHEMAS_ENV}");
    println!(
        "cargo::rerun-if-changed={}",
        root.join(SCHEMAS_LOCK_PATH).display()
    );
    println!("cargo::rerun-if-changed=src/patch.rs");
    if let Err(message) = run(&root) {
        for line in message.lines() {
            println!("cargo::error={line}");
        }
    }
}

fn run(root: &Path) -> Result<(), String> {
    let env_value = std::env::var(SCHEMAS_ENV).ok();
    let found = schemas::locate(root, env_value.as_deref()).map_err(|e| e.to_string())?;
    for path in found.files.keys() {
        println!("cargo::rerun-if-changed={}", found.dir.join(path).display());
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let by_name = found.by_file_name();
    let mut forms = vec![("fa3", &found.lock.fa3)];
    if std::env::var_os("CARGO_FEATURE_FA_RR").is_some() {
        forms.push(("fa_rr", &found.lock.fa_rr));
    }
    for (module, root_path) in forms {
        let text = std::str::from_utf8(&found.files[root_path])
            .map_err(|e| format!("{root_path} is not UTF-8: {e}"))?;
        let code = generate(module, text, &by_name)
            .map_err(|e| format!("generating the {module} types from {root_path}: {e}"))?;
        let code = patch::apply(&code);
        std::fs::write(out.join(format!("{module}.rs")), code)
            .map_err(|e| format!("cannot write the generated {module} types: {e}"))?;
    }
    Ok(())
}

/// Serves imported schemas from the pinned bytes, by the file name the `schemaLocation` ends with.
#[derive(Debug)]
struct PinnedResolver(BTreeMap<String, Vec<u8>>);

impl Resolver for PinnedResolver {
    type Buffer = Cursor<Vec<u8>>;
    type Error = std::io::Error;

    fn resolve(&mut self, req: &ResolveRequest) -> ResolveResult<Self> {
        let name = req.requested_location.rsplit('/').next().unwrap_or("");
        let Some(bytes) = self.0.get(name) else {
            return Ok(None);
        };
        let url = url::Url::parse(&req.requested_location)
            .or_else(|_| url::Url::parse(&format!("pinned:///{name}")))
            .map_err(std::io::Error::other)?;
        let stem = name.trim_end_matches(".xsd").to_string();
        Ok(Some((Some(stem), url, Cursor::new(bytes.clone()))))
    }
}

/// `xs:decimal` facet values (`minInclusive` ...) become `crate::Decimal` values.
fn decimal_value(
    _ctx: &GeneratorContext<'_, '_>,
    value: &str,
    _mode: ValueGeneratorMode,
) -> Result<ValueRendererBox, GeneratorError> {
    let value = value.to_string();
    Ok(Box::new(move |_: &RendererContext<'_, '_>| {
        let lit = proc_macro2::Literal::string(&value);
        quote::quote!(crate::Decimal::from_schema(#lit))
    }))
}

/// The `targetNamespace` of a schema text.
fn target_namespace(text: &str) -> Result<String, String> {
    let start = text
        .find("targetNamespace=\"")
        .ok_or("the root schema has no targetNamespace")?
        + "targetNamespace=\"".len();
    let len = text[start..]
        .find('"')
        .ok_or("unterminated targetNamespace")?;
    Ok(text[start..start + len].to_string())
}

fn generate(
    module: &str,
    root_text: &str,
    imports: &BTreeMap<String, Vec<u8>>,
) -> Result<String, String> {
    let schemas = Parser::new()
        .with_resolver(PinnedResolver(imports.clone()))
        .resolve_includes(true)
        .with_default_namespaces()
        .add_named_schema_from_str(module.to_string(), root_text)
        .map_err(|e| e.to_string())?
        .finish();
    let mut config = Config::default()
        // Namespaces on the root with FA's as the default: the "only used namespaces" mode
        // writes an `xmlns:tns` prefix that the official validation rejects.
        .with_quick_xml_config(
            NamespaceSerialization::Global,
            Some(Namespace::new(target_namespace(root_text)?.into_bytes())),
            // Boxed deserializer states: smaller nested state types, less to compile.
            true,
        )
        // Only what the `Faktura` document reaches: the base schemas define many more types.
        .with_generate([(IdentType::Element, "tns:Faktura")])
        .with_type(
            (IdentType::Type, Namespace::XS, "decimal"),
            CustomMeta::new("Decimal")
                .include_from("crate::Decimal")
                .with_default(decimal_value),
        );
    config.interpreter.flags = InterpreterFlags::BUILDIN_TYPES | InterpreterFlags::DEFAULT_TYPEDEFS;
    // Keep restricted simple types (their facets are the validation) and complex types as they
    // are (flattening turns `Fa` into a loosely typed `Vec`).
    config.optimizer.flags = OptimizerFlags::all()
        - OptimizerFlags::REMOVE_DUPLICATES
        - OptimizerFlags::FLATTEN_COMPLEX_TYPES
        - OptimizerFlags::USE_UNRESTRICTED_BASE_TYPE;
    config.generator.flags = GeneratorFlags::FLATTEN_CONTENT | GeneratorFlags::USE_MODULES;
    config.renderer.flags = RendererFlags::NONE;
    let (meta, cache) = exec_interpreter_with_ident_cache(config.interpreter, &schemas)
        .map_err(|e| e.to_string())?;
    let meta = exec_optimizer(config.optimizer, meta).map_err(|e| e.to_string())?;
    let data = exec_generator_with_ident_cache(config.generator, &schemas, Some(&cache), &meta)
        .map_err(|e| e.to_string())?;
    let module = exec_render(config.renderer, &data).map_err(|e| e.to_string())?;
    Ok(module.to_token_stream().to_string())
}

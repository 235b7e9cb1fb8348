//! Generates the gRPC code from `proto/`. protoc comes from the
//! protoc-bin-vendored crate, so a fresh machine needs no system package.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        // SAFETY: build scripts are single-threaded.
        unsafe { std::env::set_var("PROTOC", protoc_bin_vendored::protoc_bin_path()?) };
    }
    let proto_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files: Vec<_> = ["peer", "store", "kv", "events", "watch", "cluster"]
        .iter()
        .map(|name| proto_dir.join(format!("{name}.proto")))
        .collect();
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    tonic_build::configure().compile_protos(&files, &[proto_dir])?;
    Ok(())
}

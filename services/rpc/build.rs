//! Generates the gRPC code from `proto/`: Concord's own contracts, and
//! etcd's v3 protos (`proto/etcd/`, unchanged, with the well-known types
//! from the vendored protoc's include dir). protoc comes from the
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
    tonic_build::configure().compile_protos(&files, std::slice::from_ref(&proto_dir))?;

    // etcd's v3 API: server and client code for every service.
    let etcd_dir = proto_dir.join("etcd");
    let etcd_files: Vec<_> = [
        "etcd/etcdserver/etcdserverpb/rpc.proto",
        "etcd/mvcc/mvccpb/kv.proto",
        "etcd/auth/authpb/auth.proto",
    ]
    .iter()
    .map(|f| etcd_dir.join(f))
    .collect();
    println!("cargo:rerun-if-changed={}", etcd_dir.display());
    for f in &etcd_files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    tonic_build::configure().compile_protos(
        &etcd_files,
        &[etcd_dir, protoc_bin_vendored::include_path()?],
    )?;
    Ok(())
}

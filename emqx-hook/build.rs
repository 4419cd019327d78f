//! Generates the ExHook messages and services from `proto/` with protox, a protobuf compiler in
//! Rust, so that building needs no `protoc` binary.
//!
//! Both packages (`emqx.exhook.v2` and `emqx.exhook.v3`) get their service and client code; the
//! messages are generated once, from v2, and v3's services use them: the two packages are wire
//! compatible, so one set of types serves both gRPC paths.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/emqx/exhook/v2/exhook.proto",
        "proto/emqx/exhook/v3/exhook.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // Unserved RPCs answer `unimplemented`; the broker calls only the announced hooks.
        .generate_default_stubs(true)
        .extern_path(".emqx.exhook.v3", "crate::proto::v2")
        // ClientInfo carries the password in clear: its Debug is written by hand, without it.
        .skip_debug([".emqx.exhook.v2.ClientInfo"])
        .compile_fds(descriptors)?;
    Ok(())
}

// swift-tools-version:6.0
import PackageDescription

// Module map (ARCHITECTURE.md draws it): the targets follow the pipeline.
//   base:        FacecCore (errors with kinds, files, threads, shared words); FacecDigest (SHA-256)
//   readers:     FacecHDF5, FacecMAT (v5/v7 and v7.3 over FacecHDF5), FacecDlib, FacecXML, FacecJoblib
//   translators: FacecImporters (Keras, MatConvNet, dlib, OpenCV cascades) -> FacecGraph (IR + compiler)
//   file format: FacecFormat (.fgraph)
//   kernels:     FacecKernels (+ FacecKernelsAVX512, CInt8Kernels), FacecDetectKernels, FacecSearchKernels
//   engine:      FacecRuntime (Model, PlanBuilder, ModelInstance)
//   pipeline:    FacecImage (decode) -> FacecDetect (deepface's rules) -> FacecPipeline (photos -> embeddings)
//   front ends:  FacecCLI -> facec-run and facec (+ FacecGallery), FacecCAPI (libfacec)
// The runtime side never depends on a reader, the importers, the compiler,
// HDF5 or matio: an edge box needs only it (EdgeRuntimeTests checks the graph).
// Only the kernel modules are built with -Ounchecked, and for x86-64-v3
// (AVX2 + FMA: without it Swift's SIMD FMA becomes a scalar fmaf call per
// lane, ~100x slower); everything that parses or validates keeps Swift's
// checks. `facec` checks the CPU at start-up (CCPUFeatures, built without
// these flags) and explains instead of dying with SIGILL on older CPUs.
// FacecKernelsAVX512 holds the 16-lane micro-kernels, built for x86-64-v4
// and called only when CPUID reports AVX-512 (runtime dispatch).
//
// The flags follow the *target* architecture, not the machine running the
// manifest (`#if arch` is evaluated on the build host, so a cross build would
// get -march=x86-64-v3). A cross build says what it targets in TARGET_ARCH
// (aarch64 / arm64 / x86_64); without it the host's architecture is assumed.
#if arch(x86_64)
let hostArch = "x86_64"
#elseif arch(arm64)
let hostArch = "aarch64"
#else
let hostArch = "other"
#endif
let targetArch: String = {
    switch Context.environment["TARGET_ARCH"]?.lowercased() {
    case nil, "": return hostArch
    case "arm64", "aarch64": return "aarch64"
    case "x86_64", "amd64", "x86-64": return "x86_64"
    case let other?: return other
    }
}()
let targetIsX86 = targetArch == "x86_64"
let kernelFlags: [String] = targetIsX86 ? ["-Xcc", "-march=x86-64-v3"] : []
let avx512Flags: [String] = targetIsX86 ? ["-Xcc", "-march=x86-64-v4"] : []
let kernelSpeed: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug)),
                                   .unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let optimisedInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "facec",
    products: [
        .executable(name: "facec", targets: ["facec"]),
        // The runtime alone (edge boxes): no importers, compiler, HDF5 or matio.
        .executable(name: "facec-run", targets: ["facec-run"]),
        // The C API (include/facec.h) for applications on the box;
        // scripts/build-edge.sh turns these into dist/lib/libfacec.{so,a}.
        .library(name: "FacecC", type: .dynamic, targets: ["FacecCAPI"]),
        .library(name: "FacecCStatic", type: .static, targets: ["FacecCAPI"]),
    ],
    // No package dependencies: command-line parsing is FacecCLI's own
    // (swift-argument-parser would link FoundationEssentials into facec-run).
    dependencies: [],
    targets: [
        // System libraries (Debian -dev packages, see scripts/setup.sh).
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-serial",
                       providers: [.apt(["libhdf5-dev"])]),
        // libmatio only as the tests' independent reference for MAT v5/v7
        // (facec reads those files itself: MatV5File).
        .systemLibrary(name: "CMatio", pkgConfig: "matio",
                       providers: [.apt(["libmatio-dev"])]),
        // Streaming inflate for MAT v7 compressed elements (output size unknown in advance).
        .systemLibrary(name: "CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        // Fast inflate for MAT v7.3 (HDF5) chunks, decompressed on all cores.
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate",
                       providers: [.apt(["libdeflate-dev"])]),
        // LZ4 frames of joblib's weight files (mtcnn's P/R/O-Net).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4",
                       providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CTurboJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CProtobufC", pkgConfig: "libprotobuf-c",
                       providers: [.apt(["libprotobuf-c-dev"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebpdemux",
                       providers: [.apt(["libwebp-dev"])]),
        // The embedded gallery (facec gallery/find) and its scale-out store.
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3",
                       providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq",
                       providers: [.apt(["libpq-dev"])]),
        // PNG decoding/encoding in C: libpng reports errors by longjmp.
        .target(name: "CPNG", linkerSettings: [.linkedLibrary("png16")]),

        // C code generated by protoc-c from Schemas/fgraph.proto (scripts/gen-schema.sh).
        .target(name: "FGraphSchema", dependencies: ["CProtobufC"]),
        // CRC-32C for the .fgraph checksums and SHA-256 for source digests (hardware instructions when available).
        .target(name: "CChecksum", cSettings: [.unsafeFlags(["-O2"])]),
        // argc/argv captured before main (works without /proc).
        .target(name: "CCommandLine"),
        // Start-up check for the instruction sets the kernels use.
        .target(name: "CCPUFeatures"),
        // int8 convolutions with AVX-512 VNNI (vpdpbusd), which Swift cannot
        // ask for: C with intrinsics, optimised in debug builds too.
        .target(name: "CInt8Kernels", cSettings: [.unsafeFlags(["-O3"])]),

        // The base every Swift module stands on, Foundation-free: one error
        // type with kinds, one-line messages, files (read, written atomically),
        // threads, clock, core count, and the shared vocabulary.
        .target(name: "FacecCore"),
        // SHA-256 of source weight files and gallery photos (not on the edge).
        .target(name: "FacecDigest", dependencies: ["FacecCore", "CChecksum"]),
        .target(name: "FacecFormat", dependencies: ["FacecCore", "FGraphSchema", "CChecksum"]),
        // Weight layout, hashing and image loops stay optimised in debug builds
        // (tests convert and run many models).
        .target(name: "FacecGraph", dependencies: ["FacecCore", "FacecFormat"], swiftSettings: optimisedInDebug),
        // Container readers: bounded parsers of untrusted bytes, one per file
        // format, knowing nothing of networks (fuzzed: facec-fuzz).
        .target(name: "FacecHDF5", dependencies: ["FacecCore", "CDeflate"], swiftSettings: optimisedInDebug),
        .target(name: "FacecMAT", dependencies: ["FacecCore", "FacecHDF5", "CZlib"], swiftSettings: optimisedInDebug),
        .target(name: "FacecDlib", dependencies: ["FacecCore"], swiftSettings: optimisedInDebug),
        .target(name: "FacecXML", dependencies: ["FacecCore"]),
        .target(name: "FacecJoblib", dependencies: ["FacecCore", "CLZ4"], swiftSettings: optimisedInDebug),
        // Model translators: Keras, MatConvNet and dlib networks and OpenCV
        // cascades, read through the container readers, into FacecGraph's IR.
        .target(name: "FacecImporters", dependencies: ["FacecCore", "FacecDigest", "FacecHDF5", "FacecMAT", "FacecDlib", "FacecXML", "FacecJoblib", "FacecGraph"],
                swiftSettings: optimisedInDebug),
        // Optimised in debug builds too: the tests run full 224×224
        // networks, which unoptimised kernels make ~50× slower.
        .target(name: "FacecKernelsAVX512", dependencies: ["CCPUFeatures"], swiftSettings: [.unsafeFlags(avx512Flags)] + kernelSpeed),
        // The kernels: the only Swift code built with -Ounchecked (their
        // every bound was checked by the engine's PlanBuilder) and for
        // x86-64-v3; the worker threads they split layers over.
        .target(name: "FacecKernels", dependencies: ["FacecCore", "FacecFormat", "CCPUFeatures", "FacecKernelsAVX512", "CInt8Kernels"],
                swiftSettings: [.unsafeFlags(kernelFlags)] + kernelSpeed),
        // The engine: loading and checking a model against every kernel's
        // contract (PlanBuilder), instances with their arena, running the
        // plan. Built with checks: it validates untrusted files.
        .target(name: "FacecRuntime", dependencies: ["FacecCore", "FacecFormat", "FacecKernels", "CCPUFeatures"],
                swiftSettings: optimisedInDebug),
        .target(name: "FacecImage", dependencies: ["FacecCore", "FacecFormat", "CTurboJPEG", "CPNG", "CWebP"], swiftSettings: optimisedInDebug),
        // Face detection and alignment as deepface's default pipeline (OpenCV
        // Haar cascades, eye-based rotation), ported for the same results.
        // The detector's pixel loops (Haar cascade scan, exact resize,
        // integral images, cubic warp): kernels, built like FacecKernels, on
        // cascades FacecFormat has checked.
        .target(name: "FacecDetectKernels", dependencies: ["FacecCore", "FacecFormat", "FacecImage", "FacecKernels", "CCPUFeatures"],
                swiftSettings: [.unsafeFlags(kernelFlags)] + kernelSpeed),
        .target(name: "FacecDetect", dependencies: ["FacecCore", "FacecFormat", "FacecImage", "FacecDetectKernels"],
                swiftSettings: optimisedInDebug),
        .target(name: "FacecPipeline", dependencies: ["FacecCore", "FacecFormat", "FacecRuntime", "FacecImage", "FacecDetect"]),
        // Recognition against a gallery of known faces: the stores (SQLite
        // embedded, PostgreSQL + pgvector), incremental adding and exact
        // SIMD search. Only `facec` links it (not the edge runtime).
        // Exact search in memory: the packed face matrix, SIMD dot-product
        // tiles and top-k selection; kernels, built like FacecKernels.
        .target(name: "FacecSearchKernels", dependencies: ["FacecCore", "FacecDetect", "FacecPipeline"],
                swiftSettings: [.unsafeFlags(kernelFlags)] + kernelSpeed),
        .target(name: "FacecGallery", dependencies: ["CSQLite", "CLibPQ", "FacecCore", "FacecDigest", "FacecFormat", "FacecRuntime", "FacecDetect",
                                                     "FacecPipeline", "FacecSearchKernels"],
                swiftSettings: optimisedInDebug),
        // The runtime subcommands (run, verify, detect, inspect, check, bench),
        // shared by both executables.
        .target(name: "FacecCLI", dependencies: [
            "FacecCore", "FacecFormat", "FacecKernels", "FacecRuntime", "FacecImage", "FacecDetectKernels", "FacecDetect", "FacecPipeline", "CCPUFeatures", "CCommandLine",
        ]),
        // The C API: the header and per-thread error text in C, the entry points in Swift.
        .target(name: "CFacecAPI"),
        .target(name: "FacecCAPI", dependencies: ["CFacecAPI", "FacecCore", "FacecFormat", "FacecRuntime", "FacecImage", "FacecDetect", "FacecPipeline"]),
        // The full toolchain: convert plus the runtime subcommands.
        .executableTarget(name: "facec", dependencies: [
            "FacecCore", "FacecCLI", "FacecKernels", "FacecSearchKernels", "FacecImporters", "FacecGraph", "FacecFormat", "FacecGallery",
        ]),
        // The runtime-only executable: must never depend on a reader,
        // FacecImporters, FacecGraph, CHDF5, CMatio, CDeflate, CZlib or CLZ4 (EdgeRuntimeTests).
        .executableTarget(name: "facec-run", dependencies: ["FacecCLI"]),
        // libFuzzer targets for every parser of untrusted input (scripts/fuzz.sh);
        // built plainly it replays files through them (the regression tests).
        .executableTarget(name: "facec-fuzz", dependencies: [
            "CChecksum", "FacecCore", "FacecHDF5", "FacecMAT", "FacecDlib", "FacecXML", "FacecJoblib", "FacecImporters", "FacecFormat", "FacecRuntime", "FacecImage", "FacecDetectKernels", "FacecDetect", "FacecPipeline",
        ], swiftSettings: optimisedInDebug),
        // CHDF5 and CMatio: libhdf5 and libmatio as the independent
        // references for facec's own readers (H5ReaderTests,
        // MatV5ReaderTests); nothing else links them.
        .testTarget(name: "FacecTests", dependencies: [
            "CHDF5", "CMatio", "CZlib", "FacecCore", "FacecDigest", "FacecHDF5", "FacecMAT", "FacecDlib", "FacecXML", "FacecJoblib",
            "FacecImporters", "FacecGraph", "FacecFormat", "FacecKernels", "FacecRuntime",
            "FacecImage", "FacecDetectKernels", "FacecDetect", "FacecPipeline", "FacecSearchKernels", "FacecGallery",
        ], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)

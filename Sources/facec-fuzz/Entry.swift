import FacecCore
#if canImport(Glibc)
import Glibc
#endif
import FacecFormat
import FacecImporters

// Two builds of one target list:
// - fuzzing (scripts/fuzz.sh: -sanitize=fuzzer,address -DFACEC_FUZZING):
//   libFuzzer's main calls LLVMFuzzerTestOneInput; FACEC_FUZZ_TARGET names
//   the target;
// - plain (swift build): `facec-fuzz TARGET FILE...` runs files through a
//   target once each, the regression replay the test suite uses.

nonisolated(unsafe) var selectedTarget: FuzzTarget?

/// The target FACEC_FUZZ_TARGET names (the process ends if it names none).
func currentTarget() -> FuzzTarget {
    if let t = selectedTarget { return t }
    guard let name = getenv("FACEC_FUZZ_TARGET").map({ String(cString: $0) }), let t = FuzzTarget(rawValue: name) else {
        writeStandardError("facec-fuzz: set FACEC_FUZZ_TARGET to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n")
        exit(2)
    }
    selectedTarget = t
    return t
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    currentTarget().run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

#if FACEC_FUZZING
// SwiftPM links an executable's entry point as <product>_main; under the
// fuzzer it hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_silgen_name("LLVMFuzzerMutate")
func LLVMFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int) -> Int

/// libFuzzer calls this instead of its own mutations when it is defined:
/// `fgraph-header` mutates decoded headers, every other target keeps the
/// byte-level mutations.
@_cdecl("LLVMFuzzerCustomMutator")
public func fuzzCustomMutator(_ data: UnsafeMutablePointer<UInt8>?, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    guard currentTarget() == .fgraphHeader, let data else { return LLVMFuzzerMutate(data, size, maxSize) }
    return HeaderMutator.mutate(data, size, maxSize, seed: seed) { LLVMFuzzerMutate($0, $1, $2) }
}

@_cdecl("facec_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzzOneInput)
}
#else
@main
struct Replay {
    static func main() {
        let args = CommandLine.arguments
        if args.count == 3 && args[1] == "--write-detector-seed" {
            // The detector target's seed: Debian's cascades as a Detector message.
            do {
                // Trimmed to a few stages: a small seed keeps the fuzzer fast
                // (the full cascades are 129 KB and run 100 inputs/s).
                var spec = try OpenCVCascade.detector(faceCascade: nil, eyeCascade: nil)
                spec.face = spec.face.firstStages(3)
                spec.eye = spec.eye.firstStages(2)
                let bytes = spec.encodedMessage()
                guard let f = fopen(args[2], "wb"), fwrite(bytes, 1, bytes.count, f) == bytes.count else { exit(1) }
                fclose(f)
                print("wrote \(args[2]) (\(bytes.count) bytes)")
                exit(0)
            } catch {
                writeStandardError("facec-fuzz: \(error)\n")
                exit(1)
            }
        }
        guard args.count >= 3, let target = FuzzTarget(rawValue: args[1]) else {
            writeStandardError("usage: facec-fuzz {\(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|"))} FILE...\n")
            exit(64)
        }
        for path in args.dropFirst(2) {
            guard let f = fopen(path, "rb") else { writeStandardError("facec-fuzz: cannot open \(path)\n"); exit(1) }
            var bytes: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = fread(&chunk, 1, chunk.count, f)
                if n <= 0 { break }
                bytes += chunk[0..<n]
            }
            fclose(f)
            bytes.withUnsafeBytes { target.run($0) }
            print("ok \(path)")
        }
    }
}
#endif

extension HaarCascade {
    /// The first `n` stages, with only the features their stumps use.
    func firstStages(_ n: Int) -> HaarCascade {
        let kept = Array(stages.prefix(n))
        let stumpCount = kept.reduce(0) { $0 + $1.count }
        var remap: [Int: Int] = [:], newFeatures: [[Rect]] = []
        let newStumps = stumps.prefix(stumpCount).map { s -> Stump in
            if remap[s.feature] == nil { remap[s.feature] = newFeatures.count; newFeatures.append(features[s.feature]) }
            return Stump(feature: remap[s.feature]!, threshold: s.threshold, left: s.left, right: s.right)
        }
        return HaarCascade(windowWidth: windowWidth, windowHeight: windowHeight, stages: kept, stumps: Array(newStumps), features: newFeatures)
    }
}

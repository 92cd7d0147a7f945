import CChecksum
import FacecCore
import FacecDetect
import FacecDetectKernels
import FacecFormat
import FacecHDF5
import FacecImage
import FacecImporters
import FacecJoblib
import FacecRuntime
import FacecPipeline
#if canImport(Glibc)
import Glibc
#endif

/// The parsers that face untrusted files, one fuzz target each. Every target
/// takes the raw bytes of one input; a thrown error is a correct refusal, a
/// trap, a sanitizer report, a hang or an allocation over the limit is a bug.
enum FuzzTarget: String, CaseIterable {
    case fgraph, fgraphHeader = "fgraph-header", image, npy, pairs, detector, keras, mat, dlib, joblib

    func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .fgraph: Self.fgraph(data)
        case .fgraphHeader:
            // Structure-aware (HeaderMutator): every input is sealed first,
            // so the checks behind the checksums are what is fuzzed.
            guard let raw = RawModelFile(Array(data)) else { return }
            raw.sealed().withUnsafeBytes { Self.load($0) }
        case .image: Self.image(data)
        case .npy: _ = try? NPYFile.read(Scratch.write(data, suffix: ".npy"))
        case .pairs: _ = try? PairsFile(text: String(decoding: data, as: UTF8.self), path: "pairs.csv")
        case .detector: Self.detector(data)
        case .keras:
            // The importer, then every structure of the file through facec's HDF5 reader.
            let path = Scratch.write(data, suffix: ".h5")
            _ = try? ModelImporter.load(path: path)
            _ = try? HDF5Walk.readEverything(path: path)
        case .mat:
            // MAT v7.3 inputs also reach every HDF5 structure, as in `keras`.
            let path = Scratch.write(data, suffix: ".mat")
            _ = try? ModelImporter.load(path: path)
            if data.count >= 128, data[124] == 0 || data[125] == 0 { _ = try? HDF5Walk.readEverything(path: path) }
        case .dlib:
            // dlib's DNN serialization: the stream reader, every layer type's
            // fields, and the ResNet translator as far as the input matches it.
            _ = try? ModelImporter.load(path: Scratch.write(data, suffix: ".dat"))
        case .joblib:
            // joblib's numpy arrays (mtcnn's weights): the LZ4 frame and the pickle subset.
            _ = try? JoblibArrays(bytes: Array(data))
        }
    }

    /// The loader with every plan check; a model it accepts also runs once
    /// (when small), so a plan that passed the checks but reads out of
    /// bounds shows under the address sanitizer.
    static func fgraph(_ data: UnsafeRawBufferPointer) {
        load(data)
        // Most mutations only break a checksum: reseal them too, so they
        // reach the header decoder and the plan checks.
        var sealed = Array(data)
        if reseal(&sealed) { sealed.withUnsafeBytes { load($0) } }
    }

    /// Recomputes the preamble's three CRC-32C fields when its ranges fit.
    static func reseal(_ b: inout [UInt8]) -> Bool {
        guard b.count >= Preamble.size else { return false }
        func get(_ at: Int) -> Int {
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(b[at + k]) << (8 * k) }
            return v > UInt64(Int.max) ? -1 : Int(v)
        }
        func put(_ at: Int, _ v: UInt32) { for k in 0..<4 { b[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) } }
        let ho = get(16), hl = get(24), dof = get(32), dl = get(40)
        guard ho >= 0, hl >= 0, dof >= 0, dl >= 0, ho <= b.count, hl <= b.count - ho, dof <= b.count, dl <= b.count - dof else { return false }
        b.withUnsafeBytes { raw in
            put(48, facec_crc32c(0, raw.baseAddress! + ho, hl))
            put(52, facec_crc32c(0, raw.baseAddress! + dof, dl))
        }
        put(56, b.withUnsafeBytes { facec_crc32c(0, $0.baseAddress, 56) })
        return true
    }

    static func load(_ data: UnsafeRawBufferPointer) {
        guard let model = try? Model(path: Scratch.write(data, suffix: ".fgraph")) else { return }
        let h = model.header
        guard h.totalFlops < 50_000_000, h.arenaBytes < 64 << 20 else { return }
        let i = h.input
        let input = [Float](repeating: 0.5, count: i.height * i.width * i.channels)
        _ = try? model.makeInstance().embed(input)
    }

    /// The decoders (JPEG, PNG, WebP by content) and DeepID's preprocessing.
    static func image(_ data: UnsafeRawBufferPointer) {
        guard let img = try? ImageDecoder.decode(data, name: "photo", maxPixels: 4_000_000) else { return }
        let spec = PreprocessSpec(height: 55, width: 47, colorOrder: .bgr, scale: 1.0 / 255, mean: [], resize: .keepAspectPad)
        _ = Preprocessor.tensor(from: img, spec: spec)
    }

    /// A detector message as the loader validates it, then run on a small
    /// fixed photo (the work bound must hold for any cascade it accepts).
    /// Detection costs ~8 ms per input under the sanitizer against ~0.1 ms
    /// for decoding, so it runs on one accepted input in 8 (chosen by
    /// content, so a crash reproduces).
    static func detector(_ data: UnsafeRawBufferPointer) {
        // An MTCNN detector's weights live in a model file (the fgraph targets).
        guard let spec = try? DetectorSpec(message: data, name: "detector"), spec.mtcnn == nil else { return }
        guard facec_crc32c(0, data.baseAddress, data.count) % 8 == 0 else { return }
        _ = try? FaceDetector(spec).extractFaces(Self.photo, path: "photo", enforce: false)
    }

    /// 48×40 pixels of smooth gradients and a bright oval (a face-like blob).
    static let photo: DecodedImage = {
        let w = 40, h = 48
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h {
            for x in 0..<w {
                let dx = Double(x - 20) / 11, dy = Double(y - 24) / 15
                let v = dx * dx + dy * dy < 1 ? 200 - (y % 17) * 4 : (x * 3 + y) % 256
                for c in 0..<3 { px[(y * w + x) * 3 + c] = UInt8(max(0, min(255, v + c * 5))) }
            }
        }
        return DecodedImage(width: w, height: h, pixels: px)
    }()
}

/// Inputs that the readers take as files go through one scratch file per
/// process in /dev/shm (memory), rewritten for each input.
enum Scratch {
    nonisolated(unsafe) static var dir: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        return "\(base)/facec-fuzz-\(getpid())"
    }()

    static func write(_ data: UnsafeRawBufferPointer, suffix: String) -> String {
        mkdir(dir, 0o700)
        let path = dir + "/input" + suffix
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return path }
        var done = 0
        while done < data.count {
            let n = Glibc.write(fd, data.baseAddress! + done, data.count - done)
            if n <= 0 { break }
            done += n
        }
        close(fd)
        return path
    }
}

import Foundation
import Testing
import CChecksum
@testable import FacecFormat
import FacecRuntime
import FacecImporters

/// The .fgraph loader must reject every damaged or hostile file with a
/// one-line reason naming the file, before using anything in it.
@Suite struct FormatTests {
    /// A converted DeepID model's bytes.
    static func modelBytes(_ dir: TempDir) throws -> (path: String, bytes: [UInt8]) {
        let model = try convertAndLoad(TestPaths.demoWeights, to: dir)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: model.path)))
        return (model.path, bytes)
    }

    func expectRejected(_ bytes: [UInt8], _ dir: TempDir, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = dir.path("bad-\(UUID().uuidString).fgraph")
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            _ = try Model(path: path)
            Issue.record("accepted a bad model (\(text))", sourceLocation: sourceLocation)
        } catch {
            let message = "\(error)"
            #expect(message.hasPrefix(path), sourceLocation: sourceLocation)
            #expect(message.contains(text), "\(message)", sourceLocation: sourceLocation)
            #expect(!message.contains("\n"), sourceLocation: sourceLocation)
        }
    }

    @Test func headerRoundTrips() throws {
        let dir = TempDir()
        let (path, _) = try Self.modelBytes(dir)
        let file = try ModelFile(path: path)
        let again = HeaderEncoding.encode(file.header)
        let decoded = try again.withUnsafeBytes { try HeaderDecoding.decode($0, dataLength: file.fileSize, path: "x") }
        #expect(decoded == file.header)
        #expect(file.header.tensors.allSatisfy { $0.offset % 64 == 0 })
        #expect(file.preamble.dataOffset % 64 == 0)
    }

    @Test func truncatedAtEveryRegion() throws {
        let dir = TempDir()
        let (_, bytes) = try Self.modelBytes(dir)
        expectRejected([], dir, containing: "empty")
        expectRejected(Array(bytes[0..<40]), dir, containing: "shorter than the 64-byte preamble")
        expectRejected(Array(bytes[0..<200]), dir, containing: "truncated")
        expectRejected(Array(bytes[0..<(bytes.count - 1)]), dir, containing: "truncated")
        expectRejected(bytes + [0], dir, containing: "unexpected bytes")
    }

    @Test func bitFlipsAreDetected() throws {
        let dir = TempDir()
        let (_, bytes) = try Self.modelBytes(dir)
        let file = try ModelFile(path: try convertAndLoad(TestPaths.demoWeights, to: dir).path)
        for (offset, text) in [(3, "magic"), (20, "preamble checksum"), (Int(file.preamble.headerOffset) + 10, "header checksum"),
                               (Int(file.preamble.dataOffset) + 1000, "data checksum"), (bytes.count - 5, "data checksum")] {
            var b = bytes
            b[offset] ^= 0x10
            expectRejected(b, dir, containing: text)
        }
    }

    @Test func newerMajorVersionIsRefusedClearly() throws {
        let dir = TempDir()
        let (_, bytes) = try Self.modelBytes(dir)
        var b = bytes
        b[8] = 2; b[9] = 0    // major 2
        // Re-seal the preamble checksum so only the version is "wrong".
        let crc = Array(b[0..<56]).withUnsafeBytes { crc32c($0) }
        withUnsafeBytes(of: crc.littleEndian) { for i in 0..<4 { b[56 + i] = $0[i] } }
        expectRejected(b, dir, containing: "newer than this facec reads")
    }

    /// Structurally valid files (checksums right) with lies inside the header.
    @Test func hostileHeadersAreRejected() throws {
        let dir = TempDir()
        let (path, _) = try Self.modelBytes(dir)
        let good = try ModelFile(path: path).header
        let producers = { (h: ModelHeader) -> [ModelWriter.TensorProducer] in h.tensors.map { t in { sink in try [Float](repeating: 0, count: t.elementCount).withUnsafeBufferPointer { try sink($0) } } } }
        func rejected(_ mutate: (inout ModelHeader) -> Void, _ text: String) throws {
            var h = good
            mutate(&h)
            let out = dir.path("hostile.fgraph")
            try ModelWriter.write(header: h, producers: producers(good), to: out)
            do {
                _ = try Model(path: out)
                Issue.record("accepted hostile header (\(text))")
            } catch { #expect("\(error)".contains(text), "\(error)") }
        }
        try rejected({ $0.nodes[0].inputs = [999] }, "out of range")
        try rejected({ $0.nodes[0].params = [0, 999] }, "tensor out of range")
        try rejected({ $0.values[1].arenaOffset = 1 << 40 }, "outside")
        try rejected({ $0.arenaBytes = 1 << 40 }, "exceeds")
        try rejected({ $0.nodes[0].strideH = 3 }, "does not follow")
        try rejected({ $0.nodes[7].params = $0.nodes[0].params }, "do not fit")
        try rejected({ $0.nodes[0].output = $0.nodes[0].inputs[0] }, "reads value 1 'Conv1' before it is written")
        try rejected({ h in
            h.values[h.nodes[1].output].arenaOffset = h.values[h.nodes[1].inputs[0]].arenaOffset
            h.arenaBytes = h.values.map { $0.arenaOffset + $0.arenaBytes }.max()!
        }, "overlaps")
        try rejected({ $0.output.dim = 7 }, "output dimension")
        try rejected({ $0.input.height = 0 }, "input size")
        // Winograd weights in the 64-channel chunks written before format 1.0's 32-channel layout.
        try rejected({ h in
            for i in h.tensors.indices where h.tensors[i].layout == .winogradF43C32 { h.tensors[i].layout = .winogradF43 }
        }, "convert the model again")
    }

    /// Format 1.1: the detector travels in the header, is read back exactly,
    /// and a structurally valid file with a detector that cannot run is refused.
    @Test func detectorRoundTripsAndHostileDetectorsAreRejected() throws {
        let dir = TempDir()
        let (path, _) = try Self.modelBytes(dir)
        var good = try ModelFile(path: path).header
        good.detector = try OpenCVCascade.detector()
        let producers = good.tensors.map { t -> ModelWriter.TensorProducer in { sink in try [Float](repeating: 0, count: t.elementCount).withUnsafeBufferPointer { try sink($0) } } }
        let out = dir.path("detector.fgraph")
        try ModelWriter.write(header: good, producers: producers, to: out)
        let back = try ModelFile(path: out)
        #expect(back.header.detector == good.detector)
        #expect(back.preamble.minor == Preamble.currentMinor)
        #expect(back.header.detector?.source.contains("haarcascade_frontalface_default.xml sha256 ") == true)
        func rejected(_ mutate: (inout DetectorSpec) -> Void, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            var h = good
            mutate(&h.detector!)
            try ModelWriter.write(header: h, producers: producers, to: out)
            do {
                _ = try Model(path: out)
                Issue.record("accepted a hostile detector (\(text))", sourceLocation: sourceLocation)
            } catch {
                #expect("\(error)".hasPrefix(out) && "\(error)".contains(text), "\(error)", sourceLocation: sourceLocation)
            }
        }
        try rejected({ $0.kind = "dlib" }, "detector kind 'dlib'")
        try rejected({ $0.face.stumps[5].feature = 1_000_000 }, "uses feature")
        try rejected({ $0.eye.features[0][0].width = 500 }, "outside the")
        try rejected({ $0.face.stumps[0].threshold = .nan }, "non-finite")
        try rejected({ $0.face.stages[0].count += 1 }, "weak classifiers")
        try rejected({ $0.face.windowWidth = 100_000 }, "window")
        try rejected({ $0.scaleFactor = 1 }, "scale")
        try rejected({ $0.minNeighbors = 5000 }, "neighbo")
    }

    @Test func crcMatchesKnownValue() {
        // CRC-32C check value (RFC 3720): "123456789" -> 0xE3069283.
        let v = Array("123456789".utf8).withUnsafeBytes { crc32c($0) }
        #expect(v == 0xE306_9283)
    }

    /// The loader checksums slices on several threads and joins them
    /// (facec_crc32c_combine); large buffers run three streams at once. Both
    /// must equal one sequential pass over small pieces (the single stream).
    @Test func crcOfSlicesJoinsToTheWholeChecksum() {
        var seed: UInt32 = 7
        let bytes = (0..<1_000_003).map { _ -> UInt8 in seed = seed &* 1664525 &+ 1013904223; return UInt8(truncatingIfNeeded: seed >> 24) }
        bytes.withUnsafeBytes { raw in
            var sequential: UInt32 = 0
            for start in stride(from: 0, to: raw.count, by: 1000) {
                sequential = crc32c(UnsafeRawBufferPointer(rebasing: raw[start..<min(raw.count, start + 1000)]), continuing: sequential)
            }
            #expect(crc32c(raw) == sequential)
            for cut in [0, 1, 7, 65536, 500_001, raw.count - 1, raw.count] {
                let a = crc32c(UnsafeRawBufferPointer(rebasing: raw[..<cut])), b = crc32c(UnsafeRawBufferPointer(rebasing: raw[cut...]))
                #expect(facec_crc32c_combine(a, b, raw.count - cut) == sequential, "cut at \(cut)")
            }
            #expect(crc32c(UnsafeRawBufferPointer(rebasing: raw[3...]), continuing: crc32c(UnsafeRawBufferPointer(rebasing: raw[..<3]))) == sequential)
        }
    }
}
